"""The ``runs`` table as a function of the events: one fold, used to write it and to verify it.

The ``runs`` row of a run is never authored on its own: the store computes it by folding the
run's ``run_started``, ``run_resumed`` and ``run_finished`` events through ``apply_event``, and
``verify`` folds them again and compares. So the row is only a fast index over the chain, and
editing it by hand shows up as a mismatch.
"""

from __future__ import annotations

from typing import Any

from console.audit.chain import canonical_json
from console.audit.model import Event

RunRow = dict[str, Any]
"""A ``runs`` row in stored form: JSON columns as canonical JSON text."""


def run_started_data(
    *,
    playbook: dict[str, Any],
    inventory: dict[str, Any],
    mode: str,
    params: dict[str, Any],
    objectives: dict[str, Any],
    services: list[str],
    pid: int,
    hostname: str,
) -> dict[str, Any]:
    """The data of a ``run_started`` event, in the shape the engine and report agree on."""
    return {
        "playbook": playbook,
        "inventory": inventory,
        "mode": mode,
        "params": params,
        "objectives": objectives,
        "services": services,
        "pid": pid,
        "hostname": hostname,
    }


def _field(data: dict[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise KeyError(".".join(path))
        value = value[key]
    return value


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
    data = event.data
    if event.kind == "run_started":
        return {
            "run_id": event.run_id,
            "playbook_name": _field(data, "playbook", "name"),
            "playbook_kind": _field(data, "playbook", "kind"),
            "playbook_title": _field(data, "playbook", "title"),
            "playbook_path": _field(data, "playbook", "path"),
            "playbook_digest": _field(data, "playbook", "digest"),
            "inventory_name": _field(data, "inventory", "name"),
            "inventory_path": _field(data, "inventory", "path"),
            "inventory_digest": _field(data, "inventory", "digest"),
            "mode": _field(data, "mode"),
            "operator": event.operator,
            "services": canonical_json(_field(data, "services")),
            "params": canonical_json(_field(data, "params")),
            "objectives": canonical_json(_field(data, "objectives")),
            "pid": _field(data, "pid"),
            "hostname": _field(data, "hostname"),
            "started_at": event.ts,
            "finished_at": None,
            "outcome": None,
            "finish_data": "{}",
        }
    if row is None:
        return None
    if event.kind == "run_resumed":
        return {
            **row,
            "pid": _field(data, "pid"),
            "hostname": _field(data, "hostname"),
            "finished_at": None,
            "outcome": None,
            "finish_data": "{}",
        }
    if event.kind == "run_finished":
        return {
            **row,
            "finished_at": event.ts,
            "outcome": _field(data, "outcome"),
            "finish_data": canonical_json(data),
        }
    return row
