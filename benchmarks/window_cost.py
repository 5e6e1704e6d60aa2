"""What the recoverable window adds to a warm status sweep of a running lab.

Run from the repository root against a lab that is up (as root; the hosts log in as the lab
user)::

    .venv/bin/python -m benchmarks.window_cost --inventory /tmp/h13-inv/lab.yaml --rounds 20

Over one persistent SSH pool (as ``drconsole status --watch`` keeps it), each round is a warm
replication sweep alone, then the same sweep with the window collection beside it, the way
``drconsole status`` runs them (the repositories and the primaries' archivers are asked while
the sweep runs). The rounds alternate; medians are printed with the ratio. ``--service NAME``
collects the window of that service alone (each engine's rider measured on its own).

Then, as ``drconsole status --watch`` and the TUI board run it (``--watch-seconds``, 0 to skip):
a sweep every second for that long, once without and once with the window re-read in its own
task every ``WINDOW_REFRESH_SECONDS`` (10 s); the mean sweep time of each, and what the window
adds to the mean sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.model.inventory import Inventory, load_inventory
from console.ssh import SshPool
from console.status.collector import StatusCollector
from console.status.command import WINDOW_REFRESH_SECONDS
from console.status.window import WindowCollector


async def _watch(
    collector: StatusCollector, windows: WindowCollector | None, seconds: float
) -> list[float]:
    """Sweep once a second for ``seconds``; the window re-read every 10 s beside it when given."""

    async def refresh() -> None:
        assert windows is not None
        while True:
            await windows.collect(collector.snapshot())
            await asyncio.sleep(WINDOW_REFRESH_SECONDS)

    refresher = asyncio.ensure_future(refresh()) if windows is not None else None
    took: list[float] = []
    try:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            began = time.perf_counter()
            await collector.sweep()
            took.append(time.perf_counter() - began)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))
    finally:
        if refresher is not None:
            refresher.cancel()
            await asyncio.gather(refresher, return_exceptions=True)
    return took


def _only(inventory: Inventory, service: str | None) -> Inventory:
    """The inventory with only ``service``'s ``backup:`` kept (all of them when None): the
    window is then collected for that service alone, the sweep still probes every member."""
    if service is None:
        return inventory
    if service not in inventory.services or inventory.services[service].backup is None:
        raise SystemExit(f"{service}: no such backed-up service in {inventory.path}")
    services = {
        name: s if name == service else dataclasses.replace(s, backup=None)
        for name, s in inventory.services.items()
    }
    return dataclasses.replace(inventory, services=services)


async def _bench(
    inventory_path: Path, rounds: int, watch_seconds: float, service: str | None
) -> None:
    inventory = load_inventory(inventory_path)
    async with SshPool() as pool:
        collector = StatusCollector(inventory, pool)
        windows = WindowCollector(_only(inventory, service), pool)
        if service is not None:
            print(f"the window of {service} only")
        await collector.sweep()  # open every connection: the rounds below are warm
        await windows.collect(collector.snapshot())
        alone: list[float] = []
        both: list[float] = []
        for _ in range(rounds):
            began = time.perf_counter()
            await collector.sweep()
            alone.append(time.perf_counter() - began)
            began = time.perf_counter()
            asked = windows.start(collector)
            snapshot = await collector.sweep()
            found = await windows.finish(asked, snapshot)
            both.append(time.perf_counter() - began)
            assert found, "the inventory has no backed-up service"
        a, b = statistics.median(alone), statistics.median(both)
        print(f"warm sweep alone:       median {a * 1000:.1f} ms ({rounds} rounds)")
        print(f"warm sweep with window: median {b * 1000:.1f} ms")
        print(f"the window adds {100 * (b - a) / a:+.1f}% ({(b - a) * 1000:+.1f} ms) inline")
        if watch_seconds > 0:
            plain = await _watch(collector, None, watch_seconds)
            watched = await _watch(collector, windows, watch_seconds)
            pa, pb = statistics.mean(plain), statistics.mean(watched)
            print(
                f"--watch, {watch_seconds:g} s each: mean sweep {pa * 1000:.1f} ms alone "
                f"({len(plain)} sweeps), {pb * 1000:.1f} ms with the window every "
                f"{WINDOW_REFRESH_SECONDS:g} s ({len(watched)} sweeps): "
                f"{100 * (pb - pa) / pa:+.1f}% ({(pb - pa) * 1000:+.1f} ms)"
            )
        await collector.close()


def main() -> int:
    """Parse the arguments and run the rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--watch-seconds", type=float, default=30.0)
    parser.add_argument(
        "--service", help="collect the window of this backed-up service only (default: all)"
    )
    args = parser.parse_args()
    asyncio.run(_bench(args.inventory, args.rounds, args.watch_seconds, args.service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
