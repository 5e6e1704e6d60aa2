"""Sending: one background queue per notifier, apprise in a worker thread, a timeout each.

:meth:`Notifier.send` only puts a message on the queue and returns: the caller (the engine's
listener, a step waiting for a person, the status watch) is never held up. One task takes the
messages in order and sends each to each target with apprise, in a thread (apprise is
synchronous), bounded by ``timeout`` seconds (apprise's own call timeout, and the socket
timeouts of the service). A delivery that fails calls ``on_failure`` with a
:class:`Failure`; nothing here raises to the caller. :meth:`Notifier.drain` waits, bounded,
for what is queued (before a run records its end, before the process exits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from console.notify.messages import Message
from console.notify.targets import NotifyTarget

DEFAULT_TIMEOUT = 5.0
"""Seconds one delivery may take before it counts as failed (timed out)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """A delivery that did not happen."""

    target: NotifyTarget
    message: Message
    reason: str
    timed_out: bool = False


@dataclass(frozen=True)
class Delivery:
    """A delivery that happened (kept for tests and the warning counts)."""

    target: NotifyTarget
    message: Message


class Notifier:
    """Sends messages to targets in the background, in order, never raising to the caller."""

    def __init__(
        self,
        targets: Sequence[NotifyTarget],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_failure: Callable[[Failure], None] | None = None,
    ) -> None:
        self.targets = tuple(targets)
        """Where every message goes."""
        self.timeout = timeout
        """Seconds one delivery may take."""
        self.on_failure = on_failure
        """Called (in the event loop) for each failed delivery."""
        self.delivered: list[Delivery] = []
        """What was delivered, in order."""
        self.failed: list[Failure] = []
        """What was not, in order."""
        self._queue: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._current: tuple[Message, list[NotifyTarget]] | None = None
        """The message being sent and the targets it has not been sent to yet."""

    @property
    def enabled(self) -> bool:
        """True when there is anywhere to send to."""
        return bool(self.targets)

    def send(self, message: Message) -> None:
        """Queue ``message`` for every target and return at once (needs a running loop)."""
        if not self.targets:
            return
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(
                self._worker(), name="notifications"
            )
        self._queue.put_nowait(message)

    @property
    def bound(self) -> float:
        """How long :meth:`close` waits by default: one message to every target, twice, and a
        second (a slow receiver with a long queue is not waited for message by message)."""
        return 2 * len(self.targets) * self.timeout + 1.0

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued message was sent (or failed); False when ``timeout``
        (default :attr:`bound`) ran out first."""
        if self._queue is None:
            return True
        try:
            await asyncio.wait_for(self._queue.join(), self.bound if timeout is None else timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout``, default :attr:`bound`) for the queue, then stop: every
        message not delivered by then is reported to ``on_failure`` (one still being sent
        with an unknown outcome, the others as not sent)."""
        await self.drain(timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        left: list[Failure] = []
        if self._current is not None:
            message, targets = self._current
            why = "still being sent when it was given up: outcome unknown"
            left += [Failure(t, message, why, timed_out=True) for t in targets]
            self._current = None
        while self._queue is not None and not self._queue.empty():
            message = self._queue.get_nowait()
            why = "not sent: given up while earlier notifications were still being sent"
            left += [Failure(t, message, why) for t in self.targets]
        self._queue = None
        for failure in left:
            self._failed(failure)

    def _failed(self, failure: Failure) -> None:
        self.failed.append(failure)
        if self.on_failure is not None:
            try:
                self.on_failure(failure)
            except Exception:
                log.exception("the notification failure handler failed")

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            remaining = list(self.targets)
            self._current = (message, remaining)
            try:
                while remaining:
                    target = remaining[0]
                    failure = await asyncio.to_thread(self._deliver, target, message)
                    remaining.pop(0)
                    if failure is None:
                        self.delivered.append(Delivery(target, message))
                    else:
                        self._failed(failure)
                self._current = None
            finally:
                self._queue.task_done()

    def _deliver(self, target: NotifyTarget, message: Message) -> Failure | None:
        """Send one message to one target (in a worker thread); the failure, or None."""
        import apprise  # noqa: PLC0415 - only a run that notifies pays for loading it

        entries: list[str] = []

        def logged(entry: Any, _plugin: Any) -> None:
            if entry.level in ("WARNING", "ERROR", "CRITICAL"):
                entries.append(str(entry.message))

        try:
            plugin = apprise.Apprise.instantiate(target.url, suppress_exceptions=True)
            if not plugin:
                return Failure(target, message, "apprise cannot read this URL")
            # the service's own socket timeouts, a little longer than the call's (so the call
            # says "timed out"), so that its thread does not outlive the call by much
            plugin.socket_connect_timeout = self.timeout + 1.0
            plugin.socket_read_timeout = self.timeout + 1.0
            ap = apprise.Apprise()
            ap.add(plugin)
            result = ap.notify(
                body=message.body,
                title=message.title,
                notify_type=apprise.NotifyType(str(message.level)),
                timeout=self.timeout,
                log_callback=logged,
            )
        except Exception as exc:  # a plugin may raise anything; a notification never does
            return Failure(target, message, f"{type(exc).__name__}: {exc}")
        if result:
            return None
        timed_out = getattr(result, "status", None) == apprise.AppriseResultStatus.TIMEOUT
        reason = entries[-1] if entries else "the service did not accept it"
        if timed_out:
            reason = f"no answer within {self.timeout:g}s"
        return Failure(target, message, _scrub(reason, target), timed_out=timed_out)


def _scrub(text: str, target: NotifyTarget) -> str:
    """A library message with the target's raw URL (and its password) replaced by the
    masked form, in case a message quotes it."""
    return text.replace(target.url, target.shown) if target.url else text
