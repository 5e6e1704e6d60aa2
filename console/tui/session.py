"""One guided run as the TUI holds it: the engine, its questions, and what the screen shows.

The engine runs in an app-level worker, so the run goes on when the operator looks at the
board; the run screen is only a view of this session. The engine's listener (called inside
the engine, for every event) only appends to bounded buffers and nudges the view with a
coalescing message, so 10,000 output lines a second never queue up 10,000 UI updates.

Every operator action that the engine must know about goes through here: answers to the
engine's questions (through :class:`~console.tui.decider.TuiDecider`, recorded by the engine
with the operator's name), notes, pause, skip and abort.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from console import events as ev
from console.audit.leases import DEFAULT_TTL
from console.audit.store import AuditStore
from console.engine.decider import Answer, Question
from console.engine.prepare import Prepared
from console.engine.runner import Engine, RunConfig, RunResult
from console.errors import DrError, ErrorKind, ExitCode
from console.notify.run import NotifyingDecider, RunNotifications
from console.notify.targets import NotifyTarget
from console.ssh.transport import Transport
from console.tui.decider import TuiDecider
from console.tui.runlog import event_lines, output_lines

OUTPUT_KEEP = 5000
"""Log lines a session keeps for its view (the audit log keeps the record)."""


@dataclass(frozen=True)
class PendingQuestion:
    """A question of the engine that waits for the operator."""

    question: Question
    """What the engine asks."""
    future: asyncio.Future[Answer]
    """Resolved with the operator's answer."""
    serial: int
    """Increases with every question (a view tells a new question from one it showed)."""


class SessionError(Exception):
    """An operator action that does not apply now; the message says why, for a notice."""


class RunSession:
    """A run of one playbook, driven from the TUI.

    Args:
        prepared: The checked playbook, inventory and parameters (and resume state).
        mode: ``drill`` or ``incident`` (a resumed run keeps its own).
        operator: Who operates.
        audit: The audit store.
        transport: The app's SSH pool.
        changed: Called (on the event loop) whenever the view has something new to show.
        probe_timeout: Per-probe deadline for the engine's own status sweeps.
        lease_ttl: Seconds the run's service leases last unless renewed (``--lease``).
    """

    def __init__(
        self,
        *,
        prepared: Prepared,
        mode: str,
        operator: str,
        audit: AuditStore,
        transport: Transport,
        changed: Callable[[], None],
        probe_timeout: float | None = None,
        notify: tuple[NotifyTarget, ...] = (),
        notify_timeout: float = 5.0,
        lease_ttl: float = DEFAULT_TTL,
    ) -> None:
        self.prepared = prepared
        self.playbook = prepared.playbook
        self.inventory = prepared.inventory
        self.mode = prepared.resume.mode if prepared.resume else mode
        """The run's mode (shown on the run screen, recorded in the audit log)."""
        self.operator = operator
        self.audit = audit
        self._changed = changed
        self.decider = TuiDecider(operator, self._ask)
        self.notifications = RunNotifications(
            (*prepared.inventory.notify, *notify),
            inventory=prepared.inventory.name,
            emit=self._record,
            audit_path=audit.path,
            warn=lambda text: self._add(f"» warning: {text}"),
            timeout=notify_timeout,
        )
        """The run's notifications (``console.notify``): nothing when there is no target."""
        told = self.notifications.enabled
        self.engine = Engine(
            RunConfig(
                inventory=prepared.inventory,
                playbook=prepared.playbook,
                params=prepared.params,
                mode=self.mode,
                operator=operator,
                audit=audit,
                transport=transport,
                decider=NotifyingDecider(self.decider, self.notifications)
                if told
                else self.decider,
                listeners=[self._on_event, self.notifications] if told else [self._on_event],
                resume=prepared.resume,
                probe_timeout=probe_timeout,
                lease_ttl=lease_ttl,
                finishing=[self.notifications.finishing] if told else [],
            )
        )
        self.resume_of = prepared.resume.run_id if prepared.resume else None
        """The run this session resumes, if any."""
        self.lines: deque[str] = deque(maxlen=OUTPUT_KEEP)
        """The newest log lines."""
        self.lines_total = 0
        """How many lines were ever added (a view compares it with what it has shown)."""
        self.step_info: dict[str, ev.StepStarted] = {}
        """The latest ``StepStarted`` of each step (title, targets, commands as rendered)."""
        self.wait_info: dict[str, ev.WaitProgress] = {}
        """The latest poll of each wait step."""
        self.gates: list[ev.GateResult] = []
        self.pending: PendingQuestion | None = None
        """The question waiting for the operator."""
        self.result: RunResult | None = None
        """How the run ended, once it has."""
        self.error: str | None = None
        """Why the engine could not run at all (bad input, a run still alive elsewhere)."""
        self.started = False
        """The operator started the run."""
        self.lock_message: str | None = None
        """Why the run could not take its lock (another run holds it)."""
        self.security: list[str] = []
        """Refused host keys met during the run."""
        self.canary_acked = 0
        self.canary_failed = 0
        self.notes: list[ev.NoteAdded] = []
        self.step_once = False
        """Pause again as soon as the next step has started ("run the next step")."""
        self._serial = 0
        self._last_error_notice: str | None = None
        main = [s.id for s in self.playbook.steps]
        self.step_numbers = {sid: i + 1 for i, sid in enumerate(main)}
        self.host_width = min(16, max((len(h) for h in self.inventory.hosts), default=4))

    # -- state for views -------------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        """The run's id once it started (or the id of the run resumed)."""
        return self.engine.run_id or self.resume_of

    @property
    def finished(self) -> bool:
        """The run has ended (or could not start)."""
        return self.result is not None or self.error is not None

    @property
    def running(self) -> bool:
        """Started and not finished."""
        return self.started and not self.finished

    def status_of(self, step_id: str) -> str:
        """The step's status as the view shows it (``waiting`` while a question is open)."""
        if self.pending is not None and self.pending.question.step_id == step_id:
            return "waiting"
        status = self.engine.states[step_id].status
        if status == "pending" and self.finished:
            return "not run"
        return status

    def next_step(self) -> str | None:
        """The first main step that has not started."""
        for step in self.playbook.steps:
            if self.engine.states[step.id].status == "pending":
                return step.id
        return None

    def focus_step(self) -> str | None:
        """The step the screen should show: the one asked about, running, or next."""
        if self.pending is not None:
            return self.pending.question.step_id
        current = self.engine.current_step
        if current is not None and self.engine.states[current].status == "running":
            return current
        return self.next_step() or current

    def run_state(self) -> str:
        """One word for the run: ready, running, paused, waiting, or how it ended."""
        if self.error is not None:
            return "not started"
        if self.result is not None:
            return self.result.outcome
        if not self.started:
            return "ready"
        if self.pending is not None:
            return "waiting"
        if self.engine.paused:
            return "paused"
        return "running"

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> RunResult | None:
        """Run the engine to its end (the app runs this in a named worker)."""
        self.started = True
        self._changed()
        try:
            self.result = await self.engine.run()
            if self.result.exit_code == ExitCode.LOCKED:
                self.lock_message = self._last_error_notice or self.result.summary
        except DrError as exc:
            self.error = str(exc)
            self._add(f"» error: {exc}")
        finally:
            await self.notifications.close()
            self._changed()
        return self.result

    def _record(self, event: ev.Event) -> None:
        """Record an event of the notifications in the run (a failed delivery)."""
        self.engine.emit(event)

    async def _ask(self, question: Question) -> Answer:
        loop = asyncio.get_running_loop()
        self._serial += 1
        pending = PendingQuestion(question, loop.create_future(), self._serial)
        self.pending = pending
        if question.error == ErrorKind.HOST_KEY and question.reason:
            self._security(question.reason)
        self._changed()
        try:
            return await pending.future
        finally:
            if self.pending is pending:
                self.pending = None
            self._changed()

    def _on_event(self, event: ev.Event) -> None:
        """The engine's listener: record, never block, never raise."""
        if isinstance(event, ev.OutputLines):
            self._add_many(output_lines(event, self.host_width))
        else:
            self._add_many(event_lines(event, self.step_numbers, len(self.step_numbers)))
        if isinstance(event, ev.StepStarted):
            self.step_info[event.step_id or ""] = event
            if self.step_once and not event.rollback:
                self.step_once = False
                asyncio.get_running_loop().call_soon(self._pause_after_one)
        elif isinstance(event, ev.WaitProgress):
            self.wait_info[event.step_id or ""] = event
        elif isinstance(event, ev.GateResult):
            self.gates.append(event)
        elif isinstance(event, ev.CanaryWrite):
            if event.ok:
                self.canary_acked += 1
            else:
                self.canary_failed += 1
        elif isinstance(event, ev.NoteAdded):
            self.notes.append(event)
        elif isinstance(event, ev.Notice):
            if event.level == ev.NoticeLevel.ERROR:
                self._last_error_notice = event.message
            if event.error == ErrorKind.HOST_KEY:
                self._security(event.message)
        elif isinstance(event, ev.CommandFinished) and event.host_key_refused and event.reason:
            self._security(event.reason)
        self._changed()

    def _security(self, text: str) -> None:
        """Remember a refused host key (once per wording)."""
        if text not in self.security:
            self.security.append(text)

    def _pause_after_one(self) -> None:
        if not self.finished:
            self.engine.set_paused(True)

    def say(self, line: str) -> None:
        """Add a line of the console's own to the run's output (and redraw)."""
        self._add(line)
        self._changed()

    def _add(self, line: str) -> None:
        self.lines.append(line)
        self.lines_total += 1

    def _add_many(self, lines: list[str]) -> None:
        if lines:
            self.lines.extend(lines)
            self.lines_total += len(lines)

    # -- operator actions ------------------------------------------------------------------

    def answer(self, answer: Answer) -> None:
        """Answer the open question.

        Raises:
            SessionError: no question is open.
        """
        pending = self.pending
        if pending is None or pending.future.done():
            raise SessionError("nothing is waiting for a decision")
        pending.future.set_result(answer)

    def confirm(self) -> None:
        """Say yes to the open question: run it (confirm), it is done (manual), run it again
        (a step whose outcome is unknown after a resume), or retry (a failure).

        Raises:
            SessionError: no question is open.
        """
        pending = self.pending
        if pending is None:
            raise SessionError("nothing is waiting for a confirmation")
        Q, A = ev.QuestionKind, ev.DecisionAction
        action = {Q.CONFIRM: A.CONFIRM, Q.MANUAL: A.DONE, Q.UNKNOWN: A.RERUN, Q.FAILURE: A.RETRY}
        self.answer(Answer(action[pending.question.kind]))

    def retry(self) -> None:
        """Run the failed step again.

        Raises:
            SessionError: no failed step waits for a decision.
        """
        if self.pending is None or self.pending.question.kind != ev.QuestionKind.FAILURE:
            raise SessionError("retry applies to a failed step that waits for you")
        self.answer(Answer(ev.DecisionAction.RETRY))

    def continue_after_failure(self, reason: str) -> None:
        """Leave the failed step failed and go on with the next one.

        Raises:
            SessionError: no failed step waits for a decision.
        """
        if self.pending is None or self.pending.question.kind != ev.QuestionKind.FAILURE:
            raise SessionError("continue applies to a failed step that waits for you")
        self.answer(Answer(ev.DecisionAction.CONTINUE, reason))

    def skip(self, reason: str) -> str:
        """Skip the step that waits for a decision, or (paused) the next step.

        Returns:
            The id of the step that will be skipped.

        Raises:
            SessionError: there is nothing to skip now, or no reason was given.
        """
        if not reason.strip():
            raise SessionError("skipping a step needs a reason")
        if self.pending is not None:
            step_id = self.pending.question.step_id
            self.answer(Answer(ev.DecisionAction.SKIP, reason.strip()))
            return step_id
        nxt = self.next_step()
        if self.running and self.engine.paused and nxt is not None:
            try:
                self.engine.request_skip(nxt, reason)
            except (KeyError, ValueError) as exc:
                raise SessionError(str(exc)) from None
            self._add(f"» {nxt} will be skipped: {reason.strip()}")
            self._changed()
            return nxt
        raise SessionError(
            "skip applies to a step that waits for you; pause (p) to stop before the next step"
        )

    def abort(self, reason: str, *, rollback: bool) -> None:
        """Abort the run (and run the rollback list first, if asked).

        Raises:
            SessionError: the run is not running, or no reason was given.
        """
        if not reason.strip():
            raise SessionError("aborting needs a reason")
        if not self.running:
            raise SessionError("the run is not running")
        if self.pending is not None:
            self.answer(Answer(ev.DecisionAction.ABORT, reason.strip(), rollback=rollback))
        else:
            self.engine.request_abort(reason.strip(), rollback=rollback)
        self._changed()

    def add_note(self, text: str) -> None:
        """Record an operator's note in the run.

        Raises:
            SessionError: the run has not started, or has ended.
        """
        if not text.strip():
            raise SessionError("a note needs some text")
        if not self.running or self.engine.run_id is None:
            raise SessionError("notes are recorded in a running run; start it first")
        self.engine.add_note(text)

    def toggle_pause(self) -> bool:
        """Pause before the next step, or go on. Returns True when now paused.

        Raises:
            SessionError: the run is not running.
        """
        if not self.running:
            raise SessionError("the run is not running")
        paused = not self.engine.paused
        self.step_once = False
        self.engine.set_paused(paused)
        self._changed()
        return paused

    def run_next_step(self) -> str | None:
        """Paused: run exactly the next step, then pause again. Returns that step's id.

        Raises:
            SessionError: the run is not paused.
        """
        if not self.running or not self.engine.paused:
            raise SessionError("the run is not paused")
        self.step_once = True
        self.engine.set_paused(False)
        self._changed()
        return self.next_step()

    @property
    def awaiting_commit(self) -> bool:
        """True while the run waits for a commit after its last step (``commit:``)."""
        return self.running and self.engine.awaiting_commit

    def commit(self) -> None:
        """Commit the run's new state as this console's operator (recorded by the engine).

        Raises:
            SessionError: the run is not awaiting a commit.
        """
        if not self.awaiting_commit:
            raise SessionError("the run is not awaiting a commit")
        try:
            self.engine.request_commit(self.operator)
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        self._changed()

    def rto_elapsed(self, now: float | None = None) -> float | None:
        """Seconds of measured outage so far (or in all, once it ended); None before it
        started."""
        start, end = self.engine.rto_start, self.engine.rto_end
        if start is None:
            return None
        return (end if end is not None else (now if now is not None else time.time())) - start
