"""A lab of real servers per test module, and the helpers the PostgreSQL drill tests share.

The drills change the lab for good (fail over, kill a primary, rewind), so each test module
gets its own lab on a net reserved from 40..44 (this area's range) instead of the session
lab. Playbooks run headless through the real CLI in a subprocess (``drconsole run --yes``),
exactly as an operator or a CI job runs them; the tests then read the audit log and ask the
databases themselves (psql over real SSH) what happened, so every number a run reports is
checked against the servers.

``DRCONSOLE_TEST_LAB_SCALE`` (default 3) multiplies every timeout: the machine is shared.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pytest

from console.audit.model import Event
from console.audit.store import AuditStore
from console.lab.layout import PG_PORT
from tests.support.lab import RunningLab, make_lab_dir, reserve_net, start_test_lab

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
DRCONSOLE = [sys.executable, "-m", "console"]
PGBIN = "/usr/lib/postgresql/15/bin"
NETS = range(40, 45)
"""The lab nets this area's tests may use (127.40.0.0/16 .. 127.44.0.0/16)."""
SCALE = float(os.environ.get("DRCONSOLE_TEST_LAB_SCALE", "3"))
"""Multiplies every wait: 3 by default, since the machine is shared with other work."""
RUN_TIMEOUT = 300 * SCALE
"""Seconds one headless run may take before the test gives up on it."""


@dataclass(frozen=True)
class RunOutcome:
    """A finished headless run: its process result and its audit record."""

    proc: subprocess.CompletedProcess[str]
    run_id: str
    events: list[Event]

    @property
    def finished(self) -> dict[str, Any]:
        """The ``run_finished`` payload (outcome, exit code, RTO, RPO)."""
        return self.last("run_finished")

    def of(self, kind: str, step_id: str | None = None) -> list[Event]:
        """Events of one kind (and step)."""
        return [
            e for e in self.events if e.kind == kind and (step_id is None or e.step_id == step_id)
        ]

    def last(self, kind: str) -> dict[str, Any]:
        """The payload of the last event of ``kind``."""
        found = self.of(kind)
        assert found, f"run {self.run_id} has no {kind} event"
        return found[-1].data

    def step_outcomes(self) -> dict[str, str]:
        """Step id -> outcome, from ``step_finished`` events (main steps and rollback)."""
        return {e.step_id or "": e.data["outcome"] for e in self.of("step_finished")}

    def output(self, step_id: str) -> str:
        """Every output line of a step, stdout and stderr, in order."""
        lines: list[str] = []
        for e in self.of("output", step_id):
            lines.extend(e.data["lines"])
        return "\n".join(lines)

    def acked(self) -> dict[int, tuple[float, str | None]]:
        """Acknowledged canaries: number -> (acknowledgement time, host written on)."""
        return {
            e.data["n"]: (epoch(e.ts), e.host)
            for e in self.of("canary_write")
            if e.data["ok"] is True
        }

    def explain(self) -> str:
        """What to print when an assertion about this run fails."""
        proc = self.proc
        tail = f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        return f"run {self.run_id} exit {proc.returncode}\n{tail}"


def epoch(ts: str) -> float:
    """An audit timestamp (ISO UTC with ``Z``) as epoch seconds."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


@dataclass
class Drill:
    """A running lab with its own audit database, and ways to drive and inspect it."""

    lab: RunningLab
    audit: Path
    runs: list[str] = field(default_factory=list)
    """Every run id started through :meth:`run`, in order."""

    @property
    def inventory(self) -> Path:
        """The lab's inventory."""
        return self.lab.inventory

    def address(self, site: str) -> str:
        """A site's loopback address (its PostgreSQL listens there on PG_PORT)."""
        return self.lab.addresses[site]

    def pgdata(self, site: str) -> str:
        """The PostgreSQL data directory of a site."""
        return str(self.lab.lab.layout.site(site).pgdata)

    def cli(self, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``drconsole --audit AUDIT ARGS...`` in a real process, from the repository root."""
        return subprocess.run(
            [*DRCONSOLE, "--audit", str(self.audit), "--operator", "drill-tester", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def run(self, playbook: str, *variables: str, extra: tuple[str, ...] = ()) -> RunOutcome:
        """Run a shipped playbook headless with ``--yes``; returns it with its audit events."""
        args = ["run", str(PLAYBOOKS / playbook), "-i", str(self.inventory), "--yes"]
        for v in variables:
            args += ["--var", v]
        proc = self.cli(*args, *extra)
        return self.outcome(proc)

    def outcome(self, proc: subprocess.CompletedProcess[str]) -> RunOutcome:
        """The audit record of the run a finished process printed the id of (first line
        ``run ID``, or with ``--json`` the first JSON line's ``run_id``)."""
        run_id = ""
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                run_id = json.loads(line)["run_id"]
                break
            if line.startswith("run "):
                run_id = line.split()[1]
                break
        assert run_id, f"no run id printed:\n{proc.stdout}\n{proc.stderr}"
        self.runs.append(run_id)
        with AuditStore(self.audit, create=False) as store:
            events = store.events(run_id)
        return RunOutcome(proc, run_id, events)

    def start(self, playbook: str, *variables: str, log: IO[str]) -> subprocess.Popen[str]:
        """Start a headless ``--json`` run in the background (the test acts while it runs);
        its output goes to ``log``. Read it back with :meth:`outcome` once it has ended."""
        args = ["run", str(PLAYBOOKS / playbook), "-i", str(self.inventory), "--yes", "--json"]
        for v in variables:
            args += ["--var", v]
        return subprocess.Popen(
            [*DRCONSOLE, "--audit", str(self.audit), "--operator", "drill-tester", *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )

    def plan(self, playbook: str, *variables: str) -> tuple[int, dict[str, Any]]:
        """``drconsole plan --json``: exit status and the plan."""
        args = ["plan", str(PLAYBOOKS / playbook), "-i", str(self.inventory), "--json"]
        for v in variables:
            args += ["--var", v]
        proc = self.cli(*args, timeout=120 * SCALE)
        assert proc.stdout.strip(), proc.stderr
        return proc.returncode, json.loads(proc.stdout)

    def sql(self, site: str, sql: str, *, on: str | None = None, db: str = "postgres") -> str:
        """Run SQL on the PostgreSQL of ``site`` (psql over real SSH from ``on``, default the
        same site); unaligned tuples-only output, stripped."""
        command = (
            f"PGCONNECT_TIMEOUT=10 {PGBIN}/psql -X -q -A -t -v ON_ERROR_STOP=1 "
            f"-h {self.address(site)} -p {PG_PORT} -U postgres -d {db} -c {shlex.quote(sql)}"
        )
        return self.lab.ssh(on or site, command, timeout=60 * SCALE).stdout.strip()

    def shell(self, site: str, command: str) -> str:
        """A shell command on a site's host as the lab user; its stdout."""
        return self.lab.ssh(site, command, timeout=120 * SCALE).stdout

    def canaries(self, site: str, run_id: str, *, on: str | None = None) -> set[int]:
        """The canary numbers of ``run_id`` the database at ``site`` holds."""
        out = self.sql(
            site,
            f"SELECT n FROM drconsole.canary WHERE run_id = '{run_id}' ORDER BY n",
            on=on,
        )
        return {int(x) for x in out.split()}

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        """Poll ``check`` every 0.2 s until it holds; fail the test after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    def verify_chain(self, run_id: str) -> None:
        """The run's audit chain verifies."""
        with AuditStore(self.audit, create=False) as store:
            result = store.verify(run_id)
        assert result.ok, f"audit chain of {run_id} broken: {result.reason}"


def _start(root: Path) -> tuple[RunningLab, IO[str]]:
    errors: list[str] = []
    for candidate in NETS:
        try:
            net, lock = reserve_net(candidate)
        except RuntimeError as exc:
            errors.append(str(exc))
            continue
        try:
            return start_test_lab(root, net, SCALE), lock
        except Exception:
            lock.close()
            raise
    raise RuntimeError(f"no free lab net in {list(NETS)}: {errors}")


@pytest.fixture(scope="module")
def drill() -> Iterator[Drill]:
    """A fresh lab for one test module (drills change it for good), torn down at the end."""
    root = make_lab_dir("drpg-")
    running: RunningLab | None = None
    lock: IO[str] | None = None
    try:
        running, lock = _start(root)
        yield Drill(running, root / "audit.db")
    finally:
        try:
            if running is not None and running.lab.state() is not None:
                result = running.lab.down()
                if result.leftovers:
                    raise RuntimeError(f"lab down left listeners: {result.leftovers}")
        finally:
            if lock is not None:
                lock.close()
            if not os.environ.get("DRCONSOLE_TEST_LAB_KEEP"):
                shutil.rmtree(root, ignore_errors=True)


def topology(drill: Drill) -> dict[str, Any]:
    """What the two PostgreSQL members say about roles, streaming and slots right now."""
    east, west = drill.address("east"), drill.address("west")
    out: dict[str, Any] = {}
    for site in ("east", "west"):
        out[site] = {
            "in_recovery": drill.sql(site, "SELECT pg_is_in_recovery()") == "t",
            "slots": drill.sql(
                site,
                "SELECT coalesce(string_agg(slot_name || ':' || active, ',' "
                "ORDER BY slot_name), '') FROM pg_replication_slots",
            ),
            "streaming_to": drill.sql(
                site,
                "SELECT coalesce(string_agg(s.slot_name || ':' || r.state, ','), '') "
                "FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid",
            ),
            "receiver": drill.sql(
                site,
                "SELECT coalesce((SELECT status || ':' || sender_host || ':' || "
                "coalesce(slot_name, '') FROM pg_stat_wal_receiver), '')",
            ),
        }
    out["addresses"] = {"east": east, "west": west}
    return out


def assert_original_topology(drill: Drill) -> None:
    """East is the writable primary, west streams from it via slot ``west``, no other slot."""
    topo = topology(drill)
    east, west = topo["east"], topo["west"]
    assert east["in_recovery"] is False, topo
    assert west["in_recovery"] is True, topo
    assert east["slots"] == "west:true", topo
    assert east["streaming_to"] == "west:streaming", topo
    assert west["slots"] == "", topo
    assert west["receiver"] == f"streaming:{drill.address('east')}:west", topo
    # writable for real, and the write reaches the standby
    marker = f"topology-check-{time.time_ns()}"
    drill.sql(
        "east",
        "CREATE TABLE IF NOT EXISTS topo_check (m text); "
        f"INSERT INTO topo_check VALUES ('{marker}')",
    )
    drill.wait_until(
        "the write on east to reach west",
        lambda: drill.sql("west", f"SELECT count(*) FROM topo_check WHERE m = '{marker}'") == "1",
        60 * SCALE,
    )
