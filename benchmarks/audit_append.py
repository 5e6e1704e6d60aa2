"""Audit log speed, for both stores: appends per second (durable and not), one and several
consoles appending at once, and verify speed.

The engine appends an event for everything it does, and commits the "about to run X on H"
intent durably (SQLite ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``) before
sending X, so the durable rate bounds how fast steps can go; verify speed says how long an
auditor waits for ``drconsole audit verify``.

Run: ``.venv/bin/python -m benchmarks.audit_append`` (``--help`` for sizes, ``--store`` to
measure one store only, ``--pg-url`` to use an existing PostgreSQL database instead of a
temporary server started on loopback for the run; the SQLite files go to a fresh temporary
directory, removed afterwards).
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
from collections.abc import Callable, Iterator
from pathlib import Path

from console.audit import AuditStore, EventDraft, RunStart, new_run_id

Location = Path | str


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


def _appends(
    store: AuditStore, count: int, *, durable: bool, fenced: bool = False
) -> tuple[float, list[float]]:
    """``fenced``: the run holds a lease, and each intent is checked against it (the engine's
    way since the leases, ``console.audit.leases``)."""
    run = _run_start()
    store.create_run(run)
    fence = None
    if fenced:
        _lock, lease, _ = store.take_lease("orders-db", run.run_id, "bench", 600.0)
        fence = {"orders-db": lease.token}
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        kind, data, host = _typical(i)
        t0 = time.perf_counter()
        store.append(
            run.run_id,
            kind,
            data,
            operator="bench",
            host=host,
            durable=durable,
            fence=fence if kind == "command_intent" else None,
        )
        latencies.append(time.perf_counter() - t0)
    if fence is not None:
        store.release_lease("orders-db", run.run_id, fence["orders-db"])
        store.release_lock("orders-db", run.run_id)
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


def _console(location: Location, count: int, start_at: float, out: Path) -> None:
    """One console process: wait for the common start, append ``count`` durable events."""
    with AuditStore(location) as store:
        run = _run_start()
        store.create_run(run)
        time.sleep(max(0.0, start_at - time.time()))
        t0 = time.time()
        for i in range(count):
            kind, data, host = _typical(i)
            store.append(run.run_id, kind, data, operator="bench", host=host, durable=True)
        out.write_text(f"{t0} {time.time()}")


def _concurrent(location: Location, consoles: int, count: int, workdir: Path) -> None:
    """``consoles`` real processes appending durable events at once; the chain must stay one."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0 + consoles * 0.3
    outs = [workdir / f"console-{consoles}-{i}.txt" for i in range(consoles)]
    procs = [ctx.Process(target=_console, args=(location, count, start_at, out)) for out in outs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(600)
        assert proc.exitcode == 0, f"a console process failed ({proc.exitcode})"
    spans = [tuple(map(float, out.read_text().split())) for out in outs]
    wall = max(end for _, end in spans) - min(begin for begin, _ in spans)
    total = consoles * count
    print(
        f"{f'{consoles} console(s), durable':<34} {total / wall:9.0f} events/s   "
        f"({total} events in {wall:.2f} s)"
    )
    with AuditStore(location, create=False) as store:
        result = store.verify()
    assert result.ok, result.reason


def _verify_bench(location: Location, events: int) -> None:
    with AuditStore(location) as store:
        runs = max(1, events // 1000)
        per_run = events // runs - 1  # minus run_started
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


def _pg_databases(url: str | None) -> Iterator[Callable[[], str]]:
    """Yield a factory of fresh databases: on ``url``'s server, or on a temporary one."""
    if url is not None:
        import psycopg

        def on_given() -> str:
            name = "bench_" + new_run_id().lower()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            parts = url.rsplit("/", 1)
            return f"{parts[0]}/{name}"

        yield on_given
        return
    from tests.support.pgserver import running_pg

    with running_pg() as server:
        print(f"temporary PostgreSQL server {server.url()} (fsync on, synchronous_commit on)")
        yield server.new_database


def _measure(name: str, new: Callable[[], Location], args: argparse.Namespace, work: Path) -> None:
    print(f"--- {name}")
    with AuditStore(new()) as store:
        _appends(store, 200, durable=False)  # warm up: schema, page cache
        elapsed, lat = _appends(store, args.events, durable=False)
        _report("append, not durable", args.events, elapsed, lat)
        elapsed, lat = _appends(store, args.durable_events, durable=True)
        _report("append, durable (an intent)", args.durable_events, elapsed, lat)
        elapsed, lat = _appends(store, args.durable_events, durable=True, fenced=True)
        _report("append, durable, intents fenced", args.durable_events, elapsed, lat)
    for consoles in args.consoles:
        _concurrent(new(), consoles, args.per_console, work)
    _verify_bench(new(), args.verify_events)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="non-durable appends")
    parser.add_argument("--durable-events", type=int, default=1000, help="durable appends")
    parser.add_argument("--verify-events", type=int, default=100_000, help="events to verify")
    parser.add_argument(
        "--consoles",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 8],
        help="numbers of concurrent console processes (default 1,8)",
    )
    parser.add_argument("--per-console", type=int, default=500, help="durable appends each")
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=None, help="an existing server to create databases on")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the SQLite files")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="audit-bench-", dir=args.dir))
    try:
        if args.store in ("sqlite", "both"):
            print(f"SQLite files in {workdir} on {_filesystem(workdir)}")
            counter = iter(range(1_000_000))
            _measure("SQLite", lambda: workdir / f"audit-{next(counter)}.db", args, workdir)
        if args.store in ("postgresql", "both"):
            for new in _pg_databases(args.pg_url):
                _measure("PostgreSQL", new, args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
