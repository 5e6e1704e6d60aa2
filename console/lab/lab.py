"""The lab as one object: bring three sites of real servers up, look at them, take them down.

This is the API the CLI (``drconsole lab``), the tests and the TUI demo share. ``up`` starts
everything as the one lab user and records each pid in ``state.json`` the moment it runs, so a
failed or interrupted ``up`` can always be cleaned by ``down``. Processes are found by pid
(recorded, or from the server's pid file when a drill restarted it) and by who listens on the
lab's own addresses, never by name: other people's servers on this machine are never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, replace
from pathlib import Path

from console.errors import InputError
from console.lab import inventory as inventory_file
from console.lab import latency, mariadb, postgres, redis
from console.lab.binaries import Binaries, find_binaries
from console.lab.errors import LabError, LabHalfStarted
from console.lab.layout import DB_SITES, SITES, SSH_PORT, LabLayout
from console.lab.osuser import LabUser, chown_tree, ensure_lab_user
from console.lab.procs import (
    ProcState,
    cmdline,
    descendants,
    is_listening,
    listener_inode,
    listener_pids,
    proc_info,
    proc_state,
    processes_naming,
    read_pidfile,
    reap,
    signal_tree,
    tcp_listeners,
    wait_gone,
)
from console.lab.runner import Runner
from console.lab.sshd import SshdSpec, generate_keypair, start_sshd, stop_sshd
from console.lab.state import (
    PHASE_DOWN,
    PHASE_FAILED,
    PHASE_STARTING,
    PHASE_UP,
    LabState,
    ProcessRecord,
    load_state,
    save_state,
)

DEFAULT_DIR = Path(".lab")
"""The lab directory when none is given (git-ignored)."""
DEFAULT_INVENTORY = Path("inventory/lab.yaml")
"""Where ``up`` writes the inventory when none is given."""

_OWNED_NAMES = frozenset(
    {*SITES, "ssh", "mariadb-template", "relays", "state.json", "state.json.tmp", ".lock"}
)
"""Entries of a lab directory that the lab itself creates (and may delete on a fresh ``up``)."""

_STOP_SIGNAL: dict[str, int] = {"postgres": signal.SIGINT}
"""Signal that stops each kind cleanly (SIGINT = PostgreSQL fast shutdown); others SIGTERM."""


@dataclass(frozen=True, slots=True)
class UpResult:
    """What ``up`` did."""

    already_running: bool
    """True when the lab was already up and nothing was changed."""
    seconds: float
    """Wall time of this call."""
    inventory: Path
    """The inventory (absolute)."""
    known_hosts: Path
    """Its known_hosts (absolute)."""
    state: LabState
    """The lab's state after the call."""


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


@dataclass(frozen=True, slots=True)
class DownResult:
    """What ``down`` did."""

    stopped: tuple[int, ...]
    """Pids that were asked to stop."""
    killed: tuple[int, ...]
    """Pids that needed SIGKILL after the timeout."""
    leftovers: tuple[str, ...]
    """``address:port`` still listening afterwards (empty when all is clean)."""
    seconds: float
    """Wall time of this call."""


class Lab:
    """A local DR lab of real servers under one directory.

    Args:
        directory: The lab directory (default ``.lab``); made absolute.
        net: Second octet of the sites' addresses ``127.N.S.1`` (only used by ``up``;
            the other operations use the net recorded in ``state.json``).
        binaries: Server binaries (default: found on this machine by :func:`find_binaries`).
        timeout_scale: Multiplies every wait (raise it on a loaded machine).
        user_name: The dedicated OS user when running as root.
    """

    def __init__(
        self,
        directory: Path | str = DEFAULT_DIR,
        net: int = 0,
        *,
        binaries: Binaries | None = None,
        timeout_scale: float = 1.0,
        user_name: str = "drlab",
    ) -> None:
        self._directory = Path(directory)
        self._net = net
        self._binaries = binaries
        self.timeout_scale = timeout_scale
        self._user_name = user_name
        self._state_lock = threading.Lock()
        self._state: LabState | None = None

    # ------------------------------------------------------------------ names

    @property
    def layout(self) -> LabLayout:
        """The lab's names; the net comes from ``state.json`` when the lab has one."""
        state = self.state()
        net = state.net if state is not None else self._net
        return LabLayout.create(self._directory, net)

    @property
    def directory(self) -> Path:
        """The lab directory (absolute)."""
        return self._directory.expanduser().absolute()

    def address(self, site: str) -> str:
        """The loopback address of ``site``."""
        self._check_site(site)
        return self.layout.site(site).address

    def state(self) -> LabState | None:
        """The recorded state, or None when this directory has never held a lab.

        Raises:
            LabError: When ``state.json`` is unreadable.
        """
        path = self.directory / "state.json"
        try:
            return load_state(path)
        except (ValueError, TypeError) as exc:
            raise LabError(f"{path} is not a lab state file: {exc}") from exc

    # --------------------------------------------------------------------- up

    def up(self, inventory: Path | str = DEFAULT_INVENTORY) -> UpResult:
        """Start the lab, or say that it already runs.

        Args:
            inventory: Where to write the inventory; its known_hosts goes next to it.

        Returns:
            What was done.

        Raises:
            MissingBinaries: A server binary is missing (exit 2).
            LabHalfStarted: A previous ``up`` left processes behind; run ``down`` first.
            LabError: The lab could not start; everything it started was stopped again.
        """
        began = time.monotonic()
        bins = self._binaries or find_binaries()
        layout = LabLayout.create(self._directory, self._net)
        layout.directory.mkdir(parents=True, exist_ok=True)
        with self._locked(layout):
            existing = self.state()
            if existing is not None:
                running = self._check_existing(existing)
                if running is not None:
                    return replace(running, seconds=time.monotonic() - began)
            self._check_ports_free(layout)
            self._wipe(layout)
            user = ensure_lab_user(self._user_name)
            runner = Runner(user, self.timeout_scale)
            self._prepare_dirs(layout, user, runner)
            self._state = LabState(
                directory=str(layout.directory),
                net=layout.net,
                user=user.name,
                phase=PHASE_STARTING,
                started_at=time.time(),
            )
            save_state(layout.state_file, self._state)
            try:
                known = self._start_all(layout, bins, runner)
                inv, kh = inventory_file.write(
                    layout, bins, user.name, Path(inventory), [known[s] for s in SITES]
                )
            except Exception as exc:
                self._fail(layout, str(exc))
                raise
            except BaseException:  # Ctrl-C: the setup threads have finished; clean up too
                self._fail(layout, "interrupted")
                raise
            state = self._set(
                phase=PHASE_UP,
                inventory=str(inv),
                known_hosts=str(kh),
                up_seconds=round(time.monotonic() - began, 3),
            )
            return UpResult(False, time.monotonic() - began, inv, kh, state)

    def _check_existing(self, state: LabState) -> UpResult | None:
        statuses = self._statuses(state)
        alive = [s for s in statuses if s.state is not ProcState.DEAD]
        if state.phase == PHASE_UP and statuses and len(alive) == len(statuses):
            if state.net != self._net:
                raise LabError(
                    f"the lab in {state.directory} already runs on net {state.net} "
                    f"(not {self._net}); run `drconsole lab --dir {state.directory} down` first"
                )
            return UpResult(
                True,
                0.0,
                Path(state.inventory or ""),
                Path(state.known_hosts or ""),
                state,
            )
        if alive:
            names = ", ".join(f"{s.record.site}/{s.record.name} pid {s.pid}" for s in alive)
            dead = len(statuses) - len(alive)
            raise LabHalfStarted(
                f"the lab in {state.directory} is half-started (phase {state.phase}; "
                f"{len(alive)} process(es) running: {names}; {dead} gone); "
                f"run `drconsole lab --dir {state.directory} down` to clean it, then `up` again"
            )
        return None

    def _check_ports_free(self, layout: LabLayout) -> None:
        listeners = tcp_listeners()
        held = {
            (addr, port): listener_inode(listeners, addr, port) for addr, port in layout.all_ports()
        }
        busy = [endpoint for endpoint, inode in held.items() if inode is not None]
        if busy:
            holders = listener_pids(inode for inode in held.values() if inode is not None)
            what = ", ".join(f"{a}:{p}" for a, p in busy)
            raise LabError(
                f"cannot start the lab on net {layout.net}: {what} already in use"
                + (f" (pids {sorted(set(holders.values()))})" if holders else "")
                + "; another lab may run there: use another --net or stop it"
            )

    def _wipe(self, layout: LabLayout) -> None:
        entries = {p.name for p in layout.directory.iterdir()}
        foreign = entries - _OWNED_NAMES
        if "state.json" not in entries and foreign:
            raise InputError(
                f"{layout.directory} is not empty and holds no lab "
                f"({', '.join(sorted(foreign)[:5])} ...); choose an empty or new --dir"
            )
        for name in sorted(entries & _OWNED_NAMES - {".lock"}):
            path = layout.directory / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def _prepare_dirs(self, layout: LabLayout, user: LabUser, runner: Runner) -> None:
        dirs = [layout.ssh_dir, layout.relay_dir]
        for site in layout.sites:
            dirs += [site.root, site.run_dir, site.sshd_dir, site.root / "locks"]
            if site.name in DB_SITES:
                dirs += [site.pg_dir, site.maria_dir, site.redis_dir]
        dr = layout.site("dr")
        dirs += [dr.backup_dir, dr.scratch_dir]
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        layout.ssh_dir.chmod(0o755)
        for site in layout.sites:
            (site.root / "locks").chmod(0o755)
        layout.directory.chmod(0o755)
        chown_tree(layout.directory, user)
        runner.run(
            ["test", "-w", str(layout.site("east").root)],
            what=f"check that {user.name} can write the lab directory {layout.directory} "
            "(every parent directory must be traversable by that user)",
            timeout=30,
        )

    def _start_all(self, layout: LabLayout, bins: Binaries, runner: Runner) -> dict[str, str]:
        known: dict[str, str] = {}
        tasks: dict[str, Callable[[], None]] = {
            "sshd": lambda: known.update(self._start_sshds(layout, runner.user)),
            "postgres": lambda: postgres.setup(runner, layout, bins, self._record),
            "mariadb": lambda: mariadb.setup(runner, layout, bins, self._record),
            "redis": lambda: redis.setup(runner, layout, bins, self._record),
        }
        with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="lab-up") as pool:
            futures: dict[Future[None], str] = {pool.submit(fn): name for name, fn in tasks.items()}
            try:
                wait_futures(futures)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        errors = [(futures[f], f.exception()) for f in futures if f.exception() is not None]
        if errors:
            first = errors[0][1]
            detail = "; ".join(f"{n}: {e}" for n, e in errors)
            raise LabError(f"lab up failed ({detail})") from first
        return known

    def _start_sshds(self, layout: LabLayout, user: LabUser) -> dict[str, str]:
        ident = layout.identity_file
        generate_keypair(ident, user, comment=f"drconsole lab {layout.directory}")
        shutil.copyfile(ident.with_name(ident.name + ".pub"), layout.authorized_keys)
        layout.authorized_keys.chmod(0o644)
        chown_tree(layout.ssh_dir, user)
        known: dict[str, str] = {}
        for site in layout.sites:
            env = {
                "DRLAB_SITE": site.name,
                "DRLAB_DIR": str(layout.directory),
                "PATH": f"{self._pgbin()}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            }
            if site.name in DB_SITES:
                env.update(PGHOST=str(site.run_dir), PGPORT="15432", PGUSER=postgres.SUPERUSER)
            spec = SshdSpec(
                name=site.host,
                address=site.address,
                port=SSH_PORT,
                directory=site.sshd_dir,
                authorized_keys=layout.authorized_keys,
                user=user,
                env=env,
            )
            handle = start_sshd(spec, timeout=30 * self.timeout_scale)
            info = proc_info(handle.pid)
            self._record(
                ProcessRecord(
                    site=site.name,
                    name="sshd",
                    pid=handle.pid,
                    start_time=info.start_time if info else 0,
                    address=site.address,
                    port=SSH_PORT,
                    pidfile=str(spec.pid_file),
                )
            )
            known[site.name] = handle.known_hosts_line
        return known

    def _pgbin(self) -> str:
        return str((self._binaries or find_binaries()).pgbin)

    def _record(self, record: ProcessRecord) -> None:
        with self._state_lock:
            assert self._state is not None
            self._state = self._state.with_process(record)
            save_state(self.directory / "state.json", self._state)

    def _set(self, **changes: object) -> LabState:
        with self._state_lock:
            assert self._state is not None
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]
            save_state(self.directory / "state.json", self._state)
            return self._state

    def _fail(self, layout: LabLayout, error: str) -> None:
        self._set(phase=PHASE_FAILED, error=error)
        assert self._state is not None
        result = self._stop_all(layout, self._state, timeout=60 * self.timeout_scale)
        if not result.leftovers:
            self._set(phase=PHASE_FAILED, error=error + " (everything started was stopped)")

    # ----------------------------------------------------------------- status

    def status(self) -> list[ProcessStatus]:
        """Every recorded process as it is now (empty when there is no lab here)."""
        state = self.state()
        return self._statuses(state) if state is not None else []

    def _uid(self, state: LabState) -> int | None:
        try:
            return pwd.getpwnam(state.user).pw_uid
        except KeyError:
            return None

    def _statuses(self, state: LabState) -> list[ProcessStatus]:
        uid = self._uid(state)
        listeners = tcp_listeners()
        out: list[ProcessStatus] = []
        for rec in state.processes:
            pid, st = self._current(rec, uid)
            listening = (rec.address, rec.port) in listeners
            out.append(ProcessStatus(rec, pid, st, listening))
        order = {name: i for i, name in enumerate(SITES)}
        return sorted(out, key=lambda s: order.get(s.record.site, len(order)))

    def _current(self, rec: ProcessRecord, uid: int | None) -> tuple[int, ProcState]:
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

    # ------------------------------------------------------------------ chaos

    def _check_site(self, site: str) -> None:
        if site not in SITES:
            raise InputError(f"unknown site {site!r}: the lab's sites are {', '.join(SITES)}")

    def _site_pids(self, state: LabState, site: str) -> list[int]:
        """The running root pids of a site: recorded or restarted servers, and every process
        of the lab user listening on the site's address (e.g. a drill's scratch server)."""
        uid = self._uid(state)
        pids: list[int] = []
        for rec in state.processes:
            if rec.site != site:
                continue
            pid, st = self._current(rec, uid)
            if st is not ProcState.DEAD:
                pids.append(pid)
        address = LabLayout.create(Path(state.directory), state.net).site(site).address
        listeners = tcp_listeners()
        inodes = [ino for (addr, _port), ino in listeners.items() if addr == address]
        for pid in listener_pids(inodes).values():
            info = proc_info(pid)
            if info is not None and info.uid == uid and pid not in pids:
                pids.append(pid)
        return pids

    def _require_state(self) -> LabState:
        state = self.state()
        if state is None or not state.processes:
            raise LabError(f"no lab in {self.directory}; start one with `drconsole lab up`")
        return state

    def chaos_down(self, site: str) -> list[int]:
        """Take a site dark: SIGSTOP every process of the site and all their children.

        Connections to the site then hang (the kernel still completes TCP handshakes, but no
        byte comes back), as in a network partition.

        Returns:
            Every pid that was stopped.
        """
        self._check_site(site)
        state = self._require_state()
        with self._locked(self.layout):
            done: list[int] = []
            for pid in self._site_pids(state, site):
                done.extend(signal_tree(pid, signal.SIGSTOP))
            return done

    def chaos_up(self, site: str) -> list[int]:
        """Bring a dark site back: SIGCONT every process of the site and all their children.

        Returns:
            Every pid that was continued.
        """
        self._check_site(site)
        state = self._require_state()
        with self._locked(self.layout):
            done: list[int] = []
            for pid in self._site_pids(state, site):
                done.extend(signal_tree(pid, signal.SIGCONT))
            return done

    def chaos_latency(self, site: str, ms: int) -> list[ProcessRecord]:
        """Delay the replication links into ``site`` by ``ms`` milliseconds each way.

        Every replica in the site (asked of the servers, so it follows a failover) is
        repointed at a relay on the site's address that forwards to its real upstream with
        the delay. ``ms = 0`` removes the relays and repoints the replicas back.

        Returns:
            The relays now running for the site (empty after ``ms = 0``).

        Raises:
            InputError: Unknown site or a negative delay.
            LabError: The site is dark, holds no replica, or a step failed.
        """
        self._check_site(site)
        if ms < 0:
            raise InputError(f"latency must be 0 or more milliseconds, got {ms}")
        state = self._require_state()
        layout = LabLayout.create(Path(state.directory), state.net)
        bins = self._binaries or find_binaries()
        runner = Runner(ensure_lab_user(state.user), self.timeout_scale)
        with self._locked(layout):
            self._state = state
            if any(
                s.state is ProcState.STOPPED for s in self._statuses(state) if s.record.site == site
            ):
                raise LabError(f"site {site} is dark; run `lab chaos up {site}` first")
            old = latency.relays_of(state.processes, site)
            latency.remove_relays(runner, layout, bins, old, self._stop_relay)
            self._set(processes=tuple(p for p in state.processes if p not in old))
            if ms == 0:
                return []
            links = latency.find_links(runner, layout, bins, site)
            if not links:
                raise LabError(f"no replication link into {site}: it holds no replica now")
            started: list[ProcessRecord] = []
            for link in links:
                rec = latency.start_relay(runner, layout, site, link, ms)
                self._record(rec)
                started.append(rec)
                relay_at = latency.Endpoint(rec.address, rec.port)
                latency.repoint(runner, layout, bins, site, service=link.service, to=relay_at)
            return started

    def _stop_relay(self, rec: ProcessRecord) -> None:
        if proc_state(rec.pid, rec.start_time) is ProcState.DEAD:
            return
        signal_tree(rec.pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(rec.pid, signal.SIGTERM)
        if wait_gone([rec.pid], 10 * self.timeout_scale):
            signal_tree(rec.pid, signal.SIGKILL)
            wait_gone([rec.pid], 5)

    # ------------------------------------------------------------------- down

    def down(self, timeout: float = 60.0) -> DownResult:
        """Stop every process the lab started (and any lab-user listener on its ports).

        Stopped (dark) processes are continued first. Each server gets its clean-stop signal,
        whatever is left after ``timeout`` seconds is killed, and the lab's ports are checked.

        Returns:
            What was stopped and whether any port still listens.

        Raises:
            LabError: When there is no lab in this directory.
        """
        began = time.monotonic()
        state = self.state()
        if state is None:
            raise LabError(f"no lab in {self.directory}")
        layout = LabLayout.create(Path(state.directory), state.net)
        with self._locked(layout):
            result = self._stop_all(layout, state, timeout * self.timeout_scale)
            save_state(layout.state_file, replace(state, phase=PHASE_DOWN))
        return replace(result, seconds=time.monotonic() - began)

    def _stop_all(self, layout: LabLayout, state: LabState, timeout: float) -> DownResult:
        uid = self._uid(state)
        roots: dict[int, str] = {}
        for rec in state.processes:
            pid, st = self._current(rec, uid)
            if st is not ProcState.DEAD:
                roots[pid] = rec.name
        listeners = tcp_listeners()
        inodes = [listeners[p] for p in layout.all_ports() if p in listeners]
        for pid in listener_pids(inodes).values():
            info = proc_info(pid)
            if info is not None and info.uid == uid:
                roots.setdefault(pid, _kind_of(pid))
        if uid is not None:
            strays = set(processes_naming(layout.directory, uid))
            for pid in strays:
                info = proc_info(pid)
                if info is not None and info.ppid not in strays:
                    roots.setdefault(pid, _kind_of(pid))
        everyone: set[int] = set(roots)
        for pid in roots:
            signal_tree(pid, signal.SIGCONT)
            everyone.update(descendants(pid))
        for pid, name in roots.items():
            if name == "sshd":
                for child in descendants(pid):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(child, signal.SIGTERM)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, _STOP_SIGNAL.get(name, signal.SIGTERM))
        left = wait_gone(everyone, timeout)
        killed: list[int] = []
        for pid in left:
            killed.extend(signal_tree(pid, signal.SIGKILL))
        if left:
            wait_gone(left, 10 * self.timeout_scale)
        for pid, name in roots.items():
            if name == "sshd":
                stop_sshd(pid, timeout=1)
            reap(pid)
        leftovers = tuple(f"{a}:{p}" for a, p in layout.all_ports() if is_listening(a, p))
        return DownResult(tuple(sorted(roots)), tuple(sorted(killed)), leftovers, 0.0)

    # ------------------------------------------------------------------- lock

    @contextlib.contextmanager
    def _locked(self, layout: LabLayout) -> Iterator[None]:
        """Hold the lab directory's lock (one ``up``/``down``/``chaos`` at a time)."""
        layout.directory.mkdir(parents=True, exist_ok=True)
        with layout.lock_file.open("a") as fh:
            deadline = time.monotonic() + 120 * self.timeout_scale
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LabError(
                            f"another drconsole lab command holds {layout.lock_file}"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _kind_of(pid: int) -> str:
    """What a process found on the lab's ports or naming its directory is, by its program."""
    argv = cmdline(pid)
    program = Path(argv[0].split(":")[0]).name if argv else ""
    return {"postgres": "postgres", "sshd": "sshd", "mariadbd": "mariadb"}.get(
        program, program or "process"
    )
