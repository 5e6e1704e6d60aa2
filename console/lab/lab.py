"""The lab as one object: bring a profile's sites of real servers up, look at them, take them down.

This is the API the CLI (``drconsole lab``), the tests and the TUI demo share. ``up`` starts
everything as the one lab user and records each pid in ``state.json`` the moment it runs, so a
failed or interrupted ``up`` can always be cleaned by ``down``. What a profile starts lives in
its module (``console/lab/profiles/``); how processes are found (by pid, pid file and the
lab's own addresses, never by name) in :mod:`console.lab.finder`; darkening a site in
:mod:`console.lab.chaos`; stopping in :mod:`console.lab.teardown`. One lab runs per lab
directory: ``up`` of another profile while one runs is refused, naming the running one.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from console.errors import InputError
from console.lab import chaos
from console.lab.binaries import Binaries, find_binaries
from console.lab.errors import LabError, LabHalfStarted
from console.lab.finder import ProcessStatus, statuses
from console.lab.layout import SITES, LabLayout
from console.lab.osuser import LabUser, chown_tree, ensure_lab_user
from console.lab.procs import ProcState, listener_inode, listener_pids, tcp_listeners
from console.lab.profiles import PROFILES, Profile, StartContext, get_profile, owned_entries
from console.lab.runner import Runner
from console.lab.startup import start_all
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
from console.lab.teardown import DownResult, stop_all

DEFAULT_DIR = Path(".lab")
"""The lab directory when none is given (git-ignored)."""
DEFAULT_INVENTORY = Path("inventory/lab.yaml")
"""Where ``up`` of the default profile writes the inventory when none is given."""

_SHARED_ENTRIES = frozenset({*SITES, "ssh", "state.json", "state.json.tmp", ".lock"})
"""Entries of a lab directory that every profile creates."""

__all__ = ["DEFAULT_DIR", "DEFAULT_INVENTORY", "DownResult", "Lab", "ProcessStatus", "UpResult"]


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


class Lab:
    """A local DR lab of real servers under one directory.

    Args:
        directory: The lab directory (default ``.lab``); made absolute.
        net: Second octet of the sites' addresses ``127.N.S.1`` (only used by ``up``;
            the other operations use the net recorded in ``state.json``).
        binaries: Server binaries (default: found on this machine by :func:`find_binaries`).
        timeout_scale: Multiplies every wait (raise it on a loaded machine).
        user_name: The dedicated OS user when running as root.
        profile: The profile ``up`` starts (default: the first-stage lab); the other
            operations use the profile recorded in ``state.json``.
    """

    def __init__(
        self,
        directory: Path | str = DEFAULT_DIR,
        net: int = 0,
        *,
        binaries: Binaries | None = None,
        timeout_scale: float = 1.0,
        user_name: str = "drlab",
        profile: str | None = None,
    ) -> None:
        self._directory = Path(directory)
        self._net = net
        self._binaries = binaries
        self.timeout_scale = timeout_scale
        self._user_name = user_name
        self._wanted = get_profile(profile)
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

    @property
    def profile(self) -> Profile:
        """The profile of the lab in this directory (recorded), else the one ``up`` starts."""
        state = self.state()
        return get_profile(state.profile) if state is not None else self._wanted

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

    def bins(self) -> Binaries:
        """The server binaries (found on this machine unless given)."""
        return self._binaries or find_binaries()

    def runner(self) -> Runner:
        """Runs commands as the lab's user."""
        state = self.state()
        return Runner(ensure_lab_user(state.user if state else self._user_name), self.timeout_scale)

    # --------------------------------------------------------------------- up

    def up(self, inventory: Path | str | None = None) -> UpResult:
        """Start the lab, or say that it already runs.

        Args:
            inventory: Where to write the inventory (default: the profile's
                ``inventory/lab*.yaml``); its known_hosts goes next to it.

        Returns:
            What was done.

        Raises:
            MissingBinaries: A server binary is missing (exit 2).
            InputError: Another profile's lab runs in this directory (exit 2).
            LabHalfStarted: A previous ``up`` left processes behind; run ``down`` first.
            LabError: The lab could not start; everything it started was stopped again.
        """
        began = time.monotonic()
        profile = self._wanted
        target = Path(inventory) if inventory is not None else profile.default_inventory
        layout = LabLayout.create(self._directory, self._net)
        existing = self.state()
        if existing is not None:  # answer "already running" / "another profile" before
            running = self._check_existing(existing)  # asking for binaries it won't need
            if running is not None:
                return replace(running, seconds=time.monotonic() - began)
        bins = self.bins()
        extra = profile.find_programs()
        layout.directory.mkdir(parents=True, exist_ok=True)
        with self._locked(layout):
            existing = self.state()
            if existing is not None:
                running = self._check_existing(existing)
                if running is not None:
                    return replace(running, seconds=time.monotonic() - began)
            self._check_ports_free(layout, profile)
            self._wipe(layout)
            user = ensure_lab_user(self._user_name)
            runner = Runner(user, self.timeout_scale)
            self._prepare_dirs(layout, profile, user, runner)
            self._state = LabState(
                directory=str(layout.directory),
                net=layout.net,
                user=user.name,
                phase=PHASE_STARTING,
                started_at=time.time(),
                profile=profile.name,
            )
            save_state(layout.state_file, self._state)
            ctx = StartContext(runner, layout, bins, self._record, extra)
            try:
                known = start_all(ctx, profile)
                inv, kh = profile.write_inventory(ctx, target, [known[s] for s in SITES])
            except Exception as exc:
                self._fail(profile, str(exc))
                raise
            except BaseException:  # Ctrl-C: the setup threads have finished; clean up too
                self._fail(profile, "interrupted")
                raise
            state = self._set(
                phase=PHASE_UP,
                inventory=str(inv),
                known_hosts=str(kh),
                up_seconds=round(time.monotonic() - began, 3),
            )
            return UpResult(False, time.monotonic() - began, inv, kh, state)

    def _check_existing(self, state: LabState) -> UpResult | None:
        rows = statuses(state)
        alive = [s for s in rows if s.state is not ProcState.DEAD]
        if state.phase == PHASE_UP and rows and len(alive) == len(rows):
            if state.profile != self._wanted.name:
                raise InputError(
                    f"the lab in {state.directory} already runs profile {state.profile!r} "
                    f"(net {state.net}); one lab at a time: run "
                    f"`drconsole lab --dir {state.directory} down` before starting "
                    f"profile {self._wanted.name!r}"
                )
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
            dead = len(rows) - len(alive)
            raise LabHalfStarted(
                f"the lab in {state.directory} (profile {state.profile}) is half-started "
                f"(phase {state.phase}; {len(alive)} process(es) running: {names}; {dead} gone); "
                f"run `drconsole lab --dir {state.directory} down` to clean it, then `up` again"
            )
        return None

    def _check_ports_free(self, layout: LabLayout, profile: Profile) -> None:
        listeners = tcp_listeners()
        held = {
            (addr, port): listener_inode(listeners, addr, port)
            for addr, port in profile.all_ports(layout)
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
        owned = _SHARED_ENTRIES | owned_entries()
        entries = {p.name for p in layout.directory.iterdir()}
        foreign = entries - owned
        if "state.json" not in entries and foreign:
            raise InputError(
                f"{layout.directory} is not empty and holds no lab "
                f"({', '.join(sorted(foreign)[:5])} ...); choose an empty or new --dir"
            )
        for name in sorted(entries & owned - {".lock"}):
            path = layout.directory / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def _prepare_dirs(
        self, layout: LabLayout, profile: Profile, user: LabUser, runner: Runner
    ) -> None:
        dirs = [layout.ssh_dir]
        for site in layout.sites:
            dirs += [site.root, site.run_dir, site.sshd_dir, site.root / "locks"]
        for d in [*dirs, *profile.directories(layout)]:
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

    def _fail(self, profile: Profile, error: str) -> None:
        self._set(phase=PHASE_FAILED, error=error)
        assert self._state is not None
        result = stop_all(self._state, profile, 60 * self.timeout_scale, self.timeout_scale)
        if not result.leftovers:
            self._set(phase=PHASE_FAILED, error=error + " (everything started was stopped)")

    # ----------------------------------------------------------------- status

    def status(self) -> list[ProcessStatus]:
        """Every recorded process as it is now (empty when there is no lab here)."""
        state = self.state()
        return statuses(state) if state is not None else []

    def health(self) -> list[str]:
        """What the profile's own checks find wrong with the running lab (empty: healthy).

        Raises:
            LabError: When there is no lab in this directory.
        """
        self._require_state()
        return self.profile.health(self.layout, self.bins(), self.runner())

    # ------------------------------------------------------------------ chaos

    def _check_site(self, site: str) -> None:
        if site not in SITES:
            raise InputError(f"unknown site {site!r}: the lab's sites are {', '.join(SITES)}")

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
            return chaos.darken(state, site)

    def chaos_up(self, site: str) -> list[int]:
        """Bring a dark site back: SIGCONT every process of the site and all their children.

        Returns:
            Every pid that was continued.
        """
        self._check_site(site)
        state = self._require_state()
        with self._locked(self.layout):
            return chaos.brighten(state, site)

    def chaos_latency(self, site: str, ms: float) -> list[ProcessRecord]:
        """Delay the replication links into ``site`` by ``ms`` milliseconds each way.

        Every replica in the site (asked of the servers, so it follows a failover) is
        repointed at a relay on the site's address that forwards to its real upstream with
        the delay. ``ms = 0`` removes the relays and repoints the replicas back.

        Returns:
            The relays now running for the site (empty after ``ms = 0``).

        Raises:
            InputError: Unknown site, a negative delay, or a profile without latency relays.
            LabError: The site is dark, holds no replica, or a step failed.
        """
        self._check_site(site)
        if ms < 0:
            raise InputError(f"latency must be 0 or more milliseconds, got {ms}")
        state = self._require_state()
        sites = get_profile(state.profile).latency_sites
        if site not in sites:
            relayed = [p.name for p in PROFILES if p.latency_sites]
            raise InputError(
                f"lab chaos latency relays the replication links of profiles "
                f"{', '.join(relayed)} (into sites {', '.join(sites) or 'none'} in this one); "
                f"the lab in {state.directory} runs profile {state.profile!r}"
            )
        layout = LabLayout.create(state.directory_path, state.net)
        runner = Runner(ensure_lab_user(state.user), self.timeout_scale)
        with self._locked(layout):
            self._state = state

            def forget(old: Sequence[ProcessRecord]) -> None:
                assert self._state is not None
                self._set(processes=tuple(p for p in self._state.processes if p not in old))

            return chaos.set_latency(
                state,
                site,
                ms,
                bins=self.bins(),
                runner=runner,
                forget=forget,
                record=self._record,
                sites=sites,
            )

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
        layout = LabLayout.create(state.directory_path, state.net)
        with self._locked(layout):
            profile = get_profile(state.profile)
            result = stop_all(state, profile, timeout * self.timeout_scale, self.timeout_scale)
            save_state(layout.state_file, replace(state, phase=PHASE_DOWN))
        return replace(result, seconds=time.monotonic() - began)

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
