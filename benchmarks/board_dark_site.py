"""How long the board shows a dark site as if it were fine (issue 11 item 6).

Why: the board used to show a dark site's members "✓ OK" for 13 s, until their probes timed
out. This takes a site of a real lab dark (``Lab.chaos_down``: every process SIGSTOPped) while
the board's own live source polls every member (``LiveStatusSource``, the TUI's refresh), and
reads the board model every 50 ms (``member_cells``, ``site_headline``, ``verdict_line``, at the
wall-clock time, as the TUI's clock tick does). Per round it records, from the moment the site
went dark:

- ``not-OK``: until every member of the site has no green tick on the board (stale, or worse);
- ``site``: until the site's panel says DOWN ("not answering for N s");
- ``DOWN``: until every member's own probe has timed out and its row reads DOWN.

The target is ``not-OK`` within 2 poll intervals, well under the probe timeout. Usage::

    .venv/bin/python -m benchmarks.board_dark_site --lab-dir /tmp/h11-lab \\
        --inventory /tmp/h11-lab/lab.yaml --rounds 5            # a lab that is up
    .venv/bin/python -m benchmarks.board_dark_site --net 44     # a throwaway lab

Each round starts at a random moment of the poll cycle; the site is brought back and the board
waits for every member to be OK again before the next round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.lab.lab import Lab  # noqa: E402
from console.model.inventory import Inventory, load_inventory  # noqa: E402
from console.ssh.pool import SshPool  # noqa: E402
from console.status.collector import StatusSnapshot  # noqa: E402
from console.tui.board_model import (  # noqa: E402
    columns,
    member_cells,
    site_headline,
    site_rows,
    verdict_line,
)
from console.tui.history import LagHistory  # noqa: E402
from console.tui.palette import DEFAULT_PALETTE  # noqa: E402
from console.tui.status_source import LiveStatusSource  # noqa: E402

TICK = 0.05


def _board(
    inventory: Inventory, site: str, snap: StatusSnapshot | None, history: LagHistory, now: float
) -> tuple[dict[str, str], str, str]:
    """Each member's health cell, the site's headline level, the verdict, as on screen."""
    cols = columns(inventory, wide=True, width=200)
    health = {}
    for ref in site_rows(inventory, site):
        status = snap.get(ref.service, ref.host) if snap else None
        cells = member_cells(inventory, ref, status, history, now, DEFAULT_PALETTE, cols)
        health[ref.key] = cells["health"].plain
    level = site_headline(inventory, site, snap, history, now).level
    return health, level, verdict_line(inventory, snap, DEFAULT_PALETTE, now).plain


async def _until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(TICK)


async def measure(
    lab: Lab, inventory_path: Path, site: str, refresh: float, rounds: int
) -> list[dict[str, float]]:
    inventory = load_inventory(inventory_path)
    history = LagHistory()
    latest: list[StatusSnapshot] = []

    def deliver(snap: StatusSnapshot) -> None:
        history.record(snap.members)
        latest[:] = [snap]

    results = []
    async with SshPool() as pool:
        source = LiveStatusSource(inventory, pool, refresh=refresh)
        task = asyncio.ensure_future(source.run(deliver))
        try:

            def all_ok() -> bool:
                snap = source.collector.snapshot()
                health, _, _ = _board(inventory, site, snap, history, time.time())
                return len(snap.members) == sum(
                    len(s.members) for s in inventory.services.values()
                ) and all(h.startswith("✓") for h in health.values())

            for n in range(rounds):
                await _until(all_ok, 180, "every member OK")
                await asyncio.sleep(random.uniform(0, refresh))
                dark = time.time()
                lab.chaos_down(site)
                not_ok: dict[str, float] = {}
                down: dict[str, float] = {}
                site_down = verdict_bad = None
                try:
                    while True:
                        now = time.time()
                        snap = source.collector.snapshot(now)
                        health, level, verdict = _board(inventory, site, snap, history, now)
                        for key, h in health.items():
                            if not h.startswith("✓"):
                                not_ok.setdefault(key, now - dark)
                            if h.endswith("DOWN"):
                                down.setdefault(key, now - dark)
                        if level == "down" and site_down is None:
                            site_down = now - dark
                        if verdict_bad is None and not verdict.startswith("✓"):
                            verdict_bad = now - dark
                        if len(down) == len(health) or now - dark > 120:
                            break
                        await asyncio.sleep(TICK)
                finally:
                    lab.chaos_up(site)
                row = {
                    "not_ok": max(not_ok.values()) if len(not_ok) == len(health) else float("nan"),
                    "first_not_ok": min(not_ok.values()) if not_ok else float("nan"),
                    "site": site_down if site_down is not None else float("nan"),
                    "verdict": verdict_bad if verdict_bad is not None else float("nan"),
                    "down": max(down.values()) if len(down) == len(health) else float("nan"),
                }
                results.append(row)
                print(
                    f"round {n + 1}: every member not-OK after {row['not_ok']:.2f}s "
                    f"(first {row['first_not_ok']:.2f}s), site DOWN after {row['site']:.2f}s, "
                    f"verdict degraded after {row['verdict']:.2f}s, every member DOWN after "
                    f"{row['down']:.2f}s",
                    flush=True,
                )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", type=Path, default=None, help="a lab that is up")
    parser.add_argument("--inventory", type=Path, default=None, help="its inventory")
    parser.add_argument("--net", type=int, default=44, help="net of a throwaway lab")
    parser.add_argument("--site", default="west")
    parser.add_argument("--refresh", type=float, default=2.0, help="the board's poll interval")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = None
    if args.lab_dir is not None:
        lab = Lab(args.lab_dir)
        inventory = args.inventory or args.lab_dir / "lab.yaml"
    else:
        root = Path(tempfile.mkdtemp(prefix="drboard-bench-", dir="/tmp"))
        root.chmod(0o755)
        lab = Lab(root / "lab", args.net)
        inventory = root / "lab.yaml"
        lab.up(inventory)
    try:
        rows = asyncio.run(measure(lab, inventory, args.site, args.refresh, args.rounds))
    finally:
        if root is not None:
            lab.down()
            shutil.rmtree(root, ignore_errors=True)
    for key, what in (
        ("not_ok", "every member not-OK"),
        ("site", "site panel DOWN"),
        ("down", "every member DOWN"),
    ):
        values = [r[key] for r in rows]
        print(
            f"{what}: median {statistics.median(values):.2f}s, max {max(values):.2f}s "
            f"({max(values) / args.refresh:.2f} poll intervals of {args.refresh:g}s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
