"""Several real processes on one store (a file, a PostgreSQL database): concurrent appends,
kill -9 mid-append, several consoles creating a new store at once."""

from __future__ import annotations

import itertools
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from console.audit import AuditStore
from tests.audit.conftest import Location
from tests.audit.procs import read_line, spawn, stop


@pytest.mark.timeout(180)
def test_concurrent_writers_keep_one_valid_chain(
    db_path: Location, store: AuditStore, start_run: Callable[..., str]
) -> None:
    shared = start_run()
    own = "01OWNRUN0000000000000000XX"
    count = 600
    start_at = time.time() + 3.0
    procs = [
        spawn("append", str(db_path), shared, str(count), "left", str(start_at)),
        spawn("append", str(db_path), shared, str(count), "right", str(start_at)),
        spawn("append", str(db_path), own, str(count), "alone", str(start_at)),
    ]
    try:
        for proc in procs:
            assert read_line(proc, 60) == "ready"
        for proc in procs:
            assert read_line(proc, 120) == "done"
            assert proc.wait(timeout=30) == 0
    finally:
        for proc in procs:
            stop(proc)

    result = store.verify()
    assert result.ok, result.reason
    assert result.events_checked == 2 + 3 * count

    events = store.events(shared)
    assert [e.seq for e in events] == list(range(1, 2 * count + 2))
    for tag in ("left", "right"):
        texts = [e.data["text"] for e in events if e.operator == tag]
        assert texts == [f"{tag} {i}" for i in range(count)]  # each writer's order kept
    # The writers really interleaved (otherwise this test proved nothing about concurrency).
    operators = [e.operator for e in events[1:]]
    switches = sum(1 for a, b in itertools.pairwise(operators) if a != b)
    assert switches >= 10, f"writers hardly interleaved ({switches} switches)"
    assert store.verify(shared).ok and store.verify(own).ok


@pytest.mark.timeout(300)
def test_kill_9_in_the_middle_of_appending_leaves_a_log_that_verifies(
    db_path: Location, store: AuditStore
) -> None:
    rng = random.Random(20250501)
    killed_runs = []
    for _round in range(4):
        proc = spawn("loop", str(db_path))
        try:
            run_id = read_line(proc, 60)
            while int(read_line(proc, 60)) < 100 + rng.randrange(200):
                pass
            time.sleep(rng.random() * 0.05)  # land somewhere inside an append
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            stop(proc)
        killed_runs.append(run_id)

        result = store.verify()
        assert result.ok, result.reason
        run = store.get_run(run_id)
        assert run is not None and run.status == "interrupted"
        events = store.events(run_id)
        assert len(events) >= 100
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert all(e.kind == "output" and e.data["lines"] for e in events[1:])

    # The next writer carries on the same chain, and the killed runs stay interrupted.
    with AuditStore(db_path) as after:
        after.append(killed_runs[0], "note", {"text": "looked at it"}, operator="carol")
        assert after.verify().ok
        assert {r.run_id: r.status for r in after.runs()} == dict.fromkeys(
            killed_runs, "interrupted"
        )


@pytest.mark.timeout(300)
def test_several_consoles_creating_the_same_new_database_at_once(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for round_ in range(3):
        db: Location = tmp_path / f"round{round_}" / "state" / "audit.db"
        if store_kind == "postgresql":
            db = request.getfixturevalue("pg_server").new_database()  # empty: no schema yet
        start_at = time.time() + 3.0
        procs = [spawn("create", str(db), str(start_at)) for _ in range(6)]
        try:
            for proc in procs:
                assert read_line(proc, 60) == "ready"
            for proc in procs:
                assert read_line(proc, 90) == "ok"
        finally:
            for proc in procs:
                stop(proc)
        with AuditStore(db, create=False) as store:
            result = store.verify()
            assert result.ok and result.events_checked == 12, result.reason
            assert len(store.runs()) == 6
