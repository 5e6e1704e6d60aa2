"""Processes and listeners as the kernel sees them (``/proc``), for starting, chaos and teardown.

The lab tracks its servers by pid, never by name: other people's postgres, sshd and redis run
on the same machine and must never be touched. ``/proc`` tells whether a pid is alive, stopped
(SIGSTOP: the lab's "site dark") or gone, whether it is still the process we started (its start
time), and which processes are its descendants, because a site taken dark must freeze the
forked children too (PostgreSQL backends, sshd sessions), not only the parent. Listening
sockets come from ``/proc/net/tcp`` so that ``down`` can prove no port is left open.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from console.lab.errors import LabError
from console.lab.state import ProcessRecord

_PROC = Path("/proc")
_TCP_LISTEN = "0A"
WILDCARD = "0.0.0.0"  # noqa: S104 - only compared against, never bound
"""The IPv4 wildcard address: a listener there also holds the port on every lab address."""


class ProcState(enum.Enum):
    """What a recorded pid is now."""

    ALIVE = "alive"
    """Running (or sleeping: able to run)."""
    STOPPED = "stopped"
    """Stopped by SIGSTOP (a site taken dark by ``lab chaos down``)."""
    DEAD = "dead"
    """Gone, a zombie, or the pid now belongs to another process."""


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """The fields of ``/proc/PID/stat`` the lab uses."""

    pid: int
    """The process id."""
    state: str
    """The one-letter kernel state (R, S, D, T, t, Z, X, ...)."""
    ppid: int
    """The parent's pid."""
    start_time: int
    """Start time in clock ticks after boot; tells a reused pid from ours."""
    uid: int
    """The real uid of the process owner."""


def proc_info(pid: int) -> ProcInfo | None:
    """Read ``/proc/PID/stat``, or None when the process does not exist."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
        uid = (_PROC / str(pid)).stat().st_uid
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError, PermissionError):
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    return ProcInfo(pid=pid, state=rest[0], ppid=int(rest[1]), start_time=int(rest[19]), uid=uid)


def proc_state(pid: int, start_time: int | None = None) -> ProcState:
    """Whether ``pid`` is alive, stopped or dead.

    Args:
        pid: The process id.
        start_time: The start time recorded when the lab started it; a different one means the
            pid was reused by an unrelated process, which counts as dead.
    """
    info = proc_info(pid)
    if info is None or info.state in ("Z", "X", "x"):
        return ProcState.DEAD
    if start_time is not None and info.start_time != start_time:
        return ProcState.DEAD
    if info.state in ("T", "t"):
        return ProcState.STOPPED
    return ProcState.ALIVE


def cmdline(pid: int) -> list[str]:
    """The argv of ``pid`` (empty when it is gone)."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _all_infos() -> list[ProcInfo]:
    out: list[ProcInfo] = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            info = proc_info(int(entry.name))
            if info is not None:
                out.append(info)
    return out


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, grandchildren, ...), parents first."""
    children: dict[int, list[int]] = {}
    for info in _all_infos():
        if info.state not in ("Z", "X"):
            children.setdefault(info.ppid, []).append(info.pid)
    out: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def processes_naming(directory: Path, uid: int | None) -> list[int]:
    """Live processes of ``uid`` whose command line names a path under ``directory``.

    Every server of a lab has its lab directory on its command line (data directory, config,
    socket), so this finds servers started by an ``up`` that died before recording them.
    """
    prefix = str(directory).rstrip("/") + "/"
    me = os.getpid()
    out: list[int] = []
    for info in _all_infos():
        if info.pid == me or info.state in ("Z", "X") or (uid is not None and info.uid != uid):
            continue
        if any(prefix in arg for arg in cmdline(info.pid)):
            out.append(info.pid)
    return out


def _send(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def signal_tree(pid: int, sig: int, start_time: int | None = None) -> list[int]:
    """Send ``sig`` to ``pid`` and every descendant, parent first.

    The descendants are listed before anything is sent (a killed parent's children are
    re-parented and would no longer be found), then the parent is signalled first so that a
    SIGSTOP freezes it before it can fork again, then the listed descendants, and the tree is
    listed again until no new one appears.

    Args:
        pid: The root of the tree.
        sig: The signal.
        start_time: When given, the root is only signalled if it is still that process.

    Returns:
        The pids that were signalled.
    """
    if proc_state(pid, start_time) is ProcState.DEAD:
        return []
    tree = descendants(pid)
    done: list[int] = [pid] if _send(pid, sig) else []
    seen = {pid}
    for _ in range(5):
        fresh = [p for p in tree if p not in seen]
        if not fresh:
            break
        seen.update(fresh)
        done.extend(p for p in fresh if _send(p, sig))
        tree = descendants(pid)
    return done


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed.

    Returns:
        Whether the predicate became true in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until every pid is dead (reaping our own children); returns those still alive."""
    remaining = set(pids)

    def gone() -> bool:
        for pid in list(remaining):
            reap(pid)
            if proc_state(pid) is ProcState.DEAD:
                remaining.discard(pid)
        return not remaining

    wait_until(gone, timeout)
    return sorted(remaining)


def _hex_to_ipv4(hexaddr: str) -> str:
    return socket.inet_ntoa(int(hexaddr, 16).to_bytes(4, "little"))


def tcp_listeners() -> dict[tuple[str, int], int]:
    """Every listening IPv4 TCP socket on the machine: ``(address, port) -> socket inode``."""
    out: dict[tuple[str, int], int] = {}
    try:
        lines = (_PROC / "net" / "tcp").read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _TCP_LISTEN:
            continue
        addr, port = fields[1].split(":")
        out[(_hex_to_ipv4(addr), int(port, 16))] = int(fields[9])
    return out


def listener_inode(listeners: dict[tuple[str, int], int], address: str, port: int) -> int | None:
    """The inode of the socket holding ``address:port`` (itself or the wildcard), if any."""
    return listeners.get((address, port)) or listeners.get((WILDCARD, port))


def is_listening(address: str, port: int) -> bool:
    """Whether something listens on ``address:port`` (or on the wildcard with that port)."""
    return listener_inode(tcp_listeners(), address, port) is not None


def listener_pids(inodes: Iterable[int]) -> dict[int, int]:
    """Which pid holds each socket inode: ``inode -> pid`` (best effort, needs permission)."""
    wanted = {f"socket:[{i}]": i for i in inodes}
    out: dict[int, int] = {}
    if not wanted:
        return out
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                out[wanted[target]] = int(entry.name)
    return out


def wait_listening(
    address: str, port: int, timeout: float, alive: Callable[[], bool] | None = None
) -> bool:
    """Wait until ``address:port`` listens.

    Args:
        address: The address.
        port: The port.
        timeout: Seconds to wait at most.
        alive: Checked on every poll; when it turns false the wait ends early (the server died).

    Returns:
        Whether it listens.
    """

    def ready() -> bool:
        if is_listening(address, port):
            return True
        if alive is not None and not alive():
            raise _Died
        return False

    try:
        return wait_until(ready, timeout)
    except _Died:
        return is_listening(address, port)


class _Died(Exception):
    pass


def read_pidfile(path: Path) -> int | None:
    """The pid in the first line of a pid file (PostgreSQL's ``postmaster.pid`` too)."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


SIGNALS: dict[str, int] = {"stop": signal.SIGSTOP, "cont": signal.SIGCONT}
"""Names of the chaos signals."""


def wait_server(address: str, port: int, pidfile: Path, timeout: float) -> bool:
    """Wait until a server listens on ``address:port`` and its pid file names a live process.

    Both are needed: MariaDB, for one, opens its socket before it writes its pid file.
    Ends early (False) when the pid file names a process that has died.
    """

    def ready() -> bool:
        pid = read_pidfile(pidfile)
        if pid is not None and proc_state(pid) is ProcState.DEAD:
            raise _Died
        return pid is not None and is_listening(address, port)

    try:
        return wait_until(ready, timeout)
    except _Died:
        return False


def running_record(
    *, site: str, name: str, what: str, address: str, port: int, pidfile: Path, log: Path
) -> ProcessRecord:
    """The process record of a server that is running now, read from its pid file.

    Args:
        site: The lab site.
        name: The record's name (``postgres``, ``mariadb``, ``redis``).
        what: How a person names the server in the error ("MariaDB").
        address: Where it listens.
        port: Its port.
        pidfile: Its pid file.
        log: Its log, named in the error.

    Raises:
        LabError: When it is not running.
    """
    pid = read_pidfile(pidfile)
    info = proc_info(pid) if pid is not None else None
    if pid is None or info is None:
        raise LabError(f"{what} on {site} is not running; see {log}")
    return ProcessRecord(
        site=site,
        name=name,
        pid=pid,
        start_time=info.start_time,
        address=address,
        port=port,
        pidfile=str(pidfile),
    )


def require_server(
    *, what: str, site: str, address: str, port: int, pidfile: Path, log: Path, timeout: float
) -> None:
    """Wait until a server listens and has written its pid file.

    Raises:
        LabError: it did not within ``timeout`` seconds (the message names its log).
    """
    if not wait_server(address, port, pidfile, timeout):
        raise LabError(
            f"{what} on {site} did not come up on {address}:{port} within {timeout:.0f} s; "
            f"see {log}"
        )
