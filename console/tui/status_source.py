"""Where the board's replication status comes from.

The board does not know how status is collected: it is handed snapshots. The live source polls
every member on its own schedule (``console.status.poller``, shared with ``status --watch``), so
a dark site holds back only its own rows: each member is probed, then waits ``refresh`` seconds
after the probe *ended* before the next one, so two polls of one member never overlap, and
every probe has the collector's deadline. A synthetic source (``console.tui.synthetic``) feeds
benchmarks and snapshot tests through the same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace

from console.model.inventory import Inventory
from console.probes.window import RecoveryWindow
from console.ssh.transport import Transport
from console.status.collector import StatusCollector, StatusSnapshot
from console.status.poller import MemberPoller
from console.status.window import WindowCollector, backed_up

WINDOW_REFRESH_SECONDS = 10.0
"""How often the live source re-reads the recoverable windows (they change slowly)."""

Deliver = Callable[[StatusSnapshot], None]
"""Receives each new snapshot (called on the event loop)."""


class StatusSource(ABC):
    """Produces status snapshots of one inventory until cancelled."""

    inventory: Inventory
    """The estate the snapshots describe."""

    @abstractmethod
    async def run(self, deliver: Deliver) -> None:
        """Deliver snapshots until cancelled; never raises for a host's failure."""

    def poke(self) -> None:  # noqa: B027 (optional hook with a do-nothing default)
        """Ask for fresh samples now instead of at the next tick (if the source can)."""

    def latest(self) -> StatusSnapshot | None:
        """The newest snapshot, if any was made."""
        return None


class LiveStatusSource(StatusSource):
    """Polls the inventory's members over SSH with a :class:`StatusCollector`.

    Args:
        inventory: The estate.
        transport: The app's SSH pool (shared with the engine).
        refresh: Seconds between the end of one probe of a member and the start of the next.
        timeout: Per-probe deadline (default each service's ``probe.timeout``).
    """

    def __init__(
        self,
        inventory: Inventory,
        transport: Transport,
        *,
        refresh: float = 2.0,
        timeout: float | None = None,
    ) -> None:
        self.inventory = inventory
        self.refresh = refresh
        self.collector = StatusCollector(
            inventory, transport, timeout=timeout, poll_interval=refresh
        )
        """The collector doing the probing (its snapshot is the board's truth; it carries the
        poll interval, so the board can tell a stale sample)."""
        self._poller = MemberPoller(self.collector, refresh)
        self._windows = WindowCollector(inventory, transport, timeout=timeout)
        self._found: dict[str, RecoveryWindow] = {}

    def _snapshot(self) -> StatusSnapshot:
        snap = self.collector.snapshot()
        return replace(snap, windows=dict(self._found)) if self._found else snap

    async def _window_loop(self, deliver: Deliver) -> None:
        """Re-read the recoverable windows now and then (in their own task: a slow
        repository never holds back a member's poll)."""
        while True:
            self._found = await self._windows.collect(self.collector.snapshot())
            deliver(self._snapshot())
            await asyncio.sleep(max(self.refresh, WINDOW_REFRESH_SECONDS))

    async def run(self, deliver: Deliver) -> None:
        """One polling loop per member, all at once, until cancelled; the windows beside."""
        self._poller.on_sample = lambda: deliver(self._snapshot())
        windows = (
            asyncio.ensure_future(self._window_loop(deliver)) if backed_up(self.inventory) else None
        )
        try:
            await self._poller.run()
        finally:
            if windows is not None:
                windows.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await windows
            await self.collector.close()

    def poke(self) -> None:
        """Wake every member loop that is waiting for its next tick."""
        self._poller.poke()

    def latest(self) -> StatusSnapshot | None:
        """The collector's current snapshot (with the windows read so far)."""
        snap = self._snapshot()
        return snap if snap.members else None


SourceFactory = Callable[[Inventory, Callable[[], Transport]], StatusSource]
"""Makes the status source for an inventory, given a way to get the app's SSH pool (default:
the live source over SSH; benchmarks and snapshot tests pass a synthetic one and never open a
pool)."""


def live_source(refresh: float, timeout: float | None) -> SourceFactory:
    """The factory of the live SSH status source."""

    def make(inventory: Inventory, transport: Callable[[], Transport]) -> StatusSource:
        return LiveStatusSource(inventory, transport(), refresh=refresh, timeout=timeout)

    return make
