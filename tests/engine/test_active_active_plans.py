"""The playbooks for an active-active, mutual-backup estate (``playbooks/active-active/``)
validate against its example inventory and render on it; and a replication gate with
``healthy: true`` refuses while the service's observed shape is CRIT (a replication conflict
of a multi-primary service), naming the finding, even when every member's own row is OK."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from console.engine.conditions import evaluate
from console.engine.plan import make_plan
from console.errors import Location
from console.model.checks import bind_params
from console.model.gates import Condition
from console.model.inventory import load_inventory
from console.model.playbook import load_playbook
from console.probes.sample import Health
from console.status.collector import StatusSnapshot
from console.status.topology import ShapeCheck
from tests.engine.test_three_center_plans import assert_validates, synthetic_snapshot


def orders_at_west(snap: StatusSnapshot) -> StatusSnapshot:
    """Synthetic (named so): ``snap`` with orders-db's roles swapped (after evacuate-site)."""
    members = []
    for member in snap.members:
        m = member
        if m.service == "orders-db":
            primary = m.site == "west"
            sample = dataclasses.replace(
                m.sample,
                role=m.sample.role.PRIMARY if primary else m.sample.role.REPLICA,
                read_only=not primary,
                link=m.sample.link.NONE if primary else m.sample.link.UP,
                lag_seconds=None if primary else 0.0,
                lag_bytes=None if primary else 0,
            )
            m = dataclasses.replace(m, sample=sample)
        members.append(m)
    return dataclasses.replace(snap, members=tuple(members))


ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventory" / "example-active-active.yaml"
PLAYBOOKS = sorted((ROOT / "playbooks" / "active-active").glob("*.yaml"))


def test_they_validate_against_the_active_active_example() -> None:
    assert [p.stem for p in PLAYBOOKS] == [
        "evacuate-site",
        "return-site",
        "unit-evacuation",
        "unit-return",
    ]
    assert_validates(EXAMPLE, PLAYBOOKS)


FIRST_STEPS = {
    "unit-evacuation": ["fence", "prove-fence", "final-gtid", "catch-up", "open", "route"],
    "unit-return": ["back/fence", "back/prove-fence", "back/final-gtid", "back/catch-up"],
    "evacuate-site": ["orders/"],
    "return-site": ["orders/"],
}


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_they_render_on_the_active_active_example(path: Path) -> None:
    inv = load_inventory(EXAMPLE)
    pb = load_playbook(path)
    snap = synthetic_snapshot(inv)
    plan = make_plan(
        inventory=inv,
        playbook=pb,
        params=bind_params(pb, {}),
        mode="drill",
        operator="t",
        snapshot=orders_at_west(snap) if path.stem == "return-site" else snap,
    )
    assert not [(s.id, s.problem) for s in plan.steps if s.problem]
    ids = [s.id for s in plan.steps]
    want = FIRST_STEPS[path.stem]
    assert all(i.startswith(w) for i, w in zip(ids, want, strict=False)), ids
    if path.stem in ("evacuate-site", "return-site"):
        assert ids.index("unit/fence") < ids.index("unit/prove-writes")
        assert ids.index(next(i for i in ids if i.startswith("orders/"))) < ids.index("unit/fence")


def test_unit_evacuation_fences_then_proves_on_the_unit_s_sites() -> None:
    inv = load_inventory(EXAMPLE)
    pb = load_playbook(ROOT / "playbooks" / "active-active" / "unit-evacuation.yaml")
    plan = make_plan(
        inventory=inv,
        playbook=pb,
        params=bind_params(pb, {}),
        mode="drill",
        operator="t",
        snapshot=synthetic_snapshot(inv),
    )
    by_id = {s.id: s for s in plan.steps}
    text = {i: repr(s) for i, s in by_id.items()}
    assert "db-west-1" in text["fence"] and "db-east-1" not in text["fence"]
    assert "REVOKE INSERT, UPDATE, DELETE ON app.*" in text["fence"]
    assert "db-east-1" in text["route"] and "route-unit --to db-east-1" in text["route"]
    assert "unit-west" in text["route"]


def _condition(healthy: bool) -> Condition:
    return Condition(
        service=None,
        site=None,
        host=None,
        role=None,
        caught_up=None,
        link=None,
        max_lag=None,
        healthy=healthy,
        loc=Location("t.yaml", 1, 1),
    )


def test_a_crit_shape_refuses_a_healthy_replication_gate() -> None:
    inv = load_inventory(EXAMPLE)
    snap = synthetic_snapshot(inv)
    ok = evaluate(_condition(True), {}, inv, "users-db", snap, gate_kind="replication")
    assert ok.ok, ok.detail
    reason = "replication conflict: db-east-1 cannot apply 2-2-9 from db-west-1: duplicate"
    bad = dataclasses.replace(
        snap,
        shapes={"users-db": ShapeCheck("users-db", "multi-primary", Health.CRIT, "x", (reason,))},
    )
    got = evaluate(_condition(True), {}, inv, "users-db", bad, gate_kind="replication")
    assert not got.ok
    assert f"topology multi-primary: {reason}" in got.detail.splitlines()
    # not asked for health, or asked of one site only, or a wait: the members decide alone
    assert evaluate(_condition(False), {}, inv, "users-db", bad, gate_kind="replication").ok
    assert evaluate(_condition(True), {}, inv, "users-db", bad, gate_kind="wait").ok
    warn = dataclasses.replace(
        bad, shapes={"users-db": ShapeCheck("users-db", "multi-primary", Health.WARN, "x", ("e",))}
    )
    assert evaluate(_condition(True), {}, inv, "users-db", warn, gate_kind="replication").ok
