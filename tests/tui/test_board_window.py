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

from console.audit.model import RunStart
from console.audit.store import AuditStore
from console.errors import Location
from console.model.backup import BackupSettings
from console.probes.window import parse
from console.tui.format import fmt_age
from console.tui.screens.board import BoardScreen
from tests.tui.staging import (
    NOW,
    example_inventory,
    fixed_audit_clock,
    healthy,
    make_app,
    workspace,
)
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


def _verified_run(store: AuditStore, run_id: str, kind: str, outcome: str) -> None:
    """A finished run of a verifying (or not) playbook against the example inventory."""
    store.create_run(
        RunStart(
            run_id=run_id,
            playbook_name="pg-pitr",
            playbook_kind=kind,
            playbook_path="playbooks/pg-pitr.yaml",
            playbook_digest="ab" * 32,
            inventory_name="example",
            inventory_path="inventory/example.yaml",
            inventory_digest="cd" * 32,
            mode="drill",
            operator="ana@jumpbox",
            services=("orders-db",),
            params={"target_time": "2026-09-21T12:00:00Z"},
            objectives={"rto_seconds": 900, "rpo_seconds": None},
            pid=4242,
            hostname="jumpbox",
            playbook_title="pg-pitr",
        )
    )
    store.finish_run(run_id, outcome, {"exit_code": 0 if outcome == "succeeded" else 1})


async def test_the_window_panel_says_when_each_restore_was_last_verified(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AuditStore(ws / "audit.db")
    with fixed_audit_clock(monkeypatch):
        _verified_run(store, "01K5PD0000000000000000000D", "point-in-time-restore", "succeeded")
        # a newer failed PITR and a newer successful failover prove nothing about a restore
        _verified_run(store, "01K5PE0000000000000000000E", "point-in-time-restore", "failed")
        _verified_run(store, "01K5PF0000000000000000000F", "failover", "succeeded")
    finished = next(r for r in store.runs() if r.run_id == "01K5PD0000000000000000000D").finished
    assert finished is not None
    windows = {"orders-db": _window("healthy.out"), "catalog-db": _window("healthy.out")}
    snap = replace(healthy(example_inventory()), windows=windows)
    app = make_app([snap], audit=store)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(lambda: isinstance(app.screen, BoardScreen) and app.snapshot, 10, "board")
        await pilot.pause()
        text = str(app.screen.query_one("#windows", Static).render())
    orders = next(x for x in text.splitlines() if x.startswith("orders-db"))
    assert f"verified {fmt_age(NOW - finished.timestamp())}" in orders, text
    catalog = next(x for x in text.splitlines() if x.startswith("catalog-db"))
    assert "verified never" in catalog, text
