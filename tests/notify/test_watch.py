"""``status --watch`` tells a degraded service once the change held, never a flap.

Snapshots come from the real status collector on the scripted transport (the engine tests'
estate: ``svc`` with east primary and west replica); the hold-down is driven with explicit
times, so nothing sleeps. The last test runs the watch itself against a local receiver.
"""

from __future__ import annotations

import argparse
import asyncio

import pytest

from console.model.inventory import Inventory, load_inventory
from console.notify.watch import DegradeWatch
from console.status.collector import StatusCollector, StatusSnapshot
from tests.engine.scripted_env import ScriptedEstate
from tests.support.webhook import Receiver

pytestmark = pytest.mark.timeout(120)


async def _snapshot(est: ScriptedEstate, inventory: Inventory) -> StatusSnapshot:
    collector = StatusCollector(inventory, est.transport)
    try:
        return await collector.sweep()
    finally:
        await collector.close()


async def test_a_flap_shorter_than_the_hold_down_sends_nothing(scripted: ScriptedEstate) -> None:
    est = scripted
    inv = load_inventory(est.inventory)
    healthy = await _snapshot(est, inv)
    est.set_role("west", "replica", link="down", lag_seconds=None)
    broken = await _snapshot(est, inv)
    t = healthy.taken_at
    watch = DegradeWatch(inv, hold_down=3)
    # (one-shot samples stay fresh for the service's stale_after, 30 s: every time is within)
    assert watch.observe(healthy, t) == []
    assert watch.observe(broken, t + 1) == []
    assert watch.observe(broken, t + 2) == []
    assert watch.observe(healthy, t + 2.5) == []  # back before 3 s: nothing to tell
    assert watch.observe(broken, t + 3) == []  # a new change: its own hold-down
    assert watch.observe(broken, t + 5.9) == []
    told = watch.observe(broken, t + 6)
    assert [m.subject for m in told] == ["svc degraded"]
    assert told[0].title == "svc degraded: h-west CRIT"
    assert told[0].body.startswith("h-west (west): CRIT: ")
    assert "for 3.0s or more" in told[0].body
    assert watch.observe(broken, t + 10) == []  # told once, not again while it lasts
    assert watch.observe(healthy, t + 11) == []
    back = watch.observe(healthy, t + 14)
    assert [(m.subject, m.title) for m in back] == [("svc recovered", "svc healthy again")]


def test_a_sample_gone_stale_is_degraded(scripted: ScriptedEstate) -> None:
    est = scripted
    inv = load_inventory(est.inventory)
    healthy = asyncio.run(_snapshot(est, inv))
    watch = DegradeWatch(inv, hold_down=0)
    told = watch.observe(healthy, healthy.taken_at + 120)
    assert [m.title for m in told] == ["svc degraded: h-east STALE, h-west STALE"]


async def test_a_watch_that_starts_degraded_tells_it_after_the_hold_down(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    inv = load_inventory(est.inventory)
    est.set_role("west", "down")
    broken = await _snapshot(est, inv)
    watch = DegradeWatch(inv, hold_down=5)
    t = broken.taken_at
    assert watch.observe(broken, t) == []
    told = watch.observe(broken, t + 5)
    assert len(told) == 1 and told[0].subject == "svc degraded"
    assert told[0].level == "failure"


async def test_status_watch_posts_the_degraded_service(
    scripted: ScriptedEstate, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.status import command

    est = scripted
    monkeypatch.setattr(command, "SshPool", lambda **_: est.transport)
    est.set_role("west", "down")
    inv = load_inventory(est.inventory)
    with Receiver() as hook:
        args = argparse.Namespace(
            watch=0.2,
            json=True,
            timeout=5.0,
            accept_new_host_keys=False,
            notify_targets=(),
            notify_timeout=5.0,
            notify_hold=0.5,
        )
        est.inventory.write_text(est.inventory.read_text() + f"notify: {hook.url('watch')}\n")
        inv = load_inventory(est.inventory)
        task = asyncio.ensure_future(command._status(args, inv))
        for _ in range(400):  # 20 s
            if hook.received or task.done():
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        titles = hook.titles()
    assert titles[:1] == ["svc degraded: h-west UNKNOWN"]
    assert hook.received[0].path == "/watch"
