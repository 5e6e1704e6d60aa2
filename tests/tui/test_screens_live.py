"""The playbooks, audit and palette paths on the real lab: the plan preview with its live
gate checklist, the audit screen's verification and timeline, report export, and the command
palette's commands (switch mode, switch inventory, open audit, run a playbook)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Log

from console.audit.store import AuditStore
from console.tui.screens.audit import AuditScreen
from console.tui.screens.board import BoardScreen
from console.tui.screens.inventory import InventoryScreen
from console.tui.screens.message import MessageScreen
from console.tui.screens.playbooks import PlaybooksScreen
from console.tui.screens.run import RunScreen
from tests.support.lab import RunningLab, requires_lab
from tests.tui.flows import open_from_palette, start_run, wait_finished, wait_question, wait_screen
from tests.tui.support import (
    PLAYBOOKS,
    REPO,
    log_text,
    make_app,
    press_keys,
    static_text,
    type_text,
    wait_members,
)
from tests.tui.waiting import until

pytestmark = [requires_lab, pytest.mark.lab]


@pytest.mark.timeout(180)
async def test_plan_preview_renders_against_the_live_topology(
    tui_lab: RunningLab, audit_path: Path, tmp_path: Path
) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "pg-failover.yaml").symlink_to(REPO / "playbooks" / "pg-failover.yaml")
    (playbooks / "pg-failback-lab.yaml").symlink_to(PLAYBOOKS / "pg-failback-lab.yaml")
    (playbooks / "broken.yaml").write_text("version: 1\nname: broken\nsteps: [\n")
    app = make_app(tui_lab.inventory, audit_path, playbooks)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_members(app, 6)
        await press_keys(pilot, "2")
        await wait_screen(app, PlaybooksScreen)
        screen = app.screen
        assert isinstance(screen, PlaybooksScreen)
        assert [e.path.name for e in screen.entries] == [
            "broken.yaml",
            "pg-failback-lab.yaml",
            "pg-failover.yaml",
        ]
        assert "✗" in static_text(app, "#pb-about") or screen.entries[0].error
        assert screen.select("pg-failover")
        await until(
            lambda: screen.plan is not None and all(g.ok is True for g in screen.plan.gates[:3]),
            60,
            "the status gates of pg-failover to pass on the live lab",
        )
        plan = screen.plan
        assert plan is not None
        fence = next(s for s in plan.steps if s.id == "fence")
        assert fence.targets == ("lab-east",)
        assert "pg_ctl -D" in fence.commands[0][1]
        promote = next(s for s in plan.steps if s.id == "promote")
        assert promote.targets == ("lab-west",)
        gates = static_text(app, "#pb-gates")
        assert "✓ the primary is at from_site" in gates
        assert "· the target streams" in gates  # a command gate is judged when the run starts
        steps = static_text(app, "#pb-steps")
        assert re.search(r"\b\d+\. fence \[run\] confirm rto:start", steps), steps
        assert "lab-east $ " in steps
        # the failback's gates read the same live topology: they fail on a healthy lab
        assert screen.select("tui-pg-failback")
        await until(lambda: screen.plan is not None, 10, "the failback plan")
        gates = static_text(app, "#pb-gates")
        assert "✗ the primary is at away_site" in gates
        assert "✗ the old primary at home_site is stopped" in gates


@pytest.mark.timeout(240)
async def test_audit_screen_verifies_shows_the_timeline_and_exports(
    tui_lab: RunningLab, audit_path: Path, tmp_path: Path
) -> None:
    app = make_app(tui_lab.inventory, audit_path, reports_dir=tmp_path / "reports")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_members(app, 6)
        session = await open_from_palette(pilot, app, "tui-flaky")
        await start_run(pilot, app)
        await wait_question(app, "failure", "flaky")
        await press_keys(pilot, "a")  # the failure dialog's abort
        await type_text(pilot, "enough for the audit test")
        await press_keys(pilot, "tab", "tab", "enter")
        await wait_finished(app)
        assert session.result is not None and session.result.outcome == "aborted"
        run_id = session.run_id
        assert run_id is not None
        await press_keys(pilot, "4")
        await wait_screen(app, AuditScreen)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        assert screen.records[0].run_id == run_id
        await until(lambda: run_id in screen.verified, 30, "the chain verification")
        assert screen.verified[run_id].ok
        timeline = screen.query_one("#audit-timeline", Log)
        await until(lambda: "step_started" in log_text(timeline), 30, "the timeline")
        text = log_text(timeline)
        assert re.search(r"decision +flaky +abort by \S+ — enough for the audit test", text), text
        header = static_text(app, "#audit-header")
        assert "chain: ✓ verified" in header
        await press_keys(pilot, "v")
        await wait_screen(app, MessageScreen)
        assert app.screen.title_text == "Audit chain verified"  # type: ignore[attr-defined]
        await press_keys(pilot, "enter")
        await wait_screen(app, AuditScreen)
        # export the report (console.report.export_report) through the dialog
        await press_keys(pilot, "e")
        await until(lambda: app.screen.query("#export-path"), 10, "the export dialog")
        await press_keys(pilot, "enter")
        written = tmp_path / "reports" / f"drill-{run_id}.md"
        await until(written.exists, 30, "the report file")
        assert run_id in written.read_text()
    audit = AuditStore(audit_path)
    try:
        assert audit.verify(run_id).ok
    finally:
        audit.close()


@pytest.mark.timeout(180)
async def test_command_palette_switches_mode_and_inventory_and_opens_audit(
    tui_lab: RunningLab, audit_path: Path, tmp_path: Path
) -> None:
    app = make_app(tui_lab.inventory, audit_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_members(app, 6)
        assert "DRILL" in static_text(app, "#banner")
        await press_keys(pilot, "ctrl+p")
        await type_text(pilot, "Switch mode to INCIDENT")
        await pilot.pause(0.3)
        await press_keys(pilot, "enter")
        await until(lambda: app.mode == "incident", 10, "incident mode")
        await wait_screen(app, BoardScreen)
        assert "INCIDENT" in static_text(app, "#banner")
        assert app.screen.query_one("#banner").has_class("-incident")

        # a bad inventory is refused in place, located; the console keeps its inventory
        bad = tmp_path / "bad.yaml"
        bad.write_text("version: 1\nname: bad\nsites: {east: {role: nowhere}}\n")
        await press_keys(pilot, "ctrl+p")
        await type_text(pilot, "Switch inventory")
        await pilot.pause(0.3)
        await press_keys(pilot, "enter")
        await wait_screen(app, InventoryScreen)
        path_input = app.screen.query_one("#inv-path")
        path_input.value = str(bad)  # type: ignore[attr-defined]
        await press_keys(pilot, "enter")
        await until(lambda: "bad.yaml:" in static_text(app, "#inv-error"), 10, "the error")
        path_input.value = str(REPO / "inventory" / "example.yaml")  # type: ignore[attr-defined]
        await press_keys(pilot, "enter")
        await wait_screen(app, BoardScreen)
        assert app.inventory.name == "example"
        await until(
            lambda: "inventory example" in static_text(app, "#hdr-inventory"), 5, "the header"
        )
        # switch back to the lab, open the audit log from the palette
        app.switch_inventory(
            __import__("console.model.inventory").model.inventory.load_inventory(tui_lab.inventory)
        )
        await press_keys(pilot, "ctrl+p")
        await type_text(pilot, "Open audit log")
        await pilot.pause(0.3)
        await press_keys(pilot, "enter")
        await wait_screen(app, AuditScreen)
        # and a run opened from the palette is in INCIDENT mode
        session = await open_from_palette(pilot, app, "tui-marker")
        assert session.mode == "incident"
        assert isinstance(app.screen, RunScreen)
        assert "INCIDENT" in static_text(app, "#banner")
