"""Where a command goes: one SSH endpoint as the engine describes it from an inventory host.

A target is a frozen value so that it can key the pool's connection cache: two commands for the
same target share one connection. The engine builds targets from the inventory's ``ssh:``
defaults and per-host overrides; nothing here reads files.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Literal

Backend = Literal["asyncssh", "paramiko"]
"""The SSH library that carries a target's connection."""


@dataclass(frozen=True)
class SshTarget:
    """One SSH endpoint and how to log in to it."""

    name: str
    """Inventory host name, used in every message."""
    address: str
    """IP address or DNS name to connect to."""
    port: int = 22
    """TCP port of the sshd."""
    user: str | None = None
    """Login user; None means the user running drconsole."""
    identity_file: str | None = None
    """Private key to log in with (``~`` expanded). When set, only this key is offered (like
    OpenSSH's ``IdentitiesOnly``); None means the ssh-agent's keys, then the default keys."""
    known_hosts: str | None = None
    """known_hosts file for strict host-key checking (``~`` expanded); None means
    ``~/.ssh/known_hosts``."""
    connect_timeout: float = 10.0
    """Seconds allowed for TCP connect, SSH handshake and authentication together."""
    jump: SshTarget | None = None
    """Reach this target through another one (OpenSSH's ProxyJump)."""
    backend: Backend = "asyncssh"
    """Which implementation carries the connection; the jump host's connection is made by the
    same backend as the target that needs it."""

    @property
    def login(self) -> str:
        """The user name that logs in (``user`` or the local user)."""
        return self.user or getpass.getuser()

    @property
    def identity_path(self) -> str | None:
        """``identity_file`` with ``~`` expanded."""
        return os.path.expanduser(self.identity_file) if self.identity_file else None

    @property
    def known_hosts_path(self) -> str:
        """The known_hosts file checked for this target, ``~`` expanded."""
        return os.path.expanduser(self.known_hosts or "~/.ssh/known_hosts")

    @property
    def endpoint(self) -> str:
        """``user@address:port`` for messages."""
        return f"{self.login}@{self.address}:{self.port}"
