"""Commit or roll back: ``commit: {within: DURATION, otherwise: rollback|keep}``.

On both stores (a SQLite file; a database on a real PostgreSQL server, one per module), the
real engine (SSH scripted) finishes its steps and awaits a commit, keeping its lock; a commit
from another console's connection ends the run (exit 0) without the rollback; a window that
ends uncommitted runs the rollback steps by themselves (exit 3), or keeps the new state with
``otherwise: keep``. Then the same with real processes: ``drconsole run`` and
``drconsole commit`` on a PostgreSQL team store.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit.commits import CommitRefused, commit, pending_commits
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from tests.audit.procs import REPO, stop
from tests.engine.lines import LineReader
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.pgserver import PgServer, pg_missing, pg_server_fixture
from tests.support.scripted import Reply

WAIT = 60.0
"""Seconds a test waits for a run to reach its window or end (10x a loaded machine)."""

PLAYBOOK = """
version: 1
name: with-window
kind: switchover
service: svc
commit: {{within: {within}, otherwise: {otherwise}}}
steps:
  - id: promote
    on: h-west
    run: promote-west
rollback:
  - id: demote
    on: h-west
    run: demote-west
"""

pg_server = pg_server_fixture("module")


@pytest.fixture(params=["sqlite", "postgresql"])
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScriptedEstate]:
    est = make_estate(tmp_path)
    if request.param == "postgresql":
        if pg_missing() is not None:
            pytest.skip(str(pg_missing()))
        server: PgServer = request.getfixturevalue("pg_server")
        est.audit = server.new_database()  # type: ignore[assignment]
    est.transport.on("promote-west", Reply(stdout="promoted"))
    est.transport.on("demote-west", Reply(stdout="demoted"))
    yield est


def _engine(
    est: ScriptedEstate, within: str, otherwise: str = "rollback"
) -> tuple[object, AuditStore]:
    pb = est.playbook("with-window", PLAYBOOK.format(within=within, otherwise=otherwise))
    return est.engine(pb, HeadlessDecider("alice@laptop1", yes=True), commit_poll=0.05)


async def _awaiting(est: ScriptedEstate) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            with AuditStore(est.audit, create=False) as other:
                found = pending_commits(other)
        except Exception:  # the store may not exist yet
            found = []
        if found:
            return found[0].run_id
        await asyncio.sleep(0.05)
    raise AssertionError("the run never awaited a commit")


async def test_a_commit_in_time_ends_the_run_without_the_rollback(
    estate: ScriptedEstate,
) -> None:
    engine, audit = _engine(estate, "60s")
    task = asyncio.ensure_future(engine.run())  # type: ignore[attr-defined]
    try:
        run_id = await _awaiting(estate)
        assert estate.transport.calls_to("promote-west")
        with AuditStore(estate.audit, create=False) as other:
            (pending,) = pending_commits(other)
            assert 50 < pending.left(time.time()) <= 60 and pending.otherwise == "rollback"
            holder = other.lock_holder("svc")
            assert holder is not None and holder.run_id == run_id  # the old state kept ready
            with pytest.raises(CommitRefused, match="ended"):
                commit(other, run_id, operator="bob", now=pending.deadline + 1)
            event, committed = commit(other, run_id, operator="bob@laptop2", hostname="lap2")
        assert event.kind == "commit" and event.operator == "bob@laptop2"
        assert committed.run_id == run_id
        result = await asyncio.wait_for(task, WAIT)
    finally:
        audit.close()
    assert result.exit_code == 0 and "committed by bob@laptop2" in result.summary
    assert not estate.transport.calls_to("demote-west")
    kinds = [e["kind"] for e in estate.events(run_id)]
    assert kinds.index("commit_awaited") < kinds.index("commit") < kinds.index("run_finished")
    assert "rollback_started" not in kinds
    with AuditStore(estate.audit, create=False) as other:
        assert pending_commits(other) == []
        with pytest.raises(CommitRefused, match="awaits no commit"):
            commit(other, run_id, operator="carol")
        assert other.lock_holder("svc") is None
        assert other.verify().ok


async def test_an_uncommitted_window_rolls_back_by_itself(estate: ScriptedEstate) -> None:
    engine, audit = _engine(estate, "1s")
    try:
        result = await asyncio.wait_for(engine.run(), WAIT)  # type: ignore[attr-defined]
    finally:
        audit.close()
    assert result.exit_code == 3
    assert result.summary == "not committed within 1s: rolled back"
    assert estate.transport.calls_to("demote-west")
    events = estate.events()
    kinds = [e["kind"] for e in events]
    assert kinds.index("commit_awaited") < kinds.index("commit_expired")
    assert kinds.index("commit_expired") < kinds.index("rollback_started")
    started = next(e for e in events if e["kind"] == "rollback_started")
    assert started["reason"] == "the commit window of 1s ended uncommitted"
    assert next(e for e in events if e["kind"] == "rollback_finished")["ok"] is True


async def test_otherwise_keep_keeps_the_new_state(estate: ScriptedEstate) -> None:
    engine, audit = _engine(estate, "500ms", "keep")
    try:
        result = await asyncio.wait_for(engine.run(), WAIT)  # type: ignore[attr-defined]
    finally:
        audit.close()
    assert result.exit_code == 0 and "kept as it is" in result.summary
    assert not estate.transport.calls_to("demote-west")
    assert "commit_expired" in [e["kind"] for e in estate.events()]


MANUAL = """\
version: 1
name: go-live
kind: custom
commit: {{within: {within}, otherwise: rollback}}
steps:
  - id: switch
    manual: Flip the traffic switch.
rollback:
  - id: switch-back
    manual: Flip it back.
"""


def _cli(url: str, operator: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "--audit", url, "--operator", operator, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def _files(tmp_path: Path, within: str) -> tuple[Path, Path]:
    inventory = make_estate(tmp_path).inventory
    playbook = tmp_path / "go-live.yaml"
    playbook.write_text(MANUAL.format(within=within))
    return inventory, playbook


def test_drconsole_commit_from_another_console(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.new_database()
    inventory, playbook = _files(tmp_path, "10m")
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "--audit",
            url,
            "--operator",
            "alice@laptop1",
            "run",
            str(playbook),
            "-i",
            str(inventory),
            "--yes",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out_lines = LineReader(runner)
        run_id = out_lines.line(WAIT).split()[1]
        out_lines.until("awaiting commit", WAIT)
        listed = _cli(url, "bob@laptop2", "commit")
        assert listed.returncode == 0, listed
        assert f"{run_id} go-live (drill; run by alice@laptop1): " in listed.stdout
        assert "s left of 600s, otherwise rollback" in listed.stdout
        done = _cli(url, "bob@laptop2", "commit", run_id[:10])
        assert done.returncode == 0, done
        assert f"committed run {run_id}" in done.stdout
        runner.wait(timeout=WAIT)
        out = out_lines.rest(WAIT)
        assert runner.returncode == 0, out
        assert "committed by bob@laptop2" in out
    finally:
        stop(runner)
    again = _cli(url, "bob@laptop2", "commit", run_id)
    assert again.returncode == 3 and "awaits no commit" in again.stderr, again
    shown = _cli(url, "bob@laptop2", "audit", "show", run_id)
    assert "committed by bob@laptop2 on" in shown.stdout


def test_the_window_ending_rolls_back_exit_3(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.new_database()
    inventory, playbook = _files(tmp_path, "1s")
    proc = _cli(url, "alice@laptop1", "run", str(playbook), "-i", str(inventory), "--yes")
    assert proc.returncode == 3, proc
    assert "not committed within 1s: rolled back" in proc.stdout
    assert "rollback" in proc.stdout and "switch-back" in proc.stdout
