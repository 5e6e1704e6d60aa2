"""The second backend: paramiko, for hosts or sites where asyncssh is not wanted.

paramiko is blocking, so every connect and every command runs in a worker thread of this
backend's own executor (never the loop's default one, which has only a handful of threads);
output is handed to the event loop with ``call_soon_threadsafe`` so ``on_line`` is called on the
loop's thread, in order, exactly as with asyncssh. Connections persist between commands like
the asyncssh backend's. Two things paramiko lacks are added on its wire protocol, since the same
test suite must pass on both backends: the ``exit-signal`` channel request is read (paramiko
ignores it, so a killed command would have no signal name) and ``signal`` requests are sent (to
stop a remote command on timeout or cancellation; OpenSSH delivers them to the process group).
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from paramiko.common import (
    MSG_CHANNEL_OPEN_FAILURE,
    MSG_CHANNEL_REQUEST,
    cMSG_CHANNEL_REQUEST,
)

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
from console.ssh.hostkeys import Acceptance, KnownKey, preferred_algorithms
from console.ssh.output import OutputCollector
from console.ssh.result import Stream
from console.ssh.target import SshTarget
from console.ssh.transport import Outcome, PersistentTransport, SessionNotOpened

logging.getLogger("paramiko").addHandler(logging.NullHandler())

_DEFAULT_KEY_FILES = ("id_ed25519", "id_ecdsa", "id_rsa")
"""Keys tried from ``~/.ssh`` when a target names no identity file (after the agent's)."""
_POLL = 0.1
"""Seconds a command thread waits for output before it checks for timeout and cancellation."""
_READ = 65536


@dataclass
class ParamikoConnection:
    """An authenticated paramiko transport and what we learn from its wire."""

    transport: paramiko.Transport
    signals: dict[int, str] = field(default_factory=dict)
    """Signal names from ``exit-signal`` requests, by local channel id."""
    last_open_failure: str = ""
    """The server's own words for the latest refused channel (paramiko keeps only the
    reason code's generic name, which cannot tell "Connection refused" from other failures)."""


def _watch_exit_signals(transport: paramiko.Transport, signals: dict[int, str]) -> None:
    """Record ``exit-signal`` requests, which paramiko itself ignores.

    paramiko dispatches channel messages through the per-transport ``_channel_handler_table``;
    this transport gets its own copy whose channel-request handler peeks at the request and
    then hands the message, rewound, to paramiko's handler.
    """
    table = dict(transport._channel_handler_table)  # type: ignore[attr-defined]
    original = table[MSG_CHANNEL_REQUEST]

    def handle(chan: paramiko.Channel, m: paramiko.Message) -> None:
        start = m.packet.tell()
        try:
            if m.get_text() == "exit-signal":
                m.get_boolean()
                signals[chan.get_id()] = m.get_text()
        except Exception:  # noqa: S110 - a malformed request is paramiko's to reject
            pass
        finally:
            m.packet.seek(start)
        original(chan, m)

    table[MSG_CHANNEL_REQUEST] = handle
    transport._channel_handler_table = table  # type: ignore[attr-defined]


def _watch_open_failures(conn: ParamikoConnection) -> None:
    """Keep the server's text of channel-open failures (paramiko's per-instance handler table
    is made for this kind of extension)."""
    transport = conn.transport
    table = transport._handler_table  # type: ignore[attr-defined]
    original = table[MSG_CHANNEL_OPEN_FAILURE]

    def handle(m: paramiko.Message) -> None:
        start = m.packet.tell()
        try:
            m.get_int()
            m.get_int()
            conn.last_open_failure = m.get_text()
        except Exception:  # noqa: S110 - a malformed message is paramiko's to reject
            pass
        finally:
            m.packet.seek(start)
        original(m)

    table[MSG_CHANNEL_OPEN_FAILURE] = handle


def _send_signal(chan: paramiko.Channel, name: str) -> None:
    """Send an RFC 4254 ``signal`` request (paramiko has no API for it)."""
    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("signal")
    m.add_boolean(False)
    m.add_string(name)
    with contextlib.suppress(Exception):
        chan.transport._send_user_message(m)  # type: ignore[union-attr]


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return max(self.at - time.monotonic(), 0.01)

    def passed(self) -> bool:
        return time.monotonic() >= self.at - 0.05


class ParamikoTransport(PersistentTransport[ParamikoConnection]):
    """``Transport`` over paramiko, blocking work in this backend's own threads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as ``PersistentTransport``."""
        super().__init__(*args, **kwargs)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=512, thread_name_prefix="drconsole-paramiko"
        )
        self._keys: dict[str, tuple[int, paramiko.PKey]] = {}
        self._keys_lock = threading.Lock()

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    # -- connecting --------------------------------------------------------------------------

    async def _connect(
        self, target: SshTarget, via: ParamikoConnection | None, accepted: list[Acceptance]
    ) -> ParamikoConnection:
        loop = asyncio.get_running_loop()
        cancelled = threading.Event()
        future = loop.run_in_executor(
            self._executor, self._connect_blocking, target, via, accepted, cancelled
        )
        try:
            return await asyncio.wait_for(asyncio.shield(future), target.connect_timeout + 5)
        except TimeoutError as exc:
            cancelled.set()
            future.add_done_callback(_close_unwanted)
            raise timed_out(target) from exc
        except asyncio.CancelledError:
            cancelled.set()
            future.add_done_callback(_close_unwanted)
            raise

    def _connect_blocking(
        self,
        target: SshTarget,
        via: ParamikoConnection | None,
        accepted: list[Acceptance],
        cancelled: threading.Event,
    ) -> ParamikoConnection:
        deadline = _Deadline(target.connect_timeout)
        sock = self._open_socket(target, via, deadline)
        transport = paramiko.Transport(sock)
        try:
            conn = self._handshake(target, transport, deadline, accepted)
            if cancelled.is_set():
                raise timed_out(target)
            return conn
        except BaseException:
            transport.close()
            raise

    def _open_socket(
        self, target: SshTarget, via: ParamikoConnection | None, deadline: _Deadline
    ) -> socket.socket | paramiko.Channel:
        address = (target.address, target.port)
        if via is not None:
            try:
                return via.transport.open_channel(
                    "direct-tcpip", address, ("127.0.0.1", 0), timeout=deadline.left()
                )
            except paramiko.ChannelException as exc:
                raise jump_failed(target, via.last_open_failure or exc.text) from exc
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if deadline.passed():
                    raise timed_out(target) from exc
                raise jump_failed(target, str(exc) or type(exc).__name__) from exc
        try:
            sock = socket.create_connection(address, timeout=deadline.left())
        except ConnectionRefusedError as exc:
            raise refused(target) from exc
        except TimeoutError as exc:
            raise timed_out(target) from exc
        except OSError as exc:
            raise ConnectFailed(
                target.name,
                f"cannot connect to {target.address}:{target.port}: {exc.strerror or exc}",
            ) from exc
        # Small request/reply packets: without this, Nagle's algorithm meets delayed ACKs and
        # every command waits ~40 ms (measured: 53 ms per `true` instead of a few).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _handshake(
        self,
        target: SshTarget,
        transport: paramiko.Transport,
        deadline: _Deadline,
        accepted: list[Acceptance],
    ) -> ParamikoConnection:
        known = self.policy.lookup(target.known_hosts_path, target.address, target.port)
        security = transport.get_security_options()
        security.key_types = preferred_algorithms(known.key_types, security.key_types)
        transport.banner_timeout = deadline.left()
        transport.handshake_timeout = deadline.left()
        conn = ParamikoConnection(transport)
        _watch_exit_signals(transport, conn.signals)
        _watch_open_failures(conn)
        try:
            # start_client returns quietly when its timeout passes; asking for the key then
            # raises, so both the timeout and a failed negotiation end up below.
            transport.start_client(timeout=deadline.left())
            server_key = transport.get_remote_server_key()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if deadline.passed() or "banner" in str(exc):
                raise timed_out(target) from exc
            raise ConnectFailed(
                target.name,
                f"SSH handshake with {target.address}:{target.port} failed: {exc}",
            ) from exc
        presented = KnownKey(server_key.get_name(), server_key.asbytes())
        acceptance = self.policy.check(
            target.name, target.known_hosts_path, target.address, target.port, presented
        )
        if acceptance is not None:
            accepted.append(acceptance)
        self._authenticate(target, transport, deadline)
        transport.set_keepalive(int(self.options.keepalive_interval))
        return conn

    def _authenticate(
        self, target: SshTarget, transport: paramiko.Transport, deadline: _Deadline
    ) -> None:
        keys: list[paramiko.PKey] = []
        agent: paramiko.Agent | None = None
        if target.identity_path is not None:
            keys.append(self._load_identity(target))
        else:
            if os.environ.get("SSH_AUTH_SOCK"):
                agent = paramiko.Agent()
                keys.extend(agent.get_keys())
            keys.extend(_default_keys())
        try:
            for key in keys:
                transport.auth_timeout = deadline.left()
                try:
                    transport.auth_publickey(target.login, key)
                except paramiko.AuthenticationException:
                    if deadline.passed():
                        raise timed_out(target) from None
                    if not transport.is_active():
                        break
                    continue
                except (paramiko.SSHException, EOFError, OSError) as exc:
                    if deadline.passed():
                        raise timed_out(target) from exc
                    raise ConnectFailed(
                        target.name,
                        f"authentication with {target.address}:{target.port} broke off: {exc}",
                    ) from exc
                if transport.is_authenticated():
                    return
        finally:
            if agent is not None:
                agent.close()
        raise auth_failed(target)

    def _load_identity(self, target: SshTarget) -> paramiko.PKey:
        path = target.identity_path
        assert path is not None
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError as exc:
            raise IdentityError(
                target.name, f"identity file {path} cannot be read: {exc.strerror or exc}"
            ) from exc
        with self._keys_lock:
            cached = self._keys.get(path)
            if cached is not None and cached[0] == mtime:
                return cached[1]
        try:
            key = paramiko.PKey.from_path(path)
        except (paramiko.PasswordRequiredException, TypeError) as exc:
            # cryptography raises TypeError("Key is password-protected, ...") for new-format keys
            if isinstance(exc, TypeError) and "password" not in str(exc):
                raise
            raise IdentityError(
                target.name,
                f"identity file {path} cannot be used: it is encrypted: load it into ssh-agent "
                "and leave identity_file unset",
            ) from exc
        except (paramiko.SSHException, OSError, ValueError) as exc:
            raise IdentityError(target.name, f"identity file {path} cannot be used: {exc}") from exc
        with self._keys_lock:
            self._keys[path] = (mtime, key)
        return key

    def _alive(self, conn: ParamikoConnection) -> bool:
        return conn.transport.is_active()

    def _lost_reason(self, conn: ParamikoConnection) -> str:
        return _describe_loss(conn.transport)

    async def _close_conn(self, conn: ParamikoConnection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._in_thread(conn.transport.close), timeout=5)

    # -- running -----------------------------------------------------------------------------

    async def _execute(
        self,
        conn: ParamikoConnection,
        target: SshTarget,
        command: str,
        *,
        command_timeout: float | None,
        collector: OutputCollector,
        stdin: str | None,
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def emit(stream: Stream, text: str) -> None:
            loop.call_soon_threadsafe(collector.feed, stream, text)

        job = _Job(
            conn=conn,
            target=target,
            command=command,
            command_timeout=command_timeout,
            stdin=stdin,
            emit=emit,
            stop=stop,
            grace=self.options.stop_grace,
        )
        future = loop.run_in_executor(self._executor, job.run)
        with self._running(stop.set):
            try:
                outcome: Outcome = await asyncio.shield(future)
            except asyncio.CancelledError:
                # The thread sends SIGTERM (then SIGKILL) as soon as it sees ``stop``.
                stop.set()
                self._track(asyncio.ensure_future(_settle(future)))
                raise
        return outcome

    async def close(self) -> None:
        """Close every connection, then let the worker threads go."""
        await super().close()
        self._executor.shutdown(wait=False, cancel_futures=True)


async def _settle(future: asyncio.Future[Any]) -> None:
    with contextlib.suppress(BaseException):
        await future


def _close_unwanted(future: asyncio.Future[Any]) -> None:
    """A connection that finished after its caller gave up is closed, not leaked."""
    if future.cancelled() or future.exception() is not None:
        return
    result = future.result()
    if isinstance(result, ParamikoConnection):
        result.transport.close()


def _describe_loss(transport: paramiko.Transport, fallback: BaseException | None = None) -> str:
    """Why a paramiko transport stopped, in a few words."""
    exc = transport.get_exception() or fallback
    if exc is None:
        return "connection closed"
    return f"connection lost: {str(exc) or type(exc).__name__}"


def _default_keys() -> list[paramiko.PKey]:
    keys: list[paramiko.PKey] = []
    for name in _DEFAULT_KEY_FILES:
        path = Path.home() / ".ssh" / name
        if path.is_file():
            with contextlib.suppress(paramiko.SSHException, OSError, ValueError, TypeError):
                keys.append(paramiko.PKey.from_path(str(path)))
    return keys


class _NoAnswer(Exception):
    """The host did not open a session or take the command within its timeout."""


class _Job:
    """One command on one paramiko channel, run in a worker thread."""

    def __init__(
        self,
        *,
        conn: ParamikoConnection,
        target: SshTarget,
        command: str,
        command_timeout: float | None,
        stdin: str | None,
        emit: Callable[[Stream, str], None],
        stop: threading.Event,
        grace: float,
    ) -> None:
        self.conn = conn
        self.target = target
        self.command = command
        self.deadline = None if command_timeout is None else time.monotonic() + command_timeout
        self.stdin = stdin
        self.emit = emit
        self.stop = stop
        self.grace = grace
        self.decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")(errors="replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }

    def run(self) -> Outcome:
        try:
            chan = self._open()
        except _NoAnswer:
            return Outcome(timed_out=True, abandon=True)
        try:
            if self.stdin is not None:
                chan.sendall(self.stdin.encode("utf-8"))
            chan.shutdown_write()
        except (paramiko.SSHException, EOFError, OSError):
            pass  # the command may already have exited; its status tells the rest
        timed_out = False
        try:
            ended = self._pump(chan, lambda: self.stop.is_set() or self._expired())
            if not ended:
                timed_out = not self.stop.is_set()
                ended = self._stop_remote(chan)
        finally:
            chan.close()  # also releases the pipe behind chan.fileno()
        self._flush()
        signal_name = self.conn.signals.pop(chan.get_id(), None)
        status = chan.exit_status if chan.exit_status != -1 and signal_name is None else None
        lost: str | None = None
        if status is None and signal_name is None and not timed_out and not self.stop.is_set():
            transport = self.conn.transport
            if not transport.is_active():
                lost = _describe_loss(transport)
        return Outcome(
            exit_status=status,
            signal=signal_name,
            timed_out=timed_out,
            lost=lost,
            abandon=not ended,
        )

    def _open(self) -> paramiko.Channel:
        """Open a session and send the exec request, within the command's time.

        Raises:
            _NoAnswer: The host did not answer within the command's timeout.
        """
        transport = self.conn.transport
        left = None if self.deadline is None else max(self.deadline - time.monotonic(), 0.01)
        try:
            chan = transport.open_session(timeout=left if left is not None else 3600)
        except paramiko.ChannelException as exc:
            raise session_refused(self.target, exc.text) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if not transport.is_active():
                raise SessionNotOpened(_describe_loss(transport, exc)) from exc
            if self._expired():
                raise _NoAnswer from exc
            raise session_refused(self.target, str(exc)) from exc
        # exec_command waits for the reply without a timeout: closing the channel when the
        # command's time is up makes it return.
        watchdog = None
        if self.deadline is not None:
            watchdog = threading.Timer(max(self.deadline - time.monotonic(), 0.01), chan.close)
            watchdog.daemon = True
            watchdog.start()
        try:
            chan.exec_command(self.command)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            chan.close()
            if not transport.is_active():
                # The exec request may have reached the host: never re-send.
                raise lost_while_starting(self.target, str(exc) or type(exc).__name__) from exc
            if self._expired():
                raise _NoAnswer from exc
            raise session_refused(self.target, str(exc) or "exec request refused") from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
        return chan

    def _expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _drain(self, chan: paramiko.Channel) -> None:
        while chan.recv_ready():
            self._feed("stdout", chan.recv(_READ))
        while chan.recv_stderr_ready():
            self._feed("stderr", chan.recv_stderr(_READ))

    def _feed(self, stream: Stream, data: bytes) -> None:
        text = self.decoders[stream].decode(data)
        if text:
            self.emit(stream, text)

    def _flush(self) -> None:
        for stream in ("stdout", "stderr"):
            text = self.decoders[stream].decode(b"", final=True)
            if text:
                self.emit(stream, text)

    def _pump(self, chan: paramiko.Channel, give_up: Callable[[], bool]) -> bool:
        """Deliver output until the channel closes (True) or ``give_up`` says so (False)."""
        while True:
            self._drain(chan)
            if chan.closed:
                self._drain(chan)
                return True
            if give_up():
                return False
            select.select([chan], [], [], _POLL)

    def _stop_remote(self, chan: paramiko.Channel) -> bool:
        """SIGTERM, then SIGKILL; True when the command ended (the host closed the channel)."""
        for name in ("TERM", "KILL"):
            _send_signal(chan, name)
            until = time.monotonic() + self.grace
            if self._pump(chan, lambda u=until: time.monotonic() >= u):  # type: ignore[misc]
                return True
        return False


__all__ = ["ParamikoConnection", "ParamikoTransport"]
