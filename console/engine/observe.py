"""What a run observes while it acts: replication status, samples, and the canary.

The run's state machine (``console.engine.runner``) decides; this watches. One
:class:`RunObserver` per run holds the run's status collector and the sweeps left running in
the background (a dark host's, never waited for twice), records replication samples before,
during (a monitor loop) and after the run, and drives the canary that measures the data loss.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from console import events as ev
from console.engine.canary import CanaryRunner
from console.engine.refresh import cancel_all, refresh_status
from console.errors import DrError
from console.model.inventory import Inventory
from console.model.playbook import Playbook
from console.probes.sample import HOST_DID_NOT_ANSWER, Role
from console.ssh.transport import Transport
from console.status.collector import StatusCollector, StatusSnapshot


class RunObserver:
    """The status and canary side of one run.

    Args:
        inventory: The estate.
        playbook: The playbook (its services and canary).
        transport: Where probes and canary writes go.
        emit: Records and tells an event (the engine's).
        probe_timeout: Per-probe deadline (default each service's).
        monitor_interval: Seconds between samples while the run goes.
    """

    def __init__(
        self,
        *,
        inventory: Inventory,
        playbook: Playbook,
        transport: Transport,
        emit: Callable[[ev.Event], None],
        probe_timeout: float | None,
        monitor_interval: float,
    ) -> None:
        self.inventory = inventory
        self.playbook = playbook
        self.transport = transport
        self.emit = emit
        self.monitor_interval = monitor_interval
        self.collector = StatusCollector(inventory, transport, timeout=probe_timeout)
        """The run's own status collector (its snapshot is what selectors and waits read)."""
        self.canary: CanaryRunner | None = None
        self.canary_check: ev.CanaryCheck | None = None
        self.dark_hosts: frozenset[str] = frozenset()
        """Hosts that did not answer the sweep after the run (set by :meth:`stop`)."""
        """The canaries read back at the end: the measured data loss."""
        self._monitor: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        """Status sweeps a step stopped waiting for (a dark host's); cancelled at the end."""

    # -- status ----------------------------------------------------------------------------

    async def sweep(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        """A status sweep of the named services the inventory has."""
        names = [s for s in services if s in self.inventory.services]
        if not names:
            return self.collector.snapshot()
        return await self.collector.sweep(names)

    async def refresh(self, services: tuple[str, ...] | list[str]) -> StatusSnapshot:
        """Fresh samples, without waiting again on members known to be down
        (``console.engine.refresh``: a dark host must not add its probe deadline to every
        step, and so to the measured RTO)."""
        return await refresh_status(self.collector, self.inventory, services, self._background)

    def record_samples(self, snapshot: StatusSnapshot, phase: ev.SamplePhase) -> None:
        """One ``probe_sample`` per member of the playbook's services."""
        for service in self.playbook.services_touched():
            for m in snapshot.for_service(service):
                s = m.sample
                self.emit(
                    ev.ProbeSample(
                        service=service,
                        site=m.site,
                        host=m.host,
                        role=m.role,
                        link=s.link.value,
                        lag_seconds=s.lag_seconds,
                        lag_bytes=s.lag_bytes,
                        position=s.position,
                        health=m.health.health.value,
                        error=s.error,
                        phase=phase,
                    )
                )

    def start_monitor(self) -> None:
        """Sample the playbook's services every ``monitor_interval`` until the run ends."""
        self._monitor = asyncio.ensure_future(self._monitor_loop())

    async def _monitor_loop(self) -> None:
        services = self.playbook.services_touched()
        while True:
            await asyncio.sleep(self.monitor_interval)
            with contextlib.suppress(DrError, OSError):
                self.record_samples(await self.sweep(services), ev.SamplePhase.DURING)

    # -- the canary ------------------------------------------------------------------------

    async def start_canary(
        self, run_id: str, acknowledged: dict[int, float] | None, next_n: int
    ) -> None:
        """Start the playbook's canary (if it has one) and wait for its first acknowledged
        write; a canary that never gets one is said to make the RPO meaningless."""
        pb = self.playbook
        if pb.canary is None or pb.canary.service not in self.inventory.services:
            return
        self.canary = CanaryRunner(
            inventory=self.inventory,
            transport=self.transport,
            collector=self.collector,
            service=pb.canary.service,
            run_id=run_id,
            every=pb.canary.every,
            emit=self.emit,
            acknowledged=acknowledged,
            next_n=next_n,
        )
        self.canary.start()
        wait = max(10.0, 5 * pb.canary.every)
        if not await self.canary.wait_first_ack(wait):
            self.emit(
                ev.Notice(
                    level=ev.NoticeLevel.WARNING,
                    message=(
                        f"canary on {pb.canary.service}: no write acknowledged within "
                        f"{wait:g}s; the measured RPO will not be meaningful"
                    ),
                )
            )

    async def canary_now(self) -> None:
        """One more canary write right now (before the outage starts)."""
        if self.canary is not None:
            await self.canary.write_now()

    # -- the end ---------------------------------------------------------------------------

    async def stop(self, outage_start: float | None, outage_ended: bool = False) -> None:
        """Stop the monitor and the canary, read the canaries back (after one last write on
        the topology the run leaves, when its outage ended), record the samples after the
        run."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        after = None
        if self.canary is not None:
            await self.canary.stop()
        with contextlib.suppress(DrError, OSError):
            after = await self.refresh(self.playbook.services_touched())
        if self.canary is not None:
            # that sweep took in the canary's service (every service the run touches): the
            # check reads the primary it found instead of sweeping the service again
            check = await self.canary.check(
                background=self._background,
                outage_start=outage_start,
                last_write=outage_ended,
                swept=after is not None,
            )
            self.emit(check)
            self.canary_check = check
        if after is not None:
            self.record_samples(after, ev.SamplePhase.AFTER)
            self.dark_hosts = frozenset(
                m.host
                for m in after.members
                if m.sample.role is Role.DOWN
                and m.sample.details.get("reason") == HOST_DID_NOT_ANSWER
            )

    async def close(self) -> None:
        """Cancel what still runs in the background and close the collector."""
        await cancel_all(self._background)
        await self.collector.close()
