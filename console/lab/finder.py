"""Finding the lab's processes as they are now: by recorded pid, pid file and listening socket.

A lab process is one the lab started (recorded in ``state.json`` with its start time, so a
reused pid is never mistaken for ours), the same server restarted by a drill (its pid file
names the new pid, still owned by the lab user), or any process of the lab user listening on
a site's address or naming the lab directory on its command line (a drill's scratch server, a
server an interrupted ``up`` never recorded). Never by program name: other people's servers
run on this machine, often as the same user.
"""

from __future__ import annotations

import pwd
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from console.lab.layout import SITES, LabLayout
from console.lab.procs import (
    ProcState,
    cmdline,
    listener_pids,
    proc_info,
    proc_state,
    processes_naming,
    read_pidfile,
    tcp_listeners,
)
from console.lab.state import LabState, ProcessRecord


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """One process of the lab as it is now."""

    record: ProcessRecord
    """What the lab started."""
    pid: int
    """The pid now (differs from the record when a drill restarted the server)."""
    state: ProcState
    """Alive, stopped (site dark) or dead."""
    listening: bool
    """Whether its address:port has a listening socket."""

    @property
    def restarted(self) -> bool:
        """True when the server now runs under another pid than the one the lab started."""
        return self.pid != self.record.pid


def lab_uid(state: LabState) -> int | None:
    """The uid of the lab's user, None when that user no longer exists."""
    try:
        return pwd.getpwnam(state.user).pw_uid
    except KeyError:
        return None


def current(rec: ProcessRecord, uid: int | None) -> tuple[int, ProcState]:
    """The pid a recorded server runs under now, and its state.

    The recorded pid while it is alive; otherwise the pid in its pid file when that names a
    live process of the lab user (a drill restarted it); otherwise the dead recorded pid.
    """
    st = proc_state(rec.pid, rec.start_time)
    if st is not ProcState.DEAD or rec.pidfile is None:
        return rec.pid, st
    pid = read_pidfile(Path(rec.pidfile))
    if pid is None or pid == rec.pid:
        return rec.pid, st
    info = proc_info(pid)
    if info is None or (uid is not None and info.uid != uid):
        return rec.pid, st
    now = proc_state(pid)
    return (pid, now) if now is not ProcState.DEAD else (rec.pid, st)


def statuses(state: LabState) -> list[ProcessStatus]:
    """Every recorded process as it is now, east first."""
    uid = lab_uid(state)
    listeners = tcp_listeners()
    out: list[ProcessStatus] = []
    for rec in state.processes:
        pid, st = current(rec, uid)
        out.append(ProcessStatus(rec, pid, st, (rec.address, rec.port) in listeners))
    order = {name: i for i, name in enumerate(SITES)}
    return sorted(out, key=lambda s: order.get(s.record.site, len(order)))


def _lab_user_listeners(addresses: Iterable[tuple[str, int]] | str, uid: int | None) -> list[int]:
    """Pids of the lab user holding a listening socket on the given endpoints (or, given one
    address, on any port of it)."""
    listeners = tcp_listeners()
    if isinstance(addresses, str):
        inodes = [ino for (addr, _port), ino in listeners.items() if addr == addresses]
    else:
        inodes = [listeners[p] for p in addresses if p in listeners]
    out: list[int] = []
    for pid in listener_pids(inodes).values():
        info = proc_info(pid)
        if info is not None and info.uid == uid and pid not in out:
            out.append(pid)
    return out


def site_pids(state: LabState, site: str) -> list[int]:
    """The running root pids of a site: recorded or restarted servers, and every process of
    the lab user listening on the site's address (e.g. a drill's scratch server)."""
    uid = lab_uid(state)
    pids: list[int] = []
    for rec in state.processes:
        if rec.site != site:
            continue
        pid, st = current(rec, uid)
        if st is not ProcState.DEAD:
            pids.append(pid)
    address = LabLayout.create(Path(state.directory), state.net).site(site).address
    for pid in _lab_user_listeners(address, uid):
        if pid not in pids:
            pids.append(pid)
    return pids


def lab_roots(state: LabState, ports: list[tuple[str, int]]) -> dict[int, str]:
    """Every live root process of the lab, ``pid -> process name``, for ``down``.

    The recorded servers (or their restarted successors), lab-user listeners on ``ports``,
    and lab-user processes naming the lab directory whose parent is not one of them.
    """
    uid = lab_uid(state)
    roots: dict[int, str] = {}
    for rec in state.processes:
        pid, st = current(rec, uid)
        if st is not ProcState.DEAD:
            roots[pid] = rec.name
    for pid in _lab_user_listeners(ports, uid):
        roots.setdefault(pid, kind_of(pid))
    if uid is not None:
        strays = set(processes_naming(Path(state.directory), uid))
        for pid in strays:
            info = proc_info(pid)
            if info is not None and info.ppid not in strays:
                roots.setdefault(pid, kind_of(pid))
    return roots


def kind_of(pid: int) -> str:
    """What a process found on the lab's ports or naming its directory is, by its program."""
    argv = cmdline(pid)
    program = Path(argv[0].split(":")[0]).name if argv else ""
    return {"postgres": "postgres", "sshd": "sshd", "mariadbd": "mariadb"}.get(
        program, program or "process"
    )
