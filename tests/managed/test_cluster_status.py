"""``drconsole status`` on the managed lab's Redis Cluster: slot coverage and placement, and a
master made to fail for real (frozen with SIGSTOP, as a hung server or a cut link looks to its
peers): suspected, failed with its slots unserved, then its replica promoted by the cluster;
each shown as WARN/CRIT with its reason, then the lab put back."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from console.lab.procs import wait_until
from tests.managed.cluster_support import (
    cluster_back,
    cluster_view,
    node_pid,
    redis,
    status_json,
)
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]


def test_status_shows_every_slot_served_and_where_masters_and_replicas_are(
    managed: RunningLab,
) -> None:
    assert cluster_back(managed) == []
    _code, data = status_json(managed)
    carts = cluster_view(data)
    assert carts["manager"] == "redis-cluster" and carts["health"] == "ok", carts["findings"]
    assert carts["details"]["slots_served"] == 16384
    assert carts["summary"].startswith("16384 of 16384 slots served, cluster_state ok")
    placed = [(m["site"], [r["site"] for r in m["replicas"]]) for m in carts["details"]["masters"]]
    assert placed == [("east", ["west"]), ("west", ["dr"]), ("dr", ["east"])]
    assert len(carts["answered"]) == 6 and carts["silent"] == []


@pytest.mark.timeout(600)
def test_a_failed_master_is_shown_then_its_replica_promoted(managed: RunningLab) -> None:
    assert cluster_back(managed) == []
    pid = node_pid(managed, "east", 16700)
    os.kill(pid, signal.SIGSTOP)
    seen: list[str] = []
    codes: list[int] = []
    promoted: dict[str, Any] = {}
    try:

        def watch() -> bool:
            code, data = status_json(managed)
            carts = cluster_view(data)
            codes.append(code)
            seen.extend(f"{f['health']} {f['reason']}" for f in carts["findings"])
            masters = {m["node"]: m for m in carts["details"]["masters"] if not m["failed"]}
            if "lab-west:16701" in masters and masters["lab-west:16701"]["slots"] == "0-5460":
                promoted.update(carts)
                return True
            return False

        assert wait_until(watch, 120, 0.5), seen[-10:]
    finally:
        os.kill(pid, signal.SIGCONT)
    # while frozen: first only suspected or already failed (a poll may miss the short pfail)
    assert any(
        "node lab-east:16700 (east) does not answer" in s or "lab-east:16700 (east) is" in s
        for s in seen
    )
    assert any(
        "warn node lab-east:16700 (east) is suspected down (pfail)" in s
        # crit while it holds slots; warn once its replica took them (a loaded machine's
        # polls can miss the moments between)
        or "master lab-east:16700 (east) is marked failed (fail)" in s
        for s in seen
    ), seen
    assert all(c != 0 for c in codes), codes
    # promoted: every slot served again, but west holds two masters and the new one no replica
    reasons = [f["reason"] for f in promoted["findings"]]
    assert promoted["details"]["slots_served"] == 16384
    assert promoted["health"] in ("warn", "crit")
    assert any(r.startswith("site west holds 2 of 3 masters") for r in reasons), reasons
    # back: the old master rejoins as a replica; putting the masters back makes status OK
    assert wait_until(lambda: redis(managed, "east", 16700, "ROLE").startswith("slave"), 120, 0.5)
    assert cluster_back(managed) == []

    def ok() -> bool:
        return cluster_view(status_json(managed)[1])["health"] == "ok"

    assert wait_until(ok, 120, 1)
    assert redis(managed, "east", 16700, "ROLE").startswith("master")
