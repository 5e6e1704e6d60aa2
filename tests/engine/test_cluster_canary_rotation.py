"""Where a redis-cluster canary enters the cluster while a site is dark.

The scripted transport stands in for SSH here (a fake on purpose: what is tested is which node
the canary runner picks next, not a server); the dark site on the real lab, where a TAKEOVER
drill once ended before any canary landed because every third write waited 13 s on the dark
site, is ``test_takeover_when_a_dark_site_held_two_masters`` in
``tests/managed/test_cluster_failover.py``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from console.engine import canary as runner_module
from console.engine.canary import CanaryRunner
from console.events import CanaryWrite, Event
from console.model.inventory import load_inventory
from console.status.collector import StatusCollector
from tests.model.cases import INVENTORY
from tests.support.scripted import Call, Fail, Reply, ScriptedTransport, dark

_NODES = (Path(__file__).parent.parent / "probes" / "cluster_output" / "fail.nodes").read_text()
"""``CLUSTER NODES`` as recorded on the lab (the canary's setup reads its slots)."""

_CLUSTER = INVENTORY.replace(
    "  ledger:\n",
    "  carts:\n    kind: redis-cluster\n"
    "    nodes: [db-east-1:7000, db-west-1:7000, vault-dr-1:7000]\n  ledger:\n",
)


class _Cluster:
    """East and dr answer CLUSTERDOWN to the first ``down_for`` writes, then acknowledge;
    west (the dark site) never answers."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.writes = 0

    def write(self, call: Call) -> Reply:
        self.writes += 1
        if self.writes <= self.down_for:
            return Reply(stdout="CLUSTERDOWN The cluster is down", exit_status=1)
        n = re.search(r"(\d+)\s*$", call.command)
        assert n is not None, call.command
        return Reply(stdout=f"{n.group(1)}\n1733300000.125")


async def _ticks(runner: CanaryRunner, count: int) -> list[bool]:
    """``count`` rounds of the canary loop, without its clock: write, follow on failure."""
    results = []
    for _ in range(count):
        ok = await runner._tick()
        if not ok:
            await runner._follow()
        results.append(ok)
    return results


def _runner(tmp_path: Path, transport: ScriptedTransport, events: list[Event]) -> CanaryRunner:
    (tmp_path / "inv.yaml").write_text(_CLUSTER, encoding="utf-8")
    inventory = load_inventory(tmp_path / "inv.yaml")
    return CanaryRunner(
        inventory=inventory,
        transport=transport,
        collector=StatusCollector(inventory, transport),
        service="carts",
        run_id="r-rotation",
        every=1.0,
        emit=events.append,
    )


def test_a_dark_host_is_passed_over_while_the_cluster_answers_elsewhere(tmp_path: Path) -> None:
    transport = ScriptedTransport()
    cluster = _Cluster(down_for=6)
    transport.on("", Fail(dark("db-west-1"), delay=0.01), host="db-west-1")
    transport.on("CLUSTER NODES", Reply(stdout=_NODES))
    transport.on("EVAL", cluster.write)
    events: list[Event] = []
    runner = _runner(tmp_path, transport, events)

    results = asyncio.run(_ticks(runner, 10))

    west = [c for c in transport.calls if c.host == "db-west-1"]
    assert len(west) == 1, [(c.host, c.command[:40]) for c in transport.calls]
    assert results.count(True) == 3  # after the cluster's 6 refusals, every write lands
    assert results[-3:] == [True, True, True]
    writes = [e for e in events if isinstance(e, CanaryWrite)]
    assert {w.host for w in writes if not w.ok} == {"db-east-1", "vault-dr-1"}
    assert all(w.host != "db-west-1" for w in writes)  # its one call was the setup, refused
    assert sorted(runner.acknowledged) == [w.n for w in writes if w.ok]


def test_when_every_host_is_silent_the_rotation_still_goes_round(tmp_path: Path) -> None:
    transport = ScriptedTransport()
    for host in ("db-east-1", "db-west-1", "vault-dr-1"):
        transport.on("", Fail(dark(host), delay=0.01), host=host)
    runner = _runner(tmp_path, transport, [])

    results = asyncio.run(_ticks(runner, 7))

    assert [c.host for c in transport.calls] == ["db-east-1", "db-west-1", "vault-dr-1"] * 2 + [
        "db-east-1"
    ]
    assert results == [False] * 7


def test_a_silent_host_is_tried_again_once_its_time_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "SILENT_FOR", 0.0)
    transport = ScriptedTransport()
    transport.on("", Fail(dark("db-west-1"), delay=0.01), host="db-west-1")
    transport.on("CLUSTER NODES", Reply(stdout=_NODES))
    transport.on("EVAL", _Cluster(down_for=100).write)
    runner = _runner(tmp_path, transport, [])

    asyncio.run(_ticks(runner, 6))

    assert len([c for c in transport.calls if c.host == "db-west-1"]) == 2
