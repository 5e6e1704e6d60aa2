"""Commit or roll back in the TUI: the board's "awaiting commit" panel and the run's commit.

Live: a real engine (SSH scripted) awaits a commit on a SQLite store; the board, on its own
connection, shows the run with the time left, and hides the panel once another console
committed. The run session (the run screen's ``c``) commits its own run. The snapshot is a
store written with a fixed clock: a run with 12m34s of its window left.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from console import events as ev
from console.audit.commits import commit
from console.audit.model import RunStart
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from console.engine.prepare import prepare
from console.tui.screens.board import BoardScreen
from console.tui.session import RunSession, SessionError
from tests.engine.scripted_env import make_estate
from tests.support.scripted import Reply
from tests.tui.staging import (
    NOW,
    example_inventory,
    fixed_audit_clock,
    healthy,
    make_app,
    workspace,
)
from tests.tui.waiting import until

WAIT = 30.0

PLAYBOOK = """
version: 1
name: with-window
kind: switchover
service: svc
commit: {within: 10m, otherwise: rollback}
steps:
  - id: promote
    on: h-west
    run: promote-west
rollback:
  - id: demote
    on: h-west
    run: demote-west
"""


def _estate(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "estate").mkdir()
    est = make_estate(tmp_path / "estate")
    est.transport.on("promote-west", Reply(stdout="promoted"))
    est.transport.on("demote-west", Reply(stdout="demoted"))
    return est, est.playbook("with-window", PLAYBOOK)


async def test_the_board_shows_a_run_awaiting_commit_until_it_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    est, pb = _estate(tmp_path)
    engine, engine_store = est.engine(pb, HeadlessDecider("bo@laptop2", yes=True), commit_poll=0.05)
    (tmp_path / "ws").mkdir()
    workspace(tmp_path / "ws", monkeypatch)
    app = make_app([healthy(example_inventory())], audit=AuditStore(est.audit))
    task = asyncio.ensure_future(engine.run())
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await until(lambda: isinstance(app.screen, BoardScreen), 10, "the board")
            panel = app.screen.query_one("#commits", Static)
            await until(lambda: panel.display, WAIT, "the awaiting-commit panel")
            shown = str(panel.render())
            assert "AWAITING COMMIT" in shown and "with-window" in shown
            assert "run by bo@laptop2" in shown and "left of 10m" in shown
            assert "then the rollback runs" in shown
            run_id = engine.run_id
            assert run_id is not None
            with AuditStore(est.audit, create=False) as other:
                commit(other, run_id, operator="ana@jumpbox")
            result = await asyncio.wait_for(asyncio.shield(task), WAIT)
            assert result.exit_code == 0, result.summary
            await until(lambda: not panel.display, WAIT, "the panel hidden")
            await pilot.pause()
    finally:
        if not task.done():
            task.cancel()
        engine_store.close()
    assert not est.transport.calls_to("demote-west")


async def test_the_run_session_commits_its_own_run(tmp_path: Path) -> None:
    est, pb = _estate(tmp_path)
    audit = AuditStore(est.audit)
    try:
        session = RunSession(
            prepared=prepare(pb, est.inventory, []),
            mode="drill",
            operator="ana@jumpbox",
            audit=audit,
            transport=est.transport,
            changed=lambda: None,
        )
        with pytest.raises(SessionError, match="not awaiting a commit"):
            session.commit()
        task = asyncio.ensure_future(session.run())
        for _ in range(int(WAIT / 0.05)):
            if session.awaiting_commit:
                break
            await asyncio.sleep(0.05)
        assert session.awaiting_commit
        session.commit()
        result = await asyncio.wait_for(task, WAIT)
    finally:
        audit.close()
    assert result is not None and result.exit_code == 0
    assert "committed by ana@jumpbox" in result.summary
    commits = [e for e in est.events() if e["kind"] == "commit"]
    assert len(commits) == 1 and commits[0]["by"] == "ana@jumpbox"
    assert not est.transport.calls_to("demote-west")


def awaiting_store(path: Path) -> AuditStore:
    """A store where bo's run awaits a commit with 12m34s left at the snapshots' clock."""
    store = AuditStore(path)
    store.hostname = "jumpbox"
    run_id = "01K5PC0MM1T000000000000001"
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
            mode="drill",
            operator="bo@laptop2",
            services=("orders-db",),
            params={},
            objectives={},
            pid=os.getpid(),  # alive: the run is in progress
            hostname="jumpbox",
            playbook_title="Fail orders-db over",
        )
    )
    awaited = ev.CommitAwaited(within=1800.0, deadline=NOW + 754.0, otherwise="rollback")
    store.append(run_id, awaited.kind, awaited.data(), operator="bo@laptop2", durable=True)
    return store


def test_board_awaiting_commit_snapshot(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace(tmp_path, monkeypatch)
    with fixed_audit_clock(monkeypatch):
        audit = awaiting_store(Path("audit.db"))
    app = make_app([healthy(example_inventory())], audit=audit)

    async def shown(pilot: Pilot[Any]) -> None:
        await until(lambda: isinstance(app.screen, BoardScreen) and app.snapshot, 10, "board")
        panel = app.screen.query_one("#commits", Static)
        await until(lambda: panel.display, 20, "the awaiting-commit panel")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=shown)
