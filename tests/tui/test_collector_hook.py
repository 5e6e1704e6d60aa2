"""``StatusCollector.sample_member``: the hook the board polls each member with.

Against the real lab: one member is sampled on its own, and while a site is dark (SIGSTOP)
sampling a member of the other site still answers at once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from console.model.inventory import load_inventory
from console.ssh.pool import SshPool
from console.status.collector import StatusCollector
from console.tui.synthetic import load_synthetic_inventory, synthetic_snapshot
from tests.support.lab import RunningLab, requires_lab


@requires_lab
@pytest.mark.lab
@pytest.mark.timeout(180)
async def test_sample_member_returns_one_judged_member(tui_lab: RunningLab) -> None:
    inventory = load_inventory(tui_lab.inventory)
    async with SshPool() as pool:
        collector = StatusCollector(inventory, pool, timeout=10)
        status = await collector.sample_member("orders-db", "lab-east")
        await collector.close()
    assert (status.service, status.host, status.site) == ("orders-db", "lab-east", "east")
    assert status.role == "primary"
    assert status.health.health.value == "ok"
    snap = collector.snapshot()
    assert [(m.service, m.host) for m in snap.members] == [("orders-db", "lab-east")]


@requires_lab
@pytest.mark.lab
@pytest.mark.timeout(240)
async def test_a_dark_site_delays_only_its_own_member(tui_lab: RunningLab) -> None:
    inventory = load_inventory(tui_lab.inventory)
    async with SshPool() as pool:
        collector = StatusCollector(inventory, pool, timeout=4)
        await collector.sample_member("sessions", "lab-west")  # connection is up before
        tui_lab.lab.chaos_down("west")
        try:
            started = time.monotonic()
            west = asyncio.ensure_future(collector.sample_member("sessions", "lab-west"))
            east = await asyncio.wait_for(collector.sample_member("sessions", "lab-east"), 30)
            east_took = time.monotonic() - started
            assert not west.done(), "the dark member answered as fast as the live one"
            west_status = await asyncio.wait_for(west, 60)
            west_took = time.monotonic() - started
        finally:
            tui_lab.lab.chaos_up("west")
        await collector.close()
    assert east.role == "primary"
    # east did not wait for west's 4 s deadline: it answered while west was still pending
    # (``not west.done()`` above), whatever the load; west's own answer waited for it
    assert east_took < west_took
    assert west_status.role == "down"
    assert west_status.health.health.value == "down"
    assert west_took >= 4.0


def test_snapshot_get_is_an_index_with_the_scans_answers(tmp_path: Path) -> None:
    """``StatusSnapshot.get`` answers from an index (the board asks for every member of a
    1,000-member estate on each refresh); same answers as a scan, None when absent."""
    inventory = load_synthetic_inventory(tmp_path / "synthetic.yaml", clusters=300)
    snap = synthetic_snapshot(inventory, 1_800_000_000.0)
    assert len(snap.members) == 600
    for m in snap.members:
        assert snap.get(m.service, m.host) is m
    assert snap.get("pg-0000", "west-0001") is None
    assert snap.get("nope", "east-0000") is None
    started = time.perf_counter()
    for m in snap.members:
        snap.get(m.service, m.host)
    assert time.perf_counter() - started < 0.05  # a scan per call took ~0.5 s here
