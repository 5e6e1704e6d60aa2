"""The run state machine: open the run, lock, preflight, steps, rollback, measure, finish.

One :class:`Engine` executes one run of a playbook against an inventory. It emits typed events
(``console.events``) to its listeners, writes each to the audit log first (intents durably,
before the action), and asks a ``Decider`` whenever a person must decide. It never imports a
UI; the TUI and the headless runner drive it the same way.

The run is a sequence of states, each a method that returns where to go next as a value:
:meth:`Engine.run` opens the run, then ``_locked`` takes the locks and hands over to ``_body``
(samples, preflight, canary, the step loop), whose steps come back from the step runner
(``console.engine.steps``) as a :class:`~console.engine.outcomes.StepResult`; the run ends with
a :class:`~console.engine.outcomes.RunEnd`, cleaned up and recorded by ``_finish``.

Guarantees:
- the ``command_intent`` of a command is on disk before the command is sent;
- a ``--var`` value reaches the shell only as one quoted word (``console.model.templates``);
- secret parameters appear as ``****`` in every event;
- locks are released on every exit path, before ``run_finished`` is recorded;
- a run killed at any instant can be resumed: finished steps are not run again, the step in
  flight is reported with an unknown outcome and the decider chooses to re-run or skip it;
- a team store lost in the middle of a run (``AuditStoreLost``) stops it before the next
  command (whose intent can no longer be recorded), exit 3; the locks are released and what
  happens after the loss is told to the listeners, not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from datetime import UTC, datetime
from typing import Any

from console import events as ev
from console.audit.errors import AuditStoreLost
from console.audit.ids import new_run_id
from console.audit.leases import LeaseLost
from console.audit.model import RunStart
from console.engine.approvals import gather_approvals
from console.engine.commands import CommandSender
from console.engine.commit import await_commit
from console.engine.conditions import evaluate
from console.engine.config import Listener, RunConfig, RunResult
from console.engine.context import SelectionError, StepOutputs, base_context
from console.engine.cooldown import cooling
from console.engine.decider import Answer, Question
from console.engine.locks import RunLocks
from console.engine.managed import GATE_TITLE, manager_refusal
from console.engine.masking import Masker, secret_values
from console.engine.observe import RunObserver
from console.engine.outcomes import AbortRequest, RunEnd, StepEnd, StepResult, measure
from console.engine.scoped import scoped_context
from console.engine.steps import StepRunner, StepState
from console.errors import ExitCode, LockHeld, Stopped
from console.model.include import Include
from console.model.playbook import CommitWindow, Gate, Step
from console.model.templates import RenderError
from console.status.collector import StatusSnapshot

R = ev.RunOutcome
S = ev.StepStatus

__all__ = ["Engine", "Listener", "RunConfig", "RunResult", "StepState"]


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
        self.store_lost: AuditStoreLost | None = None
        """Set when the team store went away during the run: nothing more is recorded."""
        self.masker = Masker(secret_values(config.playbook, config.params, config.inventory))
        self.observer = RunObserver(
            inventory=config.inventory,
            playbook=config.playbook,
            transport=config.transport,
            emit=self.emit,
            probe_timeout=config.probe_timeout,
            monitor_interval=config.monitor_interval,
        )
        self.collector = self.observer.collector
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
        """Every step's state as the run goes (views read it)."""
        self.steps = StepRunner(self)
        self.run_id: str | None = None
        self.current_step: str | None = None
        self.rto_start: float | None = None
        self.rto_end: float | None = None
        self.abort: AbortRequest | None = None
        """The operator's abort, once asked for."""
        self._locks: RunLocks | None = None
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._step_task: asyncio.Task[StepResult] | None = None
        self._skip_requests: dict[str, str] = {}
        self._awaiting_commit = False

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
                    level=ev.NoticeLevel.INFO,
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
        if self.states[step_id].status != S.PENDING:
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
        if self.run_id is not None and self.abort is None:
            self.emit(
                ev.Decision(
                    step_id=self.current_step,
                    action=ev.DecisionAction.ROLLBACK if rollback else ev.DecisionAction.ABORT,
                    reason=reason,
                    auto=False,
                    by=self.decider.operator,
                )
            )
        self.abort = AbortRequest(reason, rollback)
        self._unpaused.set()
        if self._step_task is not None and not self._step_task.done():
            self._step_task.cancel()

    # -- events and what the steps use (console.engine.steps.StepHost) ---------------------

    def emit(self, event: ev.Event) -> None:
        """Record ``event`` (audit first, for a recorded kind once the run exists), then tell
        every listener the stamped copy.

        Raises:
            AuditStoreLost: The store is gone: this event is not recorded, and no command may
                be sent from now on (every later intent raises it again; other events are
                only told).
        """
        if self.run_id is not None and event.recorded:
            fence = None
            if isinstance(event, ev.CommandIntent) and self._locks and self._locks.fences:
                fence = dict(self._locks.fences)
                event = dataclasses.replace(event, fence=fence)
            if self.store_lost is None:
                try:
                    event = self.audit.record(
                        self.run_id, event, operator=self.operator, fence=fence
                    )
                except AuditStoreLost as exc:
                    self.store_lost = exc
                    raise
            elif isinstance(event, ev.CommandIntent):
                raise AuditStoreLost(f"not sent, the audit store is gone: {self.store_lost}")
        self.tell(event)

    def tell(self, event: ev.Event) -> None:
        """Tell every listener (nothing is recorded)."""
        if not event.ts:
            event = dataclasses.replace(event, ts=time.time())
        for listener in list(self.listeners):
            listener(event)

    @property
    def operator_name(self) -> str:
        """Who decides (recorded with every decision, automatic ones too)."""
        return self.decider.operator

    async def ask(self, question: Question) -> Answer:
        """Ask the decider, and record the answer before anyone acts on it.

        Raises:
            Stopped: nobody can answer (headless without ``--yes``).
        """
        answer = await self.decider.decide(question)
        self.emit(
            ev.Decision(
                step_id=question.step_id,
                action=ev.DecisionAction(answer.action),
                reason=answer.reason,
                auto=answer.auto,
                by=self.decider.operator,
            )
        )
        return answer

    def context(self, step: Step | None, attempt: int = 1) -> dict[str, Any]:
        """What templates see now (an included step: what its own playbook gives it).

        Raises:
            RenderError: an included step's ``vars:`` value failed to render.
        """
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
            ctx = scoped_context(ctx, step.scope)
            ctx["step"] = {"id": step.id, "attempt": attempt}
        return ctx

    async def sweep(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        """A status sweep of the named services the inventory has."""
        return await self.observer.sweep(services)

    async def refresh_status(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        """Fresh samples, not waiting on members known down (``RunObserver.refresh``)."""
        return await self.observer.refresh(services)

    async def canary_now(self) -> None:
        """One more canary write before the outage starts (when the playbook has a canary)."""
        await self.observer.canary_now()

    async def await_approvals(self, step: Step, title: str) -> str | None:
        """The two-person rule (``console.engine.approvals``): None when the step has the
        approvals it needs, else why it does not run."""
        needed = self.playbook.approvals_needed(step, self.cfg.mode)
        if needed <= 1:
            return None
        return await gather_approvals(
            self,
            step.id,
            title,
            needed,
            mode=self.cfg.mode,
            timeout=self.cfg.approval_timeout,
            poll=self.cfg.approval_poll,
        )

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Execute the playbook; returns how it ended. Raises only for bad input."""
        self._open()
        try:
            end = await self._locked()
        except asyncio.CancelledError:
            end = RunEnd(R.INTERRUPTED, "interrupted by a signal", self.current_step)
            if self.current_step and self.states[self.current_step].status == S.RUNNING:
                self.steps.mark_ended(self.current_step, "interrupted while running")
        except LeaseLost as exc:
            if self.current_step and self.states[self.current_step].status == S.RUNNING:
                self.steps.mark_ended(self.current_step, f"not sent: {exc}")
            self.emit(ev.Notice(level=ev.NoticeLevel.ERROR, message=str(exc)))
            end = RunEnd(
                R.STOPPED,
                f"stopped before the next command: {exc}",
                self.current_step,
                exit_code=ExitCode.STOPPED,
            )
        except AuditStoreLost as exc:
            if self.store_lost is None:
                self.store_lost = exc
            end = RunEnd(
                R.STOPPED,
                f"stopped before the next command: {exc}",
                self.current_step,
                exit_code=ExitCode.STOPPED,
            )
        finally:
            await asyncio.shield(self._cleanup())
        return await asyncio.shield(self._finish(end))

    def _open(self) -> None:
        """Create the run (or take a stopped one up again); tell who listens."""
        pb = self.playbook
        resume = self.cfg.resume
        params = self.masker.params(self.cfg.params, pb.secret_params)
        if resume is not None:
            self.run_id = resume.run_id
            start_seq = self.audit.resume_run(self.run_id, operator=self.operator).seq
            for sid, status in resume.step_status.items():
                if sid in self.states:
                    self.states[sid].status = status
            self.outputs.by_step.update(resume.outputs.by_step)
            self.rto_start, self.rto_end = resume.rto_start, resume.rto_end
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
                    params=params,
                    objectives={"rto_seconds": pb.objectives.rto, "rpo_seconds": pb.objectives.rpo},
                    pid=os.getpid(),
                    hostname=self.audit.hostname,
                    playbook_title=self._title(),
                )
            ).seq
        self.tell(
            ev.RunStarted(
                run_id=self.run_id,
                playbook=pb.name,
                title=self._title(),
                mode=self.cfg.mode,
                operator=self.operator,
                params=params,
                steps=tuple(s.id for s in pb.steps),
                objectives={"rto": pb.objectives.rto, "rpo": pb.objectives.rpo},
                resumed=resume is not None,
                seq=start_seq,
            )
        )
        if resume is None:
            self.emit(
                ev.RunPlanned(
                    steps=tuple(_planned(s) for s in pb.steps),
                    rollback=tuple(_planned(s) for s in pb.rollback),
                    parts=tuple(
                        ev.PlanPart(
                            id=inc.id,
                            playbook=inc.playbook.name,
                            title=self.masker.scrub(self._part_title(inc)),
                            path=inc.path,
                            digest=inc.playbook.digest,
                        )
                        for inc in pb.includes
                    )
                    or None,
                )
            )

    def _title(self) -> str:
        """The playbook's title rendered with the run's values (as written if it cannot be)."""
        pb = self.playbook
        if pb.title_template is None:
            return pb.title
        try:
            return self.masker.scrub(pb.title_template.render(self.context(None)).strip())
        except RenderError:
            return pb.title

    def _part_title(self, inc: Include) -> str:
        """An include's title rendered with the run's values (as written if it cannot be)."""
        if inc.title_template is None:
            return inc.title
        try:
            return inc.title_template.render(self.context(None)).strip()
        except RenderError:
            return inc.title

    async def _locked(self) -> RunEnd:
        """Take every lock, then run the body; another run's lock ends the run (exit 4)."""
        assert self.run_id is not None
        self._locks = RunLocks(
            audit=self.audit,
            transport=self.transport,
            inventory=self.inventory,
            run_id=self.run_id,
            operator=self.operator,
            emit=self.emit,
            lease_ttl=self.cfg.lease_ttl,
        )
        try:
            await self._locks.take(self.playbook.services_touched(), break_lock=self.cfg.break_lock)
        except LockHeld as exc:
            self.emit(ev.Notice(level=ev.NoticeLevel.ERROR, message=str(exc)))
            return RunEnd(R.STOPPED, str(exc), exit_code=ExitCode.LOCKED)
        renewing = asyncio.ensure_future(self._locks.keep_alive())
        try:
            return await self._body()
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _body(self) -> RunEnd:
        """Samples, preflight, canary, then the steps in order."""
        pb = self.playbook
        resumed = self.cfg.resume
        services = pb.services_touched()
        self.observer.record_samples(await self.sweep(services), ev.SamplePhase.BEFORE)
        if resumed is None or not resumed.gates_passed:
            failed = await self._preflight()
            if failed:
                return RunEnd(R.STOPPED, f"preflight gate failed: {failed}", self.current_step)
        else:
            self.emit(
                ev.Notice(
                    level=ev.NoticeLevel.INFO,
                    message="preflight passed when the run started; not evaluated again on resume",
                )
            )
        assert self.run_id is not None
        await self.observer.start_canary(
            self.run_id,
            resumed.canary_acked if resumed else None,
            resumed.canary_next if resumed else 1,
        )
        self.observer.start_monitor()
        for step in pb.steps:
            end = await self._main_step(step)
            if end is not None:
                return end
        if pb.commit is not None:
            return await self._commit_window(pb.commit)
        return RunEnd(R.SUCCEEDED, "all steps done")

    async def _commit_window(self, window: CommitWindow) -> RunEnd:
        """After the last step: wait for a commit (``console.engine.commit``); uncommitted,
        roll back (exit 3) or keep the new state, as ``otherwise`` says."""
        self._awaiting_commit = True
        try:
            done = await await_commit(self, window, poll=self.cfg.commit_poll)
        finally:
            self._awaiting_commit = False
        if done is not None:
            return RunEnd(R.SUCCEEDED, f"all steps done; committed by {done.by}")
        within = _as_written(window.within)
        if window.otherwise == "keep":
            return RunEnd(
                R.SUCCEEDED, f"all steps done; not committed within {within}: kept as it is"
            )
        await self.steps.rollback(f"the commit window of {within} ended uncommitted")
        return RunEnd(
            R.STOPPED,
            f"not committed within {within}: rolled back",
            exit_code=ExitCode.STOPPED,
        )

    @property
    def awaiting_commit(self) -> bool:
        """True while the run waits for a commit after its last step."""
        return self._awaiting_commit

    def request_commit(self, by: str) -> None:
        """Commit the run from its own console (the TUI); the wait sees it at its next read.

        Raises:
            ValueError: The run is not awaiting a commit.
        """
        if not self._awaiting_commit:
            raise ValueError("the run is not awaiting a commit")
        self.emit(ev.Committed(by=by, hostname=self.audit.hostname))

    async def _main_step(self, step: Step) -> RunEnd | None:
        """One main step as the run's state machine sees it; None means go on."""
        state = self.states[step.id]
        if state.status in (S.OK, S.SKIPPED, S.CONTINUED):
            return None  # done before a resume
        if state.status == S.UNKNOWN:
            try:
                answer = await self.ask(
                    Question(step.id, step.title.source, ev.QuestionKind.UNKNOWN)
                )
            except Stopped as exc:
                return RunEnd(R.STOPPED, str(exc), self.current_step)
            if answer.action == ev.DecisionAction.SKIP:
                self.steps.finish(step, S.SKIPPED, 0.0, 0, answer.reason or "skipped")
                return None
            if answer.action == ev.DecisionAction.ABORT:
                request = AbortRequest(answer.reason or "aborted", answer.rollback)
                return await self._aborted(request, step.id)
        await self._unpaused.wait()
        if self.abort is not None:
            return await self._aborted(self.abort, step.id)
        if step.id in self._skip_requests:
            reason = self._skip_requests.pop(step.id)
            self.emit(
                ev.Decision(
                    step_id=step.id,
                    action=ev.DecisionAction.SKIP,
                    reason=reason,
                    auto=False,
                    by=self.decider.operator,
                )
            )
            self.steps.finish(step, S.SKIPPED, 0.0, 0, reason)
            return None
        result = await self._guarded(step)
        match result.end:
            case StepEnd.OK | StepEnd.SKIPPED | StepEnd.CONTINUED:
                return None
            case StepEnd.ABORTED:
                assert self.abort is not None
                return await self._aborted(self.abort, step.id)
            case StepEnd.STOPPED:
                return RunEnd(R.STOPPED, result.reason or "stopped", self.current_step)
            case StepEnd.FAILED:
                return RunEnd(R.FAILED, f"step {step.id} failed", step.id)

    async def _guarded(self, step: Step) -> StepResult:
        """Run a step in its own task, so that the operator's abort can stop it."""
        self._step_task = asyncio.ensure_future(self.steps.run(step, rollback=False))
        try:
            return await self._step_task
        except asyncio.CancelledError:
            if self.abort is None:
                raise  # cancelled from outside: the run is interrupted
            self.steps.mark_ended(step.id, f"aborted while running: {self.abort.reason}", S.ABORTED)
            return StepResult(StepEnd.ABORTED, self.abort.reason)
        finally:
            self._step_task = None

    async def _aborted(self, request: AbortRequest, step_id: str | None) -> RunEnd:
        if request.rollback and self.playbook.rollback:
            await self.steps.rollback(f"abort: {request.reason}")
        return RunEnd(R.ABORTED, f"aborted by the operator: {request.reason}", step_id)

    # -- preflight -------------------------------------------------------------------------

    async def _preflight(self) -> str | None:
        refusal = manager_refusal(self.playbook, self.inventory)
        if refusal is not None:  # before any gate: nothing may touch a managed service raw
            self.emit(ev.GateResult(index=0, gate=GATE_TITLE, ok=False, detail=refusal))
            return f"{GATE_TITLE}: {refusal}"
        snapshot = self.collector.snapshot()
        first_failed = None
        for i, gate in enumerate(self.playbook.preflight):
            ok, detail = await self._gate(gate, snapshot)
            self.emit(ev.GateResult(index=i + 1, gate=gate.title, ok=ok, detail=detail))
            if not ok and first_failed is None:
                first_failed = f"{gate.title}: {detail.splitlines()[0] if detail else ''}"
        cooled = self._cooldown(len(self.playbook.preflight))
        return first_failed or cooled

    def _cooldown(self, gates: int) -> str | None:
        """The anti-flap gate (``console.engine.cooldown``), after the playbook's own."""
        assert self.run_id is not None
        now = datetime.now(UTC)
        first_failed = None
        hits = cooling(self.audit, self.inventory, self.playbook, self.run_id, now)
        for k, hit in enumerate(hits, start=1):
            title = hit.title
            detail = hit.describe(now)
            reason = self.cfg.override_cooldown
            if reason is not None:
                detail = (
                    f"overridden by {self.operator} (--override-cooldown): {reason}; "
                    f"{title}: {detail}"
                )
                self.emit(ev.Notice(level=ev.NoticeLevel.WARNING, message=detail))
            self.emit(
                ev.GateResult(index=gates + k, gate=title, ok=reason is not None, detail=detail)
            )
            if reason is None and first_failed is None:
                first_failed = f'{title}: {detail}; to go on anyway: --override-cooldown "REASON"'
        return first_failed

    async def _gate(self, gate: Gate, snapshot: StatusSnapshot) -> tuple[bool, str]:
        owner = gate.scope or self.playbook
        try:
            ctx = scoped_context(self.context(None), gate.scope)
            if gate.command is not None:
                return await self.commands.check(gate.command, ctx, "preflight", 1, owner=owner)
            assert gate.condition is not None
            verdict = evaluate(
                gate.condition, ctx, self.inventory, owner.service, snapshot, gate.kind
            )
            return verdict.ok, verdict.detail
        except (RenderError, SelectionError) as exc:
            return False, str(exc)

    # -- the end ---------------------------------------------------------------------------

    async def _cleanup(self) -> None:
        await self.observer.stop(self.rto_start, outage_ended=self.rto_end is not None)
        if self._locks is not None:
            await self._locks.release(dark=self.observer.dark_hosts)
        await self.observer.close()

    async def _finish(self, end: RunEnd) -> RunResult:
        """Measure, record ``run_finished``, tell, and say how the run ended."""
        assert self.run_id is not None
        check = self.observer.canary_check
        m = measure(self.playbook.objectives, self.rto_start, self.rto_end, check)
        if m.rto_seconds is not None or check is not None:
            self.emit(m)
        ending = ev.RunFinished(
            outcome=end.outcome,
            exit_code=int(end.code),
            summary=end.reason,
            rto_seconds=m.rto_seconds,
            rpo_seconds=m.rpo_seconds,
            rpo_writes=m.rpo_writes,
            rto_met=m.rto_met,
            rpo_met=m.rpo_met,
            stopped_at=end.stopped_at,
        )
        for hook in self.cfg.finishing:
            await hook(ending)
        finished = ending
        if self.store_lost is None:
            finished = self.audit.finish(self.run_id, ending, operator=self.operator)
        self.tell(finished)
        return RunResult(
            self.run_id,
            end.outcome,
            int(end.code),
            end.reason,
            m.rto_seconds,
            m.rpo_seconds,
            m.rpo_writes,
            m.rto_met,
            m.rpo_met,
        )


def _as_written(seconds: float) -> str:
    """A duration as a playbook writes it: ``1s``, ``30m``, ``2h``, ``90s``, ``0.5s``."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _planned(step: Step) -> ev.PlanEntry:
    return ev.PlanEntry(
        id=step.id,
        title=step.title.source,
        kind=ev.StepKind(step.kind),
        confirm=step.confirm or step.approve is not None,
        rto=ev.RtoEdge(step.rto) if step.rto else None,
    )
