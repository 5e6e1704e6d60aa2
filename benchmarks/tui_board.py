"""The status board at 1,000 members, every member changing every second.

The status comes from a SYNTHETIC source (``console.tui.synthetic.SyntheticStatusSource``:
500 postgres pairs, every replica's lag random-walking, one in fifty DOWN, a new snapshot
every second): no real estate of that size exists here, and the point is the board's own cost.
The app is the real one, headless, at 200x60.

Measured:
* apply: the board taking one snapshot (``BoardScreen.on_status``, called from the state's
  ``status_changed`` signal: cells rebuilt for the changed members, written by key in one
  batch), wall and CPU time, per refresh;
* paint: from the end of an apply until the app is idle again (the compositor drew the frame);
* key latency: ``down`` pressed every 150 ms while the snapshots keep coming, from the
  moment the key is sent until the first frame the app draws with the cursor moved (frames
  are timed where the app hands them to its (headless) driver). Keys go in through the
  app's driver as a terminal's would (Pilot's ``press`` waits for idleness and would add its
  own ~50-80 ms).

Run: ``.venv/bin/python benchmarks/tui_board.py`` (``--seconds``, ``--clusters``).
Targets: apply median under 50 ms; a key answered within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual import events

from console.status.collector import StatusSnapshot
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screens.board import BoardScreen
from console.tui.synthetic import SyntheticStatusSource, load_synthetic_inventory
from console.tui.widgets.site_panel import SitePanel


def _send_key(app: DrConsoleApp, key: str) -> None:
    """Deliver a key the way a terminal does: through the app's driver, without waiting."""
    event = events.Key(key, None)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def _poll(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Until ``predicate()`` (checked every millisecond), at most ``timeout`` seconds."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"waited {timeout:g}s in vain")
        await asyncio.sleep(0.001)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(seconds: float, clusters: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        inventory = load_synthetic_inventory(Path(tmp) / "synthetic.yaml", clusters)
        members = sum(len(s.members) for s in inventory.services.values())
        config = TuiConfig(
            inventory_path=Path(tmp) / "synthetic.yaml",
            playbooks_dir=Path(tmp),
            audit_path=Path(tmp) / "audit.db",
            operator="bench@tui",
        )
        app = DrConsoleApp(
            config,
            inventory,
            source_factory=lambda inv, _t: SyntheticStatusSource(inv, period=1.0),
        )
        applies: list[float] = []
        applies_cpu: list[float] = []
        paints: list[float] = []
        keys: list[float] = []
        async with app.run_test(size=(200, 60)) as pilot:
            await _poll(lambda: isinstance(app.screen, BoardScreen) and app.screen.ready)
            board = app.screen
            assert isinstance(board, BoardScreen)
            original = board.on_status
            painted_after: list[float] = []

            def timed(snapshot: StatusSnapshot | None) -> None:
                w0, c0 = time.perf_counter(), time.process_time()
                original(snapshot)
                applies.append(time.perf_counter() - w0)
                applies_cpu.append(time.process_time() - c0)
                painted_after.append(time.perf_counter())

            # the board hears of snapshots through the state's signal: listen in its place
            app.state.status_changed.unsubscribe(board)
            app.state.status_changed.subscribe(board, timed, immediate=True)
            await asyncio.sleep(2.5)  # first snapshots, table built
            applies.clear()
            applies_cpu.clear()
            east = board.query_one("#site-east", SitePanel).table
            east.focus()
            await pilot.pause()
            frames: list[tuple[float, int]] = []
            display = app._display

            def timed_display(screen: object, renderable: object) -> None:
                frames.append((time.perf_counter(), east.cursor_row))
                display(screen, renderable)  # type: ignore[arg-type]

            app._display = timed_display  # type: ignore[method-assign]
            deadline = time.monotonic() + seconds
            n = 0
            while time.monotonic() < deadline:
                # paint: wait for the next apply, then for the frame after it
                before = len(painted_after)
                await _poll(lambda: len(painted_after) > before)  # noqa: B023
                applied = painted_after[-1]
                await _poll(lambda: any(t > applied for t, _ in frames))  # noqa: B023
                paints.append(next(t for t, _ in frames if t > applied) - applied)
                # keys during the next second of refreshes
                for _ in range(4):
                    row = east.cursor_row
                    key = "down" if n % 40 < 20 else "up"
                    want = row + 1 if key == "down" else row - 1
                    n += 1
                    t0 = time.perf_counter()
                    _send_key(app, key)
                    await _poll(lambda: any(t > t0 and r == want for t, r in frames), 5)  # noqa: B023
                    keys.append(next(t for t, r in frames if t > t0 and r == want) - t0)
                    await asyncio.sleep(0.15)
        source_rate = len(applies) / seconds
        print(f"board: {members} members (SYNTHETIC source, every member changes every second)")
        print(
            f"  apply one refresh: median {statistics.median(applies) * 1000:.1f} ms wall / "
            f"{statistics.median(applies_cpu) * 1000:.1f} ms CPU, "
            f"p95 {_pct(applies, 0.95) * 1000:.1f} ms, max {max(applies) * 1000:.1f} ms "
            f"({len(applies)} refreshes, {source_rate:.2f}/s) — target < 50 ms: "
            f"{'met' if statistics.median(applies) < 0.05 else 'MISSED'}"
        )
        print(
            f"  apply to painted frame: median {statistics.median(paints) * 1000:.1f} ms, "
            f"max {max(paints) * 1000:.1f} ms"
        )
        print(
            f"  key press answered (frame with the cursor moved drawn): median "
            f"{statistics.median(keys) * 1000:.1f} ms, p95 {_pct(keys, 0.95) * 1000:.1f} ms, "
            f"max {max(keys) * 1000:.1f} ms ({len(keys)} keys) — target < 100 ms: "
            f"{'met' if _pct(keys, 0.95) < 0.1 else 'MISSED (p95)'}"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clusters", type=int, default=500, help="pairs (members = 2x)")
    args = parser.parse_args()
    return asyncio.run(run(args.seconds, args.clusters))


if __name__ == "__main__":
    sys.exit(main())
