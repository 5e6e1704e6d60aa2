"""``lab chaos``: take a site dark and back, or slow the replication links into it.

A dark site is a partition as a client meets it: every process of the site (each server, its
forked children such as PostgreSQL backends, Patroni's postmaster, sshd sessions, and any
lab-user listener on the site's address) is frozen with SIGSTOP, so the kernel still completes
TCP handshakes but no byte comes back. ``up`` continues the same set. The latency relays of
the default profile live in :mod:`console.lab.latency`; this module wires them into the state.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Sequence

from console.lab import latency
from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.finder import site_pids, statuses
from console.lab.layout import DB_SITES, LabLayout
from console.lab.procs import ProcState, proc_state, signal_tree, wait_gone
from console.lab.runner import Runner
from console.lab.state import LabState, ProcessRecord


def signal_site(state: LabState, site: str, sig: int) -> list[int]:
    """Send ``sig`` to every process of ``site`` and all their descendants.

    Returns:
        Every pid that was signalled.
    """
    done: list[int] = []
    for pid in site_pids(state, site):
        done.extend(signal_tree(pid, sig))
    return done


def darken(state: LabState, site: str) -> list[int]:
    """SIGSTOP every process of the site (see the module docstring); returns the pids."""
    return signal_site(state, site, signal.SIGSTOP)


def brighten(state: LabState, site: str) -> list[int]:
    """SIGCONT every process of the site; returns the pids."""
    return signal_site(state, site, signal.SIGCONT)


def stop_relay(rec: ProcessRecord, scale: float) -> None:
    """Stop one latency relay (continued first if its site is dark), killing it if needed."""
    if proc_state(rec.pid, rec.start_time) is ProcState.DEAD:
        return
    signal_tree(rec.pid, signal.SIGCONT)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(rec.pid, signal.SIGTERM)
    if wait_gone([rec.pid], 10 * scale):
        signal_tree(rec.pid, signal.SIGKILL)
        wait_gone([rec.pid], 5)


def set_latency(
    state: LabState,
    site: str,
    ms: float,
    *,
    bins: Binaries,
    runner: Runner,
    forget: Callable[[Sequence[ProcessRecord]], None],
    record: Callable[[ProcessRecord], None],
    sites: Sequence[str] = DB_SITES,
) -> list[ProcessRecord]:
    """Route the replication links into ``site`` through relays adding ``ms`` each way.

    Args:
        state: The lab's state now.
        site: The site whose replicas get the delay.
        ms: Milliseconds each way; 0 removes the relays and repoints the replicas back.
        bins: The server binaries.
        runner: Runs commands as the lab user.
        forget: Removes records of stopped relays from ``state.json``.
        record: Adds the record of a started relay to ``state.json``.
        sites: The sites that hold database servers in this profile.

    Returns:
        The relays now running for the site (empty after ``ms = 0``).

    Raises:
        LabError: The site is dark, holds no replica, or a step failed.
    """
    layout = LabLayout.create(state.directory_path, state.net)
    if any(s.state is ProcState.STOPPED for s in statuses(state) if s.record.site == site):
        raise LabError(f"site {site} is dark; run `lab chaos up {site}` first")
    old = latency.relays_of(state.processes, site)
    latency.remove_relays(
        runner, layout, bins, old, lambda rec: stop_relay(rec, runner.timeout_scale)
    )
    forget(old)
    if ms == 0:
        return []
    links = latency.find_links(runner, layout, bins, site, sites)
    if not links:
        raise LabError(f"no replication link into {site}: it holds no replica now")
    return [latency.relay_link(runner, layout, bins, site, link, ms, record) for link in links]
