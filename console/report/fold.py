"""The event-by-event fold behind the report: what each kind of audit event adds to it.

:class:`Folder` reads a run's events in log order and keeps mutable working state (open steps,
open commands, decisions waiting for their step; ``console.report.working``);
``console.report.build`` turns that state into the frozen :class:`~console.report.model.Report`.
Each event is read back typed (``console.events``) and handled by its class in one ``match``
that mypy checks covers every kind. Decoding is tolerant, so an event written by an older or
newer engine, or edited by hand, never raises: a missing or mistyped value is absent (or the
default its class declares), never guessed.
"""

from __future__ import annotations

import re
from typing import assert_never

from console import events as ev
from console.audit.model import Event
from console.model.durations import format_duration
from console.report.model import (
    DecisionRecord,
    GateRun,
    Note,
    NoticeRecord,
    OutputLine,
    Resumption,
    Sample,
)
from console.report.text import canary_problem, one_line
from console.report.working import Cmd, FoldState, StepState

CANARY_HELD = re.compile(
    r"^canary held at ([A-Za-z0-9_.-]+): n <= ([0-9]{1,18})\b"
    r"(?: of the writes on ([A-Za-z0-9_.-]+))?"
)
"""A step's stdout line saying which canaries a member held (``report.model.CanaryHeld``)."""

PREFLIGHT = "preflight"
"""The step id the engine gives to the commands of ``command:`` gates."""


def _text(payload: ev.Event, name: str, value: str, default: str) -> str:
    """A text field, or ``default`` when the log lacked it (an empty text stays empty)."""
    return default if not value and name in payload.defaulted else value


class Folder(FoldState):
    """Reads a run's events one by one (:meth:`feed`) and keeps what the report needs.

    Events are matched the way the engine writes them: a command's output and result by
    (step, host); a decision to the step it names, or, when it comes before the step starts
    (a resumed run's "re-run?"), to the next execution of that step; the commands of
    ``command:`` gates (step ``preflight``) to the next ``gate_result``.
    """

    # -- dispatch --------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Fold one event, by the class of its payload."""
        p = event.payload
        match p:
            case ev.RunCreated():
                self._run_started(event, p)
            case ev.RunPlanned():
                self.planned = list(p.steps)
                self.parts = list(p.parts or ())
            case ev.RunResumed():
                self._run_resumed(event, p)
            case ev.RunFinished():
                self._run_finished(event, p)
            case ev.StepStarted():
                self._step_started(event, p)
            case ev.StepFinished():
                self._step_finished(event, p)
            case ev.Decision():
                self._decision(event, p)
            case ev.CommandIntent():
                self._command_intent(event, p)
            case ev.OutputLines():
                self._output(event, p)
            case ev.CommandFinished():
                self._command_result(event, p)
            case ev.GateResult():
                self._gate_result(event, p)
            case ev.ProbeSample():
                self._probe_sample(event, p)
            case ev.Notice():
                self._notice(event, p)
            case ev.NoteAdded():
                by = _text(p, "by", p.by, event.operator)
                self.role(by, "noted")
                self.notes.append(Note(event.ts, self.offset(event.ts), by, event.step_id, p.text))
            case ev.RtoMark():
                self._rto_mark(event, p)
            case ev.Measurement():
                self.measurement = p
            case ev.CanaryWrite():
                self.canary_service = p.service
                if p.ok:
                    self.canary_ok += 1
                    if isinstance(p.n, int) and not isinstance(p.n, bool):
                        self.canary_acked.append((p.n, event.host))
                else:
                    self.canary_failed += 1
            case ev.CanaryCheck():
                self._canary_check(event, p)
            case ev.LockBroken():
                self._lock_broken(event, p)
            case ev.HostKeyAccepted():
                self.deviate(
                    "override",
                    "warning",
                    event,
                    f"--accept-new-host-keys: new host key of {event.host} accepted: "
                    f"{p.key_type} {p.fingerprint}",
                )
            case ev.RollbackStarted():
                self.rollback_ran = True
                self.deviate("rollback", "error", event, f"rollback started: {p.reason}")
            case ev.RollbackFinished():
                self.rollback_ok = p.ok
                word = "every rollback step ok" if p.ok else "a rollback step FAILED"
                self.deviate(
                    "rollback", "info" if p.ok else "error", event, f"rollback ended: {word}"
                )
            case ev.NotificationFailed():
                self.deviate(
                    "notification",
                    "warning",
                    event,
                    f"notification not delivered to {p.target} ({p.subject}): {p.reason}",
                )
            case ev.RunImported():
                self.deviate(
                    "override",
                    "info",
                    event,
                    f"recorded offline in {p.source} on {p.source_host} and pushed into this "
                    f"store ({len(p.origins)} events, their original chain verified)",
                )
            case ev.Approved():
                self._approved(event, p)
            case ev.ApprovalRequested():
                pass  # the approvals themselves are the step's decisions
            case ev.CommitAwaited():
                self.deviate(
                    "notice",
                    "info",
                    event,
                    f"awaiting commit for {format_duration(p.within)} (otherwise {p.otherwise})",
                )
            case ev.Committed():
                by = _text(p, "by", p.by, event.operator)
                self.role(by, "committed")
                self.deviate("notice", "info", event, f"committed by {by} on {p.hostname}")
            case ev.ApprovalDenied() | ev.CommitDenied():
                what = "approval" if isinstance(p, ev.ApprovalDenied) else "commit"
                self.deviate(
                    "notice",
                    "warning",
                    event,
                    f"{what} by {p.by} on {p.hostname} refused: {p.reason}",
                )
            case ev.CommitExpired():
                self.deviate(
                    "rollback" if p.otherwise == "rollback" else "notice",
                    "error" if p.otherwise == "rollback" else "warning",
                    event,
                    f"the commit window of {format_duration(p.within)} ended uncommitted: "
                    f"{'rolled back' if p.otherwise == 'rollback' else 'kept as it was'}",
                )
            case ev.LockAcquired() | ev.LockReleased() | ev.UnknownEvent():
                pass  # not part of the report (the timeline of ``audit show`` has them)
            case _:
                assert_never(p)

    def _run_started(self, event: Event, p: ev.RunCreated) -> None:
        self.started = p
        self.starter = event.operator
        self.role(event.operator, "started")
        self._process(p.pid, p.hostname)

    def _process(self, pid: int, hostname: str) -> None:
        self.process = (pid, hostname)
        if hostname and hostname not in self.machines:
            self.machines.append(hostname)

    def _run_resumed(self, event: Event, p: ev.RunResumed) -> None:
        previous = p.previous_status
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
        self._process(p.pid, p.hostname)
        self.finished, self.finished_at = None, None

    def _run_finished(self, event: Event, p: ev.RunFinished) -> None:
        self.finished, self.finished_at = p, event.ts
        outcome = p.outcome
        if outcome in (ev.RunOutcome.STOPPED, ev.RunOutcome.INTERRUPTED, ev.RunOutcome.ABORTED):
            where = p.stopped_at
            at = f" at step {where}" if where else ""
            self.deviate(
                outcome,
                "error" if outcome != ev.RunOutcome.STOPPED else "warning",
                event,
                f"run {outcome}{at}: {p.summary}",
                step_id=where,
            )

    def _step_started(self, event: Event, p: ev.StepStarted) -> None:
        step_id = event.step_id or "?"
        attempt = p.attempt or 1
        key = (step_id, p.rollback)
        current = self.open_steps.get(key)
        if current is not None and attempt > 1:
            current.attempts = attempt
            if p.targets:
                current.targets = p.targets
            return
        if current is not None:
            self.close(current, "unknown", "started again before it ended")
        step = StepState(
            id=step_id,
            title=_text(p, "title", p.title, step_id),
            kind=p.step_kind,
            rollback=p.rollback,
            description=p.description,
            instructions=p.instructions,
            targets=p.targets,
            started_at=event.ts,
            offset=self.offset(event.ts),
            attempts=attempt,
        )
        step.decisions.extend(self.pending_decisions.pop(step_id, []))
        self.steps.append(step)
        self.open_steps[key] = step
        self.last_step[step_id] = step

    def _step_finished(self, event: Event, p: ev.StepFinished) -> None:
        step_id = event.step_id or "?"
        key = (step_id, p.rollback)
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
        step.duration = p.duration
        step.attempts = p.attempts or step.attempts
        outcome: str = p.outcome
        if outcome == ev.StepOutcome.FAILED and any(
            x.action == ev.DecisionAction.CONTINUE for x in step.decisions
        ):
            outcome = ev.StepStatus.CONTINUED
        step.outcome = outcome
        step.reason = p.reason
        self._close_cmds(step_id, "the step ended before a result was recorded")

    def _decision(self, event: Event, p: ev.Decision) -> None:
        by = _text(p, "by", p.by, event.operator)
        action = p.action
        record = DecisionRecord(
            at=event.ts,
            offset=self.offset(event.ts),
            step_id=event.step_id,
            action=action,
            by=by,
            auto=p.auto,
            reason=p.reason,
        )
        self.role(by, _role(action, p.auto))
        A = ev.DecisionAction
        if action == A.RETRY:
            self.deviate(
                "retry",
                "warning",
                event,
                f"step {event.step_id} retried ({'automatic' if p.auto else by}): "
                f"{record.reason or ''}",
            )
        elif action == A.CONTINUE:
            self.deviate(
                "continued",
                "warning",
                event,
                f"step {event.step_id} failed and the run went on "
                f"({'policy' if p.auto else by}): {record.reason or ''}",
            )
        elif action in (A.ABORT, A.DECLINE) and not p.auto:
            self.deviate(
                "aborted",
                "error",
                event,
                f"{by} chose {action} at step {event.step_id}: "
                f"{record.reason or 'no reason given'}",
            )
        elif action == A.RERUN:
            self.deviate(
                "unknown-outcome",
                "warning",
                event,
                f"step {event.step_id} had an unknown outcome and was run again "
                f"({'--yes' if p.auto else by})",
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

    def _approved(self, event: Event, p: ev.Approved) -> None:
        """Another operator's approval: one of the step's decisions, by that person."""
        by = _text(p, "by", p.by, event.operator)
        record = DecisionRecord(
            at=event.ts,
            offset=self.offset(event.ts),
            step_id=event.step_id,
            action=ev.DecisionAction.APPROVE,
            by=by,
            auto=False,
            reason=f"approval {p.count} of {p.needed}, from {p.hostname or '?'}",
        )
        self.role(by, "approved")
        step = None
        if event.step_id is not None:
            step = self.open_steps.get((event.step_id, False)) or self.open_steps.get(
                (event.step_id, True)
            )
        if step is not None:
            step.decisions.append(record)
        elif event.step_id is not None:
            self.pending_decisions.setdefault(event.step_id, []).append(record)

    def _command_intent(self, event: Event, p: ev.CommandIntent) -> None:
        host = event.host or "?"
        cmd = Cmd(
            host=host,
            attempt=p.attempt or 1,
            command=p.command,
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

    def _output(self, event: Event, p: ev.OutputLines) -> None:
        key = (event.step_id or "?", event.host or "?")
        if p.stream == "stdout":
            for line in p.lines:
                held = CANARY_HELD.match(line) if isinstance(line, str) else None
                if held is not None:
                    self.canary_held[held[1]] = (
                        int(held[2]),
                        held[3],
                        event.step_id,
                        event.ts,
                        line,
                    )
        cmd = self.open_cmds.get(key) or self.last_cmd.get(key)
        if cmd is not None:
            cmd.output.extend(OutputLine(p.stream, line) for line in p.lines)

    def _command_result(self, event: Event, p: ev.CommandFinished) -> None:
        key = (event.step_id or "?", event.host or "?")
        cmd = self.open_cmds.pop(key, None) or self.last_cmd.get(key)
        if cmd is None:
            return
        cmd.exit_status = p.exit_status
        cmd.signal = p.signal
        cmd.duration = p.duration
        cmd.timed_out = p.timed_out
        cmd.ok = None if "ok" in p.defaulted else p.ok
        cmd.reason = p.reason
        cmd.dropped = p.dropped_lines

    def _gate_result(self, event: Event, p: ev.GateResult) -> None:
        gate = GateRun(
            index=p.index or len(self.gates) + 1,
            title=p.gate,
            ok=p.ok,
            detail=p.detail,
            at=event.ts,
            offset=self.offset(event.ts),
            commands=tuple(c.freeze() for c in self.gate_cmds),
        )
        for cmd in self.gate_cmds:
            self.open_cmds.pop((PREFLIGHT, cmd.host), None)
        self.gate_cmds = []
        self.gates.append(gate)
        if not p.ok:
            self.deviate(
                "gate-failed",
                "error",
                event,
                f"preflight gate {gate.index} failed: {gate.title} — {gate.detail}",
            )

    def _probe_sample(self, event: Event, p: ev.ProbeSample) -> None:
        self.samples.append(
            Sample(
                at=event.ts,
                offset=self.offset(event.ts),
                phase=p.phase,
                service=p.service,
                site=p.site,
                host=event.host,
                role=p.role,
                link=p.link,
                lag_seconds=p.lag_seconds,
                lag_bytes=p.lag_bytes,
                position=p.position,
                health=p.health,
                error=p.error,
            )
        )

    def _notice(self, event: Event, p: ev.Notice) -> None:
        record = NoticeRecord(
            at=event.ts,
            offset=self.offset(event.ts),
            level=p.level,
            message=p.message,
            step_id=event.step_id,
            host=event.host,
        )
        self.notices.append(record)
        step = self.step_for(event.step_id)
        if step is not None:
            step.notices.append(record)
        if p.level in (ev.NoticeLevel.WARNING, ev.NoticeLevel.ERROR):
            self.deviate("notice", p.level, event, f"{p.level}: {record.message}")

    def _rto_mark(self, event: Event, p: ev.RtoMark) -> None:
        mark = p.mark
        if mark == ev.RtoEdge.START and self.rto_start is None:
            self.rto_start = event.ts
        elif mark == ev.RtoEdge.END and self.rto_end is None:
            self.rto_end = event.ts
        step = self.step_for(event.step_id)
        if step is not None and mark:
            step.rto_marks.append(mark)

    def _canary_check(self, event: Event, p: ev.CanaryCheck) -> None:
        self.canary_service = p.service if p.service is not None else self.canary_service or "?"
        self.canary_check = p
        self.canary_check_host = event.host
        if p.error:
            self.deviate("notice", "warning", event, canary_problem(p.error))

    def _lock_broken(self, event: Event, p: ev.LockBroken) -> None:
        who = p.holder.get("run_id") or p.holder.get("owner") or "?"
        where = f" on {event.host}" if event.host else ""
        self.deviate(
            "override",
            "warning",
            event,
            f"--break-lock: {p.scope} lock on {p.service}{where} broken "
            f"by {event.operator}; it was held by {one_line(str(who), 120)}",
        )


_ROLES = {
    "confirm": "confirmed",
    "done": "declared done",
    "rerun": "re-ran",
    "skip": "skipped",
    "abort": "aborted",
    "retry": "retried",
    "continue": "continued",
    "rollback": "rolled back",
    "approve": "approved",
}
"""How a person's decision is listed among the operators' roles."""


def _role(action: ev.DecisionAction, auto: bool) -> str:
    if not auto:
        return _ROLES.get(action, str(action))
    if action in (ev.DecisionAction.CONFIRM, ev.DecisionAction.DONE, ev.DecisionAction.RERUN):
        return "approved with --yes"
    return f"{action} by policy"
