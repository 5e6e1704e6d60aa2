"""TUI start-up: from a fresh process to the first painted status board.

Each sample is a new Python process (imports included, as an operator pays them) that opens
the console headless on an inventory and stops the clock when the board screen is mounted and
its first frame has been composed (``pilot.pause()`` returns once the app is idle, which is
after the compositor drew). The status source is the live one: probes start in the
background and the board paints before any answer (its rows come from the inventory).

Run: ``.venv/bin/python benchmarks/tui_start.py`` (``--inventory PATH`` for another file,
``--runs N``). Target: under 1 s with the example inventory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import asyncio, json, sys, time
t_start = float(sys.argv[1])
from pathlib import Path
t_imports = time.time()
from console.model.inventory import load_inventory
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screens.board import BoardScreen
t_imported = time.time()

async def main() -> dict:
    inventory_path = Path(sys.argv[2])
    config = TuiConfig(
        inventory_path=inventory_path,
        playbooks_dir=Path("playbooks"),
        audit_path=Path(sys.argv[3]),
        operator="bench@tui",
    )
    app = DrConsoleApp(config, load_inventory(inventory_path))
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, BoardScreen) and app.screen.ready):
            await asyncio.sleep(0.005)
        await pilot.pause()
        t_painted = time.time()
    return {"imports": t_imported - t_imports, "painted": t_painted - t_start,
            "members": sum(len(s.members) for s in app.inventory.services.values())}

print(json.dumps(asyncio.run(main())))
"""


def sample(inventory: Path, audit: Path) -> dict[str, float]:
    """One start in a fresh process."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, repr(started), str(inventory), str(audit)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inventory", type=Path, action="append", default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    inventories = args.inventory or [REPO / "inventory" / "example.yaml"]
    lab = REPO / "inventory" / "lab.yaml"
    if args.inventory is None and lab.exists():
        inventories.append(lab)
    with tempfile.TemporaryDirectory() as tmp:
        audit = Path(tmp) / "audit.db"
        sample(inventories[0], audit)  # warm the file cache (.pyc, shared libraries)
        for inventory in inventories:
            runs = [sample(inventory, audit) for _ in range(args.runs)]
            painted = [r["painted"] for r in runs]
            imports = [r["imports"] for r in runs]
            print(
                f"{inventory.name} ({int(runs[0]['members'])} members): start to first painted "
                f"board median {statistics.median(painted) * 1000:.0f} ms "
                f"(min {min(painted) * 1000:.0f}, max {max(painted) * 1000:.0f}; "
                f"of which imports median {statistics.median(imports) * 1000:.0f} ms), "
                f"{args.runs} runs — target < 1000 ms: "
                f"{'met' if statistics.median(painted) < 1.0 else 'MISSED'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
