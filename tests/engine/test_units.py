"""Pure units of the engine: conditions, masking, selectors against a snapshot, the plan."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from console.engine.conditions import evaluate
from console.engine.context import SelectionError, StepOutputs, base_context, resolve_selector
from console.engine.masking import Masker
from console.errors import Location
from console.model.inventory import load_inventory
from console.model.playbook import Condition, load_playbook
from console.model.selectors import parse_selector
from console.model.templates import compile_template
from console.probes.health import MemberHealth
from console.probes.sample import Health, Link, ReplicationSample, Role
from console.status.collector import MemberStatus, StatusSnapshot
from console.status.view import fmt_bytes, verdict

ROOT = Path(__file__).resolve().parents[2]
INV = load_inventory(ROOT / "inventory" / "example.yaml")
LOC = Location("t", 1, 1)


def member(
    host: str,
    site: str,
    role: Role,
    *,
    lag_b: int | None = 0,
    lag_s: float | None = 0.0,
    link: Link = Link.UP,
    health: Health = Health.OK,
    expected: str = "replica",
    read_only: bool | None = False,
) -> MemberStatus:
    sample = ReplicationSample(
        service="orders-db",
        site=site,
        host=host,
        kind="postgres",
        role=role,
        upstream=None,
        link=link if role is Role.REPLICA else Link.NONE,
        lag_seconds=lag_s if role is Role.REPLICA else None,
        lag_bytes=lag_b if role is Role.REPLICA else None,
        position="0/1",
        read_only=read_only,
        replicas=(),
        error=None,
        sampled_at=time.time(),
    )
    return MemberStatus(
        "orders-db", host, site, "postgres", expected, sample, MemberHealth(health, (), False, None)
    )


def snapshot(*members: MemberStatus) -> StatusSnapshot:
    from console.probes.topology import topology

    topos = {t.service: t for t in topology([m.sample for m in members])}
    return StatusSnapshot(time.time(), members, topos)


def cond(**kw: object) -> Condition:
    tpl = {
        k: compile_template(str(v), LOC, shell=False, params=[])
        for k, v in kw.items()
        if k in ("service", "site", "host")
    }
    return Condition(
        service=tpl.get("service"),
        site=tpl.get("site"),
        host=tpl.get("host"),
        role=kw.get("role"),
        caught_up=kw.get("caught_up"),  # type: ignore[arg-type]
        link=kw.get("link"),
        max_lag=kw.get("max_lag"),  # type: ignore[arg-type]
        healthy=kw.get("healthy"),
        loc=LOC,
    )  # type: ignore[arg-type]


HEALTHY = snapshot(
    member("db-east-1", "east", Role.PRIMARY, expected="primary"),
    member("db-west-1", "west", Role.REPLICA),
)


def test_caught_up_needs_a_known_zero_lag() -> None:
    c = cond(site="west", caught_up=True)
    assert evaluate(c, {}, INV, "orders-db", HEALTHY).ok
    lagging = snapshot(
        member("db-east-1", "east", Role.PRIMARY, expected="primary"),
        member("db-west-1", "west", Role.REPLICA, lag_b=4096),
    )
    v = evaluate(c, {}, INV, "orders-db", lagging)
    assert not v.ok and "has not caught up" in v.detail
    unknown = snapshot(member("db-west-1", "west", Role.REPLICA, lag_b=None, lag_s=None))
    v = evaluate(c, {}, INV, "orders-db", unknown)
    assert not v.ok and "catch-up unknown" in v.detail and "lag unknown" in v.detail


def test_replication_gate_refuses_down_and_broken_links() -> None:
    c = cond(max_lag=5.0)
    assert evaluate(c, {}, INV, "orders-db", HEALTHY, "replication").ok
    broken = snapshot(
        member("db-east-1", "east", Role.PRIMARY, expected="primary"),
        member(
            "db-west-1",
            "west",
            Role.REPLICA,
            link=Link.DOWN,
            lag_s=None,
            lag_b=None,
            health=Health.CRIT,
        ),
    )
    v = evaluate(c, {}, INV, "orders-db", broken, "replication")
    assert not v.ok and "link is down" in v.detail and "lag unknown" in v.detail
    down = snapshot(
        member("db-east-1", "east", Role.DOWN, expected="primary", health=Health.DOWN),
        member("db-west-1", "west", Role.REPLICA),
    )
    assert "is down" in evaluate(c, {}, INV, "orders-db", down, "replication").detail


def test_role_condition_and_unsampled_members() -> None:
    assert evaluate(cond(site="east", role="primary"), {}, INV, "orders-db", HEALTHY).ok
    v = evaluate(cond(site="east", role="replica"), {}, INV, "orders-db", HEALTHY)
    assert not v.ok and "is primary, not replica" in v.detail
    v = evaluate(cond(site="east"), {}, INV, "orders-db", snapshot())
    assert not v.ok and "not sampled" in v.detail
    v = evaluate(cond(site="dr"), {}, INV, "orders-db", HEALTHY)
    assert not v.ok and "has no member at site dr" in v.detail


def test_role_selector_uses_observed_roles() -> None:
    sel = parse_selector("service:orders-db and role:primary", LOC, [])
    assert resolve_selector(sel, {}, INV, None, HEALTHY) == ("db-east-1",)
    moved = snapshot(
        member("db-east-1", "east", Role.DOWN, expected="primary"),
        member("db-west-1", "west", Role.PRIMARY),
    )
    assert resolve_selector(sel, {}, INV, None, moved) == ("db-west-1",)
    with pytest.raises(SelectionError, match="no host matches"):
        resolve_selector(
            parse_selector("role:primary and site:east", LOC, []), {}, INV, "orders-db", moved
        )
    with pytest.raises(SelectionError, match="site 'mars' is not in the inventory"):
        resolve_selector(parse_selector("site:mars", LOC, []), {}, INV, None, moved)


def test_masker_scrubs_raw_and_quoted_forms() -> None:
    m = Masker(["p@ss w'rd", "", "tok"])
    assert m.scrub("x p@ss w'rd y 'p@ss w'\"'\"'rd' tok") == "x **** y **** ****"
    assert m.params({"a": "1", "b": "tok"}, ["b"]) == {"a": "1", "b": "****"}
    assert not Masker([])


def test_context_service_views_follow_observed_roles() -> None:
    pb = load_playbook(ROOT / "playbooks" / "pg-failover.yaml")
    moved = snapshot(
        member("db-east-1", "east", Role.DOWN, expected="primary"),
        member("db-west-1", "west", Role.PRIMARY),
    )
    ctx = base_context(
        inventory=INV,
        playbook=pb,
        params={"from_site": "east", "to_site": "west"},
        run_id="R",
        mode="drill",
        operator="o",
        snapshot=moved,
        outputs=StepOutputs(),
    )
    assert ctx["service"]["primary"]["host"] == "db-west-1"
    assert ctx["service"]["expected_primary"]["host"] == "db-east-1"
    assert ctx["service"]["at"]["east"]["observed"] == "down"
    assert ctx["service"]["members"]["db-west-1"]["vars"]["pgbin"] == "/usr/lib/postgresql/15/bin"


def test_status_verdict_and_formats() -> None:
    ok, text = verdict(HEALTHY, INV)
    assert text.startswith("2 of 6 members") is False
    moved = snapshot(
        member("db-east-1", "east", Role.DOWN, expected="primary", health=Health.DOWN),
        member("db-west-1", "west", Role.PRIMARY),
    )
    ok, text = verdict(moved, INV)
    assert not ok
    assert "orders-db/db-east-1 down" in text and "orders-db: primary moved to west" in text
    assert [fmt_bytes(v) for v in (None, 0, 2048, 5 * 1024**3)] == [
        "?",
        "0 B",
        "2.0 KiB",
        "5.0 GiB",
    ]


def test_caught_up_without_byte_lag_uses_seconds_and_needs_the_link() -> None:
    c = cond(site="west", caught_up=True)
    mysql_like = snapshot(member("db-west-1", "west", Role.REPLICA, lag_b=None, lag_s=0.0))
    assert evaluate(c, {}, INV, "orders-db", mysql_like).ok
    behind = snapshot(member("db-west-1", "west", Role.REPLICA, lag_b=None, lag_s=3.0))
    assert "has not caught up" in evaluate(c, {}, INV, "orders-db", behind).detail
    cut = snapshot(member("db-west-1", "west", Role.REPLICA, lag_b=0, link=Link.DOWN))
    assert not evaluate(c, {}, INV, "orders-db", cut).ok


def test_inventory_vars_named_like_secrets_are_masked_in_plans(tmp_path: Path) -> None:
    from console.engine.plan import make_plan

    inv_path = tmp_path / "inv.yaml"
    inv_path.write_text(
        "version: 1\nname: s\nvars: {api_token: tok-123456}\nsites:\n  east:\n    role: primary\n"
        "    hosts:\n      h1: {address: 127.0.0.1, vars: {db_password: hunter2-pw}}\n"
    )
    pb_path = tmp_path / "pb.yaml"
    pb_path.write_text(
        "version: 1\nname: p\nkind: custom\nsteps:\n  - id: a\n    on: h1\n"
        "    run: login {{ target.vars.db_password }} {{ vars.api_token }} {{ target.name }}\n"
    )
    inv = load_inventory(inv_path)
    pb = load_playbook(pb_path)
    plan = make_plan(
        inventory=inv, playbook=pb, params={}, mode="drill", operator="o", snapshot=snapshot()
    )
    assert plan.steps[0].commands == (("h1", "login **** **** h1"),)
