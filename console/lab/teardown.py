"""Stopping a lab: every process it started, in an order that lets each stop cleanly.

Dark (SIGSTOPped) processes are continued first, or they would never see the stop signal.
Each root process gets its profile's clean-stop signal (PostgreSQL's fast shutdown is SIGINT;
Patroni stops its own postgres on SIGTERM); whatever is still alive after the timeout is
killed with its whole tree. A profile may name processes to stop last (etcd, which Patroni
still talks to while it shuts down). The lab's ports are checked afterwards: a ``down`` that
leaves a listener says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass

from console.lab.finder import lab_roots
from console.lab.layout import LabLayout
from console.lab.procs import descendants, is_listening, reap, signal_tree, wait_gone
from console.lab.profiles.base import Profile
from console.lab.sshd import stop_sshd
from console.lab.state import LabState


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


def _stop_group(roots: dict[int, str], profile: Profile, timeout: float, scale: float) -> list[int]:
    """Stop one group of root processes; returns the pids that needed SIGKILL."""
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
            os.kill(pid, profile.stop_signal(name))
    left = wait_gone(everyone, timeout)
    killed: list[int] = []
    for pid in left:
        killed.extend(signal_tree(pid, signal.SIGKILL))
    if left:
        wait_gone(left, 10 * scale)
    for pid, name in roots.items():
        if name == "sshd":
            stop_sshd(pid, timeout=1)
        reap(pid)
    return killed


def stop_all(state: LabState, profile: Profile, timeout: float, scale: float) -> DownResult:
    """Stop every process of the lab (see the module docstring).

    Args:
        state: The lab's state.
        profile: Its profile (stop signals, what stops last, its ports).
        timeout: Seconds each group may take before it is killed.
        scale: The lab's timeout multiplier (for the wait after SIGKILL).

    Returns:
        What was stopped and what still listens (``seconds`` is left 0 for the caller).
    """
    layout = LabLayout.create(state.directory_path, state.net)
    ports = profile.all_ports(layout)
    roots = lab_roots(state, ports)
    first = {p: n for p, n in roots.items() if n not in profile.stop_last}
    last = {p: n for p, n in roots.items() if n in profile.stop_last}
    killed = _stop_group(first, profile, timeout, scale)
    # Anything the first group's stop left or revealed (a restarted child) goes with the rest.
    late = {p: n for p, n in lab_roots(state, ports).items() if p not in first}
    killed += _stop_group({**last, **late}, profile, timeout, scale)
    leftovers = tuple(f"{a}:{p}" for a, p in ports if is_listening(a, p))
    return DownResult(tuple(sorted(roots)), tuple(sorted(killed)), leftovers, 0.0)
