"""When each service's restore was last verified: the one reader of the audit log for it.

A service's restore is *verified* by its newest successful run of a ``restore-verification``
or ``point-in-time-restore`` playbook that touched it, against an inventory of the same name
(the same service name in another estate proves nothing about this one):
:func:`newest_verified_runs` finds those among the runs table's records (pure), and
:func:`newest_verified` reads them from an audit database for the status sweep's recoverable
window (``drconsole status``; the status layer never opens the log itself, the CLI hands it
this answer). The board's window panel shows the same runs, and the "restore verification"
panel judges them against ``verify_every``: "restore tested at least weekly, and it must
alert when it fails", so a service with ``verify_every: 7d`` is due when its newest verified
restore finished longer ago than that, or never did (:func:`verifications`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from console.audit.model import RunRecord
from console.audit.store import AuditStore
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


def newest_verified_runs(
    records: Iterable[RunRecord], services: Iterable[str], inventory: str | None = None
) -> dict[str, RunRecord]:
    """Service -> its newest successful verifying run among ``records`` (newest first, as
    ``AuditStore.runs`` gives them); services never verified are absent. Only runs against
    the inventory named ``inventory`` count (when given); a run whose finish time cannot be
    read (an edited row) proves nothing."""
    wanted = set(services)
    out: dict[str, RunRecord] = {}
    for record in records:
        if record.playbook_kind not in VERIFYING_KINDS or record.outcome != "succeeded":
            continue
        if inventory is not None and record.inventory_name != inventory:
            continue
        try:
            finished = record.finished
        except ValueError:
            continue
        if finished is None:
            continue
        for name in record.services:
            if name in wanted and name not in out:
                out[name] = record
    return out


def newest_verified(
    audit: Path | None, services: Iterable[str], inventory: str | None = None
) -> dict[str, RunRecord]:
    """:func:`newest_verified_runs` of an audit database's runs. A missing or unreadable
    database means "never verified": status must not fail for want of a log."""
    wanted = list(services)
    if audit is None or not audit.is_file() or not wanted:
        return {}
    try:
        with AuditStore(audit, create=False) as store:
            records = store.runs()
    except Exception:  # an unreadable log is "never verified", not a failure of status
        return {}
    return newest_verified_runs(records, wanted, inventory)


def verifications(inventory: Inventory, records: Iterable[RunRecord]) -> list[Verification]:
    """Every service of ``inventory`` with a ``verify_every``, with its newest successful
    verification among ``records`` (newest first, as ``AuditStore.runs`` gives them)."""
    wanted = {n: s.verify_every for n, s in inventory.services.items() if s.verify_every}
    found = newest_verified_runs(records, wanted, inventory.name)
    out = []
    for name, every in wanted.items():
        record = found.get(name)
        finished = record.finished if record is not None else None
        if record is None or finished is None:
            out.append(Verification(name, every, None))
        else:
            out.append(
                Verification(name, every, finished.timestamp(), record.run_id, record.playbook_name)
            )
    return out
