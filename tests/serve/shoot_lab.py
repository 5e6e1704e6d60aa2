"""The README's picture of the war room: ``drconsole serve`` on a running lab, in Chromium.

Usage (a lab up, e.g. ``drconsole lab --dir /tmp/lab up --net 27 --inventory /tmp/lab/lab.yaml``)::

    .venv/bin/python -m tests.serve.shoot_lab --inventory /tmp/lab/lab.yaml

Serves the console on a free port of 127.0.0.1, opens it in headless Chromium as an observer,
waits for every site of the inventory on the board, and writes ``screenshots/serve-board.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from console.model.inventory import load_inventory
from tests.serve.cdp import chromium

REPO = Path(__file__).resolve().parents[2]


async def _shoot(url: str, sites: list[str], out: Path, profile: Path) -> None:
    async with chromium(profile, width=1400, height=860) as page:
        await page.call("Page.navigate", url=url)
        await page.wait_text(*sites, timeout=120)
        await asyncio.sleep(8)  # a few refreshes: every member sampled, the notice gone
        await page.screenshot(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "screenshots" / "serve-board.png")
    args = parser.parse_args()
    inventory = load_inventory(args.inventory)
    work = Path(tempfile.mkdtemp(prefix="h17-shoot-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "console", "--audit", str(work / "audit.db")]
    argv += ["--operator", "operator@jumpbox", "serve", "-i", str(args.inventory)]
    argv += ["-p", str(REPO / "playbooks"), "--port", str(port), "--refresh", "1"]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO,
    )
    try:
        for _ in range(600):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        sites = [s.description or s.name for s in inventory.sites.values()]
        asyncio.run(_shoot(f"http://127.0.0.1:{port}/", sites, args.out, work / "profile"))
        print(f"wrote {args.out}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
