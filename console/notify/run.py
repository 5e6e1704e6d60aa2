"""What a run wires in to notify: a listener, a decider wrapper and a finishing hook.

* the listener (told every event) sends "run started" and "step failed";
* :class:`NotifyingDecider` wraps a person's decider: before a person is asked (confirm,
  manual step, what now after a failure) the watchers are told the run waits. The headless
  decider never waits for anyone, so it is not wrapped: a headless run that needs a person
  stops, and "run finished" says so;
* the finishing hook sends "run finished" (outcome, RTO and RPO against the objectives, how
  to get the report) and waits, bounded by the deliveries' timeouts, for the queue to empty,
  so a failed delivery is still recorded in the run (``notification_failed``) before its
  ``run_finished``.

A failed delivery is recorded (and shown as a warning by every view of the run); the run
goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from console import events as ev
from console.engine.decider import Answer, Decider, Question
from console.notify import messages
from console.notify.messages import RunInfo
from console.notify.sender import DEFAULT_TIMEOUT, Failure, Notifier
from console.notify.targets import NotifyTarget


class RunNotifications:
    """The notifications of one run."""

    def __init__(
        self,
        targets: Sequence[NotifyTarget],
        *,
        inventory: str,
        emit: Callable[[ev.Event], None],
        audit_path: Path | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        warn: Callable[[str], None] | None = None,
        failures_only: bool = False,
    ) -> None:
        """
        Args:
            targets: Where to send (the inventory's ``notify:`` and ``--notify``).
            inventory: The inventory's name (said in every message).
            emit: Records an event in the run (the engine's ``emit``).
            audit_path: The audit database, to say where the report comes from.
            timeout: Seconds one delivery may take.
            warn: Where a failure outside the run goes (default: stderr).
            failures_only: Send only what needs someone: a step failed or waiting, a run that
                did not succeed or missed an objective (scheduled runs).
        """
        self.notifier = Notifier(targets, timeout=timeout, on_failure=self._failed)
        """The queue (its ``delivered`` and ``failed`` say what happened)."""
        self.inventory = inventory
        self.emit = emit
        self.audit_path = audit_path
        self.warn = warn or (lambda text: print(f"drconsole: warning: {text}", file=sys.stderr))
        self.failures_only = failures_only
        self.run: RunInfo | None = None
        self._open = False
        self._measurement: ev.Measurement | None = None
        self._asked_failure: set[str] = set()

    @property
    def enabled(self) -> bool:
        """True when there is anywhere to send to."""
        return self.notifier.enabled

    # -- the engine's listener -------------------------------------------------------------

    def __call__(self, event: ev.Event) -> None:
        """The engine's listener: queue what watchers need to hear, never block."""
        if isinstance(event, ev.RunStarted):
            self.run = RunInfo(
                run_id=event.run_id,
                playbook=event.playbook,
                title=event.title,
                mode=event.mode,
                operator=event.operator,
                inventory=self.inventory,
            )
            self._open = True
            self._send(messages.run_started(self.run, event))
        elif isinstance(event, ev.Measurement):
            self._measurement = event
        elif (
            isinstance(event, ev.StepFinished)
            and event.outcome == ev.StepOutcome.FAILED
            and self.run is not None
            and event.step_id not in self._asked_failure
        ):
            self._send(messages.step_failed(self.run, event))

    # -- a person's decider ----------------------------------------------------------------

    def waiting(self, question: Question) -> None:
        """Tell the watchers the run waits for a person."""
        if self.run is None:
            return
        if question.kind == ev.QuestionKind.FAILURE:
            self._asked_failure.add(question.step_id)
        self._send(messages.waiting(self.run, question))

    # -- the finishing hook ----------------------------------------------------------------

    async def finishing(self, ending: ev.RunFinished) -> None:
        """Send "run finished" and wait (bounded) for every delivery, before the run ends."""
        if self.run is not None:
            self._send(messages.run_finished(self.run, ending, self._measurement, self._report()))
        # bounded: what a slow receiver has not taken by then is recorded as not delivered
        await self.notifier.close()
        self._open = False

    async def close(self) -> None:
        """Stop the queue (after the run); waits for nothing more than ``drain`` would."""
        await self.notifier.close()

    def _send(self, message: messages.Message) -> None:
        if self.failures_only and message.level in (messages.Level.INFO, messages.Level.SUCCESS):
            return
        self.notifier.send(message)

    def _report(self) -> str:
        assert self.run is not None
        audit = f"--audit {self.audit_path} " if self.audit_path is not None else ""
        return f"drconsole {audit}report {self.run.run_id} --format html -o drill.html"

    def _failed(self, failure: Failure) -> None:
        text = (
            f"notification to {failure.target.shown} not delivered "
            f"({failure.message.subject}): {failure.reason}"
        )
        if not self._open:
            self.warn(text)
            return
        try:
            self.emit(
                ev.NotificationFailed(
                    target=failure.target.shown,
                    subject=failure.message.subject,
                    reason=failure.reason,
                    timed_out=failure.timed_out,
                )
            )
        except Exception as exc:  # the audit log failing is the run's problem, not ours here
            self.warn(f"{text} (and it could not be recorded: {exc})")


class NotifyingDecider(Decider):
    """A person's decider that tells the watchers before each question waits for an answer."""

    def __init__(self, inner: Decider, notifications: RunNotifications) -> None:
        self.inner = inner
        self.operator = inner.operator
        self.notifications = notifications

    async def decide(self, question: Question) -> Answer:
        """Tell, then ask the person."""
        self.notifications.waiting(question)
        return await self.inner.decide(question)
