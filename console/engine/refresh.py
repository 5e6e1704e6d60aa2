"""Fresh status for a run without waiting again on hosts already known to be dark.

A probe of a dark site (its processes stopped, so SSH connects and then hears nothing) ends
only at its deadline. The engine refreshes the status before every step that selects hosts by
role or reads ``service`` in a template, before the canary check and at the end of a run; if
each refresh waited for the dark host, an unplanned failover would spend the probe deadline
on every step, and its measured RTO would mostly be the console waiting on a host nobody
needs. :func:`refresh_status` waits for every member except those whose latest sample already
says ``down``: their new probe goes on in the background and lands in the collector when it
ends, so a host that comes back is still noticed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from console.model.inventory import Inventory
from console.status.collector import StatusCollector, StatusSnapshot

POLL_SECONDS = 0.05
"""How often the refresh looks at which members have answered."""


async def refresh_status(
    collector: StatusCollector,
    inventory: Inventory,
    services: Iterable[str],
    background: set[asyncio.Future[Any]],
) -> StatusSnapshot:
    """Sweep ``services`` and return once every member not known down has a fresh sample.

    Args:
        collector: The run's status collector.
        inventory: The estate (which members each service has).
        services: The services to refresh; names the inventory lacks are ignored.
        background: Receives the sweep when it is left running (the caller cancels what is
            still in it when the run ends); the sweep removes itself when it finishes.

    Returns:
        The collector's snapshot: fresh samples, and the latest ``down`` sample of members
        whose probe has not ended yet.
    """
    names = [s for s in services if s in inventory.services]
    if not names:
        return collector.snapshot()
    known_down = {
        (m.service, m.host)
        for m in collector.snapshot().members
        if m.service in names and m.role == "down"
    }
    if not known_down:
        return await collector.sweep(names)
    expected = {(n, h) for n in names for h in inventory.services[n].members}
    began = time.time()
    sweep = asyncio.ensure_future(collector.sweep(names))
    while not sweep.done():
        fresh = {
            (m.service, m.host)
            for m in collector.snapshot().members
            if m.service in names and m.sample.sampled_at >= began
        }
        if expected - fresh <= known_down:
            break
        await asyncio.wait({sweep}, timeout=POLL_SECONDS)
    if sweep.done():
        sweep.result()
    else:
        background.add(sweep)
        sweep.add_done_callback(_forget(background))
    return collector.snapshot()


def _forget(tasks: set[asyncio.Future[Any]]) -> Any:
    """A done-callback that drops a finished background sweep and reads its outcome."""

    def done(task: asyncio.Future[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()

    return done


async def cancel_all(tasks: set[asyncio.Future[Any]]) -> None:
    """Cancel the background sweeps still running and wait until they have ended."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
