"""Rebuild a run's progress from its audit log, to resume it after a crash, a kill or a stop.

The audit log is the only memory a resumed run has: which steps finished and how, what they
printed (later templates may use ``steps['id'].stdout``), where the outage started, which
canaries were acknowledged, and the parameters it ran with. A step that started and never
finished (the process died under it) has an unknown outcome: the operator decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.audit.model import parse_ts
from console.audit.store import AuditStore
from console.engine.context import StepOutputs
from console.engine.masking import MASK
from console.errors import InputError
from console.model.playbook import Playbook


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
    step_status: dict[str, str] = field(default_factory=dict)
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
    last_finish: dict[str, str] = {}
    open_steps: set[str] = set()
    current: dict[str, dict[str, list[str]]] = {}
    exits: dict[str, dict[str, int | None]] = {}
    for event in audit.events(run_id):
        sid = event.step_id
        data = event.data
        if event.kind == "step_started" and sid in main_ids and not data.get("rollback"):
            started_order.append(sid)
            open_steps.add(sid)
            current[sid] = {}
            exits[sid] = {}
            state.gates_passed = True
        elif event.kind == "step_finished" and sid in main_ids and not data.get("rollback"):
            open_steps.discard(sid)
            last_finish[sid] = str(data.get("outcome"))
        elif event.kind == "output" and sid in current and data.get("stream") == "stdout":
            current[sid].setdefault(event.host or "", []).extend(data.get("lines", []))
        elif event.kind == "command_result" and sid in exits:
            exits[sid][event.host or ""] = data.get("exit_status")
        elif event.kind == "rto_mark":
            ts = parse_ts(event.ts).timestamp()
            if data.get("mark") == "start":
                state.rto_start = ts
            elif data.get("mark") == "end":
                state.rto_end = ts
        elif event.kind == "canary_write":
            n = int(data.get("n", 0))
            if data.get("ok"):
                state.canary_acked[n] = parse_ts(event.ts).timestamp()
            state.canary_next = max(state.canary_next, n + 1)
    for sid in main_ids:
        if sid in open_steps:
            status = "unknown"
        elif sid in last_finish:
            outcome = last_finish[sid]
            later = started_order[started_order.index(sid) + 1 :] if sid in started_order else []
            if outcome in ("ok", "skipped"):
                status = outcome
            elif outcome == "stopped":
                status = "pending"
            elif outcome == "failed":
                status = "continued" if any(x != sid for x in later) else "pending"
            else:
                status = "unknown"
        else:
            status = "pending"
        state.step_status[sid] = status
        if status in ("ok", "skipped", "continued") and sid in current:
            for host, lines in current[sid].items():
                state.outputs.record(
                    sid,
                    host,
                    "\n".join(lines),
                    "",
                    exits[sid].get(host),
                    "ok" if status == "ok" else "failed",
                )
            state.outputs.set_outcome(sid, "failed" if status == "continued" else status)
    return state
