"""Recorded runs to replay, made by the real engine on the scripted transport (no SSH).

* :func:`failed_run`: a drill on ``svc`` (samples before and after, an RTO start mark,
  output on stdout and stderr) whose second step fails and stops the run;
* :func:`killed_run`: the log a kill -9 leaves in the middle of a step (copied while the
  step's command runs; the run's process gone): no ``run_finished``, status interrupted.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from tests.engine.scripted_env import ScriptedEstate, run_id_of
from tests.support.scripted import Reply

FAILING = """
version: 1
name: replay-drill
kind: failover
title: Replay me
service: svc
objectives: {rto: 5m, rpo: 0s}
steps:
  - id: fence
    title: Fence the primary
    on: service:svc and role:primary
    run: fence-cmd
    rto: start
  - id: promote
    title: Promote the replica
    on: service:svc and role:replica
    run: promote-cmd
  - id: repoint
    manual: Point the clients at west
    rto: end
"""

SLOW = """
version: 1
name: replay-slow
kind: custom
steps:
  - id: one
    on: h-east
    run: one-cmd
  - id: slow
    on: h-west
    run: slow-cmd
  - id: three
    on: h-east
    run: three-cmd
"""


def failed_run(est: ScriptedEstate) -> str:
    """Record the failing drill; its run id."""
    est.transport.on("fence-cmd", Reply(stdout="fenced\nprimary stopped"))
    est.transport.on(
        "promote-cmd", Reply(stdout="promoting", stderr="promote: refused", exit_status=3)
    )
    pb = est.playbook("replay-drill", FAILING)
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return run_id_of(proc.stdout)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def _crash(est: ScriptedEstate, playbook: Path, crashed: Path) -> None:
    engine, audit = est.engine(playbook, HeadlessDecider("tester", yes=True))
    task = asyncio.ensure_future(engine.run())
    for _ in range(2000):  # 10 s
        if est.transport.calls_to("slow-cmd"):
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    source, target = sqlite3.connect(est.audit), sqlite3.connect(crashed)
    source.backup(target)
    source.close()
    target.close()
    task.cancel()
    await asyncio.wait_for(task, 10)
    audit.close()


def killed_run(est: ScriptedEstate, crashed: Path, monkeypatch: object) -> str:
    """Record the slow playbook killed mid-step into ``crashed``; its run id."""
    est.transport.on("one-cmd", Reply(stdout="from-one"))
    # the first call hangs (the kill comes during it); a resumed run's call returns at once
    est.transport.on("slow-cmd", Reply(stdout="started slow", delay=60), Reply(stdout="slow done"))
    pb = est.playbook("replay-slow", SLOW)
    dead = _dead_pid()
    with monkeypatch.context() as patch:  # type: ignore[attr-defined]
        patch.setattr("console.engine.runner.os.getpid", lambda: dead)
        asyncio.run(_crash(est, pb, crashed))
    with AuditStore(crashed, create=False) as store:
        run_id = store.latest_run_id()
        assert run_id is not None
        record = store.get_run(run_id)
        assert record is not None and record.status == "interrupted", record
    return run_id
