"""The cluster canary on a resharded Redis Cluster, for real: the slots of east's master that
the twelve fixed canary sets sit on are moved to west's master (``CLUSTER SETSLOT`` with
``IMPORTING``/``MIGRATING`` and ``MIGRATE`` of their keys, as ``redis-cli --cluster reshard``
does), so that east's master serves none of them; a run's canary must still put a set on it
(one of its lowest slot, from the ``CLUSTER NODES`` it observed) and read every set back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.events.measure import CanaryCheck
from console.events.registry import decode
from console.lab import cluster
from console.lab.procs import wait_until
from console.probes.canary import CLUSTER_TAGS, key_slot
from console.probes.cluster import NodeEntry, parse_nodes
from tests.managed.cluster_support import REPO, cluster_back, layout_of, redis
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]

PLAYBOOK = """\
version: 1
name: cluster-canary
kind: custom
drives: redis-cluster
title: Let the cluster canary write for a while (no change)
service: carts
canary: {service: carts, every: 250ms}
steps:
  - id: let-it-write
    title: Wait while the canary writes
    on: tag:redis-cluster and site:west
    run: sleep 8; echo written
    expect: {stdout_contains: written}
"""


def _where(lab: RunningLab) -> dict[str, tuple[str, int]]:
    """Endpoint -> (site, port) of every node."""
    return {f"{a}:{p}": (s, p) for s, a in lab.addresses.items() for p in cluster.CLUSTER_PORTS}


def _masters(lab: RunningLab) -> list[NodeEntry]:
    return [
        n
        for n in parse_nodes(redis(lab, "dr", 16700, "CLUSTER", "NODES"))
        if n.is_master and n.slots and not n.failed
    ]


def _owner(lab: RunningLab, site: str, port: int, slot: int) -> str | None:
    """The id of the master that serves ``slot`` in the view of node ``site:port``."""
    for n in parse_nodes(redis(lab, site, port, "CLUSTER", "NODES")):
        if n.is_master and any(lo <= slot <= hi for lo, hi in n.slots):
            return n.node_id
    return None


def _move(lab: RunningLab, slots: list[int], src: NodeEntry, dst: NodeEntry) -> None:
    """Move ``slots`` with their keys from master ``src`` to master ``dst``; wait until every
    node sees ``dst`` serve them."""
    where = _where(lab)
    s_site, s_port = where[src.endpoint]
    d_site, d_port = where[dst.endpoint]
    others = [
        where[m.endpoint] for m in _masters(lab) if m.node_id not in (src.node_id, dst.node_id)
    ]
    for slot in slots:
        redis(lab, d_site, d_port, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", src.node_id)
        redis(lab, s_site, s_port, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", dst.node_id)
        while keys := redis(
            lab, s_site, s_port, "CLUSTER", "GETKEYSINSLOT", str(slot), "100"
        ).split():
            said = redis(
                lab,
                s_site,
                s_port,
                "MIGRATE",
                dst.address,
                str(dst.port),
                "",
                "0",
                "5000",
                "KEYS",
                *keys,
            )
            assert said == "OK", said
        for site, port in [(d_site, d_port), (s_site, s_port), *others]:
            said = redis(lab, site, port, "CLUSTER", "SETSLOT", str(slot), "NODE", dst.node_id)
            assert said == "OK", said
    for site, port in where.values():
        assert wait_until(
            lambda site=site, port=port: all(  # type: ignore[misc]
                _owner(lab, site, port, s) == dst.node_id for s in slots
            ),
            60,
            0.2,
        ), (site, port)


def test_a_master_serving_none_of_the_fixed_sets_still_gets_a_canary_set(
    managed: RunningLab, tmp_path: Path
) -> None:
    lab = managed
    assert cluster_back(lab) == []
    where = _where(lab)
    masters = {where[m.endpoint][0]: m for m in _masters(lab)}
    east, west = masters["east"], masters["west"]
    fixed = [key_slot("{" + t + "}") for t in CLUSTER_TAGS]
    starve = [f for f in fixed if any(lo <= f <= hi for lo, hi in east.slots)]
    assert starve, east.slots  # an even spread: some of the twelve sit on east's master
    _move(lab, starve, east, west)
    try:
        east = next(m for m in _masters(lab) if m.node_id == east.node_id)
        assert not any(lo <= f <= hi for f in fixed for lo, hi in east.slots), east.slots
        pb = tmp_path / "cluster-canary.yaml"
        pb.write_text(PLAYBOOK)
        audit = tmp_path / "audit.db"
        done = subprocess.run(
            [sys.executable, "-m", "console", "--audit", str(audit), "run", str(pb),
             "-i", str(lab.inventory), "--yes"],
            capture_output=True, text=True, timeout=600, cwd=REPO, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:]
        store = AuditStore(audit)
        run_id = store.latest_run_id()
        assert run_id is not None
        events = [decode(e.kind, e.data) for e in store.events(run_id)]
        check = [e for e in events if isinstance(e, CanaryCheck)][-1]
        assert check.error is None and check.missing == (), check
        assert check.acknowledged is not None and check.acknowledged >= 13, check
        assert (check.present or 0) >= check.acknowledged
        # every master holds a canary set of the run with canaries in it, east's too
        for m in _masters(lab):
            site, port = where[m.endpoint]
            keys = subprocess.run(
                ["redis-cli", "-h", m.address, "-p", str(m.port), "--scan", "--pattern",
                 f"drconsole:canary:{run_id}:*"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.split()  # fmt: skip
            assert keys, f"no canary set on the master at {site}:{port}"
            assert all(int(redis(lab, site, port, "ZCARD", k)) > 0 for k in keys), keys
    finally:
        east = next(m for m in _masters(lab) if m.node_id == east.node_id)
        west = next(m for m in _masters(lab) if m.node_id == west.node_id)
        _move(lab, starve, west, east)
    layout = layout_of(lab)
    assert cluster.cluster_problems(lab.lab.runner(), layout, lab.lab.bins()) == []
