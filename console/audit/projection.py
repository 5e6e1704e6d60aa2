"""The ``runs`` table as a function of the events: one fold, used to write it and to verify it.

The ``runs`` row of a run is never authored on its own: the store computes it by folding the
run's ``run_started``, ``run_resumed`` and ``run_finished`` events through ``apply_event``, and
``verify`` folds them again and compares. So the row is only a fast index over the chain, and
editing it by hand shows up as a mismatch.

This reader is strict where every other one is tolerant: a lifecycle event that lacks (or has
mistyped) a field the row is made of is reported, because only a modified event can lack it.
"""

from __future__ import annotations

from typing import Any

from console.audit.chain import canonical_json
from console.audit.model import Event
from console.events import InventoryRef, PlaybookRef, RunCreated, RunFinished, RunResumed

RunRow = dict[str, Any]
"""A ``runs`` row in stored form: JSON columns as canonical JSON text."""


def run_created(
    *,
    playbook: PlaybookRef,
    inventory: InventoryRef,
    mode: str,
    params: dict[str, Any],
    objectives: dict[str, Any],
    services: tuple[str, ...],
    pid: int,
    hostname: str,
) -> RunCreated:
    """The ``run_started`` event the store records for a new run."""
    return RunCreated(
        playbook=playbook,
        inventory=inventory,
        mode=mode,
        params=params,
        objectives=objectives,
        services=services,
        pid=pid,
        hostname=hostname,
    )


_ROW_FIELDS: dict[type[RunCreated | RunResumed | RunFinished], tuple[str, ...]] = {
    RunCreated: (
        "playbook.name",
        "playbook.kind",
        "playbook.title",
        "playbook.path",
        "playbook.digest",
        "inventory.name",
        "inventory.path",
        "inventory.digest",
        "mode",
        "services",
        "params",
        "objectives",
        "pid",
        "hostname",
    ),
    RunResumed: ("pid", "hostname"),
    RunFinished: ("outcome",),
}
"""Per lifecycle class, the payload fields the row is made of (they must all be there)."""


def _require(event: RunCreated | RunResumed | RunFinished) -> None:
    for name in _ROW_FIELDS[type(event)]:
        top = name.split(".", 1)[0]
        if name in event.defaulted or top in event.defaulted:
            raise KeyError(name)


ROW_KINDS = frozenset(cls.kind for cls in _ROW_FIELDS)
"""The kinds that change the row (every other event leaves it as it is, undecoded)."""


def apply_event(row: RunRow | None, event: Event) -> RunRow | None:
    """The run's row after this event (unchanged for kinds that do not affect it).

    Args:
        row: The row so far (None before ``run_started``).
        event: The next event of the run, in order.

    Returns:
        The new row, a new dict (the argument is not modified).

    Raises:
        KeyError: If a lifecycle event lacks a field the row needs (a malformed event).
    """
    if event.kind not in ROW_KINDS:
        return row
    payload = event.payload
    match payload:
        case RunCreated():
            _require(payload)
            return {
                "run_id": event.run_id,
                "playbook_name": payload.playbook.name,
                "playbook_kind": payload.playbook.kind,
                "playbook_title": payload.playbook.title,
                "playbook_path": payload.playbook.path,
                "playbook_digest": payload.playbook.digest,
                "inventory_name": payload.inventory.name,
                "inventory_path": payload.inventory.path,
                "inventory_digest": payload.inventory.digest,
                "mode": payload.mode,
                "operator": event.operator,
                "services": canonical_json(payload.services),
                "params": canonical_json(payload.params),
                "objectives": canonical_json(payload.objectives),
                "pid": payload.pid,
                "hostname": payload.hostname,
                "started_at": event.ts,
                "finished_at": None,
                "outcome": None,
                "finish_data": "{}",
            }
        case RunResumed() if row is not None:
            _require(payload)
            return {
                **row,
                "pid": payload.pid,
                "hostname": payload.hostname,
                "finished_at": None,
                "outcome": None,
                "finish_data": "{}",
            }
        case RunFinished() if row is not None:
            _require(payload)
            return {
                **row,
                "finished_at": event.ts,
                "outcome": str(payload.outcome),
                # the payload as recorded, not as this version reads it back
                "finish_data": canonical_json(event.data),
            }
        case _:
            return row
