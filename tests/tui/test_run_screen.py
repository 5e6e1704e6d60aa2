"""The run screen's log without a lab: bounded, host-prefixed, stderr marked, following the end
even when lines arrive behind a dialog. The session is fed the engine's own event types
(recorded events: no host is contacted); the lab tests cover the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console import events as ev
from console.tui.screens.message import MessageScreen
from console.tui.screens.run import RunScreen
from console.tui.session import OUTPUT_KEEP
from console.tui.widgets.output_log import MAX_LINES, OutputLog
from tests.tui.staging import example_inventory, healthy, make_app, workspace
from tests.tui.waiting import until


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return workspace(tmp_path, monkeypatch)


def _lines(n: int, start: int, stream: str = "stdout") -> Any:
    return ev.OutputLines(
        step_id="fence",
        host="db-east-1",
        stream=stream,
        lines=tuple(f"line {i}" for i in range(start, start + n)),
    )


@pytest.mark.timeout(60)
async def test_output_is_bounded_marked_and_follows_the_end_behind_a_dialog(ws: Path) -> None:
    app = make_app([healthy(example_inventory())])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        session = app.open_run(Path("playbooks/example-failover.yaml"), {})
        assert session is not None
        await until(
            lambda: isinstance(app.screen, RunScreen) and app.screen.ready, 10, "the run screen"
        )
        screen = app.screen
        assert isinstance(screen, RunScreen)
        log = screen.query_one("#output", OutputLog)
        session._on_event(_lines(3, 0))
        session._on_event(_lines(1, 3, "stderr"))
        await until(lambda: log.line_count == 4, 10, "4 lines shown")
        assert log.lines[0] == "db-east-1    │ line 0"
        assert log.lines[3] == "db-east-1    ! line 3"
        # a dialog on top while 3,000 more lines arrive
        app.push_screen(MessageScreen("hold on", "reading"))
        await pilot.pause()
        for start in range(4, 3004, 200):
            session._on_event(_lines(200, start))
        await pilot.pause()
        await pilot.press("enter")
        await until(lambda: app.screen is screen, 10, "back on the run screen")
        await pilot.pause(0.2)
        assert log.line_count <= MAX_LINES
        assert log.lines[-1].endswith("line 3003")
        assert log.is_vertical_scroll_end
        # a flood larger than the buffers: the log says what it left to the audit log
        session._on_event(_lines(OUTPUT_KEEP + 1000, 10_000))
        await pilot.pause(0.2)
        assert len(session.lines) == OUTPUT_KEEP
        assert log.line_count <= MAX_LINES
        assert log.skipped > 0
        assert any("not shown here (the audit log has them)" in line for line in log.lines)
        assert log.lines[-1].endswith(f"line {10_000 + OUTPUT_KEEP + 999}")
