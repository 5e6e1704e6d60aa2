"""The command line's own contract: bad arguments are one line and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def drconsole(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["run"], "the following arguments are required: playbook, -i/--inventory"),
        (["--mode", "practice", "status"], "invalid choice: 'practice'"),
        (["status", "-i", "inventory/example.yaml", "--watch", "soon"], "invalid float value"),
        (["lab", "chaos", "sideways", "east"], "invalid choice: 'sideways'"),
        (["audit"], "audit needs an action"),
        (["lab"], "lab needs an action"),
        (["validate", "/nonexistent/x.yaml"], "no such file or directory"),
    ],
)
def test_bad_arguments(args: list[str], message: str) -> None:
    proc = drconsole(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_no_command_without_a_lab_inventory_says_how_to_get_one(tmp_path: Path) -> None:
    proc = drconsole(cwd=tmp_path)
    assert proc.returncode == 2
    assert "drconsole lab up" in proc.stderr and "Traceback" not in proc.stderr


def test_help() -> None:
    proc = drconsole("--help")
    assert proc.returncode == 0
    for command in ("validate", "status", "plan", "run", "audit", "report", "lab", "tui"):
        assert command in proc.stdout
