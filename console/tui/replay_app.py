"""``drconsole replay RUN_ID``: the replay screen in an app of its own.

The app opens the audit database read-only in spirit (it only reads), loads the run, and
shows :class:`~console.tui.screens.replay.ReplayScreen`; closing the screen ends the app. It
has no transport and no status source: a replay never contacts a host.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from textual.app import App

from console.audit.store import AuditStore
from console.errors import InputError
from console.tui.palette import Palette
from console.tui.replay import Replay
from console.tui.screens.replay import ReplayScreen
from console.tui.theme import NIGHT


class ReplayApp(App[int]):
    """Plays back one recorded run."""

    TITLE = "drconsole replay"

    def __init__(self, replay: Replay, *, play: bool = False, speed: float = 1.0) -> None:
        super().__init__()
        self.replay = replay
        self.start_playing = play
        self.start_speed = speed

    def on_mount(self) -> None:
        self.register_theme(NIGHT)
        self.theme = NIGHT.name
        screen = ReplayScreen(self.replay, palette=Palette.from_theme(self))
        screen.speed = self.start_speed
        self.push_screen(screen, lambda _: self.exit(0))
        if self.start_playing:
            self.call_after_refresh(screen.action_play)


def load_replay(audit_path: Path, run_id: str) -> Replay:
    """The recorded run ``run_id`` (a unique prefix will do) of the audit database.

    Raises:
        InputError: no audit database there, no such run, or a prefix of several (one
            line, exit 2).
    """
    with AuditStore(audit_path, create=False) as store:
        rid = store.resolve_run_id(run_id)
        try:
            return Replay.load(store, rid)
        except KeyError:
            raise InputError(f"no run {run_id!r} in {audit_path}") from None


def main(args: argparse.Namespace) -> int:
    """``drconsole replay RUN_ID [--speed 1|10] [--play]``; returns the exit code."""
    replay = load_replay(args.audit, args.run_id)
    app = ReplayApp(replay, play=bool(args.play), speed=float(args.speed))
    app.run()
    return app.return_code or 0
