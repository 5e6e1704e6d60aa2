"""The one unprivileged OS user that owns and runs every lab server.

PostgreSQL refuses to run as root, a non-root ``sshd`` can only log in the user it runs as, and
root's shell start-up files on a workstation (pyenv and friends) add a noticeable cost to every
SSH command. So when drconsole runs as root, the lab uses a dedicated user with a clean home;
when it runs as anyone else, the lab simply uses that user. Everything here is synchronous and
bounded by timeouts: the lab starts servers from plain processes, never from systemd.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from console.errors import DrError

_LOCK_PATH = Path("/run/lock/drconsole-lab-user.lock")
"""Serialises user creation between concurrent processes (two tests, two lab commands)."""

_RC_FILES = (".bashrc", ".profile", ".bash_profile", ".bash_login")
"""Shell start-up files that a login or ``bash -c`` over SSH may read."""

_SLOW_RC_MARKERS = ("pyenv", "nvm.sh", "conda initialize", "rbenv")
"""Lines that make every non-interactive SSH command slow; removed from the lab user's rc."""


class LabUserError(DrError):
    """The lab user could not be created, or a command run as that user failed."""


@dataclass(frozen=True)
class LabUser:
    """An OS account the lab runs its servers as."""

    name: str
    """Login name."""
    uid: int
    """Numeric user id."""
    gid: int
    """Primary group id."""
    home: Path
    """Home directory."""


def _from_pwd(entry: pwd.struct_passwd) -> LabUser:
    return LabUser(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, home=Path(entry.pw_dir))


def current_user() -> LabUser:
    """Return the user this process runs as."""
    return _from_pwd(pwd.getpwuid(os.getuid()))


def _is_root() -> bool:
    return os.geteuid() == 0


def _clean_rc_files(user: LabUser) -> None:
    """Drop slow shell start-up lines (pyenv and the like) from the user's rc files."""
    for name in _RC_FILES:
        rc = user.home / name
        if not rc.is_file():
            continue
        text = rc.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        kept = [ln for ln in lines if not any(m in ln for m in _SLOW_RC_MARKERS)]
        if len(kept) != len(lines):
            rc.write_text("".join(kept), encoding="utf-8")
            os.chown(rc, user.uid, user.gid)


def ensure_lab_user(name: str = "drlab") -> LabUser:
    """Return the lab user, creating it first when we are root and it does not exist.

    As root: ``useradd -m -s /bin/bash NAME`` when missing, then ``usermod -p '*' NAME`` so the
    account is not locked (sshd with ``UsePAM no`` refuses key logins to locked accounts), and
    slow shell start-up lines are removed from its home's rc files. Safe to call concurrently
    from several processes. Not root: the current user is returned and ``name`` is ignored,
    since nobody else can be switched to.

    Args:
        name: The login name of the dedicated user (root only).

    Returns:
        The user to run lab servers as and to log in as over SSH.

    Raises:
        LabUserError: ``useradd`` or ``usermod`` failed.
    """
    if not _is_root():
        return current_user()
    _LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK_PATH.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            _run_checked(["useradd", "-m", "-s", "/bin/bash", name], what="useradd")
            entry = pwd.getpwnam(name)
        field = _password_field(name)
        if field == "" or field.startswith("!"):
            _run_checked(["usermod", "-p", "*", name], what="usermod")
        user = _from_pwd(entry)
        if not user.home.is_dir():
            user.home.mkdir(parents=True, mode=0o755)
            os.chown(user.home, user.uid, user.gid)
        _clean_rc_files(user)
        return user


def _password_field(name: str) -> str:
    """The shadow password field of ``name`` ("" when unreadable or absent)."""
    try:
        with open("/etc/shadow", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split(":")
                if parts[0] == name and len(parts) > 1:
                    return parts[1]
    except OSError:
        return ""
    return ""


def _run_checked(argv: Sequence[str], *, what: str, timeout: float = 60) -> None:
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabUserError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        raise LabUserError(
            f"{what} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
        )


def _needs_switch(user: LabUser) -> bool:
    return _is_root() and user.uid != os.geteuid()


def _user_env(user: LabUser, env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment for a process of ``user``: ours, with its identity and ``env`` on top."""
    merged = dict(os.environ)
    if _needs_switch(user):
        merged.update(HOME=str(user.home), USER=user.name, LOGNAME=user.name)
    if env:
        merged.update(env)
    return merged


def run_as(
    user: LabUser,
    argv: Sequence[str],
    *,
    timeout: float,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``user`` and capture its text output.

    When we are root and ``user`` is someone else, the command runs through
    ``runuser -u NAME --``. The command runs in its own process group; on timeout the whole
    group is killed, so nothing it started is left behind.

    Args:
        user: Who runs the command.
        argv: The program and its arguments (no shell).
        timeout: Seconds before the command is killed.
        check: Raise when the exit status is not 0.
        env: Variables set on top of the current environment (HOME, USER and LOGNAME are
            already those of ``user``).
        cwd: Working directory; must be accessible to ``user``.

    Returns:
        The finished process, with ``stdout`` and ``stderr`` as text.

    Raises:
        LabUserError: The command could not start, timed out, or (with ``check``) exited
            non-zero; the message includes its stderr.
    """
    full = ["runuser", "-u", user.name, "--", *argv] if _needs_switch(user) else list(argv)
    try:
        proc = subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_user_env(user, env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise LabUserError(f"cannot run {argv[0]} as {user.name}: {exc}") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        raise LabUserError(
            f"{' '.join(argv)} (as {user.name}) timed out after {timeout:g}s; stderr: "
            f"{(err or '').strip()[-2000:]}"
        ) from exc
    result = subprocess.CompletedProcess(full, proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise LabUserError(
            f"{' '.join(argv)} (as {user.name}) exited {proc.returncode}: "
            f"{(err or out).strip()[-2000:]}"
        )
    return result


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def popen_as(
    user: LabUser,
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running server as ``user``, detached from us.

    The process gets a new session, stdin from ``/dev/null``, stdout and stderr appended to
    ``log``, and no inherited file descriptors, so it never holds a caller's pipe open. When we
    are root the switch to ``user`` is done by the kernel (``setuid`` in the child) rather than
    through ``runuser``, so the returned pid is the server itself: signals (SIGSTOP for chaos,
    SIGTERM to stop) reach it directly.

    Args:
        user: Who runs the server.
        argv: The program and its arguments (no shell).
        log: File that receives stdout and stderr (created, owned by ``user``).
        cwd: Working directory; must be accessible to ``user``.
        env: Variables set on top of the current environment.

    Returns:
        The started process; reap it with ``wait()`` after stopping it.

    Raises:
        LabUserError: The program could not be started.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    switch = _needs_switch(user)
    with log.open("ab") as out:
        if switch:
            os.chown(log, user.uid, user.gid)
        try:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=_user_env(user, env),
                start_new_session=True,
                close_fds=True,
                user=user.uid if switch else None,
                group=user.gid if switch else None,
                extra_groups=[] if switch else None,
            )
        except OSError as exc:
            raise LabUserError(f"cannot start {argv[0]} as {user.name}: {exc}") from exc


def chown_tree(path: Path, user: LabUser) -> None:
    """Give ``path`` and everything below it to ``user`` (symlinks themselves, not targets).

    A no-op when we are not root (we can only own our own files then).
    """
    if not _is_root():
        return
    os.lchown(path, user.uid, user.gid)
    if path.is_symlink() or not path.is_dir():
        return
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), user.uid, user.gid)
