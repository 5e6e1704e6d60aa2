"""The one interface drconsole uses to run commands on hosts, and what both backends share.

``Transport`` is the contract: the one interface through which everything runs commands, with
two implementations behind it (asyncssh and paramiko), so callers never know which.
``PersistentTransport`` holds everything that does not depend on the SSH library: one
persistent connection per target, opened on demand by exactly one caller while others wait for
it; a bound on concurrent commands; a bound on concurrent sessions per connection (sshd's
``MaxSessions``); reconnecting once when a connection was found dropped, and saying so;
reporting accepted host keys. The asyncssh and
paramiko backends only supply "connect", "is it alive", "execute" and "close".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Self, TypeVar

from console.ssh.errors import ConnectionLost, SessionRefused
from console.ssh.hostkeys import Acceptance, HostKeyPolicy, KnownHostsCache
from console.ssh.output import OnLine, OutputCollector
from console.ssh.result import CommandResult
from console.ssh.target import SshTarget

OnHostKeyAccepted = Callable[[str, str, str], None]
"""Called with (host, key_type, fingerprint) after an unknown host key was appended."""
OnReconnect = Callable[[str, str], None]
"""Called with (host, reason) when a dropped connection is re-established."""


class Transport(ABC):
    """Runs shell commands on SSH targets.

    Implementations keep connections between commands; ``close`` ends them all. A transport is
    used from one event loop.
    """

    @abstractmethod
    async def run(
        self,
        target: SshTarget,
        command: str,
        *,
        timeout: float | None = None,
        on_line: OnLine | None = None,
        max_lines: int = 2000,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run ``command`` on ``target`` through its login shell and wait for it to end.

        Output is delivered line by line to ``on_line`` as it arrives, stdout and stderr apart.
        A non-zero exit status is a result, not an error.

        Args:
            target: Where to run it.
            command: A shell command line (the caller quotes what needs quoting).
            timeout: Seconds the command may run; when exceeded the remote command is stopped
                (SIGTERM, then SIGKILL) and the result has ``timed_out=True`` with the output
                that had arrived. None means no limit.
            on_line: Receives each line as it arrives, on the event loop's thread.
            max_lines: Lines kept per stream in the result (``truncated`` says when more came).
            stdin: Text sent to the command's standard input, then end-of-file. None sends
                end-of-file at once.

        Returns:
            Exit status or signal, duration, the kept output, and whether it timed out or
            needed a reconnect.

        Raises:
            console.errors.HostKeyError: The host's key is unknown (and accepting new keys is
                off), changed, or revoked.
            console.ssh.errors.ConnectRefused: Nothing listens on the SSH port.
            console.ssh.errors.ConnectTimeout: No connection within ``target.connect_timeout``.
            console.ssh.errors.AuthFailed: The login was refused.
            console.ssh.errors.IdentityError: The identity file cannot be used.
            console.ssh.errors.SessionRefused: The server refused a session for the command.
            console.ssh.errors.ConnectionLost: The connection dropped while the command ran;
                it is never re-sent (``partial`` holds what had arrived).
            console.ssh.errors.ConnectFailed: Any other connection failure.
            asyncio.CancelledError: The caller was cancelled; the remote command has been
                signalled to stop (SIGTERM, then SIGKILL) before this propagates.
            Exception: Whatever ``on_line`` raised, re-raised after the command ended.
        """

    @abstractmethod
    async def close(self) -> None:
        """Stop pending clean-ups (bounded) and close every connection. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@dataclass(frozen=True)
class TransportOptions:
    """Settings shared by both backends of a pool."""

    accept_new_host_keys: bool = False
    """Append unknown host keys to known_hosts (reported through ``on_host_key_accepted``)."""
    on_host_key_accepted: OnHostKeyAccepted | None = None
    """Told about every accepted key, so the engine can audit it."""
    on_reconnect: OnReconnect | None = None
    """Told about every reconnect; a reconnect is never silent."""
    max_sessions_per_connection: int = 10
    """Concurrent commands sharing one connection (OpenSSH's default ``MaxSessions`` is 10);
    further commands for that host wait for a free session."""
    stop_grace: float = 2.0
    """Seconds between SIGTERM and SIGKILL when stopping a remote command, and again before the
    channel is abandoned."""
    keepalive_interval: float = 15.0
    """Seconds between keepalives on idle connections (a dead peer is noticed after 3)."""
    known_hosts: KnownHostsCache = field(default_factory=KnownHostsCache)
    """Parsed known_hosts files, shared by the backends."""


class SessionNotOpened(Exception):
    """The connection turned out dead before the command was sent: safe to reconnect."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Outcome:
    """How one execution on an open connection ended (backend to base class)."""

    exit_status: int | None = None
    signal: str | None = None
    timed_out: bool = False
    lost: str | None = None
    """Why the connection dropped under the command, if it did."""
    abandon: bool = False
    """The connection no longer answers (a stopped command never closed); drop it."""


SESSION_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
"""Pauses before re-trying a session the server refused to open (the command never ran)."""

ConnT = TypeVar("ConnT")


def _depth(target: SshTarget) -> int:
    """How many jump hosts a target is reached through."""
    return 0 if target.jump is None else 1 + _depth(target.jump)


@dataclass
class _Slot(Generic[ConnT]):
    """The persistent connection of one target and what guards it."""

    conn: ConnT | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sessions: asyncio.Semaphore | None = None
    dropped: str | None = None
    """Why the previous connection went away, until a new one has been opened and reported."""


class PersistentTransport(Transport, ABC, Generic[ConnT]):
    """One persistent connection per target; the backend supplies the SSH specifics."""

    def __init__(
        self,
        options: TransportOptions | None = None,
        *,
        max_concurrency: int = 64,
        limiter: asyncio.Semaphore | None = None,
    ) -> None:
        """Create an empty pool of connections.

        Args:
            options: Host-key, reconnect and session settings.
            max_concurrency: Commands in flight at once (ignored when ``limiter`` is given).
            limiter: A semaphore shared with other transports (``SshPool`` shares one between
                its backends so the bound holds across them).
        """
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.options = options or TransportOptions()
        self.policy = HostKeyPolicy(
            self.options.known_hosts, accept_new=self.options.accept_new_host_keys
        )
        self._limiter = limiter or asyncio.Semaphore(max_concurrency)
        self._slots: dict[SshTarget, _Slot[ConnT]] = {}
        self._cleanups: set[asyncio.Task[None]] = set()
        self._inflight: set[Callable[[], None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    # -- what a backend supplies -------------------------------------------------------------

    @abstractmethod
    async def _connect(
        self, target: SshTarget, via: ConnT | None, accepted: list[Acceptance]
    ) -> ConnT:
        """Open and authenticate a connection (raise the errors ``run`` documents).

        Host keys accepted on the way are appended to ``accepted`` even if the connection then
        fails, so they are still reported.
        """

    @abstractmethod
    def _alive(self, conn: ConnT) -> bool:
        """Whether ``conn`` can still carry commands."""

    @abstractmethod
    def _lost_reason(self, conn: ConnT) -> str:
        """A short phrase saying why ``conn`` is no longer alive."""

    @abstractmethod
    async def _execute(
        self,
        conn: ConnT,
        target: SshTarget,
        command: str,
        *,
        command_timeout: float | None,
        collector: OutputCollector,
        stdin: str | None,
    ) -> Outcome:
        """Run one command on an open connection (see ``Transport.run`` for cancellation)."""

    @abstractmethod
    async def _close_conn(self, conn: ConnT) -> None:
        """Close ``conn`` (bounded in time, never raising)."""

    # -- shared machinery --------------------------------------------------------------------

    @contextlib.contextmanager
    def _running(self, stop: Callable[[], None]) -> Iterator[None]:
        """Register how to stop a command in flight, so ``close`` can stop it."""
        self._inflight.add(stop)
        self._idle.clear()
        try:
            yield
        finally:
            self._inflight.discard(stop)
            if not self._inflight:
                self._idle.set()

    def _track(self, task: asyncio.Task[None]) -> None:
        """Keep a background clean-up (stopping a cancelled command) until it finishes."""
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    def _report_acceptances(self, accepted: list[Acceptance]) -> None:
        hook = self.options.on_host_key_accepted
        for item in accepted:
            if hook is not None:
                hook(item.host, item.key_type, item.fingerprint)

    async def _connection(self, target: SshTarget) -> tuple[ConnT, bool]:
        """The live connection for ``target``, opening or re-opening it once if needed.

        Returns:
            The connection and whether it had to be re-established after a drop (reported
            through ``on_reconnect`` by this call).
        """
        slot = self._slots.get(target)
        if slot is None:
            slot = self._slots[target] = _Slot()
        conn = slot.conn
        if conn is not None and self._alive(conn):
            return conn, False
        async with slot.lock:
            conn = slot.conn
            if conn is not None and self._alive(conn):
                return conn, False
            if conn is not None:
                slot.dropped = slot.dropped or self._lost_reason(conn)
                slot.conn = None
                await self._close_conn(conn)
            # Kept across a failed attempt: the next connection that works is still a reconnect.
            reason = slot.dropped
            via: ConnT | None = None
            jump_reconnected = False
            if target.jump is not None:
                via, jump_reconnected = await self._connection(target.jump)
            accepted: list[Acceptance] = []
            try:
                conn = await self._connect(target, via, accepted)
            finally:
                self._report_acceptances(accepted)
            slot.conn = conn
            slot.dropped = None
            slot.sessions = asyncio.Semaphore(self.options.max_sessions_per_connection)
            if reason is not None and self.options.on_reconnect is not None:
                self.options.on_reconnect(target.name, reason)
            return conn, reason is not None or jump_reconnected

    async def _abandon(self, target: SshTarget, conn: ConnT, reason: str) -> None:
        slot = self._slots.get(target)
        if slot is not None and slot.conn is conn:
            slot.dropped = reason
        await self._close_conn(conn)

    async def run(
        self,
        target: SshTarget,
        command: str,
        *,
        timeout: float | None = None,
        on_line: OnLine | None = None,
        max_lines: int = 2000,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run ``command`` on ``target``; see ``Transport.run``."""
        if self._closed:
            raise RuntimeError("transport is closed")
        collector = OutputCollector(target.name, max_lines, on_line)
        async with self._limiter:
            conn, reconnected = await self._connection(target)
            try:
                outcome, duration = await self._execute_in_session(
                    conn, target, command, command_timeout=timeout, collector=collector, stdin=stdin
                )
            except SessionNotOpened as exc:
                # The command was never sent, so re-opening the connection once is safe.
                await self._abandon(target, conn, exc.reason)
                conn, _ = await self._connection(target)
                reconnected = True
                try:
                    outcome, duration = await self._execute_in_session(
                        conn,
                        target,
                        command,
                        command_timeout=timeout,
                        collector=collector,
                        stdin=stdin,
                    )
                except SessionNotOpened as again:
                    raise ConnectionLost(
                        target.name,
                        f"connection to {target.endpoint} dropped twice before the command "
                        f"could be sent ({again.reason}); the command did not run",
                    ) from again
        collector.flush()
        result = collector.result(
            command,
            exit_status=outcome.exit_status,
            signal=outcome.signal,
            duration=duration,
            timed_out=outcome.timed_out,
            reconnected=reconnected,
        )
        if outcome.abandon:
            await self._abandon(target, conn, "the host stopped answering after a command timeout")
        collector.raise_callback_error()
        if outcome.lost is not None:
            raise ConnectionLost(
                target.name,
                f"connection to {target.endpoint} lost while running the command "
                f"({outcome.lost}); it may or may not have completed: check the host before "
                "running it again",
                partial=result,
            )
        return result

    async def _execute_in_session(
        self,
        conn: ConnT,
        target: SshTarget,
        command: str,
        *,
        command_timeout: float | None,
        collector: OutputCollector,
        stdin: str | None,
    ) -> tuple[Outcome, float]:
        slot = self._slots[target]
        assert slot.sessions is not None
        async with slot.sessions:
            for delay in (*SESSION_RETRY_DELAYS, None):
                started = time.monotonic()
                try:
                    outcome = await self._execute(
                        conn,
                        target,
                        command,
                        command_timeout=command_timeout,
                        collector=collector,
                        stdin=stdin,
                    )
                except SessionRefused:
                    # Nothing ran. OpenSSH frees a finished session's slot only after it has
                    # read the packets already queued behind our channel close, so an open
                    # sent right after a command ended can be refused under MaxSessions.
                    if delay is None:
                        raise
                    await asyncio.sleep(delay)
                    continue
                return outcome, time.monotonic() - started
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Stop commands still running (SIGTERM, then SIGKILL), then close connections.

        Bounded: a few times ``stop_grace`` at most. Their ``run`` calls return with the
        signal that ended them.
        """
        self._closed = True
        for stop in list(self._inflight):
            stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=self.options.stop_grace * 2 + 1)
        if self._cleanups:
            await asyncio.wait(set(self._cleanups), timeout=self.options.stop_grace * 2 + 1)
        # Tunnelled connections close before the jump connections they ride on.
        slots = [slot for _, slot in sorted(self._slots.items(), key=lambda kv: -_depth(kv[0]))]
        self._slots.clear()
        for slot in slots:
            if slot.conn is not None:
                await self._close_conn(slot.conn)
                slot.conn = None
