"""The team store lost in the middle of a run started from the TUI: the run screen says so.

A real PostgreSQL server (started for the module) is the app's audit store; SSH is the
scripted transport. The run's second command stops the server for real ("fast": every
session ended); what the engine must record next cannot be recorded, so the run stops before
the next command, exit 3, and the run screen shows STOPPED, the exit code and the reason in
its decision bar, where it stays. With ``--audit-fallback`` the local file takes over and the
run goes on: the run's output says where the record continues and how to push it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from console.audit.store import AuditStore
from console.model.inventory import load_inventory
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screens.run import RunScreen
from console.tui.synthetic import FixedStatusSource
from console.tui.widgets.output_log import OutputLog
from tests.engine.scripted_env import make_estate
from tests.support.pgserver import PgServer, pg_server_fixture
from tests.support.scripted import Call, Reply
from tests.support.store_lost import PLAYBOOK
from tests.tui.flows import start_run, wait_finished
from tests.tui.staging import NOW, healthy
from tests.tui.waiting import until

WAIT = 120.0
"""Seconds for the run to reach the outage and end (10x a loaded machine)."""

pg_server = pg_server_fixture("module")


@pytest.fixture
def server(pg_server: PgServer) -> Iterator[PgServer]:
    yield pg_server
    if not pg_server.running():
        pg_server.start()


@pytest.mark.timeout(300)
async def test_the_run_screen_shows_the_run_stopped_by_the_lost_store(
    tmp_path: Path, server: PgServer
) -> None:
    await _store_lost_run(tmp_path, server, fallback=None)


@pytest.mark.timeout(300)
async def test_with_a_fallback_the_run_screen_says_where_the_record_continues(
    tmp_path: Path, server: PgServer
) -> None:
    await _store_lost_run(tmp_path, server, fallback=tmp_path / "fallback.db")


async def _store_lost_run(tmp_path: Path, server: PgServer, fallback: Path | None) -> None:
    est = make_estate(tmp_path)

    def stop_the_store(_call: Call) -> Reply:
        server.stop("fast")
        return Reply(stdout="the store is down now")

    est.transport.on("first-cmd", Reply(stdout="done"))
    est.transport.on("store-goes-away", stop_the_store)
    est.transport.on("never-cmd", Reply(stdout="must not run"))
    pb = est.playbook("store-lost", PLAYBOOK)
    url = server.new_database()
    inventory = load_inventory(est.inventory)
    config = TuiConfig(
        inventory_path=est.inventory,
        playbooks_dir=pb.parent,
        audit_path=url,
        operator="ana@jumpbox",
        audit_fallback=fallback,
    )
    app = DrConsoleApp(
        config,
        inventory,
        source_factory=lambda inv, _transport: FixedStatusSource(inv, [healthy(inv)]),
        clock=lambda: NOW,
    )
    app._transport = est.transport
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            assert app.open_run(pb, {}) is not None
            await until(
                lambda: isinstance(app.screen, RunScreen) and app.screen.ready, 30, "run screen"
            )
            screen = app.screen
            await start_run(pilot, app)
            session = await wait_finished(app, WAIT)
            await until(lambda: app.screen is screen, 30, "back on the run screen")
            await pilot.pause(0.5)
            decision = str(screen.query_one("#decision").render())
            title = str(screen.query_one("#run-title", Static).render())
            output = "\n".join(screen.query_one("#output", OutputLog).lines)
            assert session.result is not None
            if fallback is None:
                assert session.result.exit_code == 3
                assert "run stopped (exit 3)" in decision
                assert "the audit store was lost" in decision
                assert "STOPPED" in title
            else:
                assert session.result.exit_code == 0, session.result.summary
                assert "run succeeded (exit 0)" in decision
                assert "» warning: " in output and "the audit store was lost" in output
                assert f"the record continues in the local fallback {fallback}" in output
                assert f"drconsole audit push {fallback}" in output
    finally:
        app.audit.close()
    assert len(est.transport.calls_to("store-goes-away")) == 1
    if fallback is None:
        assert not est.transport.calls_to("never-cmd")
        return
    assert len(est.transport.calls_to("never-cmd")) == 1
    with AuditStore(fallback, create=False) as local:
        assert local.verify().ok
        run_id = local.latest_run_id()
        assert run_id is not None
        run = local.get_run(run_id)
        kinds = [(e.kind, e.step_id) for e in local.events(run_id)]
    assert run is not None and run.outcome == "succeeded"
    for step in ("first", "outage", "never"):
        assert ("command_intent", step) in kinds
