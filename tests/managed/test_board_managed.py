"""The TUI board on the managed lab (Pilot): each manager's view under the topology, and a
paused Patroni turning it and the verdict line WARN with the reason, then OK again."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from console.lab import patroni
from console.lab.procs import wait_until
from tests.support.lab import RunningLab, requires_profile
from tests.tui.support import make_app, static_text, wait_members
from tests.tui.waiting import until

pytestmark = [requires_profile("managed"), pytest.mark.lab]


def _pause(lab: RunningLab, on: bool) -> None:
    req = urllib.request.Request(
        f"http://{lab.addresses['east']}:{patroni.REST_PORT}/config",
        data=json.dumps({"pause": on}).encode(),
        method="PATCH",
    )
    with urllib.request.urlopen(req, timeout=30):
        pass


@pytest.mark.timeout(300)
async def test_board_shows_the_managers_and_a_paused_cluster(
    managed: RunningLab, tmp_path: Path
) -> None:
    assert wait_until(lambda: managed.lab.health() == [], 120, 1), managed.lab.health()
    leader = next(
        m["name"]
        for m in (
            patroni.get_json(f"http://{managed.addresses['east']}:{patroni.REST_PORT}/cluster")
            or {}
        )["members"]
        if m["role"] == "leader"
    )
    app = make_app(managed.inventory, tmp_path / "audit.db", refresh=1.0, probe_timeout=3)
    async with app.run_test(size=(140, 48)) as pilot:
        await wait_members(app, 5)
        await until(
            lambda: (
                f"orders-db (Patroni) ✓ OK leader {leader}" in static_text(app, "#topology")
                and "sessions (Sentinel) ✓ OK master" in static_text(app, "#topology")
                and "carts (Redis Cluster) ✓ OK 16384 of 16384 slots served"
                in static_text(app, "#topology")
            ),
            60,
            "both managers and the Redis Cluster OK on the board",
        )
        # the cluster has no members: its topology line points at its own view
        assert "Redis Cluster: the cluster's own view below (carts)" in static_text(
            app, "#topology"
        )
        assert "no sample yet" not in static_text(app, "#topology")
        _pause(managed, True)
        try:
            await until(
                lambda: (
                    "orders-db (Patroni) ▲ WARN" in static_text(app, "#topology")
                    and "the cluster is paused" in static_text(app, "#verdict")
                ),
                60,
                "the paused cluster on the board",
            )
            assert "WARN the cluster is paused (maintenance mode)" in static_text(app, "#topology")
        finally:
            _pause(managed, False)
        await until(
            lambda: "orders-db (Patroni) ✓ OK" in static_text(app, "#topology"),
            60,
            "the board OK again after resume",
        )
        await pilot.pause()
