"""The ``mariadb-pitr`` proof reads each transaction's GTID and time from ``mariadb-binlog``'s
text, whose time has a one-digit hour after two spaces before 10:00 (``#261204  1:36:35``).
That line once parsed to ``2026-12-04TZ`` and every PITR run between 00:00 and 09:59 UTC was
"NOT PROVEN"; this runs the playbook's own ``gtids`` function (taken from the shipped YAML) on
event headers in that form, so the morning is tested at any hour."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).parent / "data" / "binlog" / "events.txt"


def _gtids_function() -> str:
    playbook = yaml.safe_load((ROOT / "playbooks" / "mariadb-pitr.yaml").read_text())
    prove = next(step for step in playbook["steps"] if step["id"] == "prove")
    (line,) = [ln.strip() for ln in prove["run"].splitlines() if ln.strip().startswith("gtids()")]
    return line


def test_binlog_times_before_ten_parse_to_full_iso_times() -> None:
    done = subprocess.run(
        ["bash", "-c", f'{_gtids_function()}\ngtids "$1"', "gtids", str(EVENTS)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "0-1-11 2026-12-04T01:36:35Z",
        "0-1-12 2026-12-04T01:36:36Z",
        "0-1-13 2026-12-03T14:46:19Z",
    ]
    for line in done.stdout.splitlines():  # each one a time date(1) reads, as the proof does
        when = line.split()[1]
        subprocess.run(
            ["date", "-u", "-d", when, "+%s"], check=True, timeout=30, capture_output=True
        )
