"""Service locks in the audit store (both stores), across real processes."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable

import pytest

from console.audit import AuditStore, NoSuchLock
from console.errors import LockHeld
from tests.audit.conftest import Location, raw_sql
from tests.audit.procs import read_line, spawn, stop


def test_acquire_release_and_holder(store: AuditStore, start_run: Callable[..., str]) -> None:
    first, second = start_run(), start_run()
    assert store.lock_holder("orders-db") is None
    info = store.acquire_lock("orders-db", first, "alice@jump1")
    assert info == store.lock_holder("orders-db")
    assert (info.run_id, info.operator, info.pid, info.hostname) == (
        first,
        "alice@jump1",
        os.getpid(),
        socket.gethostname(),
    )
    assert store.acquire_lock("orders-db", first, "alice@jump1") == info  # idempotent
    with pytest.raises(LockHeld) as held:
        store.acquire_lock("orders-db", second, "bob")
    assert held.value.exit_code == 4
    assert store.release_lock("orders-db", second) is False  # not the holder: nothing happens
    assert store.lock_holder("orders-db") == info
    assert store.release_lock("orders-db", first) is True
    assert store.lock_holder("orders-db") is None
    assert store.acquire_lock("orders-db", second, "bob").run_id == second
    assert store.acquire_lock("sessions-redis", first, "alice").run_id == first  # other service


@pytest.mark.timeout(120)
def test_a_lock_held_by_another_process_names_the_holder_then_goes_stale(
    db_path: Location, store: AuditStore, start_run: Callable[..., str]
) -> None:
    holder_run = "01HOLDER000000000000000000"
    mine = start_run()
    proc = spawn("hold", str(db_path), "orders-db", holder_run)
    try:
        assert read_line(proc, 60) == "locked"
        with pytest.raises(LockHeld) as held:
            store.acquire_lock("orders-db", mine, "alice@jump1")
        message = str(held.value)
        info = store.lock_holder("orders-db")
        assert info is not None and info.pid == proc.pid
        assert message == (
            f"service orders-db is locked by run {holder_run} (operator bob@laptop, "
            f"pid {proc.pid} on {socket.gethostname()}) since {info.since}"
        )
        with pytest.raises(LockHeld, match="its process is alive"):
            store.break_lock("orders-db", "alice@jump1")

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop(proc)

    with pytest.raises(LockHeld) as stale:
        store.acquire_lock("orders-db", mine, "alice@jump1")
    assert "stale: its process is gone" in str(stale.value)
    assert holder_run in str(stale.value) and "bob@laptop" in str(stale.value)

    broken = store.break_lock("orders-db", "alice@jump1")
    assert (broken.run_id, broken.pid, broken.operator) == (holder_run, proc.pid, "bob@laptop")
    assert store.lock_holder("orders-db") is None
    assert store.acquire_lock("orders-db", mine, "alice@jump1").run_id == mine
    with pytest.raises(NoSuchLock):
        store.break_lock("sessions-redis", "alice@jump1")


@pytest.mark.timeout(120)
def test_a_resumed_run_takes_over_its_own_stale_lock(
    db_path: Location, store: AuditStore, start_run: Callable[..., str]
) -> None:
    run_id = start_run()
    proc = spawn("hold", str(db_path), "orders-db", run_id)
    try:
        assert read_line(proc, 60) == "locked"
        with pytest.raises(LockHeld):  # same run, but its process is alive: no takeover
            store.acquire_lock("orders-db", run_id, "alice@jump1")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop(proc)
    info = store.acquire_lock("orders-db", run_id, "alice@jump1")
    assert info.pid == os.getpid()


def test_a_lock_held_from_another_host_cannot_be_judged_but_can_be_broken(
    db_path: Location, store: AuditStore, start_run: Callable[..., str]
) -> None:
    mine = start_run()
    with raw_sql(db_path) as conn:
        conn.execute(
            "INSERT INTO locks VALUES ('orders-db', '01REMOTE', 'dave@laptop2', 4242, "
            "'laptop2', '2025-05-01T10:00:00.000000Z')"
        )
    with pytest.raises(LockHeld) as held:
        store.acquire_lock("orders-db", mine, "alice")
    assert "held from another host" in str(held.value)
    assert "since 2025-05-01T10:00:00.000000Z" in str(held.value)
    assert store.break_lock("orders-db", "alice").hostname == "laptop2"
    assert store.acquire_lock("orders-db", mine, "alice").run_id == mine


@pytest.mark.timeout(180)
def test_acquire_is_atomic_across_processes(db_path: Location, store: AuditStore) -> None:
    start_at = time.time() + 4.0
    procs = [
        spawn("race", str(db_path), "orders-db", f"01RACER{i:019d}", str(start_at))
        for i in range(6)
    ]
    try:
        for proc in procs:
            assert read_line(proc, 60) == "ready"
        results = [read_line(proc, 90) for proc in procs]
    finally:
        for proc in procs:
            stop(proc)
    winners = [r for r in results if r.startswith("won")]
    assert len(winners) == 1, results
    winner_run = winners[0].split()[1]
    assert all(winner_run in r for r in results if r.startswith("lost"))
    holder = store.lock_holder("orders-db")
    assert holder is not None and holder.run_id == winner_run
