"""One step, run to its end in named phases, returning how it ended.

:meth:`StepRunner.run` is the loop over a step's attempts; each attempt goes through

1. **prepare**: evaluate ``when`` (first attempt only), render the title, resolve the targets
   against the observed roles, render the commands; record ``step_started``;
2. **confirm** (first attempt of a confirm or manual step): ask the operator; a skip, an
   abort or nobody-there ends the step here, before it did anything;
3. **execute**: mark the RTO start, send the commands (or poll the wait, or nothing for a
   manual step);
4. **on failure**: retry by the step's ``retries`` first, then ask the decider (the operator,
   or the ``on_failure`` policy headless): retry, skip, continue, roll back or abort.

Every phase returns a value (:class:`~console.engine.outcomes.StepResult`, or the prepared
:class:`Attempt`), so the state machine in ``console.engine.runner`` reads as a table of what
happens next. Every decision is recorded by the engine before it is acted on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from console import events as ev
from console.engine.commands import CommandSender, failure_of
from console.engine.conditions import evaluate
from console.engine.context import SelectionError, StepOutputs, resolve_selector, target_view
from console.engine.decider import Answer, Question
from console.engine.masking import Masker
from console.engine.outcomes import AbortRequest, StepEnd, StepResult
from console.errors import ErrorKind, Stopped
from console.model.inventory import Inventory
from console.model.playbook import Playbook, Step
from console.model.templates import RenderError
from console.status.collector import StatusCollector, StatusSnapshot

A = ev.DecisionAction
S = ev.StepStatus

FALSE_WORDS = ("false", "no", "0", "", "none", "off")
"""What a rendered ``when`` may say to skip the step."""


@dataclass
class StepState:
    """A step's state as the run goes (for views; the audit log is the record)."""

    status: ev.StepStatus = S.PENDING
    attempts: int = 0
    started: float | None = None
    duration: float | None = None
    targets: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One attempt of a step, rendered and ready to run (or why it cannot)."""

    number: int
    ctx: dict[str, Any]
    title: str
    targets: tuple[str, ...]
    commands: Mapping[str, tuple[str, str]]
    """Per host: (the command as sent, the command as recorded, secrets masked)."""
    instructions: str | None
    problem: str | None
    """Why the step cannot run now (a template or selector failed); it then fails."""


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed."""

    reason: str
    error: ErrorKind | None = None


class StepHost(Protocol):
    """What a step needs from its run (``console.engine.runner.Engine`` provides it)."""

    inventory: Inventory
    playbook: Playbook
    masker: Masker
    outputs: StepOutputs
    commands: CommandSender
    collector: StatusCollector
    states: dict[str, StepState]
    current_step: str | None
    rto_start: float | None
    rto_end: float | None
    abort: AbortRequest | None

    @property
    def operator_name(self) -> str:
        """Who decides (recorded with automatic decisions too)."""

    def emit(self, event: ev.Event) -> None:
        """Record and tell."""

    def tell(self, event: ev.Event) -> None:
        """Tell the listeners only (never recorded)."""

    async def ask(self, question: Question) -> Answer:
        """Ask the decider and record the answer."""

    def context(self, step: Step | None, attempt: int = 1) -> dict[str, Any]:
        """The template context."""

    async def refresh_status(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        """Fresh samples (not waiting on members known down)."""

    async def sweep(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        """A sweep of these services."""

    async def canary_now(self) -> None:
        """One canary write right now (before the outage starts)."""

    async def await_approvals(self, step: Step, title: str) -> str | None:
        """Once the operator confirmed: wait for the step's other approvals (two-person
        rule); None when it may go on, else why not."""


def _text(template: Any, ctx: Mapping[str, Any]) -> str:
    if template is None:
        return ""
    return str(template.render(ctx)).strip()


class StepRunner:
    """Runs the steps of one run (main and rollback) for its engine."""

    def __init__(self, host: StepHost) -> None:
        self.host = host

    # -- the loop --------------------------------------------------------------------------

    async def run(self, step: Step, *, rollback: bool) -> StepResult:
        """Run ``step`` to its end: attempts until it is done, skipped, or given up."""
        h = self.host
        h.current_step = step.id
        started = time.monotonic()
        number = 0
        while True:
            number += 1
            attempt = await self.prepare(step, number, started, rollback)
            if attempt is None:
                return self.finish(step, S.SKIPPED, 0.0, number, _when_false(step), rollback)
            if number == 1 and attempt.problem is None and _asks_first(step):
                ended = await self.confirm(step, attempt, started, rollback)
                if ended is not None:
                    return ended
            failure = await self.execute(step, attempt)
            if failure is None:
                if step.rto == "end" and h.rto_end is None:
                    h.rto_end = time.time()
                    h.emit(ev.RtoMark(step_id=step.id, mark=ev.RtoEdge.END))
                return self.finish(step, S.OK, time.monotonic() - started, number, None, rollback)
            ended = await self.on_failure(step, attempt, failure, started, rollback)
            if ended is None:
                continue
            return ended

    # -- phases ----------------------------------------------------------------------------

    async def prepare(
        self, step: Step, number: int, started: float, rollback: bool
    ) -> Attempt | None:
        """Render the attempt and record ``step_started``; None when ``when`` is false (the
        step is then skipped, recorded as started with no targets)."""
        h = self.host
        st = h.states[step.id]
        st.attempts, st.status, st.started = number, S.RUNNING, started
        owner = step.scope or h.playbook
        if owner.service:
            fresh = fresh_services(step, owner.service, h.playbook.services_touched())
            if fresh:
                await h.refresh_status(fresh)
        problem: str | None = None
        try:
            ctx = h.context(step, number)
        except RenderError as exc:
            ctx, problem = h.context(None), str(exc)
            ctx["step"] = {"id": step.id, "attempt": number}
        if step.when is not None and number == 1 and problem is None:
            try:
                when = step.when.render(ctx).strip().lower()
            except RenderError as exc:
                when, problem = "error", str(exc)
            if when in FALSE_WORDS:
                h.emit(
                    ev.StepStarted(
                        step_id=step.id,
                        title=_text(step.title, ctx),
                        step_kind=ev.StepKind(step.kind),
                        targets=(),
                        attempt=number,
                        rollback=rollback,
                    )
                )
                return None
        targets: tuple[str, ...] = ()
        commands: dict[str, tuple[str, str]] = {}
        try:
            title = _text(step.title, ctx)
            description = _text(step.description, ctx) or None
            if step.on is not None:
                targets = resolve_selector(
                    step.on, ctx, h.inventory, owner.service, h.collector.snapshot()
                )
            if step.run is not None:
                for host in targets:
                    real = step.run.render(
                        {**ctx, "target": target_view(h.inventory, owner, host, ctx)}
                    )
                    commands[host] = (real, h.masker.scrub(real))
            instructions = h.masker.scrub(_text(step.manual, ctx)) if step.manual else None
        except (RenderError, SelectionError) as exc:
            title = step.title.source
            description, instructions, problem = None, None, problem or str(exc)
        st.targets = targets
        h.emit(
            ev.StepStarted(
                step_id=step.id,
                title=h.masker.scrub(title),
                step_kind=ev.StepKind(step.kind),
                targets=targets,
                attempt=number,
                description=description,
                commands={host: shown for host, (_real, shown) in commands.items()},
                instructions=instructions,
                rollback=rollback,
            )
        )
        return Attempt(number, ctx, title, targets, commands, instructions, problem)

    async def confirm(
        self, step: Step, attempt: Attempt, started: float, rollback: bool
    ) -> StepResult | None:
        """Ask before a confirm or manual step acts; None means go on.

        A skip ends the step skipped; an abort ends it (and the run) aborted; when nobody can
        answer, the step did not run: it is recorded ``stopped`` and stays pending."""
        h = self.host
        manual = step.kind == "manual"
        question = Question(
            step.id,
            h.masker.scrub(attempt.title),
            ev.QuestionKind.MANUAL if manual else ev.QuestionKind.CONFIRM,
            targets=attempt.targets,
            commands=tuple((host, shown) for host, (_real, shown) in attempt.commands.items()),
            instructions=attempt.instructions,
            has_rollback=bool(h.playbook.rollback),
        )
        try:
            answer = await h.ask(question)
        except Stopped as exc:
            h.states[step.id].status = S.PENDING
            h.emit(
                ev.StepFinished(
                    step_id=step.id,
                    outcome=ev.StepOutcome.STOPPED,
                    duration=0.0,
                    attempts=0,
                    reason=str(exc),
                )
            )
            return StepResult(StepEnd.STOPPED, str(exc))
        if answer.action == A.SKIP:
            return self.finish(
                step, S.SKIPPED, time.monotonic() - started, attempt.number, answer.reason, rollback
            )
        if answer.action == A.ABORT:
            h.abort = AbortRequest(answer.reason or "declined", answer.rollback)
            self.mark_ended(step.id, f"aborted while running: {h.abort.reason}", S.ABORTED)
            return StepResult(StepEnd.ABORTED, h.abort.reason)
        missing = await h.await_approvals(step, h.masker.scrub(attempt.title))
        if missing is not None:
            h.states[step.id].status = S.PENDING
            h.emit(
                ev.StepFinished(
                    step_id=step.id,
                    outcome=ev.StepOutcome.STOPPED,
                    duration=round(time.monotonic() - started, 3),
                    attempts=0,
                    reason=missing,
                )
            )
            return StepResult(StepEnd.STOPPED, missing)
        return None

    async def execute(self, step: Step, attempt: Attempt) -> Failure | None:
        """Do the attempt's work (the RTO clock starts first, if this step starts it);
        None when it succeeded."""
        h = self.host
        if attempt.problem is not None:
            return Failure(attempt.problem)
        if step.rto == "start" and h.rto_start is None:
            await h.canary_now()
            h.rto_start = time.time()
            h.emit(ev.RtoMark(step_id=step.id, mark=ev.RtoEdge.START))
        if step.kind == "manual":
            return None
        if step.kind == "wait":
            return await self.wait(step)
        sent = await asyncio.gather(
            *(
                h.commands.send(
                    step.id,
                    host,
                    attempt.commands[host][0],
                    attempt.commands[host][1],
                    attempt.number,
                    step.timeout,
                    step.expect,
                )
                for host in attempt.targets
            )
        )
        failed = failure_of(sent)
        return None if failed is None else Failure(*failed)

    async def on_failure(
        self, step: Step, attempt: Attempt, failure: Failure, started: float, rollback: bool
    ) -> StepResult | None:
        """What a failed attempt leads to; None means run the step again."""
        h = self.host
        reason = failure.reason
        if attempt.number <= step.retries:
            h.emit(
                ev.Decision(
                    step_id=step.id,
                    action=A.RETRY,
                    reason=f"retry {attempt.number} of {step.retries}: {reason}",
                    auto=True,
                    by=h.operator_name,
                )
            )
            await asyncio.sleep(step.retry_delay)
            h.outputs.forget(step.id)
            return None
        took = time.monotonic() - started
        if rollback:
            return self.finish(step, S.FAILED, took, attempt.number, reason, True)
        answer = await h.ask(
            Question(
                step.id,
                h.masker.scrub(attempt.title),
                ev.QuestionKind.FAILURE,
                targets=attempt.targets,
                reason=reason,
                policy=ev.OnFailure(step.on_failure),
                attempt=attempt.number,
                has_rollback=bool(h.playbook.rollback),
                error=failure.error,
            )
        )
        took = time.monotonic() - started
        if answer.action == A.RETRY:
            h.outputs.forget(step.id)
            return None
        if answer.action == A.SKIP:
            why = f"failed ({reason}); skipped: {answer.reason}"
            return self.finish(step, S.SKIPPED, took, attempt.number, why, rollback)
        if answer.action == A.CONTINUE:
            return self.finish(step, S.CONTINUED, took, attempt.number, reason, rollback)
        self.finish(step, S.FAILED, took, attempt.number, reason, rollback)
        if answer.action == A.ROLLBACK or answer.rollback:
            await self.rollback(f"step {step.id} failed: {reason}")
        elif answer.action == A.ABORT and answer.auto is False:
            h.abort = AbortRequest(answer.reason or "aborted after a failure", False)
            return StepResult(StepEnd.ABORTED, h.abort.reason)
        return StepResult(StepEnd.FAILED, reason)

    # -- waits and the rollback ------------------------------------------------------------

    async def wait(self, step: Step) -> Failure | None:
        """Poll the wait's condition or command until it holds or the wait times out."""
        h = self.host
        spec = step.wait
        assert spec is not None
        started = time.monotonic()
        detail = ""
        polls = 0
        owner = step.scope or h.playbook
        while True:
            polls += 1
            elapsed = time.monotonic() - started
            try:
                ctx = h.context(step)
                if spec.until is not None:
                    service = (
                        spec.until.service.render(ctx).strip()
                        if spec.until.service
                        else owner.service
                    )
                    snapshot = await h.sweep([service] if service else [])
                    verdict = evaluate(spec.until, ctx, h.inventory, owner.service, snapshot)
                    ok, detail = verdict.ok, verdict.detail
                else:
                    assert spec.command is not None
                    ok, detail = await h.commands.check(
                        spec.command,
                        ctx,
                        step.id,
                        polls,
                        record_outputs=True,
                        poll=True,
                        owner=owner,
                    )
            except (RenderError, SelectionError) as exc:
                ok, detail = False, str(exc)
            h.tell(
                ev.WaitProgress(
                    step_id=step.id,
                    satisfied=ok,
                    detail=detail,
                    elapsed=round(elapsed, 2),
                    timeout=spec.timeout,
                )
            )
            if ok:
                h.emit(
                    ev.Notice(
                        level=ev.NoticeLevel.INFO,
                        step_id=step.id,
                        message=f"condition met after {elapsed:.1f}s ({polls} polls): {detail}",
                    )
                )
                return None
            if elapsed + spec.interval > spec.timeout:
                return Failure(f"not met within {spec.timeout:g}s: {detail}")
            await asyncio.sleep(spec.interval)

    async def rollback(self, reason: str) -> None:
        """Run the rollback list, each step once (a failed one does not stop the others)."""
        h = self.host
        h.emit(ev.RollbackStarted(reason=reason))
        all_ok = True
        for step in h.playbook.rollback:
            if step.scope is not None and not self._started(step.scope.prefix):
                h.emit(
                    ev.Notice(
                        level=ev.NoticeLevel.INFO,
                        step_id=step.id,
                        message=f"rollback step {step.id} not run: include "
                        f"{step.scope.prefix.rstrip('/')!r} never started",
                    )
                )
                continue
            result = await self.run(step, rollback=True)
            all_ok = all_ok and result.end in (StepEnd.OK, StepEnd.SKIPPED)
        h.emit(ev.RollbackFinished(ok=all_ok))

    def _started(self, prefix: str) -> bool:
        """True when a main step whose id starts with ``prefix`` has left pending."""
        h = self.host
        return any(
            s.id.startswith(prefix) and h.states[s.id].status != S.PENDING for s in h.playbook.steps
        )

    # -- recording the end -----------------------------------------------------------------

    def finish(
        self,
        step: Step,
        status: ev.StepStatus,
        duration: float,
        attempts: int,
        reason: str | None,
        rollback: bool = False,
    ) -> StepResult:
        """Record how the step ended (a continued step is recorded ``failed``)."""
        h = self.host
        st = h.states[step.id]
        st.status = status
        st.duration, st.reason = duration, reason
        recorded = ev.StepOutcome.FAILED if status == S.CONTINUED else ev.StepOutcome(status)
        h.outputs.set_outcome(step.id, recorded)
        h.emit(
            ev.StepFinished(
                step_id=step.id,
                outcome=recorded,
                duration=round(duration, 3),
                attempts=attempts,
                reason=reason,
                rollback=rollback,
            )
        )
        return StepResult(_END[status], reason)

    def mark_ended(self, step_id: str, reason: str, status: ev.StepStatus = S.UNKNOWN) -> None:
        """Record the end of a step that was stopped from outside: ``unknown`` (interrupted:
        it may or may not have acted) or ``aborted``."""
        h = self.host
        st = h.states[step_id]
        duration = time.monotonic() - st.started if st.started else 0.0
        st.status, st.duration, st.reason = status, duration, reason
        h.emit(
            ev.StepFinished(
                step_id=step_id,
                outcome=ev.StepOutcome(status),
                duration=round(duration, 3),
                attempts=st.attempts,
                reason=reason,
            )
        )


_END = {
    S.OK: StepEnd.OK,
    S.SKIPPED: StepEnd.SKIPPED,
    S.CONTINUED: StepEnd.CONTINUED,
    S.FAILED: StepEnd.FAILED,
}


def _asks_first(step: Step) -> bool:
    return step.asks_first


def _when_false(step: Step) -> str:
    assert step.when is not None
    return f"when: {step.when.source} is false"


OBSERVED_WORDS = frozenset(
    {"primary", "replicas", "observed", "lag_seconds", "lag_bytes", "position"}
)
"""The parts of ``service``/``services`` (``console.engine.context``) that come from the
status: a template that reads none of them (only names, addresses, ports, vars of members)
renders the same from any snapshot."""


def fresh_services(step: Step, own: str | None, touched: Sequence[str]) -> tuple[str, ...]:
    """The services a status sweep must refresh before the step renders; none when it renders
    the same from any snapshot.

    A step that selects hosts by role needs the services its selector names (``service:X and
    role:primary``: X), or every service the run touches when it names none. A template that
    reads something observed (:data:`OBSERVED_WORDS`, or anything when its words are unknown)
    of ``service`` needs the step's own service (``own``), of ``services`` every one the run
    touches. A step that reads only static members (``services['x'].at[site].address``)
    waits for no sweep, and one that reads its own service's primary no longer waits for the
    members of every other service (city-return: 9 members swept before such a step, 3 now).

    Args:
        step: The step about to render.
        own: The service of the playbook (or included playbook) the step belongs to.
        touched: Every service the run touches (``Playbook.services_touched``).
    """
    wanted: list[str] = []

    def add(names: Iterable[str]) -> None:
        wanted.extend(n for n in names if n not in wanted)

    if step.on is not None and any(t.key == "role" for t in step.on.terms):
        named = [t.value.source.strip() for t in step.on.terms if t.key == "service"]
        static = all(t.value.is_static for t in step.on.terms if t.key == "service")
        add(named if named and static else touched)
    for tpl in (step.run, step.manual, step.title, step.description, step.when):
        if tpl is None or not tpl.names & {"service", "services"}:
            continue
        if tpl.words is None or tpl.words & OBSERVED_WORDS:
            add(touched if "services" in tpl.names or own is None else [own])
    return tuple(wanted)
