"""The status board on the real lab: its real topology, a dark site, a refused host key.

Every test here runs the whole app (``app.run_test``) with the live status source polling
the lab's servers over its real sshd.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Log

from console.tui.screens.abort import AbortScreen
from console.tui.screens.board import BoardScreen
from console.tui.screens.choice import ChoiceScreen
from console.tui.screens.message import MessageScreen
from console.tui.widgets.security_alert import SecurityAlerts
from console.tui.widgets.site_panel import SitePanel
from tests.support.lab import RunningLab, requires_lab
from tests.tui.flows import (
    open_from_palette,
    start_run,
    wait_finished,
    wait_question,
    wait_screen,
)
from tests.tui.support import (
    make_app,
    press_keys,
    static_text,
    table_cell,
    type_text,
    wait_members,
)
from tests.tui.waiting import until

pytestmark = [requires_lab, pytest.mark.lab]


@pytest.mark.timeout(180)
async def test_board_shows_the_labs_real_topology(tui_lab: RunningLab, audit_path: Path) -> None:
    app = make_app(tui_lab.inventory, audit_path)
    async with app.run_test(size=(120, 40)):
        await wait_members(app, 6)
        board = app.screen
        assert isinstance(board, BoardScreen)
        east = board.query_one("#site-east", SitePanel)
        west = board.query_one("#site-west", SitePanel)
        services = ("orders-db", "catalog-db", "sessions")

        def all_ok() -> bool:
            # a loaded machine may show a transient WARN (lag above 5 s for a moment): wait
            # for the steady state the lab is in, rather than judge one instant
            return "all 6 members healthy" in static_text(app, "#verdict") and all(
                table_cell(t, f"{svc}/{h}", "health") == "✓ OK"
                for t, h in ((east.table, "lab-east"), (west.table, "lab-west"))
                for svc in services
            )

        await until(all_ok, 90, "every member OK on the board")
        for service in services:
            assert table_cell(east.table, f"{service}/lab-east", "role") == "primary"
            assert table_cell(west.table, f"{service}/lab-west", "role") == "replica"
            assert table_cell(east.table, f"{service}/lab-east", "lag") == "—"
            lag = table_cell(west.table, f"{service}/lab-west", "lag")
            assert lag.split()[0].endswith("s"), lag  # a measured lag in seconds, not "?"
        assert east.border_subtitle == "3 member(s) OK"
        assert board.query_one("#site-dr", SitePanel).border_subtitle == "no replicated members"
        topology = static_text(app, "#topology")
        for service in ("orders-db", "catalog-db", "sessions"):
            assert f"{service}" in topology
        assert topology.count("★ east/lab-east ━▶ west/lab-west") == 3
        assert "moved" not in topology
        header = static_text(app, "#hdr-inventory")
        assert str(tui_lab.inventory) in header
        assert "DRILL" in static_text(app, "#banner")


@pytest.mark.timeout(300)
async def test_a_dark_site_turns_down_while_east_stays_fresh(
    tui_lab: RunningLab, audit_path: Path
) -> None:
    probe_timeout = 4.0
    app = make_app(tui_lab.inventory, audit_path, refresh=1.0, probe_timeout=probe_timeout)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_members(app, 6)
        board = app.screen
        assert isinstance(board, BoardScreen)
        west = board.query_one("#site-west", SitePanel)
        east = board.query_one("#site-east", SitePanel)
        await until(lambda: west.border_subtitle == "3 member(s) OK", 60, "west OK first")
        tui_lab.lab.chaos_down("west")
        try:
            went_dark = time.monotonic()
            # first the board stops believing west's old samples (stale after 1.5 refreshes):
            # the site is not answering, no member has a green tick, no arrow streams to it
            await until(
                lambda: str(west.border_subtitle).startswith("DOWN — not answering for"),
                probe_timeout + 5 + 1 + 30,
                "west not answering",
            )
            await pilot.pause()
            assert west.has_class("-down")
            for service in ("orders-db", "catalog-db", "sessions"):
                cell = table_cell(west.table, f"{service}/lab-west", "health")
                assert cell in ("◌ STALE", "▼ DOWN"), cell
            assert "━▶ west/lab-west" not in static_text(app, "#topology")
            assert "west not answering" in static_text(app, "#verdict")
            # the changes log names the turn to STALE, though no sample of west brought it
            changes = board.query_one("#changes", Log)
            await until(
                lambda: any(
                    "west/lab-west" in ln and "replica OK → replica STALE (no new sample" in ln
                    for ln in changes.lines
                ),
                30,
                "the changes log to name west's members going stale",
            )
            # then each member's own probe times out: per member the probe deadline, +2 s
            # transport slack, +3 s collector slack, the refresh, and a wide margin
            await until(
                lambda: all(
                    table_cell(west.table, f"{service}/lab-west", "health") == "▼ DOWN"
                    for service in ("orders-db", "catalog-db", "sessions")
                ),
                probe_timeout + 5 + 1 + 30,
                "west's rows to turn DOWN",
            )
            took = time.monotonic() - went_dark
            await pilot.pause()
            assert str(west.border_subtitle).startswith("DOWN — not answering for")
            # east kept being probed while west hung: its samples are fresh
            snap = app.snapshot
            assert snap is not None
            now = time.time()
            for service in ("orders-db", "catalog-db", "sessions"):
                member = snap.get(service, "lab-east")
                assert member is not None and member.role == "primary"
                assert member.sample.age(now) < 5.0, (service, member.sample.age(now))
            assert east.border_subtitle == "3 member(s) OK"
            assert took >= probe_timeout * 0.5
        finally:
            tui_lab.lab.chaos_up("west")
        await until(
            lambda: west.border_subtitle == "3 member(s) OK", 90, "west back to OK after chaos up"
        )


@pytest.mark.timeout(180)
async def test_a_refused_host_key_is_shown_as_a_security_error(
    tui_lab: RunningLab, audit_path: Path, tmp_path: Path
) -> None:
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    text = tui_lab.inventory.read_text()
    text = text.replace(str(tui_lab.known_hosts), str(empty_known_hosts))
    assert str(empty_known_hosts) in text
    inventory = tmp_path / "strict.yaml"
    inventory.write_text(text)
    app = make_app(inventory, audit_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_members(app, 6)
        alerts = app.screen.query_one("#security", SecurityAlerts)
        await until(lambda: alerts.has_class("-shown"), 30, "the security alert")
        await pilot.pause()
        shown = static_text(app, "#security")
        assert "SECURITY: host key refused for lab-east" in shown
        assert "SECURITY: host key refused for lab-west" in shown
        east = app.screen.query_one("#site-east", SitePanel)
        assert table_cell(east.table, "orders-db/lab-east", "health") == "? UNKNOWN"
        assert app.is_running  # not a crash
    assert empty_known_hosts.read_text() == ""  # nothing was accepted behind our back


@pytest.mark.timeout(240)
async def test_a_refused_host_key_during_a_run_is_a_security_error(
    tui_lab: RunningLab, audit_path: Path, tmp_path: Path
) -> None:
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    inventory = tmp_path / "strict.yaml"
    inventory.write_text(
        tui_lab.inventory.read_text().replace(str(tui_lab.known_hosts), str(empty_known_hosts))
    )
    app = make_app(inventory, audit_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_members(app, 6)
        session = await open_from_palette(pilot, app, "tui-flaky")
        await start_run(pilot, app)
        # the remote lock could not be taken: said as a security error first
        await wait_screen(app, MessageScreen, 60)
        assert app.screen.title_text == "SECURITY: host key refused"  # type: ignore[attr-defined]
        assert "host key" in str(app.screen.body)  # type: ignore[attr-defined]
        await press_keys(pilot, "enter")
        # then the step whose command could not be sent stops and asks, as a security error
        await wait_question(app, "failure", "noisy")
        dialog = app.screen
        assert isinstance(dialog, ChoiceScreen)
        assert dialog.title_text == "SECURITY: host key refused"
        assert "SECURITY" in str(dialog.body)
        await press_keys(pilot, "a")
        await wait_screen(app, AbortScreen)
        await type_text(pilot, "unknown host key on lab-east")
        await press_keys(pilot, "tab", "tab", "enter")
        await wait_finished(app)
        assert session.result is not None and session.result.outcome == "aborted"
        assert any("host key" in s for s in session.security)
    assert empty_known_hosts.read_text() == ""
