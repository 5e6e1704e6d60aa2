"""Measure the whole-site drills on this machine: RTO, RPO and the console's overhead.

Why: the issue asks for the RTO and RPO of moving a whole site (``site-evacuation``, a
playbook composed of the three planned failovers with ``include:``) and its return
(``site-return``), medians of several rounds, with the steps' own time separated from what
the console adds. This brings up a throwaway default lab, runs both drills headless through
the real CLI ``--rounds`` times, and prints per run, from its audit log alone:

- ``rto_s`` / ``rpo_s`` / ``rpo_writes``: what ``run_finished`` recorded (canary-measured);
- ``wall_s``: the run's first to last event;
- ``steps_s``: the sum of its steps' durations (``step_finished``): the playbooks' own time,
  commands and the waits they ask for;
- ``commands_s``: the time some command of the run was in flight (the union of the commands'
  intervals; commands of one step on several hosts overlap);
- ``outside_steps_s`` = wall - steps: the console's own work around the steps (locks, the
  before/after status sweeps, the canary's start and check, preflight, the audit writes);
- ``overhead_pct`` = outside_steps / steps.

Usage (as root, the lab needs it)::

    .venv/bin/python benchmarks/drill_sites.py --net 25 --rounds 3
    .venv/bin/python benchmarks/drill_sites.py --net 25 --rounds 3 --profile active-active

With ``--profile active-active`` the drills are the active-active lab's: ``evacuate-site`` /
``return-site`` (orders-db and unit-east's writes out of east and back, sessions staying in
west) and ``unit-evacuation`` / ``unit-return`` (unit-west's writes to east and back). With
``--profile three-center``: ``city-loss`` (east and west taken dark once the canary has
written, dr's PostgreSQL, MariaDB and Redis promoted), then the city back (``chaos up``) and
``city-return`` (east and west rebuilt from dr, every primary home), on one lab.

The lab lives under /tmp and is taken down (its directory removed unless ``--keep``) at the
end, also on failure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.audit.errors import NotAnAuditDatabase  # noqa: E402
from console.audit.model import Event  # noqa: E402
from console.audit.store import AuditStore  # noqa: E402
from console.lab.lab import Lab  # noqa: E402


def _t(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """The length of the union of ``(start, end)`` intervals."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def measure(events: list[Event]) -> dict[str, Any]:
    """One run's figures from its events."""
    done = next((e.data for e in events if e.kind == "run_finished"), {})
    wall = _t(events[-1].ts) - _t(events[0].ts)
    steps = sum(
        float(e.data.get("duration") or 0.0)
        for e in events
        if e.kind == "step_finished" and e.data.get("outcome") != "stopped"
    )
    commands = [
        (_t(e.ts) - float(e.data.get("duration") or 0.0), _t(e.ts))
        for e in events
        if e.kind == "command_result"
    ]
    outside = wall - steps
    return {
        "rto_s": done.get("rto_seconds"),
        "rpo_s": done.get("rpo_seconds"),
        "rpo_writes": done.get("rpo_writes"),
        "wall_s": round(wall, 3),
        "steps_s": round(steps, 3),
        "commands_s": round(union_seconds(commands), 3),
        "outside_steps_s": round(outside, 3),
        "overhead_pct": round(100.0 * outside / steps, 1) if steps else None,
    }


class Bench:
    """A lab, an audit database, and the runs measured on them."""

    def __init__(self, net: int, scale: float, profile: str = "default") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="drsites-bench-", dir="/tmp"))
        self.root.chmod(0o755)
        self.lab = Lab(self.root / "lab", net, timeout_scale=scale, profile=profile)
        self.audit = self.root / "audit.db"
        self.inventory = self.root / "lab.yaml"
        self.rows: list[dict[str, Any]] = []

    def up(self) -> None:
        """Start the lab."""
        result = self.lab.up(self.inventory)
        print(f"lab up in {result.seconds:.1f}s on net {self.lab.layout.net}", flush=True)

    def down(self) -> None:
        """Stop the lab."""
        if self.lab.state() is not None:
            self.lab.down()

    def run(self, playbook: str, *extra: str) -> None:
        """Run one playbook with ``--yes`` and record what its log measured."""
        argv = [sys.executable, "-m", "console", "--audit", str(self.audit), "run"]
        argv += [f"playbooks/{playbook}.yaml", "-i", str(self.inventory), "--yes", *extra]
        proc = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False
        )
        run_id = proc.stdout.split()[1] if proc.stdout.startswith("run ") else "?"
        if proc.returncode != 0:
            raise SystemExit(f"{playbook} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
        with AuditStore(self.audit, create=False) as store:
            row = {"drill": playbook, "run": run_id, **measure(store.events(run_id))}
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def city_loss(self) -> None:
        """``three-center/city-loss`` on this three-center lab: the run starts with everything
        up; once the canary has 3 acknowledged writes, east and west go dark. A previous
        round's city-loss left its locks on east and west: ``--break-lock``."""
        argv = [sys.executable, "-m", "console", "--audit", str(self.audit), "run"]
        argv += ["playbooks/three-center/city-loss.yaml", "-i", str(self.inventory), "--yes"]
        argv += ["--break-lock"]
        before = self._latest()
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + 300
            while self._acked(before) < 3:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"city-loss: no canary acknowledged in time:\n{proc.stdout}")
                time.sleep(0.5)
            self.lab.chaos_down("east")
            self.lab.chaos_down("west")
            out, _ = proc.communicate(timeout=1800)
        finally:
            if proc.poll() is None:
                proc.kill()
        if proc.returncode != 0:
            raise SystemExit(f"city-loss failed (exit {proc.returncode}):\n{out[-4000:]}")
        run_id = self._latest()
        with AuditStore(self.audit, create=False) as store:
            row = {"drill": "three-center/city-loss", "run": run_id}
            row.update(measure(store.events(run_id or "")))
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def _latest(self) -> str | None:
        if not self.audit.is_file():
            return None
        try:
            with AuditStore(self.audit, create=False) as store:
                return store.latest_run_id()
        except NotAnAuditDatabase:  # the first run is creating it right now
            return None

    def _acked(self, before: str | None) -> int:
        rid = self._latest()
        if rid is None or rid == before:
            return 0
        with AuditStore(self.audit, create=False) as store:
            events = store.events(rid, kinds=["canary_write"])
        return sum(1 for e in events if e.data["ok"] is True)

    def summary(self) -> None:
        """Medians per drill."""
        summarize(self.rows)


def summarize(rows_all: list[dict[str, Any]]) -> None:
    """Print the medians per drill."""
    for drill in dict.fromkeys(r["drill"] for r in rows_all):
        rows = [r for r in rows_all if r["drill"] == drill]
        med = {
            k: statistics.median(float(r[k]) for r in rows if r[k] is not None)
            for k in ("rto_s", "rpo_s", "wall_s", "steps_s", "commands_s", "overhead_pct")
            if any(r[k] is not None for r in rows)
        }
        shown = ", ".join(f"{k} {v:.2f}" for k, v in med.items())
        print(f"{drill} (median of {len(rows)}): {shown}", flush=True)


DRILLS: dict[str, tuple[str, ...]] = {
    "default": ("site-evacuation", "site-return"),
    "three-center": ("three-center/city-loss", "three-center/city-return"),
    "active-active": (
        "active-active/evacuate-site",
        "active-active/return-site",
        "active-active/unit-evacuation",
        "active-active/unit-return",
    ),
}
"""The drills per lab profile, run in this order every round."""


def _three_center_rounds(args: argparse.Namespace) -> int:
    """city-loss (the city taken dark during the run), the city back, city-return; one lab."""
    bench = Bench(args.net, args.scale, "three-center")
    try:
        bench.up()
        for _ in range(args.rounds):
            bench.city_loss()
            bench.lab.chaos_up("east")
            bench.lab.chaos_up("west")
            bench.run("three-center/city-return", "--break-lock")
        bench.summary()
    finally:
        bench.down()
        if not args.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    return 0


def main() -> int:
    """Run both drills ``--rounds`` times on a fresh lab and print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", type=int, default=25, help="lab net (second octet)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=3.0, help="lab timeout scale")
    parser.add_argument("--keep", action="store_true", help="keep the lab directory and audit")
    parser.add_argument("--profile", choices=sorted(DRILLS), default="default", help="lab profile")
    args = parser.parse_args()
    if args.profile == "three-center":
        return _three_center_rounds(args)
    bench = Bench(args.net, args.scale, args.profile)
    try:
        bench.up()
        for _ in range(args.rounds):
            for drill in DRILLS[args.profile]:
                bench.run(drill)
        bench.summary()
    finally:
        bench.down()
        if not args.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
