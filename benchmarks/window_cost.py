"""What the recoverable window adds to a warm status sweep of a running lab.

Run from the repository root against a lab that is up (as root; the hosts log in as the lab
user)::

    .venv/bin/python -m benchmarks.window_cost --inventory /tmp/h13-inv/lab.yaml --rounds 20

Over one persistent SSH pool (as ``drconsole status --watch`` keeps it), each round is a warm
replication sweep alone, then the same sweep with the window collection beside it, the way
``drconsole status`` runs them (the repositories are asked while the sweep runs, the primary's
archiver after it). The rounds alternate; medians are printed with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.model.inventory import load_inventory
from console.ssh import SshPool
from console.status.collector import StatusCollector
from console.status.window import WindowCollector


async def _bench(inventory_path: Path, rounds: int) -> None:
    inventory = load_inventory(inventory_path)
    async with SshPool() as pool:
        collector = StatusCollector(inventory, pool)
        windows = WindowCollector(inventory, pool)
        await collector.sweep()  # open every connection: the rounds below are warm
        await windows.collect(collector.snapshot())
        alone: list[float] = []
        both: list[float] = []
        for _ in range(rounds):
            began = time.perf_counter()
            await collector.sweep()
            alone.append(time.perf_counter() - began)
            began = time.perf_counter()
            asked = windows.start()
            snapshot = await collector.sweep()
            found = await windows.finish(asked, snapshot)
            both.append(time.perf_counter() - began)
            assert found, "the inventory has no backed-up service"
        await collector.close()
    a, b = statistics.median(alone), statistics.median(both)
    print(f"warm sweep alone:       median {a * 1000:.1f} ms ({rounds} rounds)")
    print(f"warm sweep with window: median {b * 1000:.1f} ms")
    print(f"the window adds {100 * (b - a) / a:+.1f}% ({(b - a) * 1000:+.1f} ms)")


def main() -> int:
    """Parse the arguments and run the rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(_bench(args.inventory, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
