"""``drconsole status -i INV [--json] [--watch SECS]``.

Exit 0 when every member is healthy, 1 when something is degraded, 2 for bad input.
``--watch`` polls each member every SECS seconds on its own schedule (a dark host holds back
only its own rows; polls of one member never overlap) and redraws in place every second, so
a member that stops answering is seen ageing into STALE within about one and a half intervals
instead of freezing the screen until its probe times out. With ``--json`` it prints one
snapshot per interval, in the same shape as without ``--watch``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time

from rich.console import Console
from rich.live import Live

from console.errors import InputError
from console.model.inventory import Inventory, load_inventory
from console.ssh.pool import SshPool
from console.status.collector import StatusCollector
from console.status.poller import MemberPoller
from console.status.view import render, to_json, verdict
from console.status.window import (
    WindowCollector,
    last_verified,
    window_table,
    windows_json,
    windows_ok,
)

REDRAW_SECONDS = 1.0
"""How often ``--watch`` redraws (ages move even when no sample arrives)."""


async def _watch(
    args: argparse.Namespace, collector: StatusCollector, inventory: Inventory, console: Console
) -> None:
    poller = asyncio.ensure_future(MemberPoller(collector, args.watch).run())
    try:
        if args.json:
            while True:
                await asyncio.sleep(args.watch)
                print(json.dumps(to_json(collector.snapshot(), inventory)), flush=True)
        snapshot = collector.snapshot()
        with Live(render(snapshot, inventory), console=console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(min(REDRAW_SECONDS, args.watch))
                live.update(render(collector.snapshot(), inventory, time.time()), refresh=True)
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller


async def _status(args: argparse.Namespace, inventory: Inventory) -> int:
    console = Console(highlight=False)
    async with SshPool(accept_new_host_keys=args.accept_new_host_keys) as pool:
        collector = StatusCollector(inventory, pool, timeout=args.timeout, poll_interval=args.watch)
        try:
            windows = WindowCollector(inventory, pool, timeout=args.timeout)
            asked = windows.start() if args.watch is None else {}
            snapshot = await collector.sweep()
            found = await windows.finish(asked, snapshot)
            verified = last_verified(getattr(args, "audit", None), found)
            now = time.time()
            ok = verdict(snapshot, inventory)[0]
            w_ok, w_text = windows_ok(found)
            if args.json:
                data = to_json(snapshot, inventory)
                if found:
                    data["windows"] = windows_json(found, verified, now)
                if not w_ok:
                    data["healthy"] = False
                    data["verdict"] += f"; {w_text}"
                print(json.dumps(data), flush=True)
            elif args.watch is None:
                console.print(render(snapshot, inventory))
                if found:
                    console.print(window_table(found, verified, now))
            if args.watch is None:
                return 0 if ok and w_ok else 1
            await _watch(args, collector, inventory, console)
            return 0  # pragma: no cover - the watch ends by Ctrl-C
        finally:
            await collector.close()


def status_command(args: argparse.Namespace) -> int:
    """Run ``status``; returns the exit code."""
    if args.watch is not None and args.watch <= 0:
        raise InputError("--watch needs a positive number of seconds")
    if args.timeout is not None and args.timeout <= 0:
        raise InputError("--timeout needs a positive number of seconds")
    inventory = load_inventory(args.inventory)
    try:
        return asyncio.run(_status(args, inventory))
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 0
