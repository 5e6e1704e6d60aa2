"""Real processes for the multi-process audit tests (run as ``python -m tests.audit.workers``).

Each sub-command does one thing to a real store (a file, or a ``postgresql://`` URL) and
reports on stdout, one line per milestone, flushed, so the test can synchronise on it.
"""

from __future__ import annotations

import os
import sys
import time

from console.audit import AuditStore, LockInfo
from console.errors import LockHeld
from tests.audit.conftest import Location, location_from_arg, run_start


def _append(db: Location, run_id: str, count: int, tag: str, start_at: float) -> None:
    """Append ``count`` notes to a run (creating it if needed), starting at a wall-clock time."""
    with AuditStore(db) as store:
        if store.get_run(run_id) is None:
            store.create_run(run_start(run_id=run_id))
        print("ready", flush=True)
        time.sleep(max(0.0, start_at - time.time()))
        for i in range(count):
            store.append(run_id, "note", {"text": f"{tag} {i}"}, operator=tag, durable=i % 10 == 0)
            time.sleep(0.001)  # like an engine between events, so writers take turns
    print("done", flush=True)


def _loop(db: Location) -> None:
    """Create a run and append to it forever, alternating durable and not, until killed."""
    with AuditStore(db) as store:
        run = run_start()
        store.create_run(run)
        print(run.run_id, flush=True)
        i = 0
        while True:
            store.append(
                run.run_id,
                "output",
                {"stream": "stdout", "lines": [f"line {i}"] * (1 + i % 7)},
                operator="looper",
                host="db-east-1",
                step_id="fence",
                durable=i % 2 == 0,
            )
            i += 1
            if i % 50 == 0:
                print(i, flush=True)


def _hold(db: Location, service: str, run_id: str) -> None:
    """Take a lock and hold it until killed (or until stdin closes)."""
    with AuditStore(db) as store:
        if store.get_run(run_id) is None:
            store.create_run(run_start(run_id=run_id, operator="bob@laptop"))
        store.acquire_lock(service, run_id, "bob@laptop")
        print("locked", flush=True)
        sys.stdin.read()


def _race(db: Location, service: str, run_id: str, start_at: float) -> None:
    """Try to take a lock at a given wall-clock instant; print 'won' or 'lost'."""
    with AuditStore(db) as store:
        print("ready", flush=True)
        time.sleep(max(0.0, start_at - time.time()))
        try:
            info: LockInfo = store.acquire_lock(service, run_id, f"op-{run_id}")
        except LockHeld as exc:
            print("lost", exc, flush=True)
        else:
            print("won", info.run_id, flush=True)


def _sync(db: Location, durable: bool, count: int) -> None:
    """Append ``count`` events between two marks written to stderr (for an strace count)."""
    with AuditStore(db) as store:
        run = run_start()
        store.create_run(run)
        os.write(2, b"MARK-START\n")
        for i in range(count):
            store.append(run.run_id, "note", {"i": i}, operator="o", durable=durable)
        os.write(2, b"MARK-END\n")


def _create(db: Location, start_at: float) -> None:
    """Open (and so create) the database at a wall-clock instant, start a run, append once."""
    print("ready", flush=True)
    time.sleep(max(0.0, start_at - time.time()))
    with AuditStore(db) as store:
        run = run_start()
        store.create_run(run)
        store.append(run.run_id, "note", {"text": "first"}, operator="o")
    print("ok", flush=True)


def main(argv: list[str]) -> None:
    """Dispatch a sub-command."""
    command, db = argv[0], location_from_arg(argv[1])
    if command == "append":
        _append(db, argv[2], int(argv[3]), argv[4], float(argv[5]))
    elif command == "loop":
        _loop(db)
    elif command == "hold":
        _hold(db, argv[2], argv[3])
    elif command == "create":
        _create(db, float(argv[2]))
    elif command == "sync":
        _sync(db, argv[2] == "durable", int(argv[3]))
    elif command == "race":
        _race(db, argv[2], argv[3], float(argv[4]))
    else:
        raise SystemExit(f"unknown worker command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
