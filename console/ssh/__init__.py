"""SSH transport: run commands on inventory hosts over persistent, strictly checked connections.

``SshPool`` is what the rest of drconsole uses; it dispatches each ``SshTarget`` to the
asyncssh (default) or paramiko backend. Both implement ``Transport``. Errors are ``SshError``
subclasses (``console.ssh.errors``) and ``console.errors.HostKeyError``.
"""

from console.errors import HostKeyError, SshError
from console.ssh.errors import (
    AuthFailed,
    ConnectFailed,
    ConnectionLost,
    ConnectRefused,
    ConnectTimeout,
    IdentityError,
    SessionRefused,
)
from console.ssh.pool import SshPool
from console.ssh.result import CommandResult, OutputLine
from console.ssh.target import SshTarget
from console.ssh.transport import Transport

__all__ = [
    "AuthFailed",
    "CommandResult",
    "ConnectFailed",
    "ConnectRefused",
    "ConnectTimeout",
    "ConnectionLost",
    "HostKeyError",
    "IdentityError",
    "OutputLine",
    "SessionRefused",
    "SshError",
    "SshPool",
    "SshTarget",
    "Transport",
]
