"""The transport the rest of drconsole uses: one pool, both backends behind it.

The engine and the status command hold one ``SshPool`` for their lifetime and hand it targets
built from the inventory; each target says which backend carries it (``ssh.backend`` in the
inventory). Both backends share one concurrency bound, one known_hosts cache and the same
callbacks, so "accepted a new host key" and "reconnected" are reported the same way whatever
library made the connection.
"""

from __future__ import annotations

import asyncio

from console.ssh.asyncssh_backend import AsyncsshTransport
from console.ssh.output import OnLine
from console.ssh.paramiko_backend import ParamikoTransport
from console.ssh.result import CommandResult
from console.ssh.target import SshTarget
from console.ssh.transport import (
    OnHostKeyAccepted,
    OnReconnect,
    Transport,
    TransportOptions,
)


class SshPool(Transport):
    """Persistent SSH connections to many hosts, with bounded concurrency.

    Example::

        async with SshPool(max_concurrency=64) as pool:
            result = await pool.run(target, "pg_isready", timeout=5)
    """

    def __init__(
        self,
        *,
        max_concurrency: int = 64,
        accept_new_host_keys: bool = False,
        on_host_key_accepted: OnHostKeyAccepted | None = None,
        on_reconnect: OnReconnect | None = None,
        max_sessions_per_connection: int = 10,
        stop_grace: float = 2.0,
    ) -> None:
        """Create an empty pool; connections open on first use.

        Args:
            max_concurrency: Commands in flight at once, across all hosts and both backends
                (a connect counts as part of its command).
            accept_new_host_keys: Trust and append keys of hosts missing from known_hosts
                (like OpenSSH's ``StrictHostKeyChecking=accept-new``). Changed keys are always
                refused.
            on_host_key_accepted: Told (host, key_type, fingerprint) for every key accepted,
                so the engine can audit it.
            on_reconnect: Told (host, reason) whenever a dropped connection is re-opened.
            max_sessions_per_connection: Commands sharing one host's connection at once
                (keep at or below the hosts' sshd ``MaxSessions``, default 10).
            stop_grace: Seconds between SIGTERM and SIGKILL when a command is stopped.

        Raises:
            ValueError: ``max_concurrency`` or ``max_sessions_per_connection`` is below 1.
        """
        if max_sessions_per_connection < 1:
            raise ValueError("max_sessions_per_connection must be >= 1")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        options = TransportOptions(
            accept_new_host_keys=accept_new_host_keys,
            on_host_key_accepted=on_host_key_accepted,
            on_reconnect=on_reconnect,
            max_sessions_per_connection=max_sessions_per_connection,
            stop_grace=stop_grace,
        )
        limiter = asyncio.Semaphore(max_concurrency)
        self.max_concurrency = max_concurrency
        """The bound on commands in flight."""
        self._backends: dict[str, Transport] = {
            "asyncssh": AsyncsshTransport(options, limiter=limiter),
            "paramiko": ParamikoTransport(options, limiter=limiter),
        }

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
        """Run ``command`` on ``target`` with the target's backend; see ``Transport.run``."""
        backend = self._backends.get(target.backend)
        if backend is None:
            raise ValueError(f"{target.name}: unknown ssh backend {target.backend!r}")
        return await backend.run(
            target, command, timeout=timeout, on_line=on_line, max_lines=max_lines, stdin=stdin
        )

    async def close(self) -> None:
        """Close every connection of both backends (bounded)."""
        await asyncio.gather(*(b.close() for b in self._backends.values()))
