"""The default backend: asyncssh, persistent connections on the event loop itself.

asyncssh runs on the same event loop as the engine, so hundreds of hosts cost no threads. Output
arrives through a session object's callbacks (no reader task per stream), which keeps a warm
fan-out as cheap as a bare asyncssh loop. Host keys are checked by our own policy (the same one
the paramiko backend applies) through asyncssh's ``validate_host_public_key`` hook. A remote
command is stopped with SSH ``signal`` requests: OpenSSH (7.9+) delivers them to the session's
whole process group, so ``sleep 300; echo`` dies with its shell, which was verified on 9.2.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncssh

from console.errors import HostKeyError
from console.ssh.errors import (
    ConnectFailed,
    IdentityError,
    auth_failed,
    jump_failed,
    lost_while_starting,
    refused,
    session_refused,
    timed_out,
)
from console.ssh.hostkeys import Acceptance, HostKeyPolicy, KnownKey, preferred_algorithms
from console.ssh.output import OutputCollector
from console.ssh.result import Stream
from console.ssh.target import SshTarget
from console.ssh.transport import Outcome, PersistentTransport, SessionNotOpened

_DEFAULT_HOST_KEY_ALGS = [
    alg.decode("ascii") for alg in asyncssh.public_key.get_default_public_key_algs()
]


class _Client(asyncssh.SSHClient):
    """Checks the host key with our policy and remembers why a connection ended."""

    def __init__(self, policy: HostKeyPolicy, target: SshTarget, accepted: list[Acceptance]):
        self._policy = policy
        self._target = target
        self._accepted = accepted
        self.refusal: HostKeyError | None = None
        self.lost: str | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        target = self._target
        presented = KnownKey(key.get_algorithm(), key.public_data)
        try:
            accepted = self._policy.check(
                target.name, target.known_hosts_path, target.address, target.port, presented
            )
        except HostKeyError as exc:
            self.refusal = exc
            return False
        if accepted is not None:
            self._accepted.append(accepted)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = _describe(exc) if exc else "connection closed by the server"


@dataclass
class AsyncsshConnection:
    """An open asyncssh connection and the client object watching it."""

    conn: asyncssh.SSHClientConnection
    client: _Client


class _Session(asyncssh.SSHClientSession[str]):
    """Feeds output to the collector and resolves ``done`` when the channel closes."""

    def __init__(self, collector: OutputCollector, done: asyncio.Future[Exception | None]) -> None:
        self.collector = collector
        self.done = done
        self.exit_status: int | None = None
        self.signal: str | None = None

    def data_received(self, data: str, datatype: int | None) -> None:
        stream: Stream = "stderr" if datatype == asyncssh.EXTENDED_DATA_STDERR else "stdout"
        self.collector.feed(stream, data)

    def exit_status_received(self, status: int) -> None:
        self.exit_status = status

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        self.signal = signal

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(exc)


class AsyncsshTransport(PersistentTransport[AsyncsshConnection]):
    """``Transport`` over asyncssh: one persistent connection per target."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as ``PersistentTransport``."""
        super().__init__(*args, **kwargs)
        self._keys: dict[str, tuple[int, asyncssh.SSHKey]] = {}

    def _load_identity(self, target: SshTarget) -> asyncssh.SSHKey:
        path = target.identity_path
        assert path is not None
        cache = self._keys
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError as exc:
            raise IdentityError(
                target.name, f"identity file {path} cannot be read: {exc.strerror or exc}"
            ) from exc
        cached = cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            key = asyncssh.read_private_key(path)
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            hint = (
                "it is encrypted: load it into ssh-agent and leave identity_file unset"
                if "assphrase" in str(exc)
                else str(exc)
            )
            raise IdentityError(
                target.name, f"identity file {path} cannot be used: {hint}"
            ) from exc
        except OSError as exc:
            raise IdentityError(
                target.name, f"identity file {path} cannot be read: {exc.strerror or exc}"
            ) from exc
        cache[path] = (mtime, key)
        return key

    async def _connect(
        self, target: SshTarget, via: AsyncsshConnection | None, accepted: list[Acceptance]
    ) -> AsyncsshConnection:
        known = self.policy.lookup(target.known_hosts_path, target.address, target.port)
        trusted: list[asyncssh.SSHKey] = []
        for item in known.trusted:
            with contextlib.suppress(asyncssh.KeyImportError):
                trusted.append(asyncssh.import_public_key(item.openssh))
        client = _Client(self.policy, target, accepted)
        kwargs: dict[str, Any] = {
            "port": target.port,
            "username": target.login,
            "known_hosts": (trusted, [], []),
            "server_host_key_algs": preferred_algorithms(known.key_types, _DEFAULT_HOST_KEY_ALGS),
            "client_factory": _factory(client),
            "connect_timeout": target.connect_timeout,
            "keepalive_interval": self.options.keepalive_interval,
            "keepalive_count_max": 3,
            "config": None,
            "gss_host": None,
        }
        if target.identity_path is not None:
            kwargs["client_keys"] = [self._load_identity(target)]
            kwargs["agent_path"] = None
        if via is not None:
            kwargs["tunnel"] = via.conn
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(target.address, **kwargs), timeout=target.connect_timeout + 2
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            if client.refusal is not None:
                raise client.refusal from None
            raise ConnectFailed(target.name, f"host key not verifiable: {exc.reason}") from exc
        except asyncssh.PermissionDenied as exc:
            raise auth_failed(target) from exc
        except ConnectionRefusedError as exc:
            raise refused(target) from exc
        except TimeoutError as exc:
            raise timed_out(target) from exc
        except asyncssh.ChannelOpenError as exc:
            raise jump_failed(target, exc.reason) from exc
        except OSError as exc:
            raise ConnectFailed(
                target.name,
                f"cannot connect to {target.address}:{target.port}: {exc.strerror or exc}",
            ) from exc
        except asyncssh.DisconnectError as exc:
            if client.refusal is not None:
                raise client.refusal from None
            raise ConnectFailed(
                target.name,
                f"SSH handshake with {target.address}:{target.port} failed: {exc.reason}",
            ) from exc
        return AsyncsshConnection(conn, client)

    def _alive(self, conn: AsyncsshConnection) -> bool:
        return conn.client.lost is None and not conn.conn.is_closed()

    def _lost_reason(self, conn: AsyncsshConnection) -> str:
        return conn.client.lost or "connection closed"

    async def _execute(
        self,
        conn: AsyncsshConnection,
        target: SshTarget,
        command: str,
        *,
        command_timeout: float | None,
        collector: OutputCollector,
        stdin: str | None,
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        deadline = None if command_timeout is None else loop.time() + command_timeout
        done: asyncio.Future[Exception | None] = loop.create_future()
        opening = loop.create_task(
            conn.conn.create_session(
                lambda: _Session(collector, done), command, encoding="utf-8", errors="replace"
            )
        )
        try:
            opened, _ = await asyncio.wait({opening}, timeout=command_timeout)
        except asyncio.CancelledError:
            opening.add_done_callback(_stop_if_opened)
            raise
        if not opened:
            # The host does not even open a session within the command's time: it has stopped
            # answering. Nothing ran that we know of; if the session opens later it is stopped.
            opening.add_done_callback(_stop_if_opened)
            return Outcome(timed_out=True, abandon=True)
        try:
            chan, session = opening.result()
        except asyncssh.ChannelOpenError as exc:
            if exc.code == asyncssh.OPEN_REQUEST_SESSION_FAILED:
                # The channel was open and the exec request sent: if the connection is gone,
                # the command may have started, so it is never re-sent.
                if not self._alive(conn):
                    raise lost_while_starting(target, self._lost_reason(conn)) from exc
            elif not self._alive(conn):
                raise SessionNotOpened(self._lost_reason(conn)) from exc
            raise session_refused(target, exc.reason) from exc
        except (asyncssh.DisconnectError, OSError) as exc:
            raise lost_while_starting(target, _describe(exc)) from exc
        assert isinstance(session, _Session)
        if stdin is not None:
            chan.write(stdin)
        chan.write_eof()
        stopping = False

        def stop() -> None:
            # SIGTERM now, SIGKILL later in the background: a cancellation is never held up;
            # ``close`` waits for the background part.
            nonlocal stopping
            if not stopping:
                stopping = True
                _signal(chan, "TERM")
                self._track(loop.create_task(self._stop_quietly(chan, done)))

        with self._running(stop):
            try:
                left = None if deadline is None else max(deadline - loop.time(), 0.0)
                finished, _ = await asyncio.wait({done}, timeout=left)
            except asyncio.CancelledError:
                stop()
                raise
            timed_out = not finished
            answered = True
            if timed_out and not stopping:
                stopping = True
                answered = await self._stop(chan, done, already_termed=False)
            elif timed_out:
                await asyncio.wait({done}, timeout=self.options.stop_grace * 2 + 1)
                answered = done.done()
        error = done.result() if done.done() else None
        lost: str | None = None
        no_status = session.exit_status is None and session.signal is None
        if no_status and not timed_out and (error is not None or not self._alive(conn)):
            lost = _describe(error) if error is not None else self._lost_reason(conn)
        return Outcome(
            exit_status=session.exit_status,
            signal=session.signal,
            timed_out=timed_out,
            lost=lost,
            abandon=not answered,
        )

    async def _stop(
        self,
        chan: asyncssh.SSHClientChannel[str],
        done: asyncio.Future[Any],
        *,
        already_termed: bool,
    ) -> bool:
        """SIGTERM, then SIGKILL; True when the command ended (the host closed the channel).

        A channel still open after both is closed from our side and False returned: the host
        no longer answers (or something escaped the process group and holds the output open).
        """
        for name in ("TERM", "KILL"):
            if done.done():
                return True
            if not (name == "TERM" and already_termed):
                _signal(chan, name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), timeout=self.options.stop_grace)
        if done.done():
            return True
        chan.close()
        return False

    async def _stop_quietly(
        self, chan: asyncssh.SSHClientChannel[str], done: asyncio.Future[Any]
    ) -> None:
        await self._stop(chan, done, already_termed=True)

    async def _close_conn(self, conn: AsyncsshConnection) -> None:
        conn.conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.conn.wait_closed(), timeout=5)


def _stop_if_opened(
    opening: asyncio.Task[tuple[asyncssh.SSHClientChannel[str], asyncssh.SSHClientSession[str]]],
) -> None:
    """A session that opened after its caller gave up: stop whatever started and close it."""
    if opening.cancelled() or opening.exception() is not None:
        return
    chan, _ = opening.result()
    _signal(chan, "TERM")
    _signal(chan, "KILL")
    chan.close()


def _describe(exc: BaseException) -> str:
    return f"connection lost: {str(exc) or type(exc).__name__}"


def _factory(client: _Client) -> Callable[[], _Client]:
    return lambda: client


def _signal(chan: asyncssh.SSHClientChannel[str], name: str) -> None:
    """Send a signal request; a channel that is already closing is fine."""
    with contextlib.suppress(Exception):
        chan.send_signal(name)
