"""Every shipped playbook renders against the shipped example inventory.

The example inventory is the template a team copies for production; a playbook that needs a
variable the example does not show would fail on their first real run. Rendering uses a
synthetic snapshot (named as such: east primary, west streaming replica, for every service) so
that the test needs no servers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from console.engine.plan import make_plan
from console.model.checks import bind_params
from console.model.inventory import Inventory, load_inventory
from console.model.playbook import load_playbook
from console.probes.health import MemberHealth
from console.probes.sample import Health, Link, ReplicationSample, Role
from console.probes.topology import topology
from console.status.collector import MemberStatus, StatusSnapshot

ROOT = Path(__file__).resolve().parents[2]
INV = load_inventory(ROOT / "inventory" / "example.yaml")
INV_MANAGED = load_inventory(ROOT / "inventory" / "example-managed.yaml")
"""The example for playbooks that drive an HA manager (``drives:``)."""
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yaml"))


def synthetic_snapshot(
    east_role: Role = Role.PRIMARY, west_role: Role = Role.REPLICA, inv: Inventory = INV
) -> StatusSnapshot:
    members = []
    for svc in inv.services.values():
        for host, m in svc.members.items():
            site = inv.hosts[host].site
            role = east_role if site == "east" else west_role
            sample = ReplicationSample(
                service=svc.name,
                site=site,
                host=host,
                kind=svc.kind,
                role=role,
                upstream=None,
                link=Link.UP if role is Role.REPLICA else Link.NONE,
                lag_seconds=0.0 if role is Role.REPLICA else None,
                lag_bytes=0 if role is Role.REPLICA else None,
                position="0/1",
                read_only=role is Role.REPLICA,
                replicas=(),
                error=None,
                sampled_at=time.time(),
            )
            members.append(
                MemberStatus(
                    svc.name,
                    host,
                    site,
                    svc.kind,
                    m.role,
                    sample,
                    MemberHealth(Health.OK, (), False, None),
                )
            )
    topos = {t.service: t for t in topology([m.sample for m in members])}
    return StatusSnapshot(time.time(), tuple(members), topos)


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_shipped_playbook_renders_on_the_example_inventory(path: Path) -> None:
    pb = load_playbook(path)
    # A point-in-time restore has no default target: it needs exactly one, as a run does.
    target = {"target_time": "2026-12-02T14:01:00Z"} if pb.kind == "point-in-time-restore" else {}
    params = bind_params(pb, target)
    # A failback starts where a failover ended: the primary at west.
    inv = INV_MANAGED if pb.drives else INV
    snap = (
        synthetic_snapshot(Role.DOWN, Role.PRIMARY, inv)
        if pb.kind == "failback"
        else synthetic_snapshot(inv=inv)
    )
    plan = make_plan(
        inventory=inv, playbook=pb, params=params, mode="drill", operator="t", snapshot=snap
    )
    problems = [(s.id, s.problem) for s in plan.steps if s.problem]
    assert not problems, problems
