"""The board's recoverable-window panel, through Pilot on the real app.

The snapshot is the synthetic healthy one of ``inventory/example.yaml`` (named so), with
windows parsed from pgBackRest output recorded on the lab (``tests/probes/data/window``): a
healthy archive and one with a WAL segment removed. Without windows the panel stays hidden,
so boards of estates without ``backup:`` look as before.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static

from console.errors import Location
from console.model.backup import BackupSettings
from console.probes.window import parse
from console.tui.screens.board import BoardScreen
from tests.tui.staging import NOW, example_inventory, healthy, make_app, workspace
from tests.tui.waiting import until

DATA = Path(__file__).resolve().parents[1] / "probes" / "data" / "window"
BACKUP = BackupSettings("pgbackrest", "orders", "vault-dr-1", None, Location("i.yaml", 1, 1))


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return workspace(tmp_path, monkeypatch)


def _window(name: str):  # type: ignore[no-untyped-def]
    return parse(BACKUP, "orders-db", 0, (DATA / name).read_text(), "", NOW)


async def _panel(windows: dict) -> tuple[bool, str]:  # type: ignore[type-arg]
    snap = replace(healthy(example_inventory()), windows=windows)
    app = make_app([snap])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, BoardScreen) and app.snapshot, 10, "board")
        await pilot.pause()
        panel = app.screen.query_one("#windows", Static)
        return bool(panel.display), str(panel.render())


async def test_a_wal_gap_is_on_the_board_with_its_reason(ws: Path) -> None:
    shown, text = await _panel({"orders-db": _window("gap.out")})
    assert shown
    line = next(x for x in text.splitlines() if x.startswith("orders-db"))
    assert "CRIT" in line and " UTC" in line and "archived " in line, text
    assert "WAL gap: segment 00000001000000000000000B is missing" in text, text


async def test_a_healthy_window_says_ok_and_no_windows_hide_the_panel(ws: Path) -> None:
    shown, text = await _panel({"orders-db": _window("healthy.out")})
    assert shown and "OK" in text and "why" not in text, text
    shown, _ = await _panel({})
    assert not shown
