"""``redis-cluster-failover-unplanned`` on the managed lab, for real: dr (a master of the Redis
Cluster, nothing else that fails over: Patroni's dr is ``nofailover``, Sentinel's dr replica
has priority 0) goes dark at the playbook's manual step, the cluster fails its master over to
the replica in east by itself, the drill measures it against the playbook's objectives, and
when dr returns its nodes rejoin as replicas with no slot served twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.events.measure import CanaryCheck, Measurement
from console.events.registry import decode
from console.lab import cluster
from console.lab.procs import wait_until
from console.model.playbook import load_playbook
from tests.managed.cluster_support import cluster_back, redis
from tests.managed.dark_support import drive_dark_drill, start_playbook
from tests.managed.test_cluster_failover import _masters_by_site
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "redis-cluster-failover-unplanned.yaml"


@pytest.mark.timeout(900)
def test_dark_site_with_a_master_is_measured_and_rejoins_as_replicas(
    managed: RunningLab, tmp_path: Path
) -> None:
    lab = managed
    assert cluster_back(lab) == []
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    assert _masters_by_site(lab) == {"east": 1, "west": 1, "dr": 1}
    audit = tmp_path / "audit.db"
    proc = start_playbook(
        lab, audit, "redis-cluster-failover-unplanned", "dark_site=dr", "via_site=west"
    )
    run = drive_dark_drill(
        lab, proc, "dr", "manual: Take dr dark now", "manual: Bring dr back", tmp_path / "run.log"
    )
    code, text, dark_at, writable_at = run.code, run.text, run.dark_at, run.writable_at
    try:
        assert code == 0, text[-4000:]
        assert dark_at is not None and writable_at is not None
        store = AuditStore(audit)
        run_id = store.latest_run_id()
        assert run_id is not None
        events = [decode(e.kind, e.data) for e in store.events(run_id)]
        measured = [e for e in events if isinstance(e, Measurement)][-1]
        objectives = load_playbook(PLAYBOOK).objectives
        # the cluster's own behaviour: a master is failed only after cluster-node-timeout
        assert measured.rto_seconds is not None
        assert cluster.NODE_TIMEOUT_MS / 1000 < measured.rto_seconds <= (objectives.rto or 0), (
            measured
        )
        assert "16384 of 16384 slots served; masters in dr: none" in text
        assert "3 of 3 masters accepted a write" in text
        assert "2 nodes in dr, answering: none: ok" in text
        check = [e for e in events if isinstance(e, CanaryCheck)][-1]
        assert check.error is None, check
        assert check.acknowledged is not None and check.acknowledged >= 3, check
        assert measured.rpo_seconds is not None and measured.rpo_seconds <= (objectives.rpo or 0)
        # back: dr's nodes are replicas, every slot claimed once
        assert (
            "6 of 6 nodes answer" in text and "claimed by their own masters: 16384 of 16384" in text
        )
        assert _masters_by_site(lab) == {"east": 2, "west": 1, "dr": 0}
        for port in cluster.CLUSTER_PORTS:
            assert redis(lab, "dr", port, "ROLE").splitlines()[0] == "slave"
        print(  # the figure for the report (pytest -s)
            f"dark -> every master writable by the test's clock {writable_at - dark_at:.1f} s, "
            f"run RTO {measured.rto_seconds:.1f} s, RPO {measured.rpo_seconds} s / "
            f"{check.rpo_writes} writes of {check.acknowledged}"
        )
    finally:
        assert cluster_back(lab) == []
        assert _masters_by_site(lab) == {"east": 1, "west": 1, "dr": 1}
        assert wait_until(lambda: lab.lab.health() == [], 180, 1), lab.lab.health()
