"""The run state machine: preflight, steps, decisions, rollback, measurement.

One :class:`Engine` executes one run of a playbook against an inventory. It emits typed events
(``console.engine.events``) to its listeners, writes each to the audit log first (intents
durably, before the action), and asks a ``Decider`` whenever a person must decide. It never
imports a UI; the TUI and the headless runner drive it the same way.

Guarantees:
- the ``command_intent`` of a command is on disk before the command is sent;
- a ``--var`` value reaches the shell only as one quoted word (``console.model.templates``);
- secret parameters appear as ``****`` in every event;
- locks are released on every exit path;
- a run killed at any instant can be resumed: finished steps are not run again, the step in
  flight is reported with an unknown outcome and the decider chooses to re-run or skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.audit.ids import new_run_id
from console.audit.model import RunStart
from console.audit.store import AuditStore
from console.engine import events as ev
from console.engine.canary import CanaryRunner
from console.engine.commands import CommandSender
from console.engine.conditions import evaluate
from console.engine.context import (
    SelectionError,
    StepOutputs,
    base_context,
    resolve_selector,
    target_view,
)
from console.engine.decider import Answer, Decider, Question
from console.engine.locks import RunLocks
from console.engine.masking import Masker, secret_values
from console.engine.refresh import cancel_all, refresh_status
from console.engine.resume import ResumeState
from console.errors import DrError, LockHeld, Stopped
from console.model.inventory import Inventory
from console.model.playbook import Gate, Playbook, Step
from console.model.templates import RenderError
from console.ssh.transport import Transport
from console.status.collector import StatusCollector, StatusSnapshot

Listener = Callable[[ev.Event], None]

EXIT_CODES = {"succeeded": 0, "failed": 1, "aborted": 3, "stopped": 3, "interrupted": 130}


class _AbortRequested(Exception):
    """The operator aborted the run."""

    def __init__(self, reason: str, rollback: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rollback = rollback


@dataclass
class StepState:
    """A step's state as the run goes (for views; the audit log is the record)."""

    status: str = "pending"
    """pending, running, ok, failed, skipped, unknown, aborted."""
    attempts: int = 0
    started: float | None = None
    duration: float | None = None
    targets: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class RunResult:
    """How a run ended."""

    run_id: str
    outcome: str
    exit_code: int
    summary: str
    rto_seconds: float | None
    rpo_seconds: float | None
    rpo_writes: int | None
    rto_met: bool | None
    rpo_met: bool | None


@dataclass
class RunConfig:
    """Everything one run needs."""

    inventory: Inventory
    playbook: Playbook
    params: dict[str, str]
    mode: str
    operator: str
    audit: AuditStore
    transport: Transport
    decider: Decider
    listeners: list[Listener] = field(default_factory=list)
    resume: ResumeState | None = None
    """The state of the run to resume (``console.engine.resume.load_resume_state``)."""
    break_lock: bool = False
    command_timeout: float | None = None
    """Default per-command timeout when a step has none (else the host's ssh setting)."""
    probe_timeout: float | None = None
    monitor_interval: float = 5.0
    """Seconds between background samples of the playbook's services during the run."""
    audit_output_cap: int = 20_000
    """Output lines per command and stream recorded in the audit log; more are counted."""


class Engine:
    """Runs one playbook. Create it, add listeners, ``await run()``."""

    def __init__(self, config: RunConfig) -> None:
        self.cfg = config
        self.inventory = config.inventory
        self.playbook = config.playbook
        self.operator = config.operator
        self.audit = config.audit
        self.transport = config.transport
        self.decider = config.decider
        self.listeners: list[Listener] = list(config.listeners)
        self.masker = Masker(secret_values(config.playbook, config.params, config.inventory))
        self.collector = StatusCollector(
            config.inventory, config.transport, timeout=config.probe_timeout
        )
        self.outputs = StepOutputs()
        self.commands = CommandSender(
            inventory=config.inventory,
            playbook=config.playbook,
            transport=config.transport,
            masker=self.masker,
            outputs=self.outputs,
            emit=self.emit,
            snapshot=self.collector.snapshot,
            output_cap=config.audit_output_cap,
            command_timeout=config.command_timeout,
        )
        self.states: dict[str, StepState] = {s.id: StepState() for s in config.playbook.all_steps()}
        self.run_id: str | None = None
        self.current_step: str | None = None
        self.rto_start: float | None = None
        self.rto_end: float | None = None
        self._canary: CanaryRunner | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._locks: RunLocks | None = None
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._abort: _AbortRequested | None = None
        self._step_task: asyncio.Task[str] | None = None
        self._resume_state: ResumeState | None = None
        self._background: set[asyncio.Future[Any]] = set()
        """Status sweeps a step stopped waiting for (a dark host's); cancelled at the end."""
        self._skip_requests: dict[str, str] = {}

    # -- operator actions from a live UI ---------------------------------------------------

    def add_note(self, text: str) -> None:
        """Record an operator's note in the run."""
        if self.run_id is not None and text.strip():
            self.emit(
                ev.NoteAdded(
                    text=self.masker.scrub(text.strip()),
                    by=self.operator,
                    step_id=self.current_step,
                )
            )

    def set_paused(self, paused: bool) -> None:
        """Hold the run before its next step (the running step finishes)."""
        if paused:
            self._unpaused.clear()
        else:
            self._unpaused.set()
        if self.run_id is not None:
            self.emit(
                ev.Notice(
                    level="info",
                    message="paused before the next step" if paused else "resumed",
                    step_id=self.current_step,
                )
            )

    def request_skip(self, step_id: str, reason: str) -> None:
        """Skip a main step that has not started yet (typically the one a paused run holds
        before); the decision is recorded with ``reason`` when the run reaches the step.

        Raises:
            KeyError: ``step_id`` is not a main step of the playbook.
            ValueError: the step has started already, or ``reason`` is empty.
        """
        if step_id not in {s.id for s in self.playbook.steps}:
            raise KeyError(step_id)
        if self.states[step_id].status != "pending":
            raise ValueError(f"step {step_id} is {self.states[step_id].status}, not pending")
        if not reason.strip():
            raise ValueError("skipping a step needs a reason")
        self._skip_requests[step_id] = reason.strip()

    @property
    def paused(self) -> bool:
        """True while the run holds before its next step."""
        return not self._unpaused.is_set()

    def request_abort(self, reason: str, *, rollback: bool = False) -> None:
        """Abort the run: the running command is stopped, then the rollback runs if asked.

        The operator's decision is recorded (``decision`` ``abort`` or ``rollback``, by the
        decider's operator) before anything is stopped.
        """
        if self.run_id is not None and self._abort is None:
            self.emit(
                ev.Decision(
                    step_id=self.current_step,
                    action="rollback" if rollback else "abort",
                    reason=reason,
                    auto=False,
                    by=self.decider.operator,
                )
            )
        self._abort = _AbortRequested(reason, rollback)
        self._unpaused.set()
        if self._step_task is not None and not self._step_task.done():
            self._step_task.cancel()

    # -- events ----------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        """Record ``event`` (audit first), then tell every listener."""
        if not event.ts:
            object.__setattr__(event, "ts", time.time())
        if self.run_id is not None and event.kind not in (
            "run_started",
            "run_finished",
            "wait_progress",
        ):
            stored = self.audit.append(
                self.run_id,
                event.kind,
                event.data(),
                operator=self.operator,
                host=event.host,
                step_id=event.step_id,
                durable=event.durable,
            )
            object.__setattr__(event, "seq", stored.seq)
        for listener in list(self.listeners):
            listener(event)

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Execute the playbook; returns how it ended. Raises only for bad input."""
        pb = self.playbook
        if self.cfg.resume is not None:
            self._resume_state = self.cfg.resume
            self.run_id = self._resume_state.run_id
            start_seq = self.audit.resume_run(self.run_id, operator=self.operator).seq
            self._apply_resume(self._resume_state)
        else:
            self.run_id = new_run_id()
            start_seq = self.audit.create_run(
                RunStart(
                    run_id=self.run_id,
                    playbook_name=pb.name,
                    playbook_kind=pb.kind,
                    playbook_path=pb.path,
                    playbook_digest=pb.digest,
                    inventory_name=self.inventory.name,
                    inventory_path=self.inventory.path,
                    inventory_digest=self.inventory.digest,
                    mode=self.cfg.mode,
                    operator=self.operator,
                    services=pb.services_touched(),
                    params=self.masker.params(self.cfg.params, pb.secret_params),
                    objectives={"rto_seconds": pb.objectives.rto, "rpo_seconds": pb.objectives.rpo},
                    pid=os.getpid(),
                    hostname=self.audit.hostname,
                    playbook_title=pb.title,
                )
            ).seq
        self._tell(
            ev.RunStarted(
                run_id=self.run_id,
                playbook=pb.name,
                title=pb.title,
                mode=self.cfg.mode,
                operator=self.operator,
                params=self.masker.params(self.cfg.params, pb.secret_params),
                steps=tuple(s.id for s in pb.steps),
                objectives={"rto": pb.objectives.rto, "rpo": pb.objectives.rpo},
                resumed=self.cfg.resume is not None,
                seq=start_seq,
            )
        )
        if self.cfg.resume is None:
            self.emit(
                ev.RunPlanned(
                    steps=tuple(_planned(s) for s in pb.steps),
                    rollback=tuple(_planned(s) for s in pb.rollback),
                )
            )
        outcome, reason, stopped_at = "succeeded", "", None
        try:
            await self._take_locks()
            outcome, reason, stopped_at = await self._body()
        except LockHeld as exc:
            outcome, reason = "stopped", str(exc)
            self.emit(ev.Notice(level="error", message=str(exc)))
            return await self._finish(outcome, reason, None, exit_code=4)
        except Stopped as exc:
            outcome, reason, stopped_at = "stopped", str(exc), self.current_step
        except asyncio.CancelledError:
            outcome, reason, stopped_at = (
                "interrupted",
                "interrupted by a signal",
                self.current_step,
            )
            if self.current_step and self.states[self.current_step].status == "running":
                self._mark_unknown(self.current_step, "interrupted while running")
        finally:
            await asyncio.shield(self._cleanup())
        return await asyncio.shield(self._finish(outcome, reason, stopped_at))

    def _tell(self, event: ev.Event) -> None:
        if not event.ts:
            object.__setattr__(event, "ts", time.time())
        for listener in list(self.listeners):
            listener(event)

    def _apply_resume(self, state: ResumeState) -> None:
        for sid, st in state.step_status.items():
            if sid in self.states:
                self.states[sid].status = st
        self.outputs.by_step.update(state.outputs.by_step)
        self.rto_start = state.rto_start
        self.rto_end = state.rto_end

    async def _take_locks(self) -> None:
        assert self.run_id is not None
        self._locks = RunLocks(
            audit=self.audit,
            transport=self.transport,
            inventory=self.inventory,
            run_id=self.run_id,
            operator=self.operator,
            emit=self.emit,
        )
        await self._locks.take(self.playbook.services_touched(), break_lock=self.cfg.break_lock)

    async def _release_locks(self) -> None:
        if self._locks is not None:
            await self._locks.release()

    async def _body(self) -> tuple[str, str, str | None]:
        pb = self.playbook
        resumed = self._resume_state
        services = pb.services_touched()
        snapshot = await self._sweep(services)
        self._record_samples(snapshot, "before")
        if resumed is None or not resumed.gates_passed:
            failed = await self._preflight()
            if failed:
                raise Stopped(f"preflight gate failed: {failed}")
        else:
            self.emit(
                ev.Notice(
                    level="info",
                    message="preflight passed when the run started; not evaluated again on resume",
                )
            )
        if pb.canary is not None and pb.canary.service in self.inventory.services:
            assert self.run_id is not None
            self._canary = CanaryRunner(
                inventory=self.inventory,
                transport=self.transport,
                collector=self.collector,
                service=pb.canary.service,
                run_id=self.run_id,
                every=pb.canary.every,
                emit=self.emit,
                acknowledged=resumed.canary_acked if resumed else None,
                next_n=resumed.canary_next if resumed else 1,
            )
            self._canary.start()
            wait = max(10.0, 5 * pb.canary.every)
            if not await self._canary.wait_first_ack(wait):
                self.emit(
                    ev.Notice(
                        level="warning",
                        message=(
                            f"canary on {pb.canary.service}: no write acknowledged within "
                            f"{wait:g}s; the measured RPO will not be meaningful"
                        ),
                    )
                )
        self._monitor = asyncio.ensure_future(self._monitor_loop(services))
        for step in pb.steps:
            state = self.states[step.id]
            if state.status in ("ok", "skipped", "continued"):
                continue
            if state.status == "unknown":
                answer = await self._ask(Question(step.id, step.title.source, "unknown"))
                if answer.action == "skip":
                    self._finish_step(step, "skipped", 0.0, 0, answer.reason or "skipped")
                    continue
                if answer.action == "abort":
                    return await self._aborted(answer.reason or "aborted", answer.rollback, step.id)
            await self._unpaused.wait()
            if self._abort is not None:
                return await self._aborted(self._abort.reason, self._abort.rollback, step.id)
            if step.id in self._skip_requests:
                reason = self._skip_requests.pop(step.id)
                self.emit(
                    ev.Decision(
                        step_id=step.id,
                        action="skip",
                        reason=reason,
                        auto=False,
                        by=self.decider.operator,
                    )
                )
                self._finish_step(step, "skipped", 0.0, 0, reason)
                continue
            outcome = await self._guarded_step(step)
            if outcome in ("abort", "abort_now"):
                assert self._abort is not None
                return await self._aborted(self._abort.reason, self._abort.rollback, step.id)
            if outcome == "failed":
                return "failed", f"step {step.id} failed", step.id
        return "succeeded", "all steps done", None

    async def _aborted(
        self, reason: str, rollback: bool, step_id: str | None
    ) -> tuple[str, str, str | None]:
        if rollback and self.playbook.rollback:
            await self._rollback(f"abort: {reason}")
        return "aborted", f"aborted by the operator: {reason}", step_id

    async def _guarded_step(self, step: Step) -> str:
        """Run a step in its own task so that an abort can stop it; map the outcome."""
        self._step_task = asyncio.ensure_future(self._step(step, rollback=False))
        try:
            return await self._step_task
        except asyncio.CancelledError:
            if self._abort is None:
                raise
            self._mark_unknown(
                step.id, f"aborted while running: {self._abort.reason}", outcome="aborted"
            )
            return "abort"
        finally:
            self._step_task = None

    def _mark_unknown(self, step_id: str, reason: str, outcome: str = "unknown") -> None:
        st = self.states[step_id]
        duration = time.monotonic() - st.started if st.started else 0.0
        st.status, st.duration, st.reason = outcome, duration, reason
        self.emit(
            ev.StepFinished(
                step_id=step_id,
                outcome=outcome,
                duration=round(duration, 3),
                attempts=st.attempts,
                reason=reason,
            )
        )

    async def _preflight(self) -> str | None:
        snapshot = self.collector.snapshot()
        first_failed = None
        for i, gate in enumerate(self.playbook.preflight):
            ok, detail = await self._gate(gate, snapshot)
            self.emit(ev.GateResult(index=i + 1, gate=gate.title, ok=ok, detail=detail))
            if not ok and first_failed is None:
                first_failed = f"{gate.title}: {detail.splitlines()[0] if detail else ''}"
        return first_failed

    async def _gate(self, gate: Gate, snapshot: StatusSnapshot) -> tuple[bool, str]:
        ctx = self._context(None)
        try:
            if gate.command is not None:
                return await self.commands.check(gate.command, ctx, "preflight", 1)
            assert gate.condition is not None
            verdict = evaluate(
                gate.condition, ctx, self.inventory, self.playbook.service, snapshot, gate.kind
            )
            return verdict.ok, verdict.detail
        except (RenderError, SelectionError) as exc:
            return False, str(exc)

    # -- contexts and status ---------------------------------------------------------------

    def _context(self, step: Step | None, attempt: int = 1) -> dict[str, Any]:
        assert self.run_id is not None
        ctx = base_context(
            inventory=self.inventory,
            playbook=self.playbook,
            params=self.cfg.params,
            run_id=self.run_id,
            mode=self.cfg.mode,
            operator=self.operator,
            snapshot=self.collector.snapshot(),
            outputs=self.outputs,
        )
        if step is not None:
            ctx["step"] = {"id": step.id, "attempt": attempt}
        return ctx

    async def _sweep(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        names = [s for s in services if s in self.inventory.services]
        if not names:
            return self.collector.snapshot()
        return await self.collector.sweep(names)

    async def _refresh_status(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        """Fresh samples, without waiting again on members known to be down
        (``console.engine.refresh``: a dark host must not add its probe deadline to every
        step, and so to the measured RTO)."""
        return await refresh_status(self.collector, self.inventory, services, self._background)

    def _record_samples(self, snapshot: StatusSnapshot, phase: str) -> None:
        for service in self.playbook.services_touched():
            for m in snapshot.for_service(service):
                s = m.sample
                self.emit(
                    ev.ProbeSample(
                        service=service,
                        site=m.site,
                        host=m.host,
                        role=m.role,
                        link=s.link.value,
                        lag_seconds=s.lag_seconds,
                        lag_bytes=s.lag_bytes,
                        position=s.position,
                        health=m.health.health.value,
                        error=s.error,
                        phase=phase,
                    )
                )

    async def _monitor_loop(self, services: tuple[str, ...]) -> None:
        while True:
            await asyncio.sleep(self.cfg.monitor_interval)
            with contextlib.suppress(DrError, OSError):
                self._record_samples(await self._sweep(services), "during")

    # -- steps -----------------------------------------------------------------------------

    def _needs_fresh_status(self, step: Step) -> bool:
        if step.on is not None and any(t.key == "role" for t in step.on.terms):
            return True
        names: set[str] = set()
        for tpl in (step.run, step.manual, step.title, step.description, step.when):
            if tpl is not None:
                names |= tpl.names
        return bool(names & {"service", "services"})

    async def _ask(self, question: Question) -> Answer:
        answer = await self.decider.decide(question)
        self.emit(
            ev.Decision(
                step_id=question.step_id,
                action=answer.action,
                reason=answer.reason,
                auto=answer.auto,
                by=self.decider.operator,
            )
        )
        return answer

    async def _ask_before(self, step: Step, question: Question) -> Answer:
        """Ask before a step does anything; if nobody can answer, the step did not run."""
        try:
            return await self._ask(question)
        except Stopped as exc:
            self.states[step.id].status = "pending"
            self.emit(
                ev.StepFinished(
                    step_id=step.id, outcome="stopped", duration=0.0, attempts=0, reason=str(exc)
                )
            )
            raise

    def _finish_step(
        self,
        step: Step,
        outcome: str,
        duration: float,
        attempts: int,
        reason: str | None,
        rollback: bool = False,
    ) -> None:
        st = self.states[step.id]
        st.status = "continued" if outcome == "continued" else outcome
        st.duration, st.reason = duration, reason
        self.outputs.set_outcome(step.id, "failed" if outcome == "continued" else outcome)
        self.emit(
            ev.StepFinished(
                step_id=step.id,
                outcome="failed" if outcome == "continued" else outcome,
                duration=round(duration, 3),
                attempts=attempts,
                reason=reason,
                rollback=rollback,
            )
        )

    async def _step(self, step: Step, *, rollback: bool) -> str:
        """Run one step to its end. Returns ``ok``, ``skipped``, ``continued`` or ``failed``."""
        st = self.states[step.id]
        self.current_step = step.id
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            st.attempts, st.status, st.started = attempt, "running", started
            if self._needs_fresh_status(step) and self.playbook.service:
                await self._refresh_status(self.playbook.services_touched())
            ctx = self._context(step, attempt)
            problem: str | None = None
            if step.when is not None and attempt == 1:
                try:
                    when = step.when.render(ctx).strip().lower()
                except RenderError as exc:
                    when, problem = "error", str(exc)
                if when in ("false", "no", "0", "", "none", "off"):
                    self.emit(
                        ev.StepStarted(
                            step_id=step.id,
                            title=_text(step.title, ctx),
                            step_kind=step.kind,
                            targets=(),
                            attempt=attempt,
                            rollback=rollback,
                        )
                    )
                    self._finish_step(
                        step,
                        "skipped",
                        0.0,
                        attempt,
                        f"when: {step.when.source} is false",
                        rollback,
                    )
                    return "skipped"
            try:
                title = _text(step.title, ctx)
                description = _text(step.description, ctx) or None
                targets: tuple[str, ...] = ()
                commands: dict[str, tuple[str, str]] = {}
                if step.on is not None:
                    targets = resolve_selector(
                        step.on,
                        ctx,
                        self.inventory,
                        self.playbook.service,
                        self.collector.snapshot(),
                    )
                if step.run is not None:
                    for host in targets:
                        real = step.run.render(
                            {**ctx, "target": target_view(self.inventory, self.playbook, host, ctx)}
                        )
                        commands[host] = (real, self.masker.scrub(real))
                instructions = self.masker.scrub(_text(step.manual, ctx)) if step.manual else None
            except (RenderError, SelectionError) as exc:
                title = step.title.source
                description, instructions, problem = None, None, problem or str(exc)
            st.targets = targets
            self.emit(
                ev.StepStarted(
                    step_id=step.id,
                    title=self.masker.scrub(title),
                    step_kind=step.kind,
                    targets=targets,
                    attempt=attempt,
                    description=description,
                    commands={h: c[1] for h, c in commands.items()},
                    instructions=instructions,
                    rollback=rollback,
                )
            )
            if problem is None and attempt == 1 and (step.confirm or step.kind == "manual"):
                answer = await self._ask_before(
                    step,
                    Question(
                        step.id,
                        title,
                        "manual" if step.kind == "manual" else "confirm",
                        targets=targets,
                        commands=tuple((h, c[1]) for h, c in commands.items()),
                        instructions=instructions,
                        has_rollback=bool(self.playbook.rollback),
                    ),
                )
                if answer.action == "skip":
                    self._finish_step(
                        step,
                        "skipped",
                        time.monotonic() - started,
                        attempt,
                        answer.reason,
                        rollback,
                    )
                    return "skipped"
                if answer.action == "abort":
                    self._abort = _AbortRequested(answer.reason or "declined", answer.rollback)
                    raise asyncio.CancelledError
            if step.rto == "start" and self.rto_start is None and problem is None:
                if self._canary is not None:
                    await self._canary.write_now()
                self.rto_start = time.time()
                self.emit(ev.RtoMark(step_id=step.id, mark="start"))
            if problem is None:
                ok, reason = await self._execute(step, targets, commands, ctx, attempt)
            else:
                ok, reason = False, problem
            if ok:
                if step.rto == "end" and self.rto_end is None:
                    self.rto_end = time.time()
                    self.emit(ev.RtoMark(step_id=step.id, mark="end"))
                self._finish_step(step, "ok", time.monotonic() - started, attempt, None, rollback)
                return "ok"
            if attempt <= step.retries:
                self.emit(
                    ev.Decision(
                        step_id=step.id,
                        action="retry",
                        reason=f"retry {attempt} of {step.retries}: {reason}",
                        auto=True,
                        by=self.decider.operator,
                    )
                )
                await asyncio.sleep(step.retry_delay)
                self.outputs.forget(step.id)
                continue
            if rollback:
                self._finish_step(step, "failed", time.monotonic() - started, attempt, reason, True)
                return "failed"
            answer = await self._ask(
                Question(
                    step.id,
                    title,
                    "failure",
                    targets=targets,
                    reason=reason,
                    policy=step.on_failure,
                    attempt=attempt,
                    has_rollback=bool(self.playbook.rollback),
                )
            )
            if answer.action == "retry":
                self.outputs.forget(step.id)
                continue
            if answer.action == "skip":
                self._finish_step(
                    step,
                    "skipped",
                    time.monotonic() - started,
                    attempt,
                    f"failed ({reason}); skipped: {answer.reason}",
                    rollback,
                )
                return "skipped"
            if answer.action == "continue":
                self._finish_step(
                    step, "continued", time.monotonic() - started, attempt, reason, rollback
                )
                return "continued"
            self._finish_step(step, "failed", time.monotonic() - started, attempt, reason, rollback)
            if answer.action == "rollback" or answer.rollback:
                await self._rollback(f"step {step.id} failed: {reason}")
            elif answer.action == "abort" and answer.auto is False:
                self._abort = _AbortRequested(answer.reason or "aborted after a failure", False)
                return "abort_now"
            return "failed"

    async def _execute(
        self,
        step: Step,
        targets: tuple[str, ...],
        commands: Mapping[str, tuple[str, str]],
        ctx: Mapping[str, Any],
        attempt: int,
    ) -> tuple[bool, str | None]:
        if step.kind == "manual":
            return True, None
        if step.kind == "wait":
            return await self._wait(step, ctx)
        results = await asyncio.gather(
            *(
                self.commands.send(
                    step.id,
                    host,
                    commands[host][0],
                    commands[host][1],
                    attempt,
                    step.timeout,
                    step.expect,
                )
                for host in targets
            )
        )
        failures = [
            f"{host}: {reason}"
            for host, (ok, reason) in zip(targets, results, strict=True)
            if not ok
        ]
        return (not failures), "; ".join(failures) or None

    async def _wait(self, step: Step, ctx: Mapping[str, Any]) -> tuple[bool, str | None]:
        spec = step.wait
        assert spec is not None
        started = time.monotonic()
        detail = ""
        polls = 0
        while True:
            polls += 1
            elapsed = time.monotonic() - started
            ctx = self._context(step)
            try:
                if spec.until is not None:
                    service = (
                        spec.until.service.render(ctx).strip()
                        if spec.until.service
                        else self.playbook.service
                    )
                    snapshot = await self._sweep([service] if service else [])
                    verdict = evaluate(
                        spec.until, ctx, self.inventory, self.playbook.service, snapshot
                    )
                    ok, detail = verdict.ok, verdict.detail
                else:
                    assert spec.command is not None
                    ok, detail = await self.commands.check(
                        spec.command, ctx, step.id, polls, record_outputs=True, poll=True
                    )
            except (RenderError, SelectionError) as exc:
                ok, detail = False, str(exc)
            self._tell(
                ev.WaitProgress(
                    step_id=step.id,
                    satisfied=ok,
                    detail=detail,
                    elapsed=round(elapsed, 2),
                    timeout=spec.timeout,
                )
            )
            if ok:
                self.emit(
                    ev.Notice(
                        level="info",
                        step_id=step.id,
                        message=f"condition met after {elapsed:.1f}s ({polls} polls): {detail}",
                    )
                )
                return True, None
            if elapsed + spec.interval > spec.timeout:
                return False, f"not met within {spec.timeout:g}s: {detail}"
            await asyncio.sleep(spec.interval)

    async def _rollback(self, reason: str) -> None:
        self.emit(ev.RollbackStarted(reason=reason))
        all_ok = True
        for step in self.playbook.rollback:
            outcome = await self._step(step, rollback=True)
            all_ok = all_ok and outcome in ("ok", "skipped")
        self.emit(ev.RollbackFinished(ok=all_ok))

    # -- the end ---------------------------------------------------------------------------

    async def _cleanup(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        canary_check = None
        if self._canary is not None:
            await self._canary.stop()
            canary_check = await self._canary.check(
                background=self._background, outage_start=self.rto_start
            )
            self.emit(canary_check)
        self._canary_result = canary_check
        with contextlib.suppress(DrError, OSError):
            self._record_samples(
                await self._refresh_status(self.playbook.services_touched()), "after"
            )
        await self._release_locks()
        await cancel_all(self._background)
        await self.collector.close()

    async def _finish(
        self, outcome: str, reason: str, stopped_at: str | None, exit_code: int | None = None
    ) -> RunResult:
        assert self.run_id is not None
        pb = self.playbook
        rto = (
            round(self.rto_end - self.rto_start, 3)
            if self.rto_start is not None and self.rto_end is not None
            else None
        )
        check = getattr(self, "_canary_result", None)
        rpo_s = check.rpo_seconds if check is not None else None
        rpo_w = check.rpo_writes if check is not None else None
        rto_met = None if rto is None or pb.objectives.rto is None else rto <= pb.objectives.rto
        rpo_met = None
        if rpo_s is not None and pb.objectives.rpo is not None:
            rpo_met = rpo_s <= pb.objectives.rpo and (pb.objectives.rpo > 0 or rpo_w == 0)
        if rto is not None or check is not None:
            self.emit(
                ev.Measurement(
                    rto_seconds=rto,
                    rpo_seconds=rpo_s,
                    rpo_writes=rpo_w,
                    rto_objective=pb.objectives.rto,
                    rpo_objective=pb.objectives.rpo,
                    rto_met=rto_met,
                    rpo_met=rpo_met,
                )
            )
        code = exit_code if exit_code is not None else EXIT_CODES[outcome]
        finished = ev.RunFinished(
            outcome=outcome,
            exit_code=code,
            summary=reason,
            rto_seconds=rto,
            rpo_seconds=rpo_s,
            rpo_writes=rpo_w,
            rto_met=rto_met,
            rpo_met=rpo_met,
            stopped_at=stopped_at,
        )
        stored = self.audit.finish_run(
            self.run_id, outcome, {**finished.data(), "outcome": outcome}, operator=self.operator
        )
        object.__setattr__(finished, "seq", stored.seq)
        self._tell(finished)
        return RunResult(self.run_id, outcome, code, reason, rto, rpo_s, rpo_w, rto_met, rpo_met)


def _text(template: Any, ctx: Mapping[str, Any]) -> str:
    if template is None:
        return ""
    return str(template.render(ctx)).strip()


def _planned(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "title": step.title.source,
        "kind": step.kind,
        "confirm": step.confirm,
        "rto": step.rto,
    }
