"""``drconsole run --lease DURATION``: the length of the run's service leases.

A bad value is one line on stderr, exit 2, before the audit log is opened (real processes);
a good one is what the engine gets as its lease length (``RunConfig.lease_ttl``, which the
lease tests, ``test_lease_expiry``, drive on a real store).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.audit.leases import DEFAULT_TTL
from console.cli import build_parser
from console.engine.headless import lease_length
from tests.audit.procs import REPO
from tests.engine.scripted_env import make_estate

WAIT = 120.0
"""Seconds for the console process to refuse (10x a loaded machine)."""

PLAYBOOK = """\
version: 1
name: look
kind: custom
steps:
  - id: look
    manual: Look at the dashboards.
"""


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    inventory = make_estate(tmp_path).inventory
    playbook = tmp_path / "look.yaml"
    playbook.write_text(PLAYBOOK)
    argv = ["--audit", str(tmp_path / "audit.db"), "--operator", "alice", "run", str(playbook)]
    return subprocess.run(
        [sys.executable, "-m", "console", *argv, "-i", str(inventory), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("soon", "malformed duration 'soon'"),
        ("-5s", "a duration cannot be negative"),
        ("0", "a lease lasts from 3s to 1d"),
        ("2s", "a lease lasts from 3s to 1d"),
        ("2d", "a lease lasts from 3s to 1d"),
    ],
)
def test_a_bad_lease_is_one_line_exit_2_before_anything(
    tmp_path: Path, value: str, says: str
) -> None:
    proc = _run(tmp_path, "--yes", f"--lease={value}")
    assert proc.returncode == 2, proc
    assert proc.stderr.startswith(f"--lease {value}: "), proc.stderr
    assert says in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "audit.db").exists()


def test_a_good_lease_runs(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--yes", "--lease", "90s")
    assert proc.returncode == 0, proc
    assert (tmp_path / "audit.db").exists()


@pytest.mark.parametrize(
    ("argv", "seconds"),
    [
        ([], DEFAULT_TTL),
        (["--lease", "3s"], 3.0),
        (["--lease", "5m"], 300.0),
        (["--lease", "1d"], 86400.0),
    ],
)
def test_the_lease_length_the_engine_gets(argv: list[str], seconds: float) -> None:
    args = build_parser().parse_args(["run", "p.yaml", "-i", "i.yaml", *argv])
    assert lease_length(args) == seconds
