"""Audit log speed on this disk: appends per second (durable and not) and verify speed.

The engine appends an event for everything it does, and commits the "about to run X on H"
intent with synchronous=FULL before sending X, so the durable rate bounds how fast steps can
go; verify speed says how long an auditor waits for ``drconsole audit verify``.

Run: ``.venv/bin/python benchmarks/audit_append.py`` (add ``--help`` for sizes and the
directory; the default is a fresh temporary directory, removed afterwards).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from console.audit import AuditStore, EventDraft, RunStart, new_run_id


def _run_start(operator: str = "bench@host") -> RunStart:
    return RunStart(
        run_id=new_run_id(),
        playbook_name="bench",
        playbook_kind="custom",
        playbook_path="playbooks/bench.yaml",
        playbook_digest="0" * 64,
        inventory_name="bench",
        inventory_path="inventory/bench.yaml",
        inventory_digest="0" * 64,
        mode="drill",
        operator=operator,
        services=("orders-db",),
        params={"from_site": "east"},
        objectives={"rto_seconds": 300},
        pid=os.getpid(),
        hostname=socket.gethostname(),
    )


def _typical(i: int) -> tuple[str, dict[str, object], str | None]:
    """A mix like a real run: intents, output, results."""
    if i % 3 == 0:
        return "command_intent", {"command": f"pg_ctl -D /data promote # {i}", "attempt": 1}, "h1"
    if i % 3 == 1:
        return "output", {"stream": "stdout", "lines": [f"line {i}", "server promoted"]}, "h1"
    return "command_result", {"exit_status": 0, "duration": 0.01, "ok": True}, "h1"


def _appends(store: AuditStore, count: int, *, durable: bool) -> tuple[float, list[float]]:
    run = _run_start()
    store.create_run(run)
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        kind, data, host = _typical(i)
        t0 = time.perf_counter()
        store.append(run.run_id, kind, data, operator="bench", host=host, durable=durable)
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - start, latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _report(label: str, count: int, elapsed: float, latencies: list[float]) -> None:
    print(
        f"{label:<34} {count / elapsed:9.0f} events/s   "
        f"median {statistics.median(latencies) * 1000:6.3f} ms   "
        f"p99 {_pct(latencies, 0.99) * 1000:6.3f} ms   ({count} events)"
    )


def _filesystem(path: Path) -> str:
    try:
        out = subprocess.run(
            ["df", "--output=source,fstype", str(path)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.splitlines()
        return " ".join(out[-1].split())
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="non-durable appends")
    parser.add_argument("--durable-events", type=int, default=1000, help="durable appends")
    parser.add_argument("--verify-events", type=int, default=100_000, help="events to verify")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the database")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="audit-bench-", dir=args.dir))
    try:
        print(f"database directory {workdir} on {_filesystem(workdir)}")
        with AuditStore(workdir / "append.db") as store:
            _appends(store, 200, durable=False)  # warm up: schema, page cache
            elapsed, lat = _appends(store, args.events, durable=False)
            _report("append durable=False (NORMAL)", args.events, elapsed, lat)
            elapsed, lat = _appends(store, args.durable_events, durable=True)
            _report("append durable=True (FULL)", args.durable_events, elapsed, lat)

        with AuditStore(workdir / "verify.db") as store:
            runs = max(1, args.verify_events // 1000)
            per_run = args.verify_events // runs - 1  # minus run_started
            start = time.perf_counter()
            last_run = ""
            for _ in range(runs):
                run = _run_start()
                store.create_run(run)
                last_run = run.run_id
                for offset in range(0, per_run, 500):
                    drafts = []
                    for i in range(offset, min(per_run, offset + 500)):
                        kind, data, host = _typical(i)
                        drafts.append(EventDraft(kind, data, "bench", host=host))
                    store.append_batch(run.run_id, drafts)
            built = time.perf_counter() - start
            total = runs * (per_run + 1)
            print(
                f"{'append_batch (500/transaction)':<34} {total / built:9.0f} events/s   "
                f"({total} events in {runs} runs, {built:.1f} s)"
            )
            start = time.perf_counter()
            result = store.verify()
            took = time.perf_counter() - start
            assert result.ok, result.reason
            print(
                f"{'verify() whole database':<34} {result.events_checked / took:9.0f} events/s   "
                f"{took:.2f} s for {result.events_checked} events"
            )
            start = time.perf_counter()
            one = store.verify(last_run)
            took = time.perf_counter() - start
            assert one.ok, one.reason
            print(
                f"{'verify(run_id) one run':<34} {one.events_checked / took:9.0f} events/s   "
                f"{took * 1000:.0f} ms for {one.events_checked} events"
            )
        size = (workdir / "verify.db").stat().st_size
        print(f"database size for {total} events: {size / 1e6:.1f} MB ({size / total:.0f} B/event)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
