"""Throwaway real OpenSSH servers for tests, and the faults tests inflict on them.

Any test that needs an SSH host (the transport, the engine, the lab, the status command) starts
a real ``/usr/sbin/sshd`` here rather than a fake: it runs as the lab user (``drlab`` when the
tests run as root, else the current user), key-only, on a loopback address, with a fresh user
key and a known_hosts file that trusts exactly its host key.

Typical use::

    from tests.support.sshd import running_sshd, requires_sshd

    @requires_sshd
    def test_something() -> None:
        with running_sshd(address="127.0.50.1", env={"DRLAB_SITE": "east"}) as host:
            ...  # host.address, host.port, host.user.name, host.identity, host.known_hosts
            host.pause()            # SIGSTOP the listener: new connections hang
            host.pause(include_sessions=True)   # ... and open connections hang too
            host.resume()           # SIGCONT all of it
            host.kill_sessions()    # kill every per-connection sshd child (drops connections)

Several servers may share one user key and one known_hosts file (``SshdKeys``), which is what
an inventory with many hosts looks like. Each helper owns a slice of 127.0.0.0/8; pass an
address from yours. Ports are picked free on that address.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from console.lab.osuser import LabUser, chown_tree, ensure_lab_user
from console.lab.sshd import (
    SSHD,
    SshdHandle,
    SshdSpec,
    child_pids,
    descendant_pids,
    generate_keypair,
    start_sshd,
    stop_sshd,
)

requires_sshd = pytest.mark.skipif(
    not (os.path.exists(SSHD) and shutil.which("ssh-keygen")),
    reason=f"needs OpenSSH server ({SSHD}) and ssh-keygen: apt-get install openssh-server",
)
"""Mark for tests that need a real sshd; skips with a clear reason when it is not installed."""


def free_port(address: str) -> int:
    """A TCP port currently free on ``address`` (the kernel's pick, from the ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def make_workdir(user: LabUser, prefix: str = "drconsole-sshd-") -> Path:
    """A fresh directory under /tmp that ``user`` can read (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    chown_tree(path, user)
    return path


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class SshdKeys:
    """A user key, its authorized_keys file and a known_hosts file, shared by servers."""

    directory: Path
    """Where the three files live."""
    user: LabUser
    """The user the key logs in as."""
    identity: Path
    """Private user key (ed25519, no passphrase)."""
    authorized_keys: Path
    """Contains the public half of ``identity``."""
    known_hosts: Path
    """Starts empty; ``running_sshd`` appends each server's host key line."""


def make_keys(directory: Path, user: LabUser | None = None) -> SshdKeys:
    """Create a user key pair, authorized_keys and an empty known_hosts in ``directory``."""
    user = user or ensure_lab_user()
    directory.mkdir(parents=True, exist_ok=True)
    identity = generate_keypair(directory / "id_ed25519", user, comment="drconsole-test")
    authorized = directory / "authorized_keys"
    authorized.write_text(
        identity.with_name(identity.name + ".pub").read_text(encoding="utf-8"), encoding="utf-8"
    )
    authorized.chmod(0o644)
    known = directory / "known_hosts"
    known.touch()
    chown_tree(directory, user)
    return SshdKeys(directory, user, identity, authorized, known)


@dataclass(frozen=True)
class TestSshd:
    """A running throwaway sshd and what a client needs to reach it."""

    __test__ = False  # not a pytest test class

    handle: SshdHandle
    """The running server (``handle.pid`` is the listener)."""
    keys: SshdKeys
    """User key, authorized_keys and known_hosts for it."""
    host_key_pub: Path = field(repr=False, default=Path())
    """The server's public host key file (for ``ssh-keygen -lf``)."""

    @property
    def address(self) -> str:
        """Loopback address it listens on."""
        return self.handle.spec.address

    @property
    def port(self) -> int:
        """TCP port it listens on."""
        return self.handle.spec.port

    @property
    def user(self) -> LabUser:
        """The only user it can log in."""
        return self.keys.user

    @property
    def identity(self) -> Path:
        """Private key that logs in."""
        return self.keys.identity

    @property
    def known_hosts(self) -> Path:
        """known_hosts file that trusts this server's host key."""
        return self.keys.known_hosts

    @property
    def pid(self) -> int:
        """The listener's pid."""
        return self.handle.pid

    def pause(self, *, include_sessions: bool = False) -> None:
        """SIGSTOP the listener: new connections complete TCP but never get a banner.

        Args:
            include_sessions: Also stop every process below it (open connections and the
                commands they run), as ``lab chaos down`` does to a site: established
                connections then hang too.
        """
        pids = [self.pid, *(descendant_pids(self.pid) if include_sessions else [])]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the listener and everything below it."""
        for pid in [self.pid, *descendant_pids(self.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def session_pids(self) -> list[int]:
        """Per-connection sshd children of the listener: one per open SSH connection.

        Zombies (children a paused listener has not reaped yet) are not sessions.
        """
        return [pid for pid in child_pids(self.pid) if _state(pid) not in ("Z", "")]

    def session_processes(self) -> list[int]:
        """Everything running under the listener: connection children and their commands."""
        return descendant_pids(self.pid)

    def kill_sessions(self, sig: int = signal.SIGKILL) -> int:
        """Drop every open connection by killing its sshd processes; returns how many.

        Each connection is served by a monitor child of the listener and, below it, the
        process that holds the TCP socket (``sshd: user@notty``); both are killed, so the
        client sees the connection go at once. Commands started by the session are left
        running, as after a real network drop.
        """
        sessions = self.session_pids()
        for session in sessions:
            tree = [session, *descendant_pids(session)]
            for pid in tree:
                if pid == session or _comm(pid) == "sshd":
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
        return len(sessions)

    def wait_sessions(self, count: int, timeout: float = 30) -> list[int]:
        """Wait until exactly ``count`` connections are open; returns their pids.

        Raises:
            TimeoutError: The count was not reached in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            pids = self.session_pids()
            if len(pids) == count:
                return pids
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} ssh sessions, have {len(pids)}")
            time.sleep(0.05)

    def ssh_argv(self, command: str) -> list[str]:
        """The OpenSSH client argv running ``command`` here (for cross-checks with ``ssh``)."""
        return [
            "ssh",
            "-p",
            str(self.port),
            "-i",
            str(self.identity),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            f"{self.user.name}@{self.address}",
            command,
        ]

    def fingerprint(self) -> str:
        """The host key's fingerprint as OpenSSH prints it (``SHA256:...``)."""
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", str(self.host_key_pub)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        return out.split()[1]


@contextlib.contextmanager
def running_sshd(
    *,
    address: str = "127.0.50.1",
    port: int | None = None,
    name: str = "test-sshd",
    keys: SshdKeys | None = None,
    env: Mapping[str, str] | None = None,
    options: Mapping[str, str] | None = None,
    trust: bool = True,
    timeout: float = 60,
) -> Iterator[TestSshd]:
    """Start a throwaway sshd; stop it (and every session child) on exit.

    Args:
        address: Loopback address to listen on (use your own slice of 127/8).
        port: TCP port; a free one on ``address`` when None.
        name: Label used in the sshd directory name and messages.
        keys: Shared user key and known_hosts; a fresh set in a fresh directory when None.
        env: ``SetEnv`` values every session sees (e.g. ``{"DRLAB_SITE": "east"}``).
        options: Extra sshd_config keywords (e.g. ``{"MaxSessions": "3"}``).
        trust: Append the host key line to ``keys.known_hosts``.
        timeout: Seconds allowed for sshd to come up.

    Yields:
        The running server.
    """
    own_dir: Path | None = None
    if keys is None:
        user = ensure_lab_user()
        own_dir = make_workdir(user)
        keys = make_keys(own_dir, user)
    directory = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=keys.directory))
    directory.chmod(0o755)
    spec = SshdSpec(
        name=name,
        address=address,
        port=port if port is not None else free_port(address),
        directory=directory,
        authorized_keys=keys.authorized_keys,
        user=keys.user,
        env=dict(env or {}),
        options=dict(options or {}),
    )
    handle = start_sshd(spec, timeout=timeout)
    try:
        if trust:
            with keys.known_hosts.open("a", encoding="utf-8") as fh:
                fh.write(handle.known_hosts_line + "\n")
        yield TestSshd(
            handle=handle,
            keys=keys,
            host_key_pub=spec.host_key.with_name(spec.host_key.name + ".pub"),
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(handle.pid, signal.SIGCONT)
        stop_sshd(handle, timeout=10)
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
