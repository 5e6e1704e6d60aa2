"""What the report's fold keeps while it reads a run: the commands and step executions still
being filled in, and the state of the whole fold.

Mutable on purpose (``console.report.fold`` fills them in as events arrive); each execution has
a ``freeze`` that makes the frozen value of ``console.report.model``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from console import events as ev
from console.audit.model import Event
from console.report.model import (
    CommandRun,
    DecisionRecord,
    Deviation,
    GateRun,
    Note,
    NoticeRecord,
    OutputLine,
    Resumption,
    Sample,
    StepRun,
)
from console.report.text import one_line, parse_time


@dataclass
class Cmd:
    """A command being folded: its intent, then its output and result as they come.

    Mutable on purpose (the fold fills it in); :meth:`freeze` makes the report's value.
    """

    host: str
    attempt: int
    command: str
    sent_at: str
    offset: float
    exit_status: int | None = None
    signal: str | None = None
    duration: float | None = None
    timed_out: bool = False
    ok: bool | None = None
    reason: str | None = None
    output: list[OutputLine] = field(default_factory=list)
    dropped: int = 0

    def freeze(self) -> CommandRun:
        """The frozen value for the report."""
        return CommandRun(
            host=self.host,
            attempt=self.attempt,
            command=self.command,
            sent_at=self.sent_at,
            offset=self.offset,
            exit_status=self.exit_status,
            signal=self.signal,
            duration=self.duration,
            timed_out=self.timed_out,
            ok=self.ok,
            reason=self.reason,
            output=tuple(self.output),
            dropped_lines=self.dropped,
        )


@dataclass
class StepState:
    """One step execution being folded, from ``step_started`` to ``step_finished``."""

    id: str
    title: str
    kind: str
    rollback: bool
    description: str | None
    instructions: str | None
    targets: tuple[str, ...]
    started_at: str
    offset: float
    attempts: int = 1
    finished_at: str | None = None
    duration: float | None = None
    outcome: str | None = None
    reason: str | None = None
    decisions: list[DecisionRecord] = field(default_factory=list)
    commands: list[Cmd] = field(default_factory=list)
    notices: list[NoticeRecord] = field(default_factory=list)
    rto_marks: list[str] = field(default_factory=list)

    def freeze(self) -> StepRun:
        """The frozen value for the report (an execution with no end is ``unknown``)."""
        return StepRun(
            id=self.id,
            title=self.title,
            kind=self.kind,
            rollback=self.rollback,
            description=self.description,
            instructions=self.instructions,
            targets=self.targets,
            started_at=self.started_at,
            offset=self.offset,
            finished_at=self.finished_at,
            duration=self.duration,
            attempts=self.attempts,
            outcome=self.outcome or "unknown",
            reason=self.reason,
            decisions=tuple(self.decisions),
            commands=tuple(c.freeze() for c in self.commands),
            notices=tuple(self.notices),
            rto_marks=tuple(self.rto_marks),
            confirmed_by=_confirmed_by(self.decisions),
        )


def _confirmed_by(decisions: Sequence[DecisionRecord]) -> str | None:
    for d in decisions:
        if d.action in ("confirm", "done", "rerun"):
            return f"{d.by} (--yes)" if d.auto else d.by
    return None


class FoldState:
    """What the fold of one run holds: every step execution, command, gate, sample,
    deviation and note so far, and the helpers that add to them."""

    def __init__(self, run_id: str, events: Sequence[Event]) -> None:
        self.run_id = run_id
        self.start_ts = events[0].ts if events else ""
        self._origin = parse_time(self.start_ts)
        self.last_ts = events[-1].ts if events else ""
        self.event_count = len(events)
        self.last_hash = events[-1].hash if events else ""
        self.started: ev.RunCreated = ev.decode_as(ev.RunCreated, {})
        """The run's ``run_started`` (all defaults when the log has none)."""
        self.starter = ""
        self.operators: dict[str, list[str]] = {}
        self.steps: list[StepState] = []
        self.open_steps: dict[tuple[str, bool], StepState] = {}
        self.last_step: dict[str, StepState] = {}
        self.pending_decisions: dict[str, list[DecisionRecord]] = {}
        self.open_cmds: dict[tuple[str, str], Cmd] = {}
        self.last_cmd: dict[tuple[str, str], Cmd] = {}
        self.gate_cmds: list[Cmd] = []
        self.gates: list[GateRun] = []
        self.samples: list[Sample] = []
        self.notices: list[NoticeRecord] = []
        self.planned: list[ev.PlanEntry] = []
        self.parts: list[ev.PlanPart] = []
        self.notes: list[Note] = []
        self.deviations: list[Deviation] = []
        self.resumptions: list[Resumption] = []
        self.finished: ev.RunFinished | None = None
        self.finished_at: str | None = None
        self.process: tuple[int, str] = (0, "")
        self.machines: list[str] = []
        self.measurement: ev.Measurement | None = None
        self.rto_start: str | None = None
        self.rto_end: str | None = None
        self.canary_service: str | None = None
        self.canary_ok = 0
        self.canary_failed = 0
        self.canary_acked: list[tuple[int, str | None]] = []
        """The acknowledged canary writes, in order: (number, the host that acknowledged it)."""
        self.canary_held: dict[str, tuple[int, str | None, str | None, str, str]] = {}
        """Site -> (newest canary held, whose writes, step id, when, line): each site's last
        observation."""
        self.canary_check: ev.CanaryCheck | None = None
        self.canary_check_host: str | None = None
        self.rollback_ran = False
        self.rollback_ok: bool | None = None

    # -- helpers ---------------------------------------------------------------------------

    def offset(self, ts: str) -> float:
        """Seconds from the start of the run to ``ts`` (0 when unreadable)."""
        moment = parse_time(ts)
        if moment is None or self._origin is None:
            return 0.0
        return round((moment - self._origin).total_seconds(), 3)

    def role(self, who: str, role: str) -> None:
        """Remember that ``who`` did ``role`` (first time only)."""
        if not who:
            return
        roles = self.operators.setdefault(who, [])
        if role not in roles:
            roles.append(role)

    def deviate(
        self, kind: str, severity: str, event: Event | None, text: str, step_id: str | None = None
    ) -> None:
        """Record a deviation at the time of ``event`` (or with no time)."""
        self.deviations.append(
            Deviation(
                kind=kind,
                severity=severity,
                at=event.ts if event else None,
                offset=self.offset(event.ts) if event else None,
                step_id=step_id if step_id is not None else (event.step_id if event else None),
                text=one_line(text, 400),
            )
        )

    def step_for(self, step_id: str | None) -> StepState | None:
        """The open execution of a step, else its latest one."""
        if step_id is None:
            return None
        for rollback in (False, True):
            step = self.open_steps.get((step_id, rollback))
            if step is not None:
                return step
        return self.last_step.get(step_id)

    # -- closing ---------------------------------------------------------------------------

    def close(self, step: StepState, outcome: str, reason: str) -> None:
        """End an execution the log left open, with the outcome the caller judged."""
        step.outcome = outcome
        step.reason = reason
        self._close_cmds(step.id, "no result recorded: " + reason)
        for key, open_step in list(self.open_steps.items()):
            if open_step is step:
                del self.open_steps[key]

    def close_open(self, outcome: str, reason: str) -> None:
        """End every open execution (a resume: they were in flight when the run died)."""
        for step in list(self.open_steps.values()):
            self.close(step, outcome, reason)

    def _close_cmds(self, step_id: str, reason: str) -> None:
        for key, cmd in list(self.open_cmds.items()):
            if key[0] == step_id:
                if cmd.ok is None and cmd.reason is None:
                    cmd.reason = reason
                del self.open_cmds[key]
