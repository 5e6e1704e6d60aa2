"""Real drills for the report tests: a lab of real servers, and runs that end every way a run can.

Once per test session, on a lab of our own (nets 55 to 59), the ``drills`` fixture runs:

* ``stopped``: ``pg-failover`` headless without ``--yes``: it stops at its first confirm step;
* ``gate_failed``: ``pg-failback`` at the wrong moment (the primary is still east): a
  preflight gate fails and nothing runs;
* ``failed``: ``report-fail`` (this folder): a check fails twice and the rollback runs, while the
  engine's monitor samples replication lag and a canary writes;
* ``interrupted``: ``report-slow`` killed with SIGKILL while its long step runs;
* ``human``: ``report-human`` driven in-process by a person-like decider (confirms, skips a
  failing step with a reason, adds notes), with ``--break-lock`` to clear the dead run's locks
  and a secret parameter;
* ``aborted``: the same playbook in incident mode, aborted by a person at its first
  confirmation;
* ``succeeded``: ``pg-failover --yes``: the real failover, end to end (last: it leaves the
  lab failed over).

The audit database they fill is the input of every report test; tests that modify it work on
a copy.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console import events as ev
from console.audit.store import AuditStore
from console.engine.decider import Answer, Decider, Question
from console.engine.prepare import prepare
from console.engine.runner import Engine, RunConfig
from console.ssh.pool import SshPool
from tests.support.lab import (
    _MISSING,
    RunningLab,
    make_lab_dir,
    reserve_net,
    start_test_lab,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DRCONSOLE = [sys.executable, "-m", "console"]
REPORT_NETS = (55, 56, 57, 58, 59)
"""The lab nets the report tests may use."""
SECRET = "s3cr3t-T0KEN-9431"
"""The secret parameter of the ``human`` drill: it must appear in no report."""


@dataclass(frozen=True)
class Drills:
    """The audit database the drills filled, and which run is which."""

    audit: Path
    """The database (do not modify it: copy it first)."""
    runs: dict[str, str]
    """Scenario name -> run id."""
    exits: dict[str, int]
    """Scenario name -> the exit code the run ended with (-9 for the killed one)."""
    lab: RunningLab
    """The lab they ran on."""


def run_cli(
    audit: Path, *args: str, operator: str = "alice", timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``drconsole --audit AUDIT --operator OP ARGS...`` in a real process."""
    return subprocess.run(
        [*DRCONSOLE, "--audit", str(audit), "--operator", operator, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def copy_db(source: Path, target: Path) -> Path:
    """A consistent copy of an audit database (SQLite's backup API, WAL included)."""
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


@pytest.fixture(scope="session")
def report_lab() -> Iterator[RunningLab]:
    """A lab of our own on one of the report nets, down at the end of the session."""
    if _MISSING is not None:
        pytest.skip(_MISSING)
    lock = None
    net = 0
    for candidate in REPORT_NETS:
        try:
            net, lock = reserve_net(candidate)
            break
        except RuntimeError:
            continue
    if lock is None:
        raise RuntimeError(f"every report lab net {REPORT_NETS} is in use")
    root = make_lab_dir("drreport-")
    running: RunningLab | None = None
    try:
        running = start_test_lab(root, net, float(os.environ.get("DRCONSOLE_TEST_LAB_SCALE", "3")))
        yield running
    finally:
        try:
            if running is not None and running.lab.state() is not None:
                running.lab.down()
        finally:
            lock.close()
            shutil.rmtree(root, ignore_errors=True)


class PersonDecider(Decider):
    """Plays a person at the keyboard (as the TUI's modals would answer): confirms with a
    reason, skips a failing step with a reason, declares manual steps done. Not automatic."""

    def __init__(self, operator: str) -> None:
        self.operator = operator

    async def decide(self, question: Question) -> Answer:
        if question.kind == "failure":
            return Answer("skip", "known issue INC-4711, checked by hand", auto=False)
        if question.kind == "manual":
            return Answer("done", "posted in #oncall", auto=False)
        return Answer("confirm", "go ahead, window approved", auto=False)


class AbortingDecider(Decider):
    """A person who aborts at the first confirmation, with a reason."""

    def __init__(self, operator: str) -> None:
        self.operator = operator

    async def decide(self, question: Question) -> Answer:
        return Answer("abort", "bridge call dropped, drill called off", auto=False)


async def _human_run(
    audit_path: Path, inventory: Path, decider: Decider, *, break_lock: bool = False
) -> str:
    audit = AuditStore(audit_path)
    prepared = prepare(
        HERE / "playbooks" / "report-human.yaml", inventory, [f"token={SECRET}"], audit=audit
    )
    async with SshPool() as pool:
        engine = Engine(
            RunConfig(
                inventory=prepared.inventory,
                playbook=prepared.playbook,
                params=prepared.params,
                mode="incident" if isinstance(decider, AbortingDecider) else "drill",
                operator=decider.operator,
                audit=audit,
                transport=pool,
                decider=decider,
                break_lock=break_lock,
            )
        )
        noted: set[str] = set()

        def notes(event: ev.Event) -> None:
            if isinstance(event, ev.StepStarted) and event.step_id not in noted:
                noted.add(event.step_id or "")
                if event.step_id == "announce":
                    engine.add_note(f"starting the drill; bridge open (token {SECRET} shared)")
                if event.step_id == "tell-people":
                    engine.add_note("the check failure is INC-4711 | <known>, not a blocker")

        engine.listeners.append(notes)
        result = await asyncio.wait_for(engine.run(), timeout=240)
    audit.close()
    return result.run_id


def _wait_for_output(audit_path: Path, step_id: str, deadline: float) -> tuple[str, str]:
    """Poll the audit log until the latest run recorded output of ``step_id``: its run id and
    the first line."""
    while time.monotonic() < deadline:
        if audit_path.exists():
            with AuditStore(audit_path, create=False) as store:
                latest = store.latest_run_id()
                if latest is not None:
                    for event in store.events(latest, kinds=["output"]):
                        if event.step_id == step_id and event.data.get("lines"):
                            return latest, str(event.data["lines"][0])
        time.sleep(0.2)
    raise AssertionError(f"no output of step {step_id} was recorded in time")


@pytest.fixture(scope="session")
def drills(report_lab: RunningLab, tmp_path_factory: pytest.TempPathFactory) -> Drills:
    """Run every scenario once on the lab; the filled audit database and the run ids."""
    audit = tmp_path_factory.mktemp("drills") / "audit.db"
    inv = str(report_lab.inventory)
    runs: dict[str, str] = {}
    exits: dict[str, int] = {}

    def headless(name: str, playbook: Path, *extra: str, operator: str = "alice") -> None:
        done = run_cli(audit, "run", str(playbook), "-i", inv, *extra, operator=operator)
        first = done.stdout.splitlines()[0] if done.stdout else ""
        assert first.startswith("run "), f"{name}: {done.stdout}\n{done.stderr}"
        runs[name] = first.split()[1]
        exits[name] = done.returncode

    headless("stopped", ROOT / "playbooks" / "pg-failover.yaml", operator="dave")
    assert exits["stopped"] == 3
    headless("gate_failed", ROOT / "playbooks" / "pg-failback.yaml", "--yes", operator="erin")
    assert exits["gate_failed"] == 3
    headless("failed", HERE / "playbooks" / "report-fail.yaml", "--yes", operator="bob")
    assert exits["failed"] == 1

    proc = subprocess.Popen(
        [
            *DRCONSOLE,
            "--audit",
            str(audit),
            "--operator",
            "frank",
            "run",
            str(HERE / "playbooks" / "report-slow.yaml"),
            "-i",
            inv,
            "--yes",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        runs["interrupted"], first = _wait_for_output(audit, "long-step", time.monotonic() + 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    exits["interrupted"] = proc.returncode
    assert proc.returncode == -9
    # the remote command outlives the killed console: end it by the pid it printed
    remote_pid = int(first.rsplit(" ", 1)[1])
    report_lab.ssh("east", f"kill {remote_pid}", check=False)

    runs["human"] = asyncio.run(
        _human_run(audit, report_lab.inventory, PersonDecider("carol"), break_lock=True)
    )
    exits["human"] = 0
    runs["aborted"] = asyncio.run(_human_run(audit, report_lab.inventory, AbortingDecider("gina")))
    exits["aborted"] = 3

    headless("succeeded", ROOT / "playbooks" / "pg-failover.yaml", "--yes", operator="alice")
    assert exits["succeeded"] == 0, runs
    return Drills(audit=audit, runs=runs, exits=exits, lab=report_lab)
