"""Polling every member on its own schedule, for live views (the TUI board, ``status --watch``).

Each member is probed, then waits ``interval`` seconds after its probe *ended* before the next
one, so two polls of one member never overlap and a dark host holds back only its own row;
every probe has the collector's deadline. The views read the collector's snapshot whenever
they redraw, so a member that stops answering ages on screen instead of freezing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from console.status.collector import StatusCollector


class MemberPoller:
    """One polling loop per member of the collector's inventory.

    Args:
        collector: Probes the members and keeps their latest samples.
        interval: Seconds between the end of one probe of a member and the start of the next.
        on_sample: Called after each member's new sample (on the event loop).
    """

    def __init__(
        self,
        collector: StatusCollector,
        interval: float,
        on_sample: Callable[[], None] | None = None,
    ) -> None:
        self.collector = collector
        self.interval = interval
        self.on_sample = on_sample
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Poll until cancelled; never raises for a host's failure."""
        inventory = self.collector.inventory
        loops = [
            asyncio.ensure_future(self._member_loop(service.name, host))
            for service in inventory.services.values()
            for host in service.members
        ]
        loops += [  # a managed service's manager (Patroni, Sentinel) is polled on its own too
            asyncio.ensure_future(self._manager_loop(service.name))
            for service in inventory.services.values()
            if service.managed_by is not None or service.nodes  # or a Redis Cluster's own view
        ]
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()
            for task in loops:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _member_loop(self, service: str, host: str) -> None:
        while True:
            # sample_member turns every transport failure into a DOWN/UNKNOWN sample.
            await self.collector.sample_member(service, host)
            if self.on_sample is not None:
                self.on_sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def _manager_loop(self, service: str) -> None:
        while True:
            await self.collector.sample_managers([service])
            if self.on_sample is not None:
                self.on_sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    def poke(self) -> None:
        """Wake every member loop that is waiting for its next tick."""
        self._wake.set()
        asyncio.get_running_loop().call_soon(self._wake.clear)
