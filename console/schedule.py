"""``drconsole schedule PLAYBOOK -i INV --every 7d``: a restore verification that runs by itself.

It prints (or with ``--install`` writes) a systemd service and timer, or with ``--cron`` a cron
entry, that runs the playbook headless (``drconsole run ... --yes``) against the inventory,
with the same audit database, operator, parameters and notification targets as the command
line that made it. The run notifies the inventory's ``notify:`` plus ``--notify`` with
``--notify-failures-only``: a weekly success stays quiet, a failed step or a run that failed or
missed an objective posts (``--notify-all`` on ``schedule`` posts every run's start and end too),
so a failing restore test alerts where people look. Nothing here starts a run:
the schedule is the unit files, and the run is checked (playbook against inventory, as
``validate`` does) before they are written, so a schedule cannot be made for a run that would
be refused.

Paths are made absolute (the timer runs from another working directory). The service is
``Type=oneshot``; the timer is ``Persistent=true`` (a run missed while the machine was off runs
at the next boot) with ``OnUnitActiveSec`` = the interval and a first run
``OnBootSec``=5 min after boot.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from console.errors import InputError
from console.model.durations import DurationError, parse_duration

MIN_EVERY = 60.0
"""The shortest interval accepted (a restore verification every few seconds is a mistake)."""
_UNIT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Schedule:
    """What to write, and where."""

    name: str
    """The unit name without suffix: ``drconsole-<playbook>-<inventory>``."""
    command: list[str]
    """The headless run, as argv."""
    every: float
    """Seconds between runs."""

    @property
    def command_line(self) -> str:
        return shlex.join(self.command)

    def service(self) -> str:
        """The systemd service unit."""
        return (
            "[Unit]\n"
            f"Description=drconsole scheduled run: {self.name}\n"
            "After=network-online.target\n"
            "Wants=network-online.target\n\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"ExecStart={_systemd_escape(self.command_line)}\n"
        )

    def timer(self) -> str:
        """The systemd timer unit."""
        return (
            "[Unit]\n"
            f"Description=drconsole scheduled run every {_human(self.every)}: {self.name}\n\n"
            "[Timer]\n"
            "OnBootSec=5min\n"
            f"OnUnitActiveSec={int(self.every)}s\n"
            "Persistent=true\n"
            f"Unit={self.name}.service\n\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        )

    def cron(self) -> str:
        """A cron.d line (cron cannot say "every N seconds": the nearest schedule that fits)."""
        return f"{_cron_spec(self.every)} root {self.command_line}\n"


def _systemd_escape(text: str) -> str:
    # systemd expands % specifiers and $ variables in ExecStart
    return text.replace("%", "%%").replace("$", "$$")


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _cron_spec(every: float) -> str:
    minutes = int(every // 60)
    if every % 86400 == 0:
        days = int(every // 86400)
        if days == 7:
            return "17 3 * * 0"
        return f"17 3 */{days} * *" if days > 1 else "17 3 * * *"
    if every % 3600 == 0:
        hours = int(every // 3600)
        return f"17 */{hours} * * *" if hours > 1 else "17 * * * *"
    if minutes >= 1 and every % 60 == 0 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    raise InputError(
        f"--every {_human(every)}: cron cannot run at that interval; use whole minutes that "
        "divide an hour, whole hours or whole days (or a systemd timer, without --cron)"
    )


def make_schedule(args: argparse.Namespace) -> Schedule:
    """The schedule the arguments describe, after checking the run as ``validate`` would.

    Raises:
        InputError: a bad interval, playbook, inventory, parameter or notification URL.
    """
    try:
        every = parse_duration(args.every)
    except DurationError as exc:
        raise InputError(f"--every {args.every}: {exc}") from None
    if every < MIN_EVERY:
        raise InputError(f"--every {args.every}: at least 1m between scheduled runs")
    from console.engine.prepare import prepare  # noqa: PLC0415 (the run's own checks)
    from console.notify.targets import command_line_targets  # noqa: PLC0415

    prepared = prepare(args.playbook, args.inventory, args.var)
    command_line_targets(args.notify)
    argv = [sys.executable, "-m", "console", "--audit", str(Path(args.audit).resolve())]
    argv += ["--operator", str(args.operator), "--mode", str(args.mode), "run"]
    argv += [str(Path(args.playbook).resolve()), "-i", str(Path(args.inventory).resolve())]
    argv.append("--yes")
    for var in args.var:
        argv += ["--var", var]
    for url in args.notify:
        argv += ["--notify", url]
    if not args.notify_all:
        argv.append("--notify-failures-only")
    raw = f"drconsole-{prepared.playbook.name}-{prepared.inventory.name}"
    return Schedule(_UNIT_NAME.sub("-", raw), argv, every)


def schedule_command(args: argparse.Namespace) -> int:
    """``drconsole schedule``: print the units (or the cron line), or install them."""
    sched = make_schedule(args)
    out = sys.stdout
    if args.cron:
        if not args.install:
            out.write(sched.cron())
            return 0
        target = Path(args.cron_dir) / sched.name
        target.write_text(
            f"# drconsole schedule: {sched.name}, every {_human(sched.every)}\n{sched.cron()}"
        )
        print(f"wrote {target}")
        return 0
    if not args.install:
        out.write(f"# {sched.name}.service\n{sched.service()}\n")
        out.write(f"# {sched.name}.timer\n{sched.timer()}")
        return 0
    unit_dir = Path(args.unit_dir)
    if not unit_dir.is_dir():
        raise InputError(f"--unit-dir {unit_dir}: no such folder")
    (unit_dir / f"{sched.name}.service").write_text(sched.service())
    (unit_dir / f"{sched.name}.timer").write_text(sched.timer())
    print(f"wrote {unit_dir / sched.name}.service and .timer")
    print(f"enable it with: systemctl daemon-reload && systemctl enable --now {sched.name}.timer")
    return 0
