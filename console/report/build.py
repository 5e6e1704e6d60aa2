"""Fold a run's audit events into a :class:`~console.report.model.Report`.

The report is a pure function of the run's events and the chain's verification result (plus,
for a run with no end in the log, whether its process still lives), which is what lets an
auditor rebuild it from a copy of the database and get the same document. The fold is
forgiving: a log written by an older or newer engine, or a run that died half-way, still makes
a report; what is missing is said to be missing, never guessed.

The engine's event payloads (``console.engine.events``) are the contract read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.audit.model import Event, VerifyResult, derive_status
from console.audit.store import AuditStore
from console.report.model import (
    CanaryReport,
    ChainCheck,
    CommandRun,
    DecisionRecord,
    Deviation,
    GateRun,
    InventoryRef,
    LagSeries,
    Measured,
    Note,
    NoticeRecord,
    Objectives,
    Operator,
    OutputLine,
    PlaybookRef,
    Report,
    Resumption,
    Sample,
    StepRun,
)
from console.report.text import one_line, parse_time, verdict

PREFLIGHT = "preflight"
"""The step id the engine gives to the commands of ``command:`` gates."""


def build_report(audit: AuditStore, run_id: str) -> Report:
    """The report of one run, from the audit log alone.

    Args:
        audit: The audit store.
        run_id: A run id or a unique prefix of one.

    Raises:
        UnknownRun: No such run (exit 2 at the CLI).
        AmbiguousRunId: The prefix matches several runs.
        AuditError: The database cannot be read.
    """
    full = audit.resolve_run_id(run_id)
    events = audit.events(full)
    chain = audit.verify(full)
    return fold_report(full, events, chain, this_host=audit.hostname)


def fold_report(
    run_id: str, events: Sequence[Event], chain: VerifyResult, *, this_host: str
) -> Report:
    """The report of one run from its events, in log order.

    Args:
        run_id: The run's full id.
        events: Its events, ordered by gid (``AuditStore.events``).
        chain: The run's verification (``AuditStore.verify(run_id)``).
        this_host: This machine's name: a run with no end in the log whose process is alive
            here is ``running``, gone here ``interrupted``, elsewhere ``running?``.
    """
    folder = _Folder(run_id, events)
    for event in events:
        folder.feed(event)
    return folder.report(chain, this_host)


# -- the fold ---------------------------------------------------------------------------------


@dataclass
class _Cmd:
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
class _Step:
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
    commands: list[_Cmd] = field(default_factory=list)
    notices: list[NoticeRecord] = field(default_factory=list)
    rto_marks: list[str] = field(default_factory=list)

    def freeze(self) -> StepRun:
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


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _strs(value: Any) -> tuple[str, ...]:
    """A list of texts from a payload value (a lone string counts as one)."""
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in _list(value))


class _Folder:
    """Reads events one by one and keeps what the report needs."""

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
        self.steps: list[_Step] = []
        self.open_steps: dict[tuple[str, bool], _Step] = {}
        self.last_step: dict[str, _Step] = {}
        self.pending_decisions: dict[str, list[DecisionRecord]] = {}
        self.open_cmds: dict[tuple[str, str], _Cmd] = {}
        self.last_cmd: dict[tuple[str, str], _Cmd] = {}
        self.gate_cmds: list[_Cmd] = []
        self.gates: list[GateRun] = []
        self.samples: list[Sample] = []
        self.notices: list[NoticeRecord] = []
        self.notes: list[Note] = []
        self.deviations: list[Deviation] = []
        self.resumptions: list[Resumption] = []
        self.finished: Mapping[str, Any] | None = None
        self.finished_at: str | None = None
        self.process: tuple[int, str] = (0, "")
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
        moment = parse_time(ts)
        if moment is None or self._origin is None:
            return 0.0
        return round((moment - self._origin).total_seconds(), 3)

    def role(self, who: str, role: str) -> None:
        if not who:
            return
        roles = self.operators.setdefault(who, [])
        if role not in roles:
            roles.append(role)

    def deviate(
        self, kind: str, severity: str, event: Event | None, text: str, step_id: str | None = None
    ) -> None:
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

    def step_for(self, step_id: str | None) -> _Step | None:
        if step_id is None:
            return None
        for rollback in (False, True):
            step = self.open_steps.get((step_id, rollback))
            if step is not None:
                return step
        return self.last_step.get(step_id)

    # -- dispatch --------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        handler = getattr(self, "_on_" + event.kind, None)
        if handler is not None:
            handler(event, event.data)

    def _on_run_started(self, event: Event, d: Mapping[str, Any]) -> None:
        self.started = d
        self.starter = event.operator
        self.role(event.operator, "started")
        self.process = (_int(d.get("pid")) or 0, _str(d.get("hostname")))

    def _on_run_resumed(self, event: Event, d: Mapping[str, Any]) -> None:
        previous = _str(d.get("previous_status"), "?")
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
        self._close_open(event.ts, "unknown", f"in flight when the run was {previous}")
        self.process = (_int(d.get("pid")) or 0, _str(d.get("hostname")))
        self.finished, self.finished_at = None, None

    def _on_run_finished(self, event: Event, d: Mapping[str, Any]) -> None:
        self.finished, self.finished_at = d, event.ts
        outcome = _str(d.get("outcome"), "?")
        if outcome in ("stopped", "interrupted", "aborted"):
            where = d.get("stopped_at")
            at = f" at step {where}" if where else ""
            self.deviate(
                outcome,
                "error" if outcome != "stopped" else "warning",
                event,
                f"run {outcome}{at}: {_str(d.get('summary'))}",
                step_id=_opt_str(where),
            )

    def _on_step_started(self, event: Event, d: Mapping[str, Any]) -> None:
        step_id = event.step_id or "?"
        rollback = bool(d.get("rollback"))
        attempt = _int(d.get("attempt")) or 1
        key = (step_id, rollback)
        current = self.open_steps.get(key)
        if current is not None and attempt > 1:
            current.attempts = attempt
            targets = _strs(d.get("targets"))
            if targets:
                current.targets = targets
            return
        if current is not None:
            self._close(current, event.ts, "unknown", "started again before it ended")
        step = _Step(
            id=step_id,
            title=_str(d.get("title"), step_id),
            kind=_str(d.get("kind") or d.get("step_kind"), "run"),
            rollback=rollback,
            description=_opt_str(d.get("description")),
            instructions=_opt_str(d.get("instructions")),
            targets=_strs(d.get("targets")),
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
            step = _Step(
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
        step.duration = _num(d.get("duration"))
        step.attempts = _int(d.get("attempts")) or step.attempts
        outcome = _str(d.get("outcome"), "unknown")
        if outcome == "failed" and any(x.action == "continue" for x in step.decisions):
            outcome = "continued"
        step.outcome = outcome
        step.reason = _opt_str(d.get("reason"))
        self._close_cmds(step_id, "the step ended before a result was recorded")

    def _on_decision(self, event: Event, d: Mapping[str, Any]) -> None:
        by = _str(d.get("by"), event.operator)
        auto = bool(d.get("auto"))
        action = _str(d.get("action"), "?")
        record = DecisionRecord(
            at=event.ts,
            offset=self.offset(event.ts),
            step_id=event.step_id,
            action=action,
            by=by,
            auto=auto,
            reason=_opt_str(d.get("reason")),
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
        cmd = _Cmd(
            host=host,
            attempt=_int(d.get("attempt")) or 1,
            command=_str(d.get("command")),
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
            step = _Step(
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
        stream = _str(d.get("stream"), "stdout")
        cmd.output.extend(OutputLine(stream, line) for line in _strs(d.get("lines")))

    def _on_command_result(self, event: Event, d: Mapping[str, Any]) -> None:
        key = (event.step_id or "?", event.host or "?")
        cmd = self.open_cmds.pop(key, None) or self.last_cmd.get(key)
        if cmd is None:
            return
        cmd.exit_status = _int(d.get("exit_status"))
        cmd.signal = _opt_str(d.get("signal"))
        cmd.duration = _num(d.get("duration"))
        cmd.timed_out = bool(d.get("timed_out"))
        cmd.ok = _bool(d.get("ok"))
        cmd.reason = _opt_str(d.get("reason"))
        cmd.dropped = _int(d.get("dropped_lines")) or 0

    def _on_gate_result(self, event: Event, d: Mapping[str, Any]) -> None:
        ok = bool(d.get("ok"))
        gate = GateRun(
            index=_int(d.get("index")) or len(self.gates) + 1,
            title=_str(d.get("gate"), "?"),
            ok=ok,
            detail=_str(d.get("detail")),
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
                phase=_str(d.get("phase"), "during"),
                service=_str(d.get("service"), "?"),
                site=_str(d.get("site"), "?"),
                host=event.host,
                role=_str(d.get("role"), "unknown"),
                link=_str(d.get("link"), "unknown"),
                lag_seconds=_num(d.get("lag_seconds")),
                lag_bytes=_int(d.get("lag_bytes")),
                position=_opt_str(d.get("position")),
                health=_str(d.get("health"), "unknown"),
                error=_opt_str(d.get("error")),
            )
        )

    def _on_notice(self, event: Event, d: Mapping[str, Any]) -> None:
        level = _str(d.get("level"), "info")
        record = NoticeRecord(
            at=event.ts,
            offset=self.offset(event.ts),
            level=level,
            message=_str(d.get("message")),
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
        by = _str(d.get("by"), event.operator)
        self.role(by, "noted")
        self.notes.append(
            Note(event.ts, self.offset(event.ts), by, event.step_id, _str(d.get("text")))
        )

    def _on_rto_mark(self, event: Event, d: Mapping[str, Any]) -> None:
        mark = _str(d.get("mark"))
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
        self.canary_service = _str(d.get("service"), "?")
        if d.get("ok"):
            self.canary_ok += 1
        else:
            self.canary_failed += 1

    def _on_canary_check(self, event: Event, d: Mapping[str, Any]) -> None:
        self.canary_service = _str(d.get("service"), self.canary_service or "?")
        self.canary_check = d
        self.canary_check_host = event.host
        if d.get("error"):
            self.deviate("notice", "warning", event, f"canary read-back failed: {d.get('error')}")

    def _on_lock_broken(self, event: Event, d: Mapping[str, Any]) -> None:
        holder = _dict(d.get("holder"))
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
        self.deviate("rollback", "error", event, f"rollback started: {_str(d.get('reason'))}")

    def _on_rollback_finished(self, event: Event, d: Mapping[str, Any]) -> None:
        self.rollback_ok = _bool(d.get("ok"))
        word = "every rollback step ok" if self.rollback_ok else "a rollback step FAILED"
        self.deviate(
            "rollback", "info" if self.rollback_ok else "error", event, f"rollback ended: {word}"
        )

    # -- closing ---------------------------------------------------------------------------

    def _close(self, step: _Step, ts: str, outcome: str, reason: str) -> None:
        step.outcome = outcome
        step.reason = reason
        self._close_cmds(step.id, "no result recorded: " + reason)
        for key, open_step in list(self.open_steps.items()):
            if open_step is step:
                del self.open_steps[key]

    def _close_open(self, ts: str, outcome: str, reason: str) -> None:
        for step in list(self.open_steps.values()):
            self._close(step, ts, outcome, reason)

    def _close_cmds(self, step_id: str, reason: str) -> None:
        for key, cmd in list(self.open_cmds.items()):
            if key[0] == step_id:
                if cmd.ok is None and cmd.reason is None:
                    cmd.reason = reason
                del self.open_cmds[key]

    # -- the result ------------------------------------------------------------------------

    def report(self, chain: VerifyResult, this_host: str) -> Report:
        d = self.started
        fin = self.finished
        outcome_recorded = _opt_str(fin.get("outcome")) if fin is not None else None
        status = derive_status(outcome_recorded, self.process[0], self.process[1], this_host)
        stopped_at = _opt_str(fin.get("stopped_at")) if fin is not None else None
        for step in list(self.open_steps.values()):
            if status == "stopped" and step.id == stopped_at:
                self._close(
                    step,
                    self.last_ts,
                    "stopped",
                    "the run stopped here: "
                    + _str(fin.get("summary") if fin else "", "waiting for an operator"),
                )
            elif status in ("running", "running?"):
                self._close(step, self.last_ts, "running", "still running")
            else:
                self._close(step, self.last_ts, "unknown", f"no end recorded (run {status})")
        if fin is None and status == "interrupted":
            self.deviate(
                "interrupted",
                "error",
                None,
                "the log ends without run_finished and the run's process is gone: it was "
                f"interrupted (killed or crashed) after its last event at {self.last_ts}",
            )
        steps = [s.freeze() for s in self.steps]
        for frozen in steps:
            self._step_deviation(frozen)
        objectives = self._objectives()
        measured = self._measured(objectives, status)
        chain_check = self._chain(chain)
        if not chain_check.ok:
            self.deviations.insert(
                0,
                Deviation(
                    "chain-broken",
                    "error",
                    None,
                    None,
                    None,
                    one_line(f"audit chain BROKEN: {chain.reason}", 400),
                ),
            )
        pb = _dict(d.get("playbook"))
        inv = _dict(d.get("inventory"))
        duration = None
        if fin is not None and self.finished_at:
            duration = self.offset(self.finished_at)
        exit_code = _int(fin.get("exit_code")) if fin is not None else None
        deviations = sorted(
            self.deviations,
            key=lambda x: (x.offset is not None, x.offset if x.offset is not None else 0.0),
        )
        return Report(
            run_id=self.run_id,
            playbook=PlaybookRef(
                name=_str(pb.get("name"), "?"),
                kind=_str(pb.get("kind"), "?"),
                title=_str(pb.get("title")),
                path=_str(pb.get("path")),
                digest=_str(pb.get("digest")),
            ),
            inventory=InventoryRef(
                name=_str(inv.get("name"), "?"),
                path=_str(inv.get("path")),
                digest=_str(inv.get("digest")),
            ),
            mode=_str(d.get("mode"), "?"),
            services=_strs(d.get("services")),
            params={str(k): _str(v) for k, v in _dict(d.get("params")).items()},
            operators=tuple(Operator(name, tuple(roles)) for name, roles in self.operators.items()),
            started_at=self.start_ts,
            ended_at=self.finished_at,
            last_event_at=self.last_ts,
            duration=duration,
            outcome=status,
            exit_code=exit_code,
            summary=_str(fin.get("summary")) if fin is not None else "",
            stopped_at=stopped_at,
            verdict=verdict(
                status,
                stopped_at,
                (measured.rto_seconds, objectives.rto_seconds, measured.rto_met, measured.rto_note),
                (measured.rpo_seconds, objectives.rpo_seconds, measured.rpo_met, measured.rpo_note),
                measured.rpo_writes,
            ),
            objectives=objectives,
            measured=measured,
            gates=tuple(self.gates),
            steps=tuple(steps),
            samples=tuple(self.samples),
            before=_phase(self.samples, "before", first=True),
            after=_phase(self.samples, "after", first=False),
            lag=_lag_series(self.samples),
            canary=self._canary(),
            deviations=tuple(deviations),
            notes=tuple(self.notes),
            notices=tuple(self.notices),
            resumptions=tuple(self.resumptions),
            rollback_ran=self.rollback_ran,
            rollback_ok=self.rollback_ok,
            chain=chain_check,
            event_count=self.event_count,
        )

    def _step_deviation(self, step: StepRun) -> None:
        label = f"{'rollback ' if step.rollback else ''}step {step.id}"
        when = self._at(step)
        if step.outcome == "failed":
            self.deviations.append(
                Deviation(
                    "step-failed",
                    "error",
                    *when,
                    step.id,
                    one_line(
                        f"{label} failed after {step.attempts} attempt(s): {step.reason or '?'}",
                        400,
                    ),
                )
            )
        elif step.outcome == "skipped":
            skip = next((x for x in step.decisions if x.action == "skip"), None)
            if skip is not None:
                who = "policy" if skip.auto else skip.by
                text = f"{label} skipped by {who}: {skip.reason or 'no reason given'}"
                severity = "warning"
            else:
                text = f"{label} skipped: {step.reason or 'no reason recorded'}"
                severity = "info" if (step.reason or "").startswith("when:") else "warning"
            self.deviations.append(Deviation("skip", severity, *when, step.id, one_line(text, 400)))
        elif step.outcome in ("unknown", "aborted"):
            self.deviations.append(
                Deviation(
                    "unknown-outcome" if step.outcome == "unknown" else "aborted",
                    "error",
                    *when,
                    step.id,
                    one_line(
                        f"{label} outcome {step.outcome.upper()}: {step.reason or '?'} — check "
                        "the host before acting on it",
                        400,
                    ),
                )
            )

    def _at(self, step: StepRun) -> tuple[str | None, float | None]:
        ts = step.finished_at or step.started_at
        return ts, self.offset(ts)

    def _objectives(self) -> Objectives:
        obj = _dict(self.started.get("objectives"))
        rto = obj.get("rto_seconds", obj.get("rto"))
        rpo = obj.get("rpo_seconds", obj.get("rpo"))
        return Objectives(rto_seconds=_num(rto), rpo_seconds=_num(rpo))

    def _measured(self, objectives: Objectives, status: str) -> Measured:
        m = self.measurement or self.finished or {}
        rto = _num(m.get("rto_seconds"))
        rpo = _num(m.get("rpo_seconds"))
        writes = _int(m.get("rpo_writes"))
        rto_met = _bool(m.get("rto_met"))
        rpo_met = _bool(m.get("rpo_met"))
        if rto_met is None and rto is not None and objectives.rto_seconds is not None:
            rto_met = rto <= objectives.rto_seconds
        rto_note = None
        if rto is None:
            if self.rto_start is None:
                rto_note = "the outage never started (no step marked rto: start ran)"
            elif self.rto_end is None:
                when = {
                    "running": "the log was read",
                    "running?": "the log was read",
                    "interrupted": "the log ends",
                }.get(status, "the run ended")
                rto_note = (
                    f"the outage began at +{self.offset(self.rto_start):.2f}s and had not "
                    f"ended when {when}"
                )
            else:
                rto_note = "no measurement recorded"
        rpo_note = None
        if rpo is None:
            if self.canary_check is not None and self.canary_check.get("error"):
                rpo_note = f"the canary read-back failed: {self.canary_check.get('error')}"
            elif self.canary_service is None:
                rpo_note = "no canary ran"
            else:
                rpo_note = "the canaries were never read back"
        return Measured(
            rto_seconds=rto,
            rpo_seconds=rpo,
            rpo_writes=writes,
            rto_met=rto_met,
            rpo_met=rpo_met,
            rto_started_at=self.rto_start,
            rto_ended_at=self.rto_end,
            rto_note=rto_note,
            rpo_note=rpo_note,
        )

    def _canary(self) -> CanaryReport | None:
        if self.canary_service is None:
            return None
        c = self.canary_check or {}
        return CanaryReport(
            service=self.canary_service,
            writes_acknowledged=self.canary_ok,
            writes_failed=self.canary_failed,
            checked_on=self.canary_check_host,
            present=_int(c.get("present")),
            missing=tuple(
                n for n in _list(c.get("missing")) if isinstance(n, int) and not isinstance(n, bool)
            ),
            newest_present=_int(c.get("newest_present")),
            error=_opt_str(c.get("error")),
        )

    def _chain(self, chain: VerifyResult) -> ChainCheck:
        broken = chain.first_broken
        return ChainCheck(
            ok=chain.ok,
            events_checked=chain.events_checked,
            reason=chain.reason,
            first_broken_seq=broken.seq if broken is not None else None,
            first_broken_gid=broken.gid if broken is not None else None,
            final_hash=chain.final_hash if chain.ok else self.last_hash or chain.final_hash,
        )


def _phase(samples: Sequence[Sample], phase: str, *, first: bool) -> tuple[Sample, ...]:
    """One sample per member of a phase: the first (before) or last (after) of each."""
    chosen: dict[tuple[str, str, str | None], Sample] = {}
    for s in samples:
        if s.phase != phase:
            continue
        key = (s.service, s.site, s.host)
        if first and key in chosen:
            continue
        chosen[key] = s
    return tuple(chosen.values())


def _lag_series(samples: Sequence[Sample]) -> tuple[LagSeries, ...]:
    """Per member that ever reported a lag, its samples in order, except those taken while it
    was the primary (a primary has no lag: that is not an unknown lag)."""
    points: dict[tuple[str, str, str | None], list[Sample]] = {}
    for s in samples:
        if s.role == "primary" and s.lag_seconds is None and s.lag_bytes is None:
            continue
        points.setdefault((s.service, s.site, s.host), []).append(s)
    return tuple(
        LagSeries(service, site, host, tuple(pts))
        for (service, site, host), pts in points.items()
        if any(p.lag_seconds is not None or p.lag_bytes is not None for p in pts)
    )
