"""Two consoles, two operators, one PostgreSQL team store: the two-person rule end to end.

Real processes: ``drconsole run`` (alice) waits at a step that needs two approvals; another
``drconsole`` process (bob) lists what waits for him and approves; alice's own approval is
refused, and so is a second one by bob; the run goes on and ends 0. Nobody approving within
``--timeout`` stops the run, exit 3. The store is a real server started once for the module;
the playbook has only manual steps and no service, so nothing else is contacted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.procs import REPO, stop
from tests.engine.lines import LineReader
from tests.engine.scripted_env import make_estate
from tests.support.pgserver import PgServer, pg_server_fixture

WAIT = 120.0
"""Seconds for a console process to start, reach the step or finish (10x a loaded machine)."""

PLAYBOOK = """\
version: 1
name: go-live
kind: custom
title: Go live with a second pair of eyes
steps:
  - id: prepare
    manual: Check the change ticket.
  - id: go-ahead
    title: Open the new site to traffic
    manual: Flip the traffic switch.
    approve: 2
"""

pg_server = pg_server_fixture("module")


def _drconsole(url: str, operator: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "console", "--audit", url, "--operator", operator, *args]


def _cli(url: str, operator: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _drconsole(url, operator, *args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def _files(tmp_path: Path) -> tuple[Path, Path]:
    inventory = make_estate(tmp_path).inventory
    playbook = tmp_path / "go-live.yaml"
    playbook.write_text(PLAYBOOK)
    return inventory, playbook


def test_two_operators_on_two_consoles(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.new_database()
    inventory, playbook = _files(tmp_path)
    runner = subprocess.Popen(
        _drconsole(
            url,
            "alice@laptop1",
            "run",
            str(playbook),
            "-i",
            str(inventory),
            "--yes",
            "--timeout",
            "10m",
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out_lines = LineReader(runner)
        lines = out_lines.until("waits for 2 approvals", WAIT)
        run_id = lines[0].split()[1]
        assert lines[0].startswith("run ")

        own = _cli(url, "alice@laptop1", "approve", run_id)
        assert own.returncode == 3, own
        assert "the run's own operator counts once" in own.stderr
        assert "Traceback" not in own.stderr

        listed = _cli(url, "bob@laptop2", "approve")
        assert listed.returncode == 0, listed
        assert f"{run_id} go-ahead: Open the new site to traffic" in listed.stdout
        assert "1 of 2 approved: alice@laptop1" in listed.stdout
        mine = _cli(url, "alice@laptop1", "approve")
        assert "nothing waits for approval by alice@laptop1" in mine.stdout

        given = _cli(url, "bob@laptop2", "approve", run_id[:12], "go-ahead")
        assert given.returncode == 0, given
        assert "approved step 'go-ahead'" in given.stdout and "2 of 2" in given.stdout

        runner.wait(timeout=WAIT)
        out = out_lines.rest(WAIT)
        assert runner.returncode == 0, out + (runner.stderr.read() if runner.stderr else "")
        assert "approved by bob@laptop2" in out
    finally:
        stop(runner)

    again = _cli(url, "bob@laptop2", "approve", run_id)
    assert again.returncode == 3 and "waits for no approval" in again.stderr, again
    shown = _cli(url, "carol@laptop3", "audit", "show", run_id)
    assert shown.returncode == 0, shown
    assert "approved by bob@laptop2 on" in shown.stdout
    assert "waits for 2 approvals (drill); approved so far: alice@laptop1" in shown.stdout
    report = _cli(url, "carol@laptop3", "report", run_id, "--format", "md")
    assert report.returncode == 0, report
    assert "bob@laptop2" in report.stdout and "approved" in report.stdout
    verified = _cli(url, "carol@laptop3", "audit", "verify")
    assert verified.returncode == 0, verified


def test_nobody_approving_within_the_timeout_stops_the_run(
    tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.new_database()
    inventory, playbook = _files(tmp_path)
    proc = _cli(
        url,
        "alice@laptop1",
        "run",
        str(playbook),
        "-i",
        str(inventory),
        "--yes",
        "--timeout",
        "2s",
    )
    assert proc.returncode == 3, proc
    assert "needs 2 approvals and has 1 (alice@laptop1) after 2s" in proc.stdout
    run_id = proc.stdout.splitlines()[0].split()[1]
    late = _cli(url, "bob@laptop2", "approve", run_id)
    assert late.returncode == 3 and "waits for no approval" in late.stderr, late


@pytest.mark.parametrize("value", ["soon", "1 fortnight"])
def test_a_bad_timeout_is_one_line_exit_2(tmp_path: Path, value: str) -> None:
    inventory, playbook = _files(tmp_path)
    audit = tmp_path / "audit.db"
    proc = _cli(str(audit), "alice", "run", str(playbook), "-i", str(inventory), "--timeout", value)
    assert proc.returncode == 2, proc
    assert proc.stderr.startswith(f"--timeout {value}: "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not audit.exists()
