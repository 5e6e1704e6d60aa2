"""A lab of real servers per PITR test module, and the helpers its tests share.

A point-in-time recovery drill changes nothing on the live pair, but the tests write markers
into the primary and read the recovery window of its archive, so each module gets its own lab
(nets 130..134, this area's range; a lock file per net keeps parallel sessions apart). The
playbook runs headless through the real CLI (``drconsole run --yes``), as an operator or a CI
job runs it, through :class:`tests.drills_pg.drill.Drill`; the tests then read the audit log and
ask the servers over real SSH what happened.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from typing import IO

import pytest

from console.audit import AuditStore
from console.lab.layout import PG_SCRATCH_PORT
from console.report import FORMATS, build_report, render
from console.report.model import Report
from tests.drills_pg.drill import PGBIN, SCALE, Drill
from tests.report.checks import check_json
from tests.support.lab import RunningLab, make_lab_dir, reserve_net, start_test_lab

NETS = range(130, 135)
"""The lab nets this area's tests may use (127.130.0.0/16 .. 127.134.0.0/16)."""


@pytest.fixture(scope="module")
def pitr() -> Iterator[Drill]:
    """A fresh lab for one test module, torn down at the end."""
    root = make_lab_dir("drpitr-")
    running: RunningLab | None = None
    lock: IO[str] | None = None
    errors: list[str] = []
    try:
        for candidate in NETS:
            try:
                net, lock = reserve_net(candidate)
            except RuntimeError as exc:
                errors.append(str(exc))
                continue
            running = start_test_lab(root, net, SCALE)
            break
        if running is None:
            raise RuntimeError(f"no free lab net in {list(NETS)}: {errors}")
        yield Drill(running, root / "audit.db")
    finally:
        try:
            if running is not None and running.lab.state() is not None:
                result = running.lab.down()
                if result.leftovers:
                    raise RuntimeError(f"lab down left listeners: {result.leftovers}")
        finally:
            if lock is not None:
                lock.close()
            if not os.environ.get("DRCONSOLE_TEST_LAB_KEEP"):
                shutil.rmtree(root, ignore_errors=True)


def utc_now(drill: Drill) -> str:
    """The primary's clock now, ISO 8601 UTC with microseconds (a target_time)."""
    return drill.sql(
        "east",
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )


def mark(drill: Drill, marker: str) -> str:
    """Insert ``marker`` into app.coupons on the primary; returns its transaction id."""
    drill.sql(
        "east",
        "CREATE TABLE IF NOT EXISTS coupons (m text PRIMARY KEY, "
        "at timestamptz NOT NULL DEFAULT clock_timestamp())",
        db="app",
    )
    return drill.sql(
        "east", f"INSERT INTO coupons (m) VALUES ('{marker}') RETURNING txid_current()", db="app"
    )


def pause() -> None:
    """A gap between two writes wider than a clock tick (time targets are compared in us)."""
    time.sleep(1.1)


def scratch_left(drill: Drill) -> list[str]:
    """pg_isready's status on the scratch port (2: nothing there) and the scratch entries."""
    scratch = drill.lab.lab.layout.site("dr").scratch_dir
    return drill.shell(
        "dr",
        f"{PGBIN}/pg_isready -q -h {drill.address('dr')} -p {PG_SCRATCH_PORT}; echo $?; "
        f"ls -A {scratch}",
    ).split()


def recovery_report(drill: Drill, run_id: str) -> Report:
    """The run's report from the lab's audit log, every format rendered and the JSON one
    validated against the shipped schema."""
    with AuditStore(drill.audit, create=False) as store:
        report = build_report(store, run_id)
    for fmt in FORMATS:
        text = render(report, fmt)
        if fmt == "json":
            check_json(text)
    return report
