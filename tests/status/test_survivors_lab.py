"""What the survivors see, on the real lab (issue 11 item 6).

The west site is taken dark (every process SIGSTOPped). Only the east primaries are probed
again: each west replica's row turns not-OK from its primary's view alone (Redis: no
acknowledgement for 3 s; PostgreSQL: no reply for twice the standby's
``wal_receiver_status_interval`` plus a second), while its own last sample still says it
streams and its own probe has not even been retried, let alone timed out.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from console.model.inventory import load_inventory
from console.ssh.pool import SshPool
from console.status.collector import StatusCollector
from tests.support.lab import RunningLab, lab, requires_lab  # noqa: F401

pytestmark = [requires_lab, pytest.mark.lab]


async def _watch_survivors(chaos: RunningLab) -> dict[str, float]:
    inventory = load_inventory(chaos.inventory)
    seen: dict[str, float] = {}
    async with SshPool() as pool:
        collector = StatusCollector(inventory, pool, poll_interval=2.0)
        try:
            await collector.sweep()
            before = collector.snapshot()
            for service in ("orders-db", "sessions"):
                west = before.get(service, "lab-west")
                assert west is not None and west.role == "replica", west
                assert west.health.health.value == "ok", west.health.reasons
            interval = before.get("orders-db", "lab-west")
            assert interval is not None
            pg_interval = float(interval.sample.details["status_interval"])
            chaos.lab.chaos_down("west")
            dark_at = time.monotonic()
            # 10x margin over the slowest expected view (PostgreSQL: 2 x interval + 1 s)
            deadline = dark_at + 10 * (2 * pg_interval + 1)
            while len(seen) < 2 and time.monotonic() < deadline:
                for service in ("orders-db", "sessions"):
                    await collector.sample_member(service, "lab-east")
                snap = collector.snapshot()
                for service in ("orders-db", "sessions"):
                    m = snap.get(service, "lab-west")
                    assert m is not None
                    said = m.sample.error or ""
                    if service not in seen and said.startswith("as seen by lab-east"):
                        seen[service] = time.monotonic() - dark_at
                        assert m.health.health.value != "ok"
                        assert m.sample.link.value == "up"  # its own word, from before
                await asyncio.sleep(0.5)
        finally:
            chaos.lab.chaos_up("west")
            await collector.close()
    return seen


def test_a_dark_replica_turns_not_ok_from_its_primarys_view(lab: RunningLab) -> None:  # noqa: F811
    seen = asyncio.run(_watch_survivors(lab))
    assert set(seen) == {"orders-db", "sessions"}, seen
    assert seen["sessions"] < seen["orders-db"]  # Redis acknowledges every second
    print(f"not-OK from the primary's view after: {seen}")
