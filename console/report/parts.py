"""The sections of a composed run's report: one per included playbook.

A run of a playbook with ``include:`` steps (``console.model.include``) records its parts in
its plan (``run_plan``'s ``parts``); each part's steps are the planned steps whose ids start
with the include's id and ``/``. From those and the step executions the report says, per part,
which playbook and file it was, how each of its steps ended, and how long it took.
"""

from __future__ import annotations

from collections.abc import Sequence

from console import events as ev
from console.report.model import IncludedPart, StepRun

_GOOD = frozenset({"ok", "skipped", "continued"})


def included_parts(
    parts: Sequence[ev.PlanPart], planned: Sequence[ev.PlanEntry], steps: Sequence[StepRun]
) -> tuple[IncludedPart, ...]:
    """One :class:`IncludedPart` per recorded part, in plan order."""
    return tuple(_part(p, planned, steps) for p in parts)


def _part(
    part: ev.PlanPart, planned: Sequence[ev.PlanEntry], steps: Sequence[StepRun]
) -> IncludedPart:
    prefix = part.id + "/"
    ran = [s for s in steps if s.id.startswith(prefix) and not s.rollback]
    last: dict[str, StepRun] = {s.id: s for s in ran}
    ids = [p.id for p in planned if p.id.startswith(prefix)]
    outcomes = tuple((sid, last[sid].outcome if sid in last else "not run") for sid in ids)
    words = [o for _sid, o in outcomes]
    if not ran:
        outcome = "not started"
    elif "failed" in words:
        outcome = "failed"
    elif words and all(w in _GOOD for w in words):
        outcome = "done"
    else:
        outcome = "incomplete"
    started = min(ran, key=lambda s: s.offset) if ran else None
    ends = [(s.offset + s.duration, s) for s in ran if s.duration is not None and s.finished_at]
    ended = max(ends, key=lambda pair: pair[0]) if ends else None
    duration = None
    if started is not None and ended is not None:
        duration = round(ended[0] - started.offset, 3)
    return IncludedPart(
        id=part.id,
        playbook=part.playbook,
        title=part.title,
        path=part.path,
        digest=part.digest,
        outcome=outcome,
        steps=outcomes,
        started_at=started.started_at if started is not None else None,
        ended_at=ended[1].finished_at if ended is not None else None,
        duration=duration,
    )


__all__ = ["included_parts"]
