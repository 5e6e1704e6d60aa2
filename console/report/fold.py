"""The event-by-event fold behind the report: what each kind of audit event adds to it.

:class:`Folder` reads a run's events in log order and keeps mutable working state (open steps,
open commands, decisions waiting for their step); ``console.report.build`` turns that state
into the frozen :class:`~console.report.model.Report`. Every payload read goes through the
small coercion helpers below, so an event written by an older or newer engine, or edited by
hand, never raises: a missing or mistyped value is absent, not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from console.report.payload import (
    as_bool,
    as_dict,
    as_int,
    as_num,
    as_opt_str,
    as_str,
    as_strs,
)
from console.report.text import canary_problem, one_line, parse_time

PREFLIGHT = "preflight"
"""The step id the engine gives to the commands of ``command:`` gates."""


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


class Folder:
    """Reads a run's events one by one (:meth:`feed`) and keeps what the report needs.

    Events are matched the way the engine writes them: a command's output and result by
    (step, host); a decision to the step it names, or, when it comes before the step starts
    (a resumed run's "re-run?"), to the next execution of that step; the commands of
    ``command:`` gates (step ``preflight``) to the next ``gate_result``.
    """

    def __init__(self, run_id: str, events: Sequence[Event]) -> None:
        self.run_id = run_id
        self.start_ts = events[0].ts if events else ""
        self._origin = parse_time(self.start_ts)
        self.last_ts = events[-1].ts if events else ""
        self.event_count = len(events)
        self.last_hash = events[-1].hash if events else ""
        self.started: Mapping[str, Any] = {}
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
        self.planned: list[dict[str, Any]] = []
        self.notes: list[Note] = []
        self.deviations: list[Deviation] = []
        self.resumptions: list[Resumption] = []
        self.finished: Mapping[str, Any] | None = None
        self.finished_at: str | None = None
        self.process: tuple[int, str] = (0, "")
        self.machines: list[str] = []
        self.measurement: Mapping[str, Any] | None = None
        self.rto_start: str | None = None
        self.rto_end: str | None = None
        self.canary_service: str | None = None
        self.canary_ok = 0
        self.canary_failed = 0
        self.canary_check: Mapping[str, Any] | None = None
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

    # -- dispatch --------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Fold one event (kinds nobody handles are ignored)."""
        handler = getattr(self, "_on_" + event.kind, None)
        if handler is not None:
            handler(event, event.data)

    def _on_run_started(self, event: Event, d: Mapping[str, Any]) -> None:
        self.started = d
        self.starter = event.operator
        self.role(event.operator, "started")
        self.process = (as_int(d.get("pid")) or 0, as_str(d.get("hostname")))
        if self.process[1] and self.process[1] not in self.machines:
            self.machines.append(self.process[1])

    def _on_run_plan(self, event: Event, d: Mapping[str, Any]) -> None:
        steps = d.get("steps")
        if isinstance(steps, list):
            self.planned = [s for s in steps if isinstance(s, dict)]

    def _on_run_resumed(self, event: Event, d: Mapping[str, Any]) -> None:
        previous = as_str(d.get("previous_status"), "?")
        self.role(event.operator, "resumed")
        self.resumptions.append(
            Resumption(event.ts, self.offset(event.ts), event.operator, previous)
        )
        self.deviate(
            "resumed",
            "warning",
            event,
            f"run resumed by {event.operator} after it was {previous}",
        )
        self.close_open("unknown", f"in flight when the run was {previous}")
        self.process = (as_int(d.get("pid")) or 0, as_str(d.get("hostname")))
        if self.process[1] and self.process[1] not in self.machines:
            self.machines.append(self.process[1])
        self.finished, self.finished_at = None, None

    def _on_run_finished(self, event: Event, d: Mapping[str, Any]) -> None:
        self.finished, self.finished_at = d, event.ts
        outcome = as_str(d.get("outcome"), "?")
        if outcome in ("stopped", "interrupted", "aborted"):
            where = d.get("stopped_at")
            at = f" at step {where}" if where else ""
            self.deviate(
                outcome,
                "error" if outcome != "stopped" else "warning",
                event,
                f"run {outcome}{at}: {as_str(d.get('summary'))}",
                step_id=as_opt_str(where),
            )

    def _on_step_started(self, event: Event, d: Mapping[str, Any]) -> None:
        step_id = event.step_id or "?"
        rollback = bool(d.get("rollback"))
        attempt = as_int(d.get("attempt")) or 1
        key = (step_id, rollback)
        current = self.open_steps.get(key)
        if current is not None and attempt > 1:
            current.attempts = attempt
            targets = as_strs(d.get("targets"))
            if targets:
                current.targets = targets
            return
        if current is not None:
            self.close(current, "unknown", "started again before it ended")
        step = StepState(
            id=step_id,
            title=as_str(d.get("title"), step_id),
            kind=as_str(d.get("kind") or d.get("step_kind"), "run"),
            rollback=rollback,
            description=as_opt_str(d.get("description")),
            instructions=as_opt_str(d.get("instructions")),
            targets=as_strs(d.get("targets")),
            started_at=event.ts,
            offset=self.offset(event.ts),
            attempts=attempt,
        )
        step.decisions.extend(self.pending_decisions.pop(step_id, []))
        self.steps.append(step)
        self.open_steps[key] = step
        self.last_step[step_id] = step

    def _on_step_finished(self, event: Event, d: Mapping[str, Any]) -> None:
        step_id = event.step_id or "?"
        key = (step_id, bool(d.get("rollback")))
        step = self.open_steps.pop(key, None)
        if step is None:
            step = self.open_steps.pop((step_id, not key[1]), None)
        if step is None:
            # A resumed run skips a step whose outcome is unknown without starting it again.
            step = StepState(
                id=step_id,
                title=step_id,
                kind="?",
                rollback=key[1],
                description=None,
                instructions=None,
                targets=(),
                started_at=event.ts,
                offset=self.offset(event.ts),
                attempts=0,
            )
            step.decisions.extend(self.pending_decisions.pop(step_id, []))
            self.steps.append(step)
            self.last_step[step_id] = step
        step.finished_at = event.ts
        step.duration = as_num(d.get("duration"))
        step.attempts = as_int(d.get("attempts")) or step.attempts
        outcome = as_str(d.get("outcome"), "unknown")
        if outcome == "failed" and any(x.action == "continue" for x in step.decisions):
            outcome = "continued"
        step.outcome = outcome
        step.reason = as_opt_str(d.get("reason"))
        self._close_cmds(step_id, "the step ended before a result was recorded")

    def _on_decision(self, event: Event, d: Mapping[str, Any]) -> None:
        by = as_str(d.get("by"), event.operator)
        auto = bool(d.get("auto"))
        action = as_str(d.get("action"), "?")
        record = DecisionRecord(
            at=event.ts,
            offset=self.offset(event.ts),
            step_id=event.step_id,
            action=action,
            by=by,
            auto=auto,
            reason=as_opt_str(d.get("reason")),
        )
        role = {
            "confirm": "confirmed",
            "done": "declared done",
            "rerun": "re-ran",
            "skip": "skipped",
            "abort": "aborted",
            "retry": "retried",
            "continue": "continued",
            "rollback": "rolled back",
        }.get(action, action)
        if auto:
            role = (
                "approved with --yes"
                if action in ("confirm", "done", "rerun")
                else f"{action} by policy"
            )
        self.role(by, role)
        if action == "retry":
            self.deviate(
                "retry",
                "warning",
                event,
                f"step {event.step_id} retried ({'automatic' if auto else by}): "
                f"{record.reason or ''}",
            )
        elif action == "continue":
            self.deviate(
                "continued",
                "warning",
                event,
                f"step {event.step_id} failed and the run went on "
                f"({'policy' if auto else by}): {record.reason or ''}",
            )
        elif action in ("abort", "decline") and not auto:
            self.deviate(
                "aborted",
                "error",
                event,
                f"{by} chose {action} at step {event.step_id}: "
                f"{record.reason or 'no reason given'}",
            )
        elif action == "rerun":
            self.deviate(
                "unknown-outcome",
                "warning",
                event,
                f"step {event.step_id} had an unknown outcome and was run again "
                f"({'--yes' if auto else by})",
            )
        step = None
        if event.step_id is not None:
            step = self.open_steps.get((event.step_id, False)) or self.open_steps.get(
                (event.step_id, True)
            )
        if step is not None:
            step.decisions.append(record)
        elif event.step_id is not None:
            self.pending_decisions.setdefault(event.step_id, []).append(record)

    def _on_command_intent(self, event: Event, d: Mapping[str, Any]) -> None:
        host = event.host or "?"
        cmd = Cmd(
            host=host,
            attempt=as_int(d.get("attempt")) or 1,
            command=as_str(d.get("command")),
            sent_at=event.ts,
            offset=self.offset(event.ts),
        )
        key = (event.step_id or "?", host)
        previous = self.open_cmds.get(key)
        if previous is not None and previous.ok is None and previous.reason is None:
            previous.reason = "no result recorded"
        self.open_cmds[key] = cmd
        self.last_cmd[key] = cmd
        if event.step_id == PREFLIGHT:
            self.gate_cmds.append(cmd)
            return
        step = self.step_for(event.step_id)
        if step is None:
            step = StepState(
                id=event.step_id or "?",
                title=event.step_id or "commands outside any step",
                kind="run",
                rollback=False,
                description=None,
                instructions=None,
                targets=(host,),
                started_at=event.ts,
                offset=self.offset(event.ts),
            )
            self.steps.append(step)
            self.open_steps[(step.id, False)] = step
            self.last_step[step.id] = step
        step.commands.append(cmd)

    def _on_output(self, event: Event, d: Mapping[str, Any]) -> None:
        key = (event.step_id or "?", event.host or "?")
        cmd = self.open_cmds.get(key) or self.last_cmd.get(key)
        if cmd is None:
            return
        stream = as_str(d.get("stream"), "stdout")
        cmd.output.extend(OutputLine(stream, line) for line in as_strs(d.get("lines")))

    def _on_command_result(self, event: Event, d: Mapping[str, Any]) -> None:
        key = (event.step_id or "?", event.host or "?")
        cmd = self.open_cmds.pop(key, None) or self.last_cmd.get(key)
        if cmd is None:
            return
        cmd.exit_status = as_int(d.get("exit_status"))
        cmd.signal = as_opt_str(d.get("signal"))
        cmd.duration = as_num(d.get("duration"))
        cmd.timed_out = bool(d.get("timed_out"))
        cmd.ok = as_bool(d.get("ok"))
        cmd.reason = as_opt_str(d.get("reason"))
        cmd.dropped = as_int(d.get("dropped_lines")) or 0

    def _on_gate_result(self, event: Event, d: Mapping[str, Any]) -> None:
        ok = bool(d.get("ok"))
        gate = GateRun(
            index=as_int(d.get("index")) or len(self.gates) + 1,
            title=as_str(d.get("gate"), "?"),
            ok=ok,
            detail=as_str(d.get("detail")),
            at=event.ts,
            offset=self.offset(event.ts),
            commands=tuple(c.freeze() for c in self.gate_cmds),
        )
        for cmd in self.gate_cmds:
            self.open_cmds.pop((PREFLIGHT, cmd.host), None)
        self.gate_cmds = []
        self.gates.append(gate)
        if not ok:
            self.deviate(
                "gate-failed",
                "error",
                event,
                f"preflight gate {gate.index} failed: {gate.title} — {gate.detail}",
            )

    def _on_probe_sample(self, event: Event, d: Mapping[str, Any]) -> None:
        self.samples.append(
            Sample(
                at=event.ts,
                offset=self.offset(event.ts),
                phase=as_str(d.get("phase"), "during"),
                service=as_str(d.get("service"), "?"),
                site=as_str(d.get("site"), "?"),
                host=event.host,
                role=as_str(d.get("role"), "unknown"),
                link=as_str(d.get("link"), "unknown"),
                lag_seconds=as_num(d.get("lag_seconds")),
                lag_bytes=as_int(d.get("lag_bytes")),
                position=as_opt_str(d.get("position")),
                health=as_str(d.get("health"), "unknown"),
                error=as_opt_str(d.get("error")),
            )
        )

    def _on_notice(self, event: Event, d: Mapping[str, Any]) -> None:
        level = as_str(d.get("level"), "info")
        record = NoticeRecord(
            at=event.ts,
            offset=self.offset(event.ts),
            level=level,
            message=as_str(d.get("message")),
            step_id=event.step_id,
            host=event.host,
        )
        self.notices.append(record)
        step = self.step_for(event.step_id)
        if step is not None:
            step.notices.append(record)
        if level in ("warning", "error"):
            self.deviate("notice", level, event, f"{level}: {record.message}")

    def _on_note(self, event: Event, d: Mapping[str, Any]) -> None:
        by = as_str(d.get("by"), event.operator)
        self.role(by, "noted")
        self.notes.append(
            Note(event.ts, self.offset(event.ts), by, event.step_id, as_str(d.get("text")))
        )

    def _on_rto_mark(self, event: Event, d: Mapping[str, Any]) -> None:
        mark = as_str(d.get("mark"))
        if mark == "start" and self.rto_start is None:
            self.rto_start = event.ts
        elif mark == "end" and self.rto_end is None:
            self.rto_end = event.ts
        step = self.step_for(event.step_id)
        if step is not None and mark:
            step.rto_marks.append(mark)

    def _on_measurement(self, event: Event, d: Mapping[str, Any]) -> None:
        self.measurement = d

    def _on_canary_write(self, event: Event, d: Mapping[str, Any]) -> None:
        self.canary_service = as_str(d.get("service"), "?")
        if d.get("ok"):
            self.canary_ok += 1
        else:
            self.canary_failed += 1

    def _on_canary_check(self, event: Event, d: Mapping[str, Any]) -> None:
        self.canary_service = as_str(d.get("service"), self.canary_service or "?")
        self.canary_check = d
        self.canary_check_host = event.host
        if d.get("error"):
            self.deviate("notice", "warning", event, canary_problem(str(d.get("error"))))

    def _on_lock_broken(self, event: Event, d: Mapping[str, Any]) -> None:
        holder = as_dict(d.get("holder"))
        who = holder.get("run_id") or holder.get("owner") or "?"
        where = f" on {event.host}" if event.host else ""
        self.deviate(
            "override",
            "warning",
            event,
            f"--break-lock: {d.get('scope', '?')} lock on {d.get('service', '?')}{where} broken "
            f"by {event.operator}; it was held by {one_line(str(who), 120)}",
        )

    def _on_host_key_accepted(self, event: Event, d: Mapping[str, Any]) -> None:
        self.deviate(
            "override",
            "warning",
            event,
            f"--accept-new-host-keys: new host key of {event.host} accepted: "
            f"{d.get('key_type', '?')} {d.get('fingerprint', '?')}",
        )

    def _on_rollback_started(self, event: Event, d: Mapping[str, Any]) -> None:
        self.rollback_ran = True
        self.deviate("rollback", "error", event, f"rollback started: {as_str(d.get('reason'))}")

    def _on_rollback_finished(self, event: Event, d: Mapping[str, Any]) -> None:
        self.rollback_ok = as_bool(d.get("ok"))
        word = "every rollback step ok" if self.rollback_ok else "a rollback step FAILED"
        self.deviate(
            "rollback", "info" if self.rollback_ok else "error", event, f"rollback ended: {word}"
        )

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
