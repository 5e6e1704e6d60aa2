"""When a restore of each service was last verified: the newest successful verifying run.

The status sweep shows, next to a service's recoverable window, when a restore of it last
worked for real: the newest run of a ``restore-verification`` or ``point-in-time-restore``
playbook against the same inventory that succeeded. This module reads that from the audit
log; the status layer never opens the log itself (the CLI hands it this answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from console.audit.model import RunRecord
from console.audit.store import AuditStore

VERIFYING_KINDS = ("restore-verification", "point-in-time-restore")
"""Playbook kinds whose successful run proves that a restore of their service works."""


def newest_verified(
    audit: Path | None, services: Iterable[str], inventory: str | None = None
) -> dict[str, RunRecord]:
    """Service -> its newest successful verifying run (services never verified are absent).

    Only runs against the inventory named ``inventory`` count (when given): the same service
    name in another estate proves nothing about this one. A missing or unreadable audit
    database means "never verified": status must not fail for want of a log.
    """
    wanted = set(services)
    out: dict[str, RunRecord] = {}
    if audit is None or not audit.is_file() or not wanted:
        return out
    try:
        with AuditStore(audit, create=False) as store:
            records = store.runs()
    except Exception:  # an unreadable log is "never verified", not a failure of status
        return out
    for record in records:  # newest first
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
