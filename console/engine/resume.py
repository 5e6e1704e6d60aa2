"""Rebuild a run's progress from its audit log, to resume it after a crash, a kill or a stop.

The audit log is the only memory a resumed run has: which steps finished and how, what they
printed (later templates may use ``steps['id'].stdout``), where the outage started, which
canaries were acknowledged, and the parameters it ran with. A step that started and never
finished (the process died under it) has an unknown outcome: the operator decides. The events
are read back typed (``console.events``); only the kinds that say where the run was matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console import events as ev
from console.audit.model import parse_ts
from console.audit.store import AuditStore
from console.engine.context import StepOutputs
from console.engine.masking import MASK
from console.errors import InputError
from console.model.playbook import Playbook

S = ev.StepStatus


@dataclass
class ResumeState:
    """What a resumed run starts from."""

    run_id: str
    status: str
    """The run's status before resuming (interrupted, stopped, failed...)."""
    params: dict[str, str]
    """Parameter values as recorded (secret ones as ``****``)."""
    mode: str
    playbook_digest: str
    inventory_digest: str
    step_status: dict[str, ev.StepStatus] = field(default_factory=dict)
    """Per main step: ok, skipped, continued, unknown or pending."""
    outputs: StepOutputs = field(default_factory=StepOutputs)
    rto_start: float | None = None
    rto_end: float | None = None
    gates_passed: bool = False
    canary_acked: dict[int, float] = field(default_factory=dict)
    canary_next: int = 1

    @property
    def secret_params_missing(self) -> list[str]:
        """Parameters recorded masked: they must be given again with --var."""
        return [k for k, v in self.params.items() if v == MASK]


def load_resume_state(audit: AuditStore, run_text: str, playbook: Playbook) -> ResumeState:
    """Read a run's events and work out where to go on.

    Raises:
        InputError: no such run, a run for another playbook, or a run that succeeded.
    """
    run_id = audit.resolve_run_id(run_text)
    record = audit.get_run(run_id)
    if record is None:
        raise InputError(f"--resume {run_text}: no such run in {audit.path}")
    if record.playbook_name != playbook.name:
        raise InputError(
            f"--resume {run_id}: that run is of playbook {record.playbook_name!r}, "
            f"not {playbook.name!r}"
        )
    if record.status == "succeeded":
        raise InputError(f"--resume {run_id}: that run succeeded; there is nothing to resume")
    state = ResumeState(
        run_id=run_id,
        status=record.status,
        params={k: str(v) for k, v in record.params.items()},
        mode=record.mode,
        playbook_digest=record.playbook_digest,
        inventory_digest=record.inventory_digest,
    )
    main_ids = [s.id for s in playbook.steps]
    started_order: list[str] = []
    last_finish: dict[str, ev.StepOutcome] = {}
    open_steps: set[str] = set()
    current: dict[str, dict[str, list[str]]] = {}
    exits: dict[str, dict[str, int | None]] = {}
    for event in audit.events(run_id):
        sid = event.step_id or ""
        match event.payload:
            case ev.StepStarted(rollback=False) if sid in main_ids:
                started_order.append(sid)
                open_steps.add(sid)
                current[sid] = {}
                exits[sid] = {}
                state.gates_passed = True
            case ev.StepFinished(rollback=False, outcome=outcome) if sid in main_ids:
                open_steps.discard(sid)
                last_finish[sid] = outcome
            case ev.OutputLines(stream="stdout", lines=batch) if sid in current:
                current[sid].setdefault(event.host or "", []).extend(batch)
            case ev.CommandFinished(exit_status=code) if sid in exits:
                exits[sid][event.host or ""] = code
            case ev.RtoMark(mark=mark):
                ts = parse_ts(event.ts).timestamp()
                if mark == ev.RtoEdge.START:
                    state.rto_start = ts
                elif mark == ev.RtoEdge.END:
                    state.rto_end = ts
            case ev.CanaryWrite(n=n, ok=ok):
                if ok:
                    state.canary_acked[n] = parse_ts(event.ts).timestamp()
                state.canary_next = max(state.canary_next, n + 1)
            case _:
                pass  # nothing else tells where the run was
    for sid in main_ids:
        status = _status(sid, open_steps, last_finish, started_order)
        state.step_status[sid] = status
        if status in (S.OK, S.SKIPPED, S.CONTINUED) and sid in current:
            for host, lines in current[sid].items():
                state.outputs.record(
                    sid,
                    host,
                    "\n".join(lines),
                    "",
                    exits[sid].get(host),
                    "ok" if status == S.OK else "failed",
                )
            state.outputs.set_outcome(sid, "failed" if status == S.CONTINUED else status)
    return state


def _status(
    sid: str,
    open_steps: set[str],
    last_finish: dict[str, ev.StepOutcome],
    started_order: list[str],
) -> ev.StepStatus:
    """Where a main step stands: in flight when the log ends (unknown), done, or to do."""
    if sid in open_steps:
        return S.UNKNOWN
    if sid not in last_finish:
        return S.PENDING
    outcome = last_finish[sid]
    later = started_order[started_order.index(sid) + 1 :] if sid in started_order else []
    if outcome in (ev.StepOutcome.OK, ev.StepOutcome.SKIPPED):
        return S(outcome)
    if outcome == ev.StepOutcome.STOPPED:
        return S.PENDING
    if outcome == ev.StepOutcome.FAILED:
        # failed, and a later step started: the run went on past it (continued)
        return S.CONTINUED if any(x != sid for x in later) else S.PENDING
    return S.UNKNOWN
