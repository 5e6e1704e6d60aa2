"""Report speed: a run of 10,000 events rendered to HTML (target: under 2 s).

The events are SYNTHETIC: a made-up run of many steps, each with a command, batches of output
lines, decisions, probe samples, canary writes and notes, appended through ``AuditStore`` like
the engine appends them (so the database, the chain and the verification are real). The
figure covers what ``drconsole report RUN --format html`` does: read the events, verify the
run's chain, fold the report, render the HTML; the other formats are timed too.

Run: ``.venv/bin/python benchmarks/report_render.py [--events 10000] [--repeat 5]``.
The verdict uses the best of the repeats (the machine is shared: the median is printed too,
and CPU time, which load does not inflate). Exits 1 when the HTML takes 2 s or more.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.audit import AuditStore, EventDraft, RunStart, new_run_id
from console.report import FORMATS, build_report, render

TARGET_SECONDS = 2.0
"""The HTML of a 10,000-event run must render in less than this."""


def make_synthetic_run(store: AuditStore, events: int = 10_000, operator: str = "bench") -> str:
    """Append a synthetic run of at least ``events`` events (at most one step's worth more)
    through the store; returns its run id."""
    run_id = new_run_id()
    store.create_run(
        RunStart(
            run_id=run_id,
            playbook_name="bench-report",
            playbook_kind="custom",
            playbook_path="benchmarks/bench-report.yaml",
            playbook_digest="sha256:" + "ab" * 32,
            inventory_name="bench",
            inventory_path="inventory/bench.yaml",
            inventory_digest="sha256:" + "cd" * 32,
            mode="drill",
            operator=operator,
            services=("orders-db",),
            params={"from_site": "east", "to_site": "west"},
            objectives={"rto_seconds": 300.0, "rpo_seconds": 0.0},
            pid=1,
            hostname="bench-host-not-this-one",
            playbook_title="Synthetic run for the report benchmark",
        )
    )
    count = 1
    batch: list[EventDraft] = []

    def add(kind: str, data: dict[str, object], **where: str | None) -> None:
        nonlocal count
        batch.append(EventDraft(kind=kind, data=data, operator=operator, **where))
        count += 1

    def sample(phase: str, lag: float | None) -> None:
        for site, host, role in (("east", "h-east", "primary"), ("west", "h-west", "replica")):
            add(
                "probe_sample",
                {
                    "service": "orders-db",
                    "site": site,
                    "role": role,
                    "link": "none" if role == "primary" else "up",
                    "lag_seconds": None if role == "primary" else lag,
                    "lag_bytes": None if role == "primary" or lag is None else int(lag * 1e6),
                    "position": f"0/{count:X}",
                    "health": "ok",
                    "error": None,
                    "phase": phase,
                },
                host=host,
            )

    sample("before", 0.0)
    for i in range(3):
        add("gate_result", {"index": i + 1, "gate": f"gate {i + 1}", "ok": True, "detail": "ok"})
    step = 0
    while count < events - 4:
        step += 1
        sid = f"step-{step:04d}"
        add(
            "step_started",
            {
                "title": f"Synthetic step {step}",
                "kind": "run",
                "step_kind": "run",
                "targets": ["h-east"],
                "attempt": 1,
                "commands": {"h-east": f"echo step {step}"},
                "rollback": False,
            },
            step_id=sid,
        )
        if step % 5 == 0:
            add(
                "decision",
                {"action": "confirm", "reason": "approved", "auto": False, "by": operator},
                step_id=sid,
            )
        add(
            "command_intent",
            {"command": f"echo step {step}", "attempt": 1},
            step_id=sid,
            host="h-east",
        )
        for b in range(3):
            add(
                "output",
                {
                    "stream": "stdout",
                    "lines": [f"step {step} line {b * 10 + n}" for n in range(10)],
                },
                step_id=sid,
                host="h-east",
            )
        add(
            "command_result",
            {
                "exit_status": 0,
                "signal": None,
                "duration": 0.01,
                "timed_out": False,
                "ok": True,
                "reason": None,
                "dropped_lines": 0,
            },
            step_id=sid,
            host="h-east",
        )
        add(
            "canary_write",
            {"service": "orders-db", "n": step, "ok": True, "written_at": 0.0},
            host="h-east",
        )
        if step % 4 == 0:
            sample("during", None if step % 40 == 0 else (step % 7) * 0.1)
        if step % 25 == 0:
            add("note", {"text": f"note at step {step}", "by": operator}, step_id=sid)
        add(
            "step_finished",
            {"outcome": "ok", "duration": 0.02, "attempts": 1, "reason": None, "rollback": False},
            step_id=sid,
        )
        if len(batch) >= 500:
            store.append_batch(run_id, batch)
            batch.clear()
    sample("after", 0.0)
    add(
        "measurement",
        {
            "rto_seconds": 1.5,
            "rpo_seconds": 0.0,
            "rpo_writes": 0,
            "rto_objective": 300.0,
            "rpo_objective": 0.0,
            "rto_met": True,
            "rpo_met": True,
        },
    )
    store.append_batch(run_id, batch)
    store.finish_run(
        run_id,
        "succeeded",
        {"exit_code": 0, "summary": "all steps done", "rto_seconds": 1.5, "rpo_seconds": 0.0},
    )
    return run_id


def main(argv: list[str] | None = None) -> int:
    """Build the run, time the report; print the figures; 1 if the HTML missed the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="drconsole-report-bench-") as tmp:
        store = AuditStore(Path(tmp) / "audit.db")
        started = time.perf_counter()
        run_id = make_synthetic_run(store, args.events)
        made = time.perf_counter() - started
        n = len(store.events(run_id))
        print(f"synthetic run {run_id}: {n} events appended through AuditStore in {made:.2f}s")
        print(f"(the events are made up by this benchmark; host {socket.gethostname()})")
        timings: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
        cpu: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
        sizes: dict[str, int] = {}
        build: list[float] = []
        for _ in range(args.repeat):
            for fmt in FORMATS:
                c0, t0 = time.process_time(), time.perf_counter()
                report = build_report(store, run_id)
                t1 = time.perf_counter()
                text = render(report, fmt)
                t2, c2 = time.perf_counter(), time.process_time()
                timings[fmt].append(t2 - t0)
                cpu[fmt].append(c2 - c0)
                sizes[fmt] = len(text.encode())
                if fmt == "html":
                    build.append(t1 - t0)
        store.close()
    print(f"read + verify + fold: best {min(build):.3f}s, median {statistics.median(build):.3f}s")
    for fmt in FORMATS:
        median = statistics.median(timings[fmt])
        print(
            f"{fmt:5s}: best {min(timings[fmt]):.3f}s, median {median:.3f}s wall; "
            f"best {min(cpu[fmt]):.3f}s CPU (read, verify, fold, render); "
            f"{sizes[fmt] / 1024:.0f} KiB"
        )
    html = min(timings["html"])
    verdict = "OK" if html < TARGET_SECONDS else "TOO SLOW"
    print(
        f"html for {n} events: {html:.3f}s best of {args.repeat} wall-clock "
        f"(target < {TARGET_SECONDS:g}s): {verdict}"
    )
    return 0 if html < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
