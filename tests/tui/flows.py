"""Driving the run screen from a test the way an operator does: keys and dialogs only."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.screen import Screen

from console.tui.app import DrConsoleApp
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.run import RunScreen
from console.tui.session import RunSession
from tests.tui.support import press_keys, type_text
from tests.tui.waiting import until


async def wait_screen(app: DrConsoleApp, kind: type[Screen[object]], timeout: float = 60) -> None:
    """Until the active screen is a ``kind``."""
    await until(lambda: isinstance(app.screen, kind), timeout, f"a {kind.__name__}")


async def open_from_palette(pilot: Pilot[int], app: DrConsoleApp, playbook: str) -> RunSession:
    """Open a playbook's run screen through the command palette."""
    await press_keys(pilot, "ctrl+p")
    await type_text(pilot, f"Run playbook: {playbook}")
    await pilot.pause(0.3)
    await press_keys(pilot, "enter")
    await wait_screen(app, RunScreen, 30)
    session = app.session
    assert session is not None and session.playbook.name == playbook
    return session


async def start_run(pilot: Pilot[int], app: DrConsoleApp) -> None:
    """Press r on the run screen and say yes to "Start the run?"."""
    await press_keys(pilot, "r")
    await wait_screen(app, ConfirmScreen, 10)
    await press_keys(pilot, "y")


async def wait_question(app: DrConsoleApp, kind: str, step: str, timeout: float = 120) -> None:
    """Until the engine asks ``kind`` about ``step`` and its dialog is on screen."""
    session = app.session
    assert session is not None

    def asked() -> bool:
        if session.finished:
            raise AssertionError(
                f"the run ended ({session.run_state()}) before asking {kind} {step}: "
                + "\n".join(list(session.lines)[-15:])
            )
        pending = session.pending
        return (
            pending is not None
            and pending.question.kind == kind
            and pending.question.step_id == step
            and not isinstance(app.screen, RunScreen)
        )

    await until(asked, timeout, f"the {kind} question of {step}")


async def wait_finished(app: DrConsoleApp, timeout: float = 180) -> RunSession:
    """Until the run ended."""
    session = app.session
    assert session is not None
    await until(lambda: session.finished, timeout, "the run to end")
    return session
