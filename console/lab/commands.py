"""``drconsole lab ...``: the command-line face of :class:`console.lab.lab.Lab`.

Prints what happened in a sentence or a table and returns the exit code; the work and the
errors live in the lab itself (``console.cli`` turns errors into exit codes).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from console.errors import InputError
from console.lab.lab import DEFAULT_DIR, Lab, ProcessStatus
from console.lab.layout import SITES
from console.lab.procs import ProcState
from console.lab.profiles import DEFAULT_PROFILE, PROFILES


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run one ``drconsole lab`` action.

    Args:
        args: Parsed arguments: ``dir``, ``lab_command`` (``up``/``status``/``down``/``chaos``)
            and, per action, ``net``, ``inventory``, ``action``, ``site``, ``ms``.
        out: Where to print (default stdout).

    Returns:
        The exit code: 0 done, 1 the lab is not healthy or did not stop cleanly, 2 bad input.
    """
    stream = out if out is not None else sys.stdout
    try:
        code = _run(args, stream)
        stream.flush()
        return code
    except BrokenPipeError:  # the reader went away (`lab status | head`): not our failure
        if out is None:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace, stream: TextIO) -> int:
    directory = Path(getattr(args, "dir", None) or DEFAULT_DIR)
    command = args.lab_command
    if command == "up":
        return _up(directory, args, stream)
    if command == "profiles":
        return _profiles(stream)
    lab = Lab(directory)
    if command == "status":
        return _status(lab, stream)
    if command == "down":
        return _down(lab, stream)
    if command == "chaos":
        return _chaos(lab, args, stream)
    raise InputError(f"unknown lab action {command!r}: use up, profiles, status, down or chaos")


def _up(directory: Path, args: argparse.Namespace, out: TextIO) -> int:
    net = int(getattr(args, "net", 0) or 0)
    given = getattr(args, "inventory", None)
    lab = Lab(directory, net, profile=getattr(args, "profile", None))
    result = lab.up(Path(given) if given is not None else None)
    state = result.state
    sites = ", ".join(f"{s} {lab.layout.site(s).address}" for s in SITES)
    if result.already_running:
        print(
            f"lab already running in {state.directory} (profile {state.profile}, net "
            f"{state.net}, user {state.user}); nothing changed. inventory: {result.inventory}",
            file=out,
        )
        return 0
    print(
        f"lab up in {result.seconds:.1f} s (profile {state.profile}): {sites} (user {state.user})",
        file=out,
    )
    print(f"inventory:   {result.inventory}", file=out)
    print(f"known_hosts: {result.known_hosts}", file=out)
    print(f"try: drconsole status -i {result.inventory}", file=out)
    return 0


def _profiles(out: TextIO) -> int:
    width = max(len(p.name) for p in PROFILES)
    for profile in PROFILES:
        mark = " (default)" if profile.name == DEFAULT_PROFILE else ""
        print(
            f"{profile.name.ljust(width)}  {profile.summary}{mark}; writes "
            f"{profile.default_inventory}",
            file=out,
        )
    return 0


def format_status(rows: list[ProcessStatus]) -> list[str]:
    """The status table's lines (header first)."""
    header = ("SITE", "PROCESS", "PID", "STATE", "ADDRESS:PORT", "LISTEN", "NOTE")
    table: list[tuple[str, ...]] = [header]
    for row in rows:
        note = f"restarted (was pid {row.record.pid})" if row.restarted else ""
        if row.record.target:
            note = f"-> {row.record.target} +{row.record.delay_ms or 0:g} ms"
        table.append(
            (
                row.record.site,
                row.record.name,
                str(row.pid),
                row.state.value,
                row.record.endpoint,
                "yes" if row.listening else "no",
                note,
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]


def _status(lab: Lab, out: TextIO) -> int:
    state = lab.state()
    if state is None:
        print(f"no lab in {lab.directory}", file=out)
        return 1
    rows = lab.status()
    print(
        f"lab {state.directory}  profile {state.profile}  net {state.net}  user {state.user}  "
        f"phase {state.phase}",
        file=out,
    )
    if state.error:
        print(f"last error: {state.error}", file=out)
    if state.inventory:
        print(f"inventory {state.inventory}", file=out)
    for line in format_status(rows):
        print(line, file=out)
    dead = [r for r in rows if r.state is ProcState.DEAD]
    dark = sorted({r.record.site for r in rows if r.state is ProcState.STOPPED})
    if dark:
        print(f"dark (SIGSTOPped) sites: {', '.join(dark)}", file=out)
    if state.phase == "down":
        return 0
    if dead:
        print(f"{len(dead)} process(es) dead", file=out)
        return 1
    if dark:
        return 0
    problems = lab.health()
    for problem in problems:
        print(f"unhealthy: {problem}", file=out)
    return 1 if problems else 0


def _down(lab: Lab, out: TextIO) -> int:
    if lab.state() is None:
        print(f"no lab in {lab.directory}; nothing to stop", file=out)
        return 0
    result = lab.down()
    print(
        f"lab down in {result.seconds:.1f} s: stopped {len(result.stopped)} process(es)"
        + (f", {len(result.killed)} needed SIGKILL" if result.killed else ""),
        file=out,
    )
    if result.leftovers:
        print(f"still listening: {', '.join(result.leftovers)}", file=out)
        return 1
    print("no listener left on the lab's ports", file=out)
    return 0


def _chaos(lab: Lab, args: argparse.Namespace, out: TextIO) -> int:
    action, site = args.action, args.site
    if site not in SITES:
        raise InputError(f"unknown site {site!r}: the lab's sites are {', '.join(SITES)}")
    if action == "down":
        pids = lab.chaos_down(site)
        print(f"site {site} is dark: SIGSTOP sent to {len(pids)} process(es)", file=out)
        return 0
    if action == "up":
        pids = lab.chaos_up(site)
        print(f"site {site} is back: SIGCONT sent to {len(pids)} process(es)", file=out)
        return 0
    if action == "latency":
        if args.ms is None:
            raise InputError("lab chaos latency needs a delay: lab chaos latency SITE MS")
        relays = lab.chaos_latency(site, args.ms)
        if not relays:
            print(f"site {site}: replication links direct again, relays stopped", file=out)
        for rec in relays:
            print(
                f"site {site}: {rec.name.removeprefix('relay:')} replicates through "
                f"{rec.endpoint} -> {rec.target} (+{rec.delay_ms or 0:g} ms each way)",
                file=out,
            )
        return 0
    raise InputError(f"unknown chaos action {action!r}: use down, up or latency")
