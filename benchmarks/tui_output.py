"""The run screen under 10,000 output lines a second: does it stay responsive, does memory stay
bounded?

The lines come from a SYNTHETIC feed: ``OutputLines`` events handed to the run session's
engine listener at the rate the engine emits them (batches of up to 200 lines, stdout and
stderr interleaved), 10,000 lines a second for ``--seconds``; no host is contacted. The app
is the real one, headless at 120x40, on its run screen.

Measured:
* key latency: ``down``/``up`` in the step list every 150 ms during the flood, from the key
  entering the app's driver (as a terminal's would) to the first frame drawn with the cursor
  moved (frames timed where the app hands them to its headless driver);
* frames drawn per second during the flood;
* lines shown by the log widget, lines left to the audit log, and the bounded buffers;
* resident memory (RSS) before, during and after.

Run: ``.venv/bin/python benchmarks/tui_output.py`` (``--seconds``, ``--rate``).
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

from console import events as ev
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screens.run import RunScreen
from console.tui.session import OUTPUT_KEEP
from console.tui.synthetic import FixedStatusSource, load_synthetic_inventory
from console.tui.widgets.output_log import MAX_LINES, OutputLog
from console.tui.widgets.step_list import StepList

BATCH = 200
"""Lines per event (the engine flushes at 200 lines or every 100 ms)."""


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _send_key(app: DrConsoleApp, key: str) -> None:
    """Deliver a key the way a terminal does: through the app's driver, without waiting."""
    event = events.Key(key, None)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def _poll(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"waited {timeout:g}s in vain")
        await asyncio.sleep(0.001)


def _playbook(path: Path, steps: int) -> Path:
    lines = [
        "version: 1",
        "name: flood",
        "kind: custom",
        "title: SYNTHETIC output flood (benchmark)",
        "steps:",
    ]
    for i in range(steps):
        lines += [f"  - id: step-{i:02d}", "    on: east-0000", "    run: yes | head -n 100000"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run(seconds: float, rate: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inventory = load_synthetic_inventory(root / "synthetic.yaml", clusters=2)
        playbook = _playbook(root / "flood.yaml", 20)
        config = TuiConfig(
            inventory_path=root / "synthetic.yaml",
            playbooks_dir=root,
            audit_path=root / "audit.db",
            operator="bench@tui",
        )
        app = DrConsoleApp(
            config, inventory, source_factory=lambda inv, _t: FixedStatusSource(inv, [])
        )
        keys: list[float] = []
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            session = app.open_run(playbook, {})
            assert session is not None
            await _poll(lambda: isinstance(app.screen, RunScreen) and app.screen.ready)
            screen = app.screen
            assert isinstance(screen, RunScreen)
            steps = screen.query_one("#steps", StepList)
            log = screen.query_one("#output", OutputLog)
            steps.focus()
            await pilot.pause()
            rss_before = _rss_mib()
            frames: list[tuple[float, int]] = []
            display = app._display

            def timed_display(scr: object, renderable: object) -> None:
                frames.append((time.perf_counter(), steps.cursor_row))
                display(scr, renderable)  # type: ignore[arg-type]

            app._display = timed_display  # type: ignore[method-assign]
            sent = 0

            async def flood() -> None:
                nonlocal sent
                interval = BATCH / rate
                start = time.perf_counter()
                n = 0
                while time.perf_counter() - start < seconds:
                    stream = "stderr" if n % 7 == 3 else "stdout"
                    session._on_event(  # the engine's listener, fed what the engine emits
                        ev.OutputLines(
                            step_id="step-00",
                            host="east-0000",
                            stream=stream,
                            lines=tuple(f"line {sent + i} of the flood" for i in range(BATCH)),
                        )
                    )
                    sent += BATCH
                    n += 1
                    await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))

            flooding = asyncio.ensure_future(flood())
            started = time.perf_counter()
            rss_during: list[float] = []
            k = 0
            while not flooding.done():
                row = steps.cursor_row
                key = "down" if k % 30 < 15 else "up"
                want = row + 1 if key == "down" else row - 1
                k += 1
                t0 = time.perf_counter()
                _send_key(app, key)
                await _poll(lambda: any(t > t0 and r == want for t, r in frames), 5)  # noqa: B023
                keys.append(next(t for t, r in frames if t > t0 and r == want) - t0)
                rss_during.append(_rss_mib())
                await asyncio.sleep(0.15)
            elapsed = time.perf_counter() - started
            await flooding
            frames_in = [t for t, _ in frames if started <= t <= started + elapsed]
            await pilot.pause()
            rss_after = _rss_mib()
        print(
            f"output flood: {sent} lines in {elapsed:.1f}s = {sent / elapsed:,.0f} lines/s "
            "(SYNTHETIC feed, 1 in 7 batches on stderr)"
        )
        print(
            f"  key press answered (frame with the cursor moved drawn): median "
            f"{statistics.median(keys) * 1000:.1f} ms, max {max(keys) * 1000:.1f} ms "
            f"({len(keys)} keys) — target < 100 ms: "
            f"{'met' if max(keys) < 0.1 else 'MISSED (max)'}"
        )
        print(f"  frames drawn: {len(frames_in) / elapsed:.0f}/s during the flood")
        print(
            f"  log widget holds {len(log.lines)} lines (bound {MAX_LINES}); "
            f"{log.skipped} lines arrived faster than shown and were left to the audit log; "
            f"session buffer {len(session.lines)} (bound {OUTPUT_KEEP})"
        )
        print(
            f"  RSS {rss_before:.0f} MiB before, max {max(rss_during):.0f} MiB during, "
            f"{rss_after:.0f} MiB after"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=10_000, help="lines per second")
    args = parser.parse_args()
    return asyncio.run(run(args.seconds, args.rate))


if __name__ == "__main__":
    sys.exit(main())
