"""``drconsole status -i INV [--json] [--watch SECS]``.

Exit 0 when every member is healthy, 1 when something is degraded, 2 for bad input.
``--watch`` re-probes after each sweep completes (sweeps never overlap) and redraws in place.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from rich.console import Console
from rich.live import Live

from console.errors import InputError
from console.model.inventory import Inventory, load_inventory
from console.ssh.pool import SshPool
from console.status.collector import StatusCollector
from console.status.view import render, to_json, verdict


async def _status(args: argparse.Namespace, inventory: Inventory) -> int:
    console = Console(highlight=False)
    async with SshPool(accept_new_host_keys=args.accept_new_host_keys) as pool:
        collector = StatusCollector(inventory, pool, timeout=args.timeout)
        try:
            snapshot = await collector.sweep()
            if args.watch is None:
                if args.json:
                    print(json.dumps(to_json(snapshot, inventory)))
                else:
                    console.print(render(snapshot, inventory))
                return 0 if verdict(snapshot, inventory)[0] else 1
            if args.json:
                while True:
                    print(json.dumps(to_json(snapshot, inventory)), flush=True)
                    await asyncio.sleep(args.watch)
                    snapshot = await collector.sweep()
            with Live(render(snapshot, inventory), console=console, auto_refresh=False) as live:
                while True:
                    await asyncio.sleep(args.watch)
                    snapshot = await collector.sweep()
                    live.update(render(snapshot, inventory), refresh=True)
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
