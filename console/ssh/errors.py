"""The ways reaching a host or running a command on it can fail.

Each is an ``SshError`` (so callers that only care "this host failed" catch one type) whose
message names the host and says what to check. A changed or unknown host key is the project-wide
``console.errors.HostKeyError``. Each names its ``ErrorKind``, which the engine records with the
failure, so readers tell a refused key from a dark host without parsing the message. A command
that runs and exits non-zero is not an error: it is a ``CommandResult``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.errors import ErrorKind, SshError

if TYPE_CHECKING:
    from console.ssh.result import CommandResult
    from console.ssh.target import SshTarget

__all__ = [
    "AuthFailed",
    "ConnectFailed",
    "ConnectRefused",
    "ConnectTimeout",
    "ConnectionLost",
    "IdentityError",
    "SessionRefused",
    "SshError",
]


class ConnectRefused(SshError):
    """Nothing listens on the host's SSH port (TCP connection refused)."""

    kind = ErrorKind.CONNECT_REFUSED


class ConnectTimeout(SshError):
    """The host did not complete TCP connect, SSH handshake and login within connect_timeout."""

    kind = ErrorKind.CONNECT_TIMEOUT


class ConnectFailed(SshError):
    """Any other failure to establish the connection (name resolution, route, protocol)."""


class AuthFailed(SshError):
    """The server refused every key offered for the login user."""

    kind = ErrorKind.AUTH


class IdentityError(SshError):
    """The configured identity file cannot be used (missing, unreadable, encrypted)."""

    kind = ErrorKind.IDENTITY


class SessionRefused(SshError):
    """The connection is up but the server refused to open a session for the command."""

    kind = ErrorKind.SESSION_REFUSED


class ConnectionLost(SshError):
    """The connection dropped while a command was starting or running.

    The command may or may not have run to completion on the host; it is never re-sent.
    """

    kind = ErrorKind.CONNECTION_LOST

    def __init__(self, host: str, message: str, partial: CommandResult | None = None) -> None:
        super().__init__(host, message)
        self.partial = partial
        """What had arrived before the drop (output lines, duration), when anything had."""


def refused(target: SshTarget) -> ConnectRefused:
    """The error for a closed SSH port."""
    return ConnectRefused(
        target.name,
        f"connection refused by {target.address}:{target.port}; "
        "check that sshd runs there and listens on that port",
    )


def timed_out(target: SshTarget) -> ConnectTimeout:
    """The error for a host that did not answer within its connect timeout."""
    return ConnectTimeout(
        target.name,
        f"no SSH answer from {target.address}:{target.port} within "
        f"{target.connect_timeout:g}s; the host may be down, stopped or behind a firewall",
    )


def auth_failed(target: SshTarget) -> AuthFailed:
    """The error for a refused login."""
    offered = (
        f"identity file {target.identity_path}"
        if target.identity_path
        else "the ssh-agent's keys and the default keys"
    )
    return AuthFailed(
        target.name,
        f"login as {target.login} refused by {target.address}:{target.port} "
        f"(offered {offered}); check that the public key is in {target.login}'s "
        "authorized_keys on the host",
    )


def jump_failed(target: SshTarget, reason: str) -> SshError:
    """The error for a jump host that could not open the tunnel to the target."""
    jump = target.jump.name if target.jump is not None else "the jump host"
    message = (
        f"{jump} could not reach {target.address}:{target.port} ({reason}); check that sshd "
        "listens there and that the jump host allows TCP forwarding"
    )
    if "refused" in reason.lower():
        return ConnectRefused(target.name, message)
    return ConnectFailed(target.name, message)


def session_refused(target: SshTarget, reason: str) -> SessionRefused:
    """The error for a session the server would not open on a live connection."""
    return SessionRefused(
        target.name,
        f"{target.address}:{target.port} refused a session for the command ({reason}); "
        "the server may limit sessions per connection (MaxSessions)",
    )


def lost_while_starting(target: SshTarget, reason: str) -> ConnectionLost:
    """The error for a connection that dropped while the exec request was in flight."""
    return ConnectionLost(
        target.name,
        f"connection to {target.endpoint} lost while starting the command ({reason}); it may "
        "or may not have started: check the host before running it again",
    )
