"""The approvals screen (5): what waits for this console's operator, approved with ``a``.

Live: a real engine (another operator's run, SSH scripted) waits at a step that needs two
approvals on a SQLite store; the console, on its own connection to that store, lists the step,
and ``a`` then ``y`` approves it: the run goes on and the approval is recorded as the console's
operator. ``a`` then Escape approves nothing. The snapshot is a store written with a fixed
clock (an approval waiting for ana).
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from console import events as ev
from console.audit.model import RunStart, parse_ts
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screens.approvals import ApprovalsScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.synthetic import FixedStatusSource
from tests.engine.scripted_env import make_estate
from tests.support.scripted import Reply
from tests.tui.staging import example_inventory, fixed_audit_clock, healthy, make_app, workspace
from tests.tui.waiting import until

WAIT = 30.0

PLAYBOOK = """
version: 1
name: two-person
kind: switchover
service: svc
steps:
  - id: promote
    title: Promote west
    on: h-west
    run: promote-west
    confirm: true
    approve: 2
"""


async def _approvals(pilot: Pilot[Any]) -> ApprovalsScreen:
    app = pilot.app
    await pilot.press("5")
    await until(lambda: isinstance(app.screen, ApprovalsScreen), 10, "the approvals screen")
    screen = app.screen
    assert isinstance(screen, ApprovalsScreen)
    return screen


async def test_the_console_lists_and_approves_what_waits_for_its_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "estate").mkdir()
    (tmp_path / "ws").mkdir()
    est = make_estate(tmp_path / "estate")
    est.transport.on("promote-west", Reply(stdout="promoted"))
    pb = est.playbook("two-person", PLAYBOOK)
    engine, engine_store = est.engine(
        pb,
        HeadlessDecider("bo@laptop2", yes=True),
        approval_poll=0.05,
        approval_timeout=WAIT * 4,
    )
    workspace(tmp_path / "ws", monkeypatch)
    console_store = AuditStore(est.audit)
    app = make_app([healthy(example_inventory())], audit=console_store)
    task = asyncio.ensure_future(engine.run())
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            screen = await _approvals(pilot)
            await until(lambda: screen.waiting, WAIT, "the waiting step listed")
            (waiting,) = screen.waiting
            assert waiting.step_id == "promote" and waiting.run_operator == "bo@laptop2"
            assert waiting.approvers == ("bo@laptop2",)
            table = screen.query_one("#approvals-table")
            assert table.row_count == 1  # type: ignore[attr-defined]

            await pilot.press("a")
            await until(lambda: isinstance(app.screen, ConfirmScreen), 10, "the dialog")
            await pilot.press("escape")  # No: nothing is approved
            await until(lambda: isinstance(app.screen, ApprovalsScreen), 10, "back")
            await asyncio.sleep(0.3)
            assert not task.done() and not est.transport.calls_to("promote-west")

            await pilot.press("a")
            await until(lambda: isinstance(app.screen, ConfirmScreen), 10, "the dialog")
            await pilot.press("y")
            result = await asyncio.wait_for(asyncio.shield(task), WAIT)
            assert result.exit_code == 0, result.summary
            await until(lambda: not screen.waiting, WAIT, "the list emptied")
            await until(lambda: table.row_count == 0, WAIT, "the row removed")  # type: ignore[attr-defined]
    finally:
        if not task.done():
            task.cancel()
        engine_store.close()
    assert est.transport.calls_to("promote-west")
    approvals = [e for e in est.events() if e["kind"] == "approval"]
    assert len(approvals) == 1
    assert approvals[0]["by"] == "ana@jumpbox" and approvals[0]["hostname"] == socket.gethostname()


def waiting_store(path: Path) -> AuditStore:
    """A store where bo's run waits at ``promote`` for a second approval."""
    store = AuditStore(path)
    store.hostname = "jumpbox"
    run_id = "01K5PAPPR0VE00000000000001"
    store.create_run(
        RunStart(
            run_id=run_id,
            playbook_name="example-failover",
            playbook_kind="failover",
            playbook_path="playbooks/example-failover.yaml",
            playbook_digest="ab" * 32,
            inventory_name="example",
            inventory_path="inventory/example.yaml",
            inventory_digest="cd" * 32,
            mode="incident",
            operator="bo@laptop2",
            services=("orders-db",),
            params={},
            objectives={},
            pid=os.getpid(),  # alive: the run is in progress
            hostname="jumpbox",
            playbook_title="Fail orders-db over",
        )
    )
    request = ev.ApprovalRequested(
        title="Promote db-west-1 (orders-db)",
        needed=2,
        approvers=("bo@laptop2",),
        mode="incident",
        timeout=1800.0,
    )
    store.append(
        run_id,
        request.kind,
        request.data(),
        operator="bo@laptop2",
        step_id="promote",
        durable=True,
    )
    return store


def test_approvals_screen_snapshot(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace(tmp_path, monkeypatch)
    with fixed_audit_clock(monkeypatch):
        audit = waiting_store(Path("audit.db"))
    app = make_app([healthy(example_inventory())], audit=audit)

    async def shown(pilot: Pilot[Any]) -> None:
        screen = await _approvals(pilot)
        await until(lambda: screen.waiting, 20, "the waiting step")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 30), run_before=shown)


def _table_lines(screen: ApprovalsScreen) -> list[str]:
    """The approvals table as drawn (each line of the widget, clipped as on the screen)."""
    table = screen.query_one("#approvals-table", DataTable)
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_the_waiting_time_is_shown_whole_as_it_grows_at_120_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace(tmp_path, monkeypatch)
    with fixed_audit_clock(monkeypatch):
        audit = waiting_store(Path("audit.db"))
    (request,) = [
        e for r in audit.runs() for e in audit.events(r.run_id) if e.kind == "approval_requested"
    ]
    asked = parse_ts(request.ts).timestamp()
    moment = [asked + 2.0]
    app = DrConsoleApp(
        TuiConfig(
            inventory_path=Path("inventory/example.yaml"),
            playbooks_dir=Path("playbooks"),
            audit_path=Path("audit.db"),
            operator="ana@jumpbox",
        ),
        example_inventory(),
        source_factory=lambda inv, _transport: FixedStatusSource(
            inv, [healthy(example_inventory())]
        ),
        clock=lambda: moment[0],
        audit=audit,
    )
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _approvals(pilot)
        await until(lambda: screen.waiting, WAIT, "the waiting step")
        for later, shown in ((2.0, "2s ago"), (75.0, "1m15s ago"), (3725.0, "1h02m ago")):
            moment[0] = asked + later
            await pilot.press("l")

            def drawn(text: str = shown) -> bool:
                return any(line.rstrip().endswith(text) for line in _table_lines(screen))

            await until(drawn, WAIT, f"{shown!r} drawn whole")
        header = next(line for line in _table_lines(screen) if "approved" in line)
        assert header.rstrip().endswith("waiting")
