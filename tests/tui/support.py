"""Helpers for the TUI's Pilot tests: make the app on a real lab, wait for what the screen
shows, read widgets back as text."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Log, Static

from console.model.inventory import load_inventory
from console.tui.app import DrConsoleApp, TuiConfig
from tests.tui.waiting import until

OPERATOR = "tester@tui"
"""The operator every TUI test runs as (checked in the audit log)."""

PLAYBOOKS = Path(__file__).parent / "playbooks"
REPO = Path(__file__).resolve().parents[2]


def make_app(
    inventory: Path,
    audit_path: Path,
    playbooks: Path = PLAYBOOKS,
    *,
    refresh: float = 1.0,
    probe_timeout: float | None = None,
    mode: str = "drill",
    reports_dir: Path = Path("reports"),
) -> DrConsoleApp:
    """The real app on a real inventory (live status over SSH)."""
    config = TuiConfig(
        inventory_path=inventory,
        playbooks_dir=playbooks,
        audit_path=audit_path,
        operator=OPERATOR,
        mode=mode,
        refresh=refresh,
        probe_timeout=probe_timeout,
        reports_dir=reports_dir,
    )
    return DrConsoleApp(config, load_inventory(inventory))


async def wait_members(app: DrConsoleApp, count: int, timeout: float = 60) -> None:
    """Until ``count`` members have a sample."""
    await until(
        lambda: app.snapshot is not None and len(app.snapshot.members) >= count,
        timeout,
        f"{count} members sampled",
    )


def static_text(app: DrConsoleApp, selector: str) -> str:
    """The plain text a ``Static`` shows on the current screen."""
    widget = app.screen.query_one(selector, Static)
    content = widget.content
    return content.plain if isinstance(content, Text) else str(widget.render())


def table_cell(table: DataTable[Text], row: str, column: str) -> str:
    """A cell's plain text."""
    value = table.get_cell(row, column)
    return value.plain if isinstance(value, Text) else str(value)


def log_text(log: Log) -> str:
    """Every line a ``Log`` holds."""
    return "\n".join(log.lines)


async def press_keys(pilot: Pilot[int], *keys: str) -> None:
    """Press keys, letting the app settle after each."""
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


async def type_text(pilot: Pilot[int], text: str) -> None:
    """Type ``text`` into the focused input."""
    await pilot.press(*[" " if c == " " else c for c in text])
    await pilot.pause()
