"""AuditStore on a real file: runs, appends, reads, lifecycle, durability, statuses."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.audit import (
    GENESIS_HASH,
    AmbiguousRunId,
    AuditStore,
    NoAuditDatabase,
    NotAnAuditDatabase,
    UnknownRun,
    event_hash,
)
from console.audit.model import pid_alive
from console.errors import LockHeld
from tests.audit.conftest import Location, run_start
from tests.audit.procs import REPO

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.mark.stores("sqlite")
def test_new_store_creates_dirs_schema_and_wal(db_path: Path) -> None:
    assert not db_path.parent.exists()
    with AuditStore(db_path):
        pass
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"events", "runs", "locks"} <= tables


def test_create_run_records_row_and_run_started_event(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    rid = start_run()
    run = store.get_run(rid)
    assert run is not None
    assert run.playbook_name == "pg-failover"
    assert run.services == ("orders-db",)
    assert run.params["dns_token"] == "****"
    assert run.status == "running"  # our own pid, alive
    (event,) = store.events(rid)
    assert (event.gid, event.seq, event.kind, event.prev_hash) == (
        1,
        1,
        "run_started",
        GENESIS_HASH,
    )
    assert event.operator == "alice@jump1"
    assert event.data["playbook"] == {
        "name": "pg-failover",
        "kind": "failover",
        "title": "Fail orders-db over from east to west",
        "path": "playbooks/pg-failover.yaml",
        "digest": "a" * 64,
    }
    assert event.data["inventory"]["digest"] == "b" * 64
    assert event.data["objectives"] == {"rto_seconds": 300, "rpo_seconds": 0}
    assert event.data["services"] == ["orders-db"]
    assert event.data["mode"] == "drill"
    assert TS.match(event.ts)


def test_append_chains_events_globally_and_numbers_them_per_run(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    a = start_run()
    b = start_run()
    e1 = store.append(a, "note", {"text": "one"}, operator="alice")
    e2 = store.append(b, "note", {"text": "two"}, operator="bob", host="db-west-1", step_id="x")
    e3 = store.append(a, "command_intent", {"command": "true", "attempt": 1}, operator="alice")
    assert [e.gid for e in (e1, e2, e3)] == [3, 4, 5]
    assert [e.seq for e in (e1, e2, e3)] == [2, 2, 3]
    assert e2.prev_hash == e1.hash and e3.prev_hash == e2.hash
    assert e3.hash == event_hash(e3.prev_hash, e3.hashed_fields())
    assert store.events(a) == [store.events(a)[0], e1, e3]
    assert store.events(b)[1] == e2
    assert e2.host == "db-west-1" and e2.step_id == "x"


def test_events_filters_by_kind_and_after_seq(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    rid = start_run()
    for i in range(5):
        store.append(rid, "note" if i % 2 else "output", {"i": i}, operator="o")
    assert [e.seq for e in store.events(rid, kinds={"note"})] == [3, 5]
    assert [e.seq for e in store.events(rid, after_seq=4)] == [5, 6]
    assert [e.seq for e in store.events(rid, kinds=["output"], after_seq=2)] == [4, 6]
    assert store.events(rid, kinds=[]) == []
    assert store.events("no-such-run") == []


def test_appended_data_reads_back_exactly_as_hashed(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    rid = start_run()
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    event = store.append(rid, "note", {"text": "上海", "at": when, "n": (1, 2)}, operator="o")
    assert event.data == {"text": "上海", "at": "2025-01-02T03:04:05+00:00", "n": [1, 2]}
    assert store.events(rid)[-1] == event


def test_append_refuses_bad_input(store: AuditStore, start_run: Callable[..., str]) -> None:
    rid = start_run()
    with pytest.raises(UnknownRun):
        store.append("01NOSUCHRUN", "note", {}, operator="o")
    with pytest.raises(ValueError, match=r"NaN|Out of range"):
        store.append(rid, "probe_sample", {"lag_seconds": float("nan")}, operator="o")
    with pytest.raises(TypeError):
        store.append(rid, "note", {"x": object()}, operator="o")
    for kind in ("run_started", "run_finished", "run_resumed"):
        with pytest.raises(ValueError, match="only"):
            store.append(rid, kind, {}, operator="o")
    with pytest.raises(ValueError, match="kind"):
        store.append(rid, "", {}, operator="o")
    with pytest.raises(ValueError, match="operator"):
        store.append(rid, "note", {}, operator="")
    # Nothing half-written: the run still has only its run_started, the chain is intact.
    assert len(store.events(rid)) == 1
    assert store.verify().ok


def test_append_batch_is_all_or_nothing(store: AuditStore, start_run: Callable[..., str]) -> None:
    from console.audit import EventDraft

    rid = start_run()
    events = store.append_batch(
        rid,
        [EventDraft("output", {"lines": ["a"]}, "o", host="h"), EventDraft("note", {}, "o")],
    )
    assert [e.seq for e in events] == [2, 3]
    with pytest.raises(TypeError):  # the second draft has no JSON form: neither is stored
        store.append_batch(rid, [EventDraft("note", {}, "o"), EventDraft("note", {"x": 1j}, "o")])
    assert len(store.events(rid)) == 3
    assert store.append(rid, "note", {}, operator="o").seq == 4
    assert store.verify().ok


def test_create_run_refuses_duplicates_and_bad_modes(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    rid = start_run()
    with pytest.raises(ValueError, match="exists"):
        store.create_run(run_start(run_id=rid))
    with pytest.raises(ValueError, match="mode"):
        store.create_run(run_start(mode="practice"))
    assert store.verify().ok


def test_finish_run_records_outcome_and_measurements(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    rid = start_run()
    event = store.finish_run(
        rid, "succeeded", {"exit_code": 0, "rto_seconds": 42.5, "rpo_seconds": 0.0, "summary": "ok"}
    )
    assert event.kind == "run_finished" and event.data["outcome"] == "succeeded"
    assert event.operator == "alice@jump1"
    run = store.get_run(rid)
    assert run is not None
    assert (run.status, run.outcome, run.finished_at) == ("succeeded", "succeeded", event.ts)
    assert run.rto_seconds == 42.5 and run.rpo_seconds == 0.0
    assert run.duration_seconds is not None and run.duration_seconds >= 0
    with pytest.raises(ValueError, match="finished already"):
        store.finish_run(rid, "failed", {})
    with pytest.raises(ValueError, match="outcome must be"):
        store.finish_run(start_run(), "great", {})
    with pytest.raises(ValueError, match="data says"):
        store.finish_run(start_run(), "failed", {"outcome": "succeeded"})


def test_resume_reopens_a_stopped_run_and_records_previous_status(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    rid = start_run()
    store.finish_run(rid, "stopped", {"exit_code": 3})
    event = store.resume_run(rid, operator="carol")
    assert event.kind == "run_resumed"
    assert event.data == {
        "previous_status": "stopped",
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
    }
    run = store.get_run(rid)
    assert run is not None and run.status == "running" and run.outcome is None
    store.finish_run(rid, "succeeded", {"exit_code": 0})
    assert [e.kind for e in store.events(rid)] == [
        "run_started",
        "run_finished",
        "run_resumed",
        "run_finished",
    ]
    assert store.verify(rid).ok and store.verify().ok


def test_resume_is_refused_while_the_runs_process_is_alive(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rid = start_run(pid=sleeper.pid)
        with pytest.raises(LockHeld, match="still running"):
            store.resume_run(rid, operator="carol")
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    assert store.resume_run(rid, operator="carol").data["previous_status"] == "interrupted"
    with pytest.raises(UnknownRun):
        store.resume_run("nope", operator="carol")


def test_status_of_unfinished_runs_depends_on_pid_and_host(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    assert not pid_alive(dead.pid)
    alive = start_run()
    gone = start_run(pid=dead.pid)
    elsewhere = start_run(pid=dead.pid, hostname="some-other-laptop")
    statuses = {r.run_id: r.status for r in store.runs()}
    assert statuses == {alive: "running", gone: "interrupted", elsewhere: "running?"}


def test_zombie_processes_count_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while pid_alive(child.pid) and datetime.now(UTC) < deadline:
            pass  # exits quickly and stays a zombie until we wait() for it
        assert not pid_alive(child.pid)
        assert Path(f"/proc/{child.pid}").exists()  # still a zombie, not yet reaped
    finally:
        child.wait(timeout=30)


def test_get_run_by_unique_prefix_case_insensitive(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    a = start_run(run_id="01AAAAAAAAAAAAAAAAAAAAAAAA")
    start_run(run_id="01AAAAAAAAAAAAAAAAAAAAAAAB")
    start_run(run_id="01BBBBBBBBBBBBBBBBBBBBBBBB")
    run = store.get_run("01b")
    assert run is not None and run.run_id == "01BBBBBBBBBBBBBBBBBBBBBBBB"
    found = store.get_run(a)
    assert found is not None and found.run_id == a
    assert store.get_run("01C") is None
    assert store.get_run("") is None
    with pytest.raises(AmbiguousRunId, match="matches several"):
        store.get_run("01AAA")


def test_runs_newest_first_with_filters(store: AuditStore, start_run: Callable[..., str]) -> None:
    first = start_run(playbook_name="pg-failover")
    cutoff = datetime.now(UTC)
    second = start_run(playbook_name="redis-failover")
    third = start_run(playbook_name="pg-failover")
    assert [r.run_id for r in store.runs()] == [third, second, first]
    assert [r.run_id for r in store.runs(limit=2)] == [third, second]
    assert [r.run_id for r in store.runs(playbook="pg-failover")] == [third, first]
    assert [r.run_id for r in store.runs(since=cutoff)] == [third, second]
    naive = cutoff.replace(tzinfo=None)
    assert [r.run_id for r in store.runs(since=naive, playbook="pg-failover")] == [third]
    assert store.latest_run_id() == third


def test_empty_store_has_no_latest_run_and_verifies(store: AuditStore) -> None:
    assert store.latest_run_id() is None
    assert store.runs() == []
    result = store.verify()
    assert result.ok and result.events_checked == 0 and result.final_hash == GENESIS_HASH


def test_reopening_an_existing_database_keeps_everything(db_path: Location) -> None:
    with AuditStore(db_path) as first:
        run = run_start()
        first.create_run(run)
        first.append(run.run_id, "note", {"text": "x"}, operator="o")
    with AuditStore(db_path, create=False) as again:
        assert len(again.events(run.run_id)) == 2
        assert again.verify().ok


def test_read_only_open_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "audit.db"
    with pytest.raises(NoAuditDatabase):
        AuditStore(missing, create=False)
    assert not missing.exists() and not missing.parent.exists()


def test_a_file_that_is_not_an_audit_database_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not sqlite at all\n" * 100)
    with pytest.raises(NotAnAuditDatabase, match="not a drconsole audit database"):
        AuditStore(junk, create=False)
    with pytest.raises(NotAnAuditDatabase):
        AuditStore(junk)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(NotAnAuditDatabase, match="no events, runs, locks table"):
        AuditStore(other, create=False)


@pytest.mark.stores("sqlite")
def test_durable_appends_commit_with_synchronous_full(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    """The intent record's durability: FULL is in force for its commit, NORMAL otherwise.

    A power cut cannot be made for real here, so this checks the mechanism, SQLite's own
    statement trace of our connection: which synchronous level each append's transaction used.
    """
    rid = start_run()
    trace: list[str] = []
    store._conn.set_trace_callback(trace.append)
    store.append(rid, "note", {}, operator="o")
    store.append(rid, "command_intent", {"command": "x"}, operator="o", durable=True)
    store.append(rid, "command_intent", {"command": "y"}, operator="o", durable=True)
    store.append(rid, "output", {"lines": []}, operator="o")
    store._conn.set_trace_callback(None)

    level = "?"
    commits: list[str] = []
    for statement in trace:
        if statement.startswith("PRAGMA synchronous"):
            level = statement.split("=")[1].strip()
        if statement == "COMMIT":
            commits.append(level)
    assert commits == ["NORMAL", "FULL", "FULL", "NORMAL"]
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize(("mode", "expected"), [("durable", 40), ("normal", 0)])
def test_durable_appends_fsync_before_returning(tmp_path: Path, mode: str, expected: int) -> None:
    """Counted for real with strace: one fsync per durable append, none otherwise."""
    trace = tmp_path / "strace.txt"
    subprocess.run(
        [
            "strace",
            "-f",
            "-e",
            "trace=fsync,fdatasync,write",
            "-o",
            str(trace),
            sys.executable,
            "-m",
            "tests.audit.workers",
            "sync",
            str(tmp_path / "audit.db"),
            mode,
            "40",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=90,
    )
    lines = trace.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "MARK-START" in line)
    end = next(i for i, line in enumerate(lines) if "MARK-END" in line)
    syncs = [line for line in lines[start:end] if "fsync(" in line or "fdatasync(" in line]
    assert len(syncs) == expected
