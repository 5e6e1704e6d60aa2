"""The managed lab's Redis Cluster, for real: six nodes, one master per site, each master's
replica in another site, every slot served, and the inventory's ``redis-cluster`` service."""

from __future__ import annotations

import subprocess

import pytest

from console.lab import cluster
from console.model.inventory import load_inventory
from tests.managed.cluster_support import layout_of
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]


def _cli(address: str, port: int, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-h", address, "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def test_one_master_per_site_each_replicated_in_another(managed: RunningLab) -> None:
    layout = layout_of(managed)
    site_of = {f"{a}:{p}": s for s, a in managed.addresses.items() for p in cluster.CLUSTER_PORTS}
    lines = cluster.parse_nodes(_cli(managed.addresses["west"], 16700, "CLUSTER", "NODES"))
    assert len(lines) == 6
    by_id = {n.node_id: n for n in lines}
    masters = [n for n in lines if "master" in n.flags]
    assert sorted(site_of[m.endpoint] for m in masters) == ["dr", "east", "west"]
    assert sum(m.slots for m in masters) == cluster.SLOTS
    for r in lines:
        if "slave" in r.flags:
            assert r.master_id is not None
            assert site_of[by_id[r.master_id].endpoint] != site_of[r.endpoint], r
    info = _cli(managed.addresses["dr"], 16701, "CLUSTER", "INFO")
    assert "cluster_state:ok" in info and "cluster_slots_ok:16384" in info
    assert cluster.cluster_problems(managed.lab.runner(), layout, managed.lab.bins()) == []
    # the bus talks on the site's own address (no peer is known as 127.0.0.1)
    assert "127.0.0.1" not in _cli(managed.addresses["east"], 16700, "CLUSTER", "NODES")


def test_every_node_is_a_recorded_lab_process(managed: RunningLab) -> None:
    names = {(s.record.site, s.record.name) for s in managed.lab.status()}
    for site in ("east", "west", "dr"):
        for port in cluster.CLUSTER_PORTS:
            assert (site, f"cluster-{port}") in names


def test_inventory_has_the_cluster_with_its_nodes(managed: RunningLab) -> None:
    inv = load_inventory(managed.inventory)
    carts = inv.services["carts"]
    assert carts.kind == "redis-cluster"
    assert carts.members == {}
    assert [n.name for n in carts.nodes] == [
        f"lab-{s}:{p}" for s in ("east", "west", "dr") for p in cluster.CLUSTER_PORTS
    ]
    assert carts.managed_by is None
