"""Who runs what now: ``audit list`` and the TUI's audit screen show the runs in progress.

On both stores, a real engine (SSH scripted, another operator) waits at a step for a second
approval, holding its lease; ``drconsole audit list`` from another console prints it above the
runs table (who, from which machine, where it is, what it waits for, its lease's token and
time left), and the TUI's audit screen shows the same line and drops it once the run ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from console.audit.approvals import approve, pending_approvals
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from console.tui.screens.audit import AuditScreen
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.pgserver import PgServer, pg_missing, pg_server_fixture
from tests.support.scripted import Reply
from tests.tui.staging import example_inventory, healthy, make_app, workspace
from tests.tui.waiting import until

WAIT = 60.0

PLAYBOOK = """
version: 1
name: two-person
kind: switchover
service: svc
steps:
  - id: promote
    on: h-west
    run: promote-west
    confirm: true
    approve: 2
"""

pg_server = pg_server_fixture("module")


@pytest.fixture(params=["sqlite", "postgresql"])
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScriptedEstate]:
    (tmp_path / "estate").mkdir()
    est = make_estate(tmp_path / "estate")
    if request.param == "postgresql":
        if pg_missing() is not None:
            pytest.skip(str(pg_missing()))
        server: PgServer = request.getfixturevalue("pg_server")
        est.audit = server.new_database()  # type: ignore[assignment]
    est.transport.on("promote-west", Reply(stdout="promoted"))
    yield est


async def _waiting_run(est: ScriptedEstate) -> str:
    for _ in range(int(WAIT / 0.05)):
        try:
            with AuditStore(est.audit, create=False) as other:
                found = pending_approvals(other)
        except Exception:  # the store may not exist yet
            found = []
        if found:
            return found[0].run_id
        await asyncio.sleep(0.05)
    raise AssertionError("the run never waited")


async def test_audit_list_and_the_audit_screen_show_who_runs_what_now(
    estate: ScriptedEstate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pb = estate.playbook("two-person", PLAYBOOK)
    engine, audit = estate.engine(
        pb, HeadlessDecider("bo@laptop2", yes=True), approval_poll=0.05, approval_timeout=WAIT
    )
    task = asyncio.ensure_future(engine.run())
    try:
        run_id = await _waiting_run(estate)
        estate.operator = "ana@jumpbox"
        listed = estate.run("audit", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0] == "in progress now (1):"
        now = lines[1]
        assert now.startswith(f"  {run_id} two-person (drill) by bo@laptop2 on ")
        assert ": at promote, waiting for approval (1 of 2)" in now
        assert "; leases svc (token 1, " in now

        (tmp_path / "ws").mkdir()
        workspace(tmp_path / "ws", monkeypatch)
        app = make_app([healthy(example_inventory())], audit=AuditStore(estate.audit))
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("4")
            await until(lambda: isinstance(app.screen, AuditScreen), 10, "the audit screen")
            live = app.screen.query_one("#audit-live", Static)
            await until(lambda: live.display, WAIT, "the in-progress panel")
            assert f"{run_id} two-person (drill) by bo@laptop2" in str(live.render())
            with AuditStore(estate.audit, create=False) as other:
                approve(other, run_id, None, operator="ana@jumpbox")
            result = await asyncio.wait_for(asyncio.shield(task), WAIT)
            assert result.exit_code == 0, result.summary
            await until(lambda: not live.display, WAIT, "the panel emptied")
    finally:
        if not task.done():
            task.cancel()
        audit.close()
    after = estate.run("audit", "list")
    assert "in progress now" not in after.stdout
