"""When each service's restore was last verified, against the inventory's ``verify_every``.

"Restore tested at least weekly, and it must alert when it fails": a service with
``verify_every: 7d`` is due when its newest successful restore verification (a run of a
``restore-verification`` or ``point-in-time-restore`` playbook that touched the service,
against an inventory of the same name, that succeeded) finished longer ago than that, or
never did. Computed from the audit log's runs table alone (pure: the caller reads the records).

(The recoverable window of ``status``, from another part of the console, also reads the last
verified restore; this module is the board's, and counts the same runs.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from console.audit.model import RunRecord
from console.model.durations import format_duration
from console.model.inventory import Inventory

VERIFYING_KINDS = frozenset({"restore-verification", "point-in-time-restore"})
"""Playbook kinds whose success proves a service's backups restore."""


@dataclass(frozen=True)
class Verification:
    """One service's restore verification, as due or not."""

    service: str
    every: float
    """The inventory's ``verify_every`` (seconds)."""
    last_at: float | None
    """When the newest successful verification finished (epoch), or None: never."""
    run_id: str | None = None
    playbook: str | None = None

    def overdue(self, now: float) -> bool:
        """Never verified, or longer ago than ``every``."""
        return self.last_at is None or now - self.last_at > self.every

    def describe(self, now: float) -> str:
        """``orders-db: restore verified 2d ago by pg-restore-verify (every 7d)``, or when due
        ``... OVERDUE ...``."""
        every = span(self.every)
        if self.last_at is None:
            return f"{self.service}: restore NEVER verified (required every {every})"
        ago = span(max(0.0, now - self.last_at))
        word = "OVERDUE: last verified" if self.overdue(now) else "restore verified"
        return f"{self.service}: {word} {ago} ago by {self.playbook} (every {every})"


def span(seconds: float) -> str:
    """A long span as people say it: ``7d``, ``36h``, else ``format_duration``."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f}d"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f}h"
    return format_duration(seconds)


def verifications(inventory: Inventory, records: Iterable[RunRecord]) -> list[Verification]:
    """Every service of ``inventory`` with a ``verify_every``, with its newest successful
    verification among ``records`` (newest first, as ``AuditStore.runs`` gives them)."""
    wanted = {n: s.verify_every for n, s in inventory.services.items() if s.verify_every}
    found: dict[str, Verification] = {}
    for record in records:
        if record.playbook_kind not in VERIFYING_KINDS or record.outcome != "succeeded":
            continue
        if record.inventory_name != inventory.name:
            continue
        try:
            finished = record.finished
        except ValueError:  # an edited row proves nothing
            continue
        if finished is None:
            continue
        for name in record.services:
            if name in wanted and name not in found:
                found[name] = Verification(
                    name, wanted[name], finished.timestamp(), record.run_id, record.playbook_name
                )
    return [found.get(n) or Verification(n, every, None) for n, every in wanted.items()]
