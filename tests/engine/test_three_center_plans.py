"""The playbooks for a two-site-three-center estate (``playbooks/three-center/``) validate
against its example inventory and render on it, as the shipped playbooks do on theirs."""

from __future__ import annotations

import subprocess
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
EXAMPLE = ROOT / "inventory" / "example-three-center.yaml"
PLAYBOOKS = sorted((ROOT / "playbooks" / "three-center").glob("*.yaml"))


def assert_validates(example: Path, playbooks: list[Path]) -> None:
    """``drconsole validate EXAMPLE PLAYBOOKS...`` finds no problem (the real command)."""
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "drconsole"), "validate", str(example), *map(str, playbooks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no problems" in proc.stdout


def synthetic_snapshot(inv: Inventory, primary_site: str = "east") -> StatusSnapshot:
    """Synthetic (named so): every member at ``primary_site`` primary, every other a
    streaming replica."""
    members = []
    now = time.time()
    for svc in inv.services.values():
        for host, m in svc.members.items():
            site = inv.hosts[host].site
            role = Role.PRIMARY if site == primary_site else Role.REPLICA
            replica = role is Role.REPLICA
            sample = ReplicationSample(
                service=svc.name,
                site=site,
                host=host,
                kind=svc.kind,
                role=role,
                upstream=None,
                link=Link.UP if replica else Link.NONE,
                lag_seconds=0.0 if replica else None,
                lag_bytes=0 if replica else None,
                position="0/1",
                read_only=replica,
                replicas=(),
                error=None,
                sampled_at=now,
            )
            health = MemberHealth(Health.OK, (), False, None)
            members.append(MemberStatus(svc.name, host, site, svc.kind, m.role, sample, health))
    topos = {t.service: t for t in topology([m.sample for m in members])}
    return StatusSnapshot(now, tuple(members), topos)


def test_they_validate_against_the_three_center_example() -> None:
    assert PLAYBOOKS
    assert_validates(EXAMPLE, PLAYBOOKS)


FIRST_STEPS = {
    # city-loss starts with the city up (east primary); city-return with dr primary
    "city-loss": ("east", ["sync-pair", "sync-holds", "sync-dark", "orders/confirm-dark"]),
    "city-return": ("dr", ["orders/slot-for-home", "orders/rebuild-home", "orders/start-home"]),
}


def test_every_three_center_playbook_has_a_rendering_case() -> None:
    assert sorted(FIRST_STEPS) == [p.stem for p in PLAYBOOKS]


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_they_render_on_the_three_center_example(path: Path) -> None:
    inv = load_inventory(EXAMPLE)
    pb = load_playbook(path)
    primary_site, first = FIRST_STEPS[path.stem]
    plan = make_plan(
        inventory=inv,
        playbook=pb,
        params=bind_params(pb, {}),
        mode="drill",
        operator="t",
        snapshot=synthetic_snapshot(inv, primary_site),
    )
    assert not [(s.id, s.problem) for s in plan.steps if s.problem]
    assert [s.id for s in plan.steps][: len(first)] == first
