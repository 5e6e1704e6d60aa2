"""Real OpenSSH ``sshd`` servers on loopback, run as the lab user.

The lab and every SSH test need sshd instances that behave like a real host's: key-only logins,
a stable host key, ``SetEnv`` values that tell a test which "site" answered. Running sshd as the
unprivileged lab user avoids privilege separation and root entirely (such an sshd can log in only
that same user, which is exactly what the lab wants). The settings come from measurements on
this kind of machine (``shared/notes/lab-notes.md`` section 4): ``StrictModes no`` because keys
live under /tmp, ``MaxStartups`` raised for fan-out, ``UsePAM no`` so no PAM stack runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from console.errors import DrError
from console.lab.osuser import LabUser, chown_tree, popen_as, run_as

SSHD = "/usr/sbin/sshd"
"""sshd must be started by absolute path (it re-executes itself)."""
SSH_KEYGEN = "ssh-keygen"

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""sshd processes started by this process, by pid, so stopping them also reaps them."""


class SshdError(DrError):
    """An sshd could not be configured, started or stopped."""


def _require_sshd() -> None:
    if not os.path.exists(SSHD):
        raise SshdError(
            f"{SSHD} not found: install the Debian package openssh-server "
            "(apt-get install openssh-server)"
        )


def _pub(path: Path) -> Path:
    return path.with_name(path.name + ".pub")


def generate_keypair(path: Path, user: LabUser, comment: str = "drconsole") -> Path:
    """Create an ed25519 key pair without passphrase at ``path`` (and ``path.pub``).

    An existing pair is kept, so calling this again (a second ``lab up``) changes nothing.
    Both files are owned by ``user``; the private key is mode 600.

    Args:
        path: Where the private key goes.
        user: Who owns the key files.
        comment: The key's comment.

    Returns:
        The private key path.

    Raises:
        SshdError: ssh-keygen failed.
    """
    pub = _pub(path)
    if path.exists() and pub.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, pub):
        stale.unlink(missing_ok=True)
    try:
        proc = subprocess.run(
            [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SshdError(f"ssh-keygen for {path} failed: {exc}") from exc
    if proc.returncode != 0:
        raise SshdError(f"ssh-keygen for {path} failed: {proc.stderr.strip()}")
    os.chmod(path, 0o600)
    os.chmod(pub, 0o644)
    chown_tree(path, user)
    chown_tree(pub, user)
    return path


@dataclass(frozen=True)
class SshdSpec:
    """What one sshd should look like."""

    name: str
    """A label for messages and the ``DRLAB_SITE``-style env a test may set."""
    address: str
    """Loopback IPv4 address to listen on (127.0.0.0/8)."""
    port: int
    """TCP port."""
    directory: Path
    """Holds the config, host key, pid file and log; created if missing."""
    authorized_keys: Path
    """The authorized_keys file for the lab user; must be readable by that user."""
    user: LabUser
    """The user sshd runs as, and the only user it can log in."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Values given to every session through ``SetEnv``."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Extra or overriding sshd_config keywords (e.g. ``{"MaxSessions": "3"}``)."""
    extra_addresses: tuple[str, ...] = ()
    """More addresses to listen on, same port and host key (one sshd takes at most 16
    listen sockets in all)."""

    @property
    def config_path(self) -> Path:
        """The generated sshd_config."""
        return self.directory / "sshd_config"

    @property
    def host_key(self) -> Path:
        """The ed25519 host key (generated on first start, reused after)."""
        return self.directory / "host_ed25519"

    @property
    def pid_file(self) -> Path:
        """Where sshd writes its pid."""
        return self.directory / "sshd.pid"

    @property
    def log_path(self) -> Path:
        """sshd's stderr (``-e``) goes here."""
        return self.directory / "sshd.log"


@dataclass(frozen=True)
class SshdHandle:
    """A running sshd."""

    spec: SshdSpec
    """How it was configured."""
    pid: int
    """The listener process (the one to SIGSTOP, SIGCONT and SIGTERM)."""
    known_hosts_line: str
    """Its host key as a known_hosts line, e.g. ``[127.0.50.1]:2222 ssh-ed25519 AAAA...``."""


def known_hosts_host(address: str, port: int) -> str:
    """The host field OpenSSH writes for ``address``/``port`` (brackets unless port 22)."""
    return address if port == 22 else f"[{address}]:{port}"


def _config_text(spec: SshdSpec) -> str:
    settings: dict[str, str] = {
        "Port": str(spec.port),
        "ListenAddress": spec.address,
        "AddressFamily": "inet",
        "HostKey": str(spec.host_key),
        "PidFile": str(spec.pid_file),
        "AuthorizedKeysFile": str(spec.authorized_keys),
        "PubkeyAuthentication": "yes",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "UsePAM": "no",
        "StrictModes": "no",
        "UseDNS": "no",
        "PrintMotd": "no",
        "PrintLastLog": "no",
        "MaxStartups": "300:30:1000",
        "MaxSessions": "100",
        "LogLevel": "ERROR",
        "ClientAliveInterval": "15",
        "ClientAliveCountMax": "4",
        "LoginGraceTime": "60",
        "AllowTcpForwarding": "yes",
        "X11Forwarding": "no",
        "Subsystem": "sftp internal-sftp",
    }
    settings.update(spec.options)
    lines = [f"# generated by drconsole for {spec.name}; edits are overwritten"]
    lines += [f"{key} {value}" for key, value in settings.items()]
    lines += [f"ListenAddress {address}" for address in spec.extra_addresses]
    if spec.env:
        pairs = " ".join(f'"{k}={v}"' for k, v in spec.env.items())
        lines.append(f"SetEnv {pairs}")
    return "\n".join(lines) + "\n"


def _prepare(spec: SshdSpec) -> None:
    """Write the config and the host key, owned by the lab user."""
    _require_sshd()
    spec.directory.mkdir(parents=True, exist_ok=True)
    spec.config_path.write_text(_config_text(spec), encoding="utf-8")
    if not (spec.host_key.exists() and _pub(spec.host_key).exists()):
        generate_keypair(spec.host_key, spec.user, comment=f"host {spec.name}")
    os.chmod(spec.host_key, 0o600)
    chown_tree(spec.directory, spec.user)
    if not spec.authorized_keys.exists():
        raise SshdError(f"{spec.name}: authorized_keys {spec.authorized_keys} does not exist")


def _check_config(spec: SshdSpec, timeout: float) -> None:
    proc = run_as(
        spec.user, [SSHD, "-t", "-f", str(spec.config_path)], timeout=timeout, check=False
    )
    if proc.returncode != 0:
        problem = (proc.stderr or proc.stdout).strip()
        raise SshdError(f"{spec.name}: sshd rejects {spec.config_path}: {problem}")


def _host_key_line(spec: SshdSpec, address: str | None = None) -> str:
    pub = _pub(spec.host_key).read_text(encoding="utf-8").split()
    return f"{known_hosts_host(address or spec.address, spec.port)} {pub[0]} {pub[1]}"


def known_hosts_lines(handle: SshdHandle) -> list[str]:
    """known_hosts lines for every address the sshd listens on (same host key)."""
    spec = handle.spec
    return [_host_key_line(spec, a) for a in (spec.address, *spec.extra_addresses)]


def _pid_file_says(path: Path, pid: int) -> bool:
    try:
        return path.read_text(encoding="ascii").strip() == str(pid)
    except (OSError, ValueError):
        return False


def _log_since(path: Path, offset: int, limit: int = 2000) -> str:
    """What sshd logged since ``offset`` (its own words on why it failed)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", errors="replace").strip()
    except OSError:
        return "(no log)"
    return text[-limit:] or "(log empty)"


def start_sshd(spec: SshdSpec, *, timeout: float = 30) -> SshdHandle:
    """Start an sshd for ``spec`` and wait until it accepts TCP connections.

    The config is checked with ``sshd -t`` first. The host key is generated on the first start
    and reused afterwards, so known_hosts lines stay valid across restarts.

    Args:
        spec: What to start.
        timeout: Seconds to wait for the listener before giving up.

    Returns:
        The running sshd.

    Raises:
        SshdError: The config is rejected, the port is taken, or sshd did not come up in
            time (the message carries sshd's own complaint from its log).
    """
    _prepare(spec)
    _check_config(spec, timeout=max(timeout, 10))
    spec.pid_file.unlink(missing_ok=True)
    log_start = spec.log_path.stat().st_size if spec.log_path.exists() else 0
    proc = popen_as(
        spec.user,
        [SSHD, "-D", "-e", "-f", str(spec.config_path)],
        log=spec.log_path,
        cwd=spec.directory,
    )
    _CHILDREN[proc.pid] = proc
    deadline = time.monotonic() + timeout
    # sshd writes its pid file only after its listen sockets are bound, so the file's
    # appearance means "accepts TCP" without a probe connection that would log an error.
    while not _pid_file_says(spec.pid_file, proc.pid):
        code = proc.poll()
        if code is not None:
            _CHILDREN.pop(proc.pid, None)
            raise SshdError(
                f"{spec.name}: sshd on {spec.address}:{spec.port} exited at start "
                f"(status {code}): {_log_since(spec.log_path, log_start)}"
            )
        if time.monotonic() > deadline:
            stop_sshd(proc.pid)
            raise SshdError(
                f"{spec.name}: sshd on {spec.address}:{spec.port} did not start listening "
                f"within {timeout:g}s; log: {_log_since(spec.log_path, log_start)}"
            )
        time.sleep(0.01)
    return SshdHandle(spec=spec, pid=proc.pid, known_hosts_line=_host_key_line(spec))


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (for sshd: one process per open connection)."""
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def descendant_pids(pid: int) -> list[int]:
    """All descendants of ``pid``, parents before children."""
    result: list[int] = []
    frontier = [pid]
    while frontier:
        kids = [k for p in frontier for k in child_pids(p)]
        result.extend(kids)
        frontier = kids
    return result


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_sshd(handle_or_pid: SshdHandle | int, timeout: float = 10) -> None:
    """Stop an sshd and every per-connection child it has, then reap it.

    Works on a paused (SIGSTOPped) sshd too. SIGTERM first; whatever is still there after
    ``timeout`` seconds gets SIGKILL. An sshd that is already gone is not an error.

    Args:
        handle_or_pid: The handle from ``start_sshd`` or the listener's pid.
        timeout: Seconds to wait for a clean exit before SIGKILL.
    """
    pid = handle_or_pid.pid if isinstance(handle_or_pid, SshdHandle) else handle_or_pid
    victims = [pid, *descendant_pids(pid)]
    for victim in victims:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, sig)
    deadline = time.monotonic() + timeout
    proc = _CHILDREN.get(pid)
    while time.monotonic() < deadline:
        if proc is not None:
            proc.poll()
        if not any(_alive(v) for v in victims):
            break
        time.sleep(0.02)
    for victim in victims:
        if _alive(victim):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        _CHILDREN.pop(pid, None)
