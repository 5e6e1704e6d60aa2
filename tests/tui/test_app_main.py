"""Starting the console: ``drconsole`` / ``drconsole tui`` on a missing or bad inventory is a
clear message and exit 2, never a traceback; the TUI never imports an SSH library itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.tui.support import REPO

TUI = REPO / "console" / "tui"


def _drconsole(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "--audit", str(cwd / "audit.db"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TERM": "dumb"},
        stdin=subprocess.DEVNULL,
    )


def test_no_arguments_without_the_lab_inventory_says_how_to_get_one(tmp_path: Path) -> None:
    done = _drconsole(cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "inventory/lab.yaml: no such inventory file" in done.stderr
    assert "drconsole lab up" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_inventory_is_exit_2(tmp_path: Path) -> None:
    done = _drconsole("tui", "-i", "nowhere.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "nowhere.yaml: no such inventory file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_inventory_is_located_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nsites:\n  east: {role: nowhere}\n")
    done = _drconsole("tui", "-i", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: ", done.stderr), done.stderr


def test_a_bad_refresh_is_exit_2(tmp_path: Path) -> None:
    done = _drconsole(
        "tui", "-i", str(REPO / "inventory" / "example.yaml"), "--refresh", "0", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "--refresh 0: must be more than 0 seconds" in done.stderr


def test_the_tui_never_imports_an_ssh_library_itself() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in TUI.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if re.match(r"\s*(import|from)\s+(asyncssh|paramiko)\b", line)
    ]
    assert offenders == []


def test_drconsole_tui_runs_in_a_real_terminal_and_quits_on_q(tmp_path: Path) -> None:
    """The whole entry point in a pseudo-terminal: it paints the board, and q quits with 0."""
    import os
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    env = {
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
        "TERM": "xterm-256color",
        "COLUMNS": "100",
        "LINES": "30",
        "HOME": str(tmp_path),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "--audit",
            str(tmp_path / "audit.db"),
            "tui",
            "-i",
            str(REPO / "inventory" / "example.yaml"),
        ],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while not (b"status board" in seen and b"DRILL" in seen) and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
        assert b"status board" in seen, seen[-2000:]
        assert b"DRILL" in seen
        os.write(leader, b"q")
        # keep reading: a terminal that is not read fills up and blocks the app's writes
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    os.read(leader, 65536)
                except OSError:
                    break
        proc.wait(timeout=10)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        os.close(leader)
