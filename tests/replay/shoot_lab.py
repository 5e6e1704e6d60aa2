"""The README's picture of a replay: a recorded real run, paused mid-way, as SVG and PNG.

Usage (an audit database with a real run, e.g. ``pg-failover`` on a lab)::

    .venv/bin/python -m tests.replay.shoot_lab --audit /tmp/lab/audit.db RUN_ID --step promote

Opens the replay at 120x40, moves step by step until the given step has started, and writes
``screenshots/replay.svg`` and ``screenshots/replay.png`` (``make screenshots``' converter).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from console.tui.replay_app import ReplayApp, load_replay
from console.tui.screens.replay import ReplayScreen
from console.tui.screenshots import svg_to_png

REPO = Path(__file__).resolve().parents[2]


async def _shoot(app: ReplayApp, step: str, out: Path) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        for _ in range(400):
            if screen.replay.statuses.get(step) not in (None, "pending"):
                break
            await pilot.press("n")
        await pilot.press("n")
        await pilot.pause(0.5)
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audit", type=Path, required=True)
    parser.add_argument("run_id")
    parser.add_argument("--step", required=True)
    parser.add_argument("--out", type=Path, default=REPO / "screenshots" / "replay.svg")
    args = parser.parse_args()
    app = ReplayApp(load_replay(args.audit, args.run_id))
    asyncio.run(_shoot(app, args.step, args.out))
    png = svg_to_png(args.out)  # the README's other screenshots are converted the same way
    print(f"wrote {args.out} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
