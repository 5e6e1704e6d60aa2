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
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live

from console.errors import InputError
from console.model.inventory import Inventory, load_inventory
from console.notify.sender import Failure, Notifier
from console.notify.targets import command_line_targets
from console.notify.watch import DegradeWatch
from console.probes.window import RecoveryWindow
from console.ssh.pool import SshPool
from console.status.collector import StatusCollector, StatusSnapshot
from console.status.poller import MemberPoller
from console.status.view import render, to_json, verdict
from console.status.window import (
    Started,
    Verified,
    VerifiedSource,
    WindowCollector,
    window_table,
    windows_json,
    windows_ok,
)

REDRAW_SECONDS = 1.0
"""How often ``--watch`` redraws (ages move even when no sample arrives)."""
WINDOW_REFRESH_SECONDS = 10.0
"""The shortest time between two reads of the recoverable windows during ``--watch``."""


@dataclass
class _Windows:
    """The latest recoverable windows and verified restores (``--watch`` refreshes them)."""

    collector: WindowCollector
    verified_source: VerifiedSource | None
    inventory: str = ""
    found: dict[str, RecoveryWindow] = field(default_factory=dict)
    verified: dict[str, Verified] = field(default_factory=dict)

    async def refresh(self, snapshot: StatusSnapshot, asked: Started | None = None) -> None:
        started = asked if asked is not None else self.collector.start()
        self.found = await self.collector.finish(started, snapshot)
        source = self.verified_source
        self.verified = dict(source(list(self.found), self.inventory)) if source else {}

    async def keep_fresh(self, collector: StatusCollector, every: float) -> None:
        while True:
            await asyncio.sleep(max(every, WINDOW_REFRESH_SECONDS))
            await self.refresh(collector.snapshot())

    def document(self, snapshot: StatusSnapshot, inventory: Inventory) -> dict[str, Any]:
        data = to_json(snapshot, inventory)
        if self.found:
            data["windows"] = windows_json(self.found, self.verified, time.time())
        ok, why = windows_ok(self.found)
        if not ok:
            data["healthy"] = False
            data["verdict"] += f"; {why}"
        return data

    def view(self, snapshot: StatusSnapshot, inventory: Inventory, now: float | None) -> Any:
        if not self.found:
            return render(snapshot, inventory, now)
        table = window_table(self.found, self.verified, now or time.time())
        return render(snapshot, inventory, now, (table, windows_ok(self.found)))


async def _watch(
    args: argparse.Namespace,
    collector: StatusCollector,
    inventory: Inventory,
    console: Console,
    windows: _Windows,
) -> None:
    poller = asyncio.ensure_future(MemberPoller(collector, args.watch).run())
    alerts = asyncio.ensure_future(_notify_degraded(args, collector, inventory))
    refresher = asyncio.ensure_future(windows.keep_fresh(collector, args.watch))
    try:
        if args.json:
            while True:
                await asyncio.sleep(args.watch)
                print(json.dumps(windows.document(collector.snapshot(), inventory)), flush=True)
        snapshot = collector.snapshot()
        with Live(
            windows.view(snapshot, inventory, None), console=console, auto_refresh=False
        ) as live:
            while True:
                await asyncio.sleep(min(REDRAW_SECONDS, args.watch))
                live.update(
                    windows.view(collector.snapshot(), inventory, time.time()), refresh=True
                )
    finally:
        for task in (poller, alerts, refresher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _notify_degraded(
    args: argparse.Namespace, collector: StatusCollector, inventory: Inventory
) -> None:
    """Tell the inventory's ``notify:`` and ``--notify`` targets when a service degrades or
    recovers (``console.notify.watch``, with its hold-down); a failed delivery is a warning on
    stderr (``status`` has no audit log)."""
    targets = (*inventory.notify, *getattr(args, "notify_targets", ()))
    if not targets:
        return

    def warn(failure: Failure) -> None:
        print(
            f"drconsole: warning: notification to {failure.target.shown} not delivered "
            f"({failure.message.subject}): {failure.reason}",
            file=sys.stderr,
        )

    notifier = Notifier(targets, timeout=args.notify_timeout, on_failure=warn)
    watch = DegradeWatch(inventory, hold_down=args.notify_hold)
    try:
        while True:
            await asyncio.sleep(min(REDRAW_SECONDS, args.watch))
            for message in watch.observe(collector.snapshot(), time.time()):
                notifier.send(message)
    finally:
        await notifier.close(timeout=args.notify_timeout + 1.0)


async def _status(
    args: argparse.Namespace, inventory: Inventory, verified: VerifiedSource | None = None
) -> int:
    console = Console(highlight=False)
    async with SshPool(accept_new_host_keys=args.accept_new_host_keys) as pool:
        collector = StatusCollector(inventory, pool, timeout=args.timeout, poll_interval=args.watch)
        windows = _Windows(
            WindowCollector(inventory, pool, timeout=args.timeout),
            verified,
            inventory.name,
        )
        try:
            # the repositories answer while the sweep runs; the primaries' archivers ride on it
            asked = windows.collector.start(collector)
            snapshot = await collector.sweep()
            await windows.refresh(snapshot, asked)
            if args.json:
                print(json.dumps(windows.document(snapshot, inventory)), flush=True)
            elif args.watch is None:
                console.print(windows.view(snapshot, inventory, None))
            if args.watch is None:
                healthy = verdict(snapshot, inventory)[0] and windows_ok(windows.found)[0]
                return 0 if healthy else 1
            await _watch(args, collector, inventory, console, windows)
            return 0  # pragma: no cover - the watch ends by Ctrl-C
        finally:
            await collector.close()


def status_command(args: argparse.Namespace, verified: VerifiedSource | None = None) -> int:
    """Run ``status``; returns the exit code.

    Args:
        args: The parsed arguments.
        verified: Where the last verified restore of each service comes from (the CLI
            reads the audit log; None shows "never").
    """
    if args.watch is not None and args.watch <= 0:
        raise InputError("--watch needs a positive number of seconds")
    if args.timeout is not None and args.timeout <= 0:
        raise InputError("--timeout needs a positive number of seconds")
    args.notify_targets = command_line_targets(getattr(args, "notify", None) or ())
    if args.notify_targets and args.watch is None:
        raise InputError("--notify with status needs --watch (it tells changes as they hold)")
    if getattr(args, "notify_hold", 0.0) < 0:
        raise InputError("--notify-hold needs zero or more seconds")
    inventory = load_inventory(args.inventory)
    try:
        return asyncio.run(_status(args, inventory, verified))
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 0
