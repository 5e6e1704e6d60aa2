"""SVG snapshots of every screen at fixed sizes (pytest-textual-snapshot).

The content is deterministic (``tests/tui/staging.py``: synthetic status of the example
inventory, a fixed clock, recorded audit events); the live behaviour is proven on the lab
by the Pilot tests. Update after an intended change with ``pytest tests/tui/test_snapshots.py
--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.screens.audit import AuditScreen
from console.tui.screens.board import BoardScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.playbooks import PlaybooksScreen
from console.tui.screens.run import RunScreen
from tests.tui.staging import (
    example_inventory,
    fixed_audit_clock,
    healthy,
    make_app,
    recorded_audit,
    stage_run,
    west_dark,
    workspace,
)
from tests.tui.waiting import until


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return workspace(tmp_path, monkeypatch)


async def _board_ready(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await until(lambda: isinstance(app.screen, BoardScreen) and app.snapshot, 10, "the board")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_board_healthy(snap_compare: Any, ws: Path, size: tuple[int, int]) -> None:
    app = make_app([healthy(example_inventory())])
    assert snap_compare(app, terminal_size=size, run_before=_board_ready)


def test_board_with_a_dark_site(snap_compare: Any, ws: Path) -> None:
    app = make_app(list(west_dark(example_inventory())))
    assert snap_compare(app, terminal_size=(120, 40), run_before=_board_ready)


def test_board_in_incident_mode(snap_compare: Any, ws: Path) -> None:
    app = make_app([healthy(example_inventory())], mode="incident")
    assert snap_compare(app, terminal_size=(100, 30), run_before=_board_ready)


async def _playbooks(pilot: Pilot[Any]) -> None:
    await _board_ready(pilot)
    await pilot.press("2")
    app = pilot.app
    await until(lambda: isinstance(app.screen, PlaybooksScreen), 10, "the playbooks")
    await until(lambda: app.screen.plan is not None, 10, "the plan")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_playbooks_plan_preview(snap_compare: Any, ws: Path, size: tuple[int, int]) -> None:
    app = make_app([healthy(example_inventory())])
    assert snap_compare(app, terminal_size=size, run_before=_playbooks)


async def _run_waiting(pilot: Pilot[Any]) -> None:
    await _board_ready(pilot)
    app = pilot.app
    stage_run(app, finished=False)  # type: ignore[arg-type]
    await until(lambda: isinstance(app.screen, ConfirmScreen), 10, "the confirm dialog")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_run_mid_step_with_the_confirm_dialog(
    snap_compare: Any, ws: Path, size: tuple[int, int]
) -> None:
    app = make_app([healthy(example_inventory())])
    assert snap_compare(app, terminal_size=size, run_before=_run_waiting)


async def _run_finished(pilot: Pilot[Any]) -> None:
    await _board_ready(pilot)
    app = pilot.app
    stage_run(app, finished=True)  # type: ignore[arg-type]
    await until(lambda: isinstance(app.screen, RunScreen), 10, "the run screen")
    app.screen.refresh_from_session()  # type: ignore[attr-defined]
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_run_finished(snap_compare: Any, ws: Path, size: tuple[int, int]) -> None:
    app = make_app([healthy(example_inventory())])
    assert snap_compare(app, terminal_size=size, run_before=_run_finished)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_audit_timeline(
    snap_compare: Any, ws: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    with fixed_audit_clock(monkeypatch):
        audit = recorded_audit(Path("audit.db"))
    app = make_app([healthy(example_inventory())], audit=audit)

    async def audit_screen(pilot: Pilot[Any]) -> None:
        await _board_ready(pilot)
        await pilot.press("4")
        await until(lambda: isinstance(app.screen, AuditScreen), 10, "the audit screen")
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        await until(lambda: len(screen.verified) == 3, 20, "the chains verified")
        await until(lambda: screen.query_one("#audit-timeline").lines, 20, "the timeline")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=audit_screen)
