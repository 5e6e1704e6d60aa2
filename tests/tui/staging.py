"""Deterministic content for the SVG snapshot tests (and nothing else).

A snapshot must be the same on every run, so these helpers build it from fixed values:
a synthetic status snapshot of ``inventory/example.yaml`` (whose hosts do not exist), an
audit database written with a fixed clock, and a run session put into a given state by
feeding it the events the engine would have emitted (recorded events: no host is contacted).
Live behaviour is proven by the Pilot tests on the real lab; this is only about pixels.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from console import events as ev
from console.audit.model import RunStart
from console.audit.store import AuditStore
from console.engine.decider import Question
from console.engine.runner import RunResult
from console.model.inventory import Inventory, load_inventory
from console.probes.sample import Link, Role
from console.status.collector import StatusSnapshot
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.session import PendingQuestion, RunSession
from console.tui.synthetic import FixedStatusSource, SyntheticMember, synthetic_snapshot

NOW = 1_790_000_000.0
"""The snapshots' wall clock (2026-09-21 14:13:20 UTC)."""

RUN_ID = "01K5PSNAPSH0T0000000000001"
"""The run id shown on the staged run screens."""

SNAPSHOT_DATA = Path(__file__).parent / "snapshot_data"
"""A frozen copy of the example inventory and the snapshot playbook."""


def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with ``inventory/example.yaml`` and ``playbooks/`` (relative paths
    keep the snapshots free of temporary directory names)."""
    (tmp_path / "inventory").mkdir()
    shutil.copy(SNAPSHOT_DATA / "example.yaml", tmp_path / "inventory" / "example.yaml")
    (tmp_path / "playbooks").symlink_to(SNAPSHOT_DATA / "playbooks")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def example_inventory() -> Inventory:
    """``inventory/example.yaml`` as the workspace has it."""
    return load_inventory(Path("inventory/example.yaml"))


def healthy(inventory: Inventory) -> StatusSnapshot:
    """Every member where the inventory expects it, small lags, samples 1-2 s old."""
    return synthetic_snapshot(
        inventory,
        NOW,
        {
            ("orders-db", "db-west-1"): SyntheticMember(
                lag_seconds=0.4, lag_bytes=8192, position="0/5A3C1F0", age=1.2
            ),
            ("catalog-db", "db-west-1"): SyntheticMember(
                lag_seconds=0.0, lag_bytes=None, position="0-1-4211", age=1.6
            ),
            ("sessions", "cache-west-1"): SyntheticMember(
                lag_seconds=0.0, lag_bytes=0, position="3811204", age=0.8
            ),
        },
    )


def west_dark(inventory: Inventory) -> tuple[StatusSnapshot, StatusSnapshot]:
    """West seen healthy 37 s ago, then unreachable (a partition), east fresh."""
    before = synthetic_snapshot(inventory, NOW - 37)
    down = {
        key: SyntheticMember(
            role=Role.DOWN,
            link=Link.UNKNOWN,
            error=f"{key[1]}: no SSH answer from the host within 10s",
            age=0.5,
        )
        for key in (
            ("orders-db", "db-west-1"),
            ("catalog-db", "db-west-1"),
            ("sessions", "cache-west-1"),
        )
    }
    return before, synthetic_snapshot(inventory, NOW, down)


def make_app(
    snapshots: list[StatusSnapshot], *, audit: AuditStore | None = None, mode: str = "drill"
) -> DrConsoleApp:
    """The real app with a fixed clock and the given (synthetic) snapshots."""
    inventory = example_inventory()
    config = TuiConfig(
        inventory_path=Path("inventory/example.yaml"),
        playbooks_dir=Path("playbooks"),
        audit_path=Path("audit.db"),
        operator="ana@jumpbox",
        mode=mode,
    )
    return DrConsoleApp(
        config,
        inventory,
        source_factory=lambda inv, _transport: FixedStatusSource(inv, snapshots),
        clock=lambda: NOW,
        audit=audit,
    )


@contextmanager
def fixed_audit_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Audit timestamps from a counter (one second apart), so hashes are the same each run."""
    counter = itertools.count()

    def ts() -> str:
        n = next(counter)
        return f"2026-09-21T12:{40 + n // 60:02d}:{n % 60:02d}.000000Z"

    monkeypatch.setattr("console.audit.store.utc_now_ts", ts)
    yield


def recorded_audit(path: Path) -> AuditStore:
    """An audit database with three finished runs (written with the fixed audit clock)."""
    store = AuditStore(path)
    store.hostname = "jumpbox"
    runs = [
        ("01K5PA0000000000000000000A", "example-failover", "failover", "succeeded", 0),
        ("01K5PB0000000000000000000B", "example-failover", "failover", "aborted", 3),
        ("01K5PC0000000000000000000C", "pg-restore-verify", "restore-verification", "failed", 1),
    ]
    for run_id, name, kind, outcome, code in runs:
        store.create_run(
            RunStart(
                run_id=run_id,
                playbook_name=name,
                playbook_kind=kind,
                playbook_path=f"playbooks/{name}.yaml",
                playbook_digest="ab" * 32,
                inventory_name="example",
                inventory_path="inventory/example.yaml",
                inventory_digest="cd" * 32,
                mode="drill",
                operator="ana@jumpbox",
                services=("orders-db",),
                params={"from_site": "east", "to_site": "west"},
                objectives={"rto_seconds": 300, "rpo_seconds": 0},
                pid=4242,
                hostname="jumpbox",
                playbook_title=name,
            )
        )
        for kind_, step, host, data in (
            (
                "gate_result",
                None,
                None,
                {"index": 1, "gate": "both members healthy", "ok": True, "detail": "ok"},
            ),
            (
                "step_started",
                "fence",
                None,
                {
                    "title": "Stop the old primary at east",
                    "step_kind": "run",
                    "kind": "run",
                    "targets": ["db-east-1"],
                    "attempt": 1,
                },
            ),
            (
                "decision",
                "fence",
                None,
                {"action": "confirm", "reason": None, "auto": False, "by": "ana@jumpbox"},
            ),
            ("rto_mark", "fence", None, {"mark": "start"}),
            (
                "command_intent",
                "fence",
                "db-east-1",
                {"command": "pg_ctl -D /var/lib/postgresql/15/main stop -m fast", "attempt": 1},
            ),
            (
                "output",
                "fence",
                "db-east-1",
                {
                    "stream": "stdout",
                    "lines": ["waiting for server to shut down.... done", "server stopped"],
                },
            ),
            (
                "command_result",
                "fence",
                "db-east-1",
                {
                    "exit_status": 0,
                    "signal": None,
                    "duration": 0.31,
                    "timed_out": False,
                    "ok": True,
                    "reason": None,
                },
            ),
            ("step_finished", "fence", None, {"outcome": "ok", "duration": 0.4, "attempts": 1}),
            (
                "note",
                "fence",
                None,
                {"text": "fenced on the drill lead's word", "by": "ana@jumpbox"},
            ),
        ):
            store.append(run_id, kind_, data, operator="ana@jumpbox", host=host, step_id=step)
        store.finish_run(
            run_id,
            outcome,
            {
                "exit_code": code,
                "summary": f"run {outcome}",
                "rto_seconds": 7.4 if code == 0 else None,
            },
        )
    return store


def stage_run(app: DrConsoleApp, *, finished: bool) -> RunSession:
    """Open the example failover's run screen and put its session mid-run (waiting for the
    confirmation of ``promote``) or finished, from recorded events."""
    session = app.open_run(Path("playbooks/example-failover.yaml"), {})
    assert session is not None
    engine = session.engine
    engine.run_id = RUN_ID
    session.started = True
    feed = session._on_event  # the engine's listener, fed what the engine would emit
    feed(
        ev.RunStarted(
            run_id=RUN_ID,
            playbook="example-failover",
            title=session.playbook.title,
            mode="drill",
            operator="ana@jumpbox",
            params=dict(session.prepared.params),
            steps=tuple(s.id for s in session.playbook.steps),
            objectives={},
        )
    )
    feed(ev.LockAcquired(service="orders-db", scope="local"))
    feed(ev.GateResult(index=1, gate="both members healthy", ok=True, detail="ok"))
    feed(ev.GateResult(index=2, gate="the primary is at from_site", ok=True, detail="ok"))
    commands = {"fence": "db-east-1", "promote": "db-west-1", "prove-writes": "db-west-1"}
    pgbin = "/usr/lib/postgresql/15/bin"
    outputs = {
        "fence": ["waiting for server to shut down.... done", "server stopped"],
        "promote": ["waiting for server to promote.... done", "server promoted"],
        "prove-writes": ["write ok"],
    }
    rendered = {
        "fence": f"{pgbin}/pg_ctl -D /var/lib/postgresql/15/main stop -m fast -w -t 60",
        "promote": f"{pgbin}/pg_ctl -D /var/lib/postgresql/15/main promote -w -t 60",
        "prove-writes": 'psql -X -Atq -c "INSERT INTO drconsole_write_probe VALUES (now()) '
        "RETURNING 'write ok'\"",
    }
    titles = {
        "fence": "Stop the old primary at east",
        "catch-up": "Wait until west has replayed everything",
        "promote": "Promote the standby at west",
        "prove-writes": "Prove the new primary accepts writes",
        "repoint-clients": "repoint-clients",
    }
    order = ["fence", "catch-up", "promote", "prove-writes", "repoint-clients"]
    stop_at = None if finished else "promote"
    engine.rto_start = NOW - 7.4
    for step in order:
        host = commands.get(step)
        started = ev.StepStarted(
            step_id=step,
            title=titles[step],
            step_kind=session.playbook.step(step).kind,
            targets=(host,) if host else (),
            attempt=1,
            commands={host: rendered[step]} if host else {},
            instructions="Point orders-db clients at west, confirm when the resolvers agree."
            if step == "repoint-clients"
            else None,
        )
        engine.states[step].status = "running"
        engine.current_step = step
        feed(started)
        if step == stop_at:
            loop = asyncio.get_running_loop()
            session.pending = PendingQuestion(
                Question(
                    step,
                    titles[step],
                    "confirm",
                    targets=(host or "",),
                    commands=((host or "", rendered[step]),),
                ),
                loop.create_future(),
                1,
            )
            session._changed()
            return session
        if step in ("fence", "promote", "repoint-clients"):
            feed(
                ev.Decision(
                    step_id=step,
                    action="done" if step == "repoint-clients" else "confirm",
                    reason=None,
                    auto=False,
                    by="ana@jumpbox",
                )
            )
        if host:
            feed(ev.CommandIntent(step_id=step, host=host, command=rendered[step], attempt=1))
            feed(
                ev.OutputLines(step_id=step, host=host, stream="stdout", lines=tuple(outputs[step]))
            )
            feed(
                ev.CommandFinished(
                    step_id=step,
                    host=host,
                    exit_status=0,
                    signal=None,
                    duration=0.3,
                    timed_out=False,
                    ok=True,
                    reason=None,
                )
            )
        if step == "catch-up":
            feed(
                ev.Notice(
                    step_id=step,
                    level="info",
                    message="condition met after 0.4s (2 polls): db-west-1 caught up",
                )
            )
        engine.states[step].status = "ok"
        engine.states[step].duration = 0.4
        feed(ev.StepFinished(step_id=step, outcome="ok", duration=0.4, attempts=1))
    engine.rto_end = NOW - 2.1
    feed(ev.RtoMark(step_id="prove-writes", mark="end"))
    session.result = RunResult(RUN_ID, "succeeded", 0, "all steps done", 5.3, 0.0, 0, True, True)
    feed(
        ev.RunFinished(
            outcome="succeeded",
            exit_code=0,
            summary="all steps done",
            rto_seconds=5.3,
            rpo_seconds=0.0,
            rpo_writes=0,
            rto_met=True,
            rpo_met=True,
        )
    )
    return session
