"""The observed shape against the declared topology, on real probe outputs recorded by
``tests/status/record_shapes.py`` (MariaDB active-active, PostgreSQL cascade): healthy,
active-active, one-way, errant writes, a conflict, a broken cascade link, split brain."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from console.model.inventory import Inventory, load_inventory
from console.probes import ProbeTarget, probe_for
from console.probes.sample import Health, ReplicationSample, Role
from console.status.collector import StatusCollector, StatusSnapshot
from console.status.topology import check_shape, follows, gtids
from console.status.view import render, to_json, verdict

DATA = Path(__file__).parent / "data"

INVENTORY = """\
version: 1
name: shapes
ssh: {user: drill}
sites:
  east: {role: primary, city: Shanghai, hosts: {db-east: {address: 127.0.65.1}}}
  west: {role: standby, city: Shanghai, hosts: {db-west: {address: 127.0.65.2}}}
  dr: {role: dr, city: Hangzhou, hosts: {db-dr: {address: 127.0.65.5}}}
services:
  users-db:
    kind: mysql
    topology: multi-primary
    members:
      db-east: {port: 23406, role: primary, unit: unit-east, gtid_domain: 1}
      db-west: {port: 23407, role: primary, unit: unit-west, gtid_domain: 2}
  orders-db:
    kind: postgres
    topology: cascade
    members:
      db-east: {port: 25532, role: primary, address: 127.0.65.3}
      db-west: {port: 25533, role: replica, address: 127.0.65.4}
      db-dr: {port: 25534, role: replica, upstream: db-west}
"""


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    path = tmp_path_factory.mktemp("shapes") / "inv.yaml"
    path.write_text(INVENTORY)
    return load_inventory(path)


def recorded(kind: str, scenario: str) -> ReplicationSample:
    """The sample the real parser makes of one recording."""
    data = json.loads((DATA / kind / f"{scenario}.json").read_text())
    target = ProbeTarget(**data["target"])
    assert data["exit_status"] == 0, scenario
    return probe_for(target.kind).parse_output(target, data["stdout"], data["sampled_at"])


def mp(inventory: Inventory, east: str, west: str) -> tuple[Health, str, tuple[str, ...]]:
    samples = [recorded("mysql", f"mp_east_{east}"), recorded("mysql", f"mp_west_{west}")]
    check = check_shape(inventory, inventory.services["users-db"], samples)
    return check.health, check.label, check.reasons


def test_two_writers_replicating_both_ways_are_active_active(inventory: Inventory) -> None:
    health, label, reasons = mp(inventory, "healthy", "healthy")
    assert health is Health.OK and reasons == ()
    assert label == (
        "active-active: db-east (unit-east) and db-west (unit-west) take writes and "
        "replicate both ways"
    )
    # What the generic topology line would have called them: two replicas, no primary.
    east = recorded("mysql", "mp_east_healthy")
    assert east.role is Role.REPLICA and east.read_only is False


def test_a_pair_replicating_one_way_is_crit(inventory: Inventory) -> None:
    health, label, reasons = mp(inventory, "one_way", "one_way")
    assert health is Health.CRIT
    assert reasons == (
        "one-way multi-primary: db-east is not receiving db-west's writes (link down)",
    )
    assert label == "multi-primary: db-east (unit-east) and db-west (unit-west)"


def test_a_writer_without_replication_is_one_way(inventory: Inventory) -> None:
    west = recorded("mysql", "mp_west_healthy")
    alone = replace(
        recorded("mysql", "mp_east_healthy"), role=Role.PRIMARY, upstream=None, link=west.link
    )
    check = check_shape(inventory, inventory.services["users-db"], [alone, west])
    assert check.health is Health.CRIT
    assert check.reasons[0].startswith(
        "one-way multi-primary: db-east does not replicate from db-west (no replication"
    )


def test_errant_writes_in_a_units_domain_are_named(inventory: Inventory) -> None:
    health, _label, reasons = mp(inventory, "errant", "errant")
    assert health is Health.WARN
    assert reasons == (
        "errant writes: unit-east's GTID domain 1 holds 1-2-2 written by db-west, not by "
        "db-east (seen at db-east)",
    )


def test_a_conflict_names_the_gtids_each_side_cannot_apply(inventory: Inventory) -> None:
    health, _label, reasons = mp(inventory, "conflict", "conflict")
    assert health is Health.CRIT
    assert len(reasons) == 2
    assert reasons[0].startswith("replication conflict: db-east cannot apply 2-2-2 from db-west")
    assert reasons[1].startswith("replication conflict: db-west cannot apply 1-1-2 from db-east")
    assert "Duplicate entry '50'" in reasons[0]


def test_a_read_only_writer_is_a_warning(inventory: Inventory) -> None:
    east = replace(recorded("mysql", "mp_east_healthy"), read_only=True)
    check = check_shape(
        inventory, inventory.services["users-db"], [east, recorded("mysql", "mp_west_healthy")]
    )
    assert check.health is Health.WARN
    assert check.reasons == ("db-east (unit-east) is read-only: unit-east's writes are refused",)


def cascade(inventory: Inventory, *scenarios: str) -> tuple[Health, str, tuple[str, ...]]:
    samples = [recorded("postgres", s) for s in scenarios]
    check = check_shape(inventory, inventory.services["orders-db"], samples)
    return check.health, check.label, check.reasons


def test_a_healthy_cascade_says_its_chain(inventory: Inventory) -> None:
    health, label, reasons = cascade(
        inventory, "cascade_east", "cascade_west", "cascade_dr_healthy"
    )
    assert (health, reasons) == (Health.OK, ())
    assert label == "cascade db-east -> db-west -> db-dr"
    dr = recorded("postgres", "cascade_dr_healthy")
    assert follows(inventory, inventory.services["orders-db"], dr) == "db-west"


def test_a_broken_middle_link_is_crit(inventory: Inventory) -> None:
    west_down = replace(recorded("postgres", "cascade_west"), role=Role.DOWN)
    samples = [recorded("postgres", "cascade_east_alone"), west_down]
    samples.append(recorded("postgres", "cascade_dr_broken"))
    check = check_shape(inventory, inventory.services["orders-db"], samples)
    assert check.health is Health.CRIT
    assert check.reasons == (
        "broken cascade link: db-dr is not receiving from db-west (db-west is down); "
        "db-dr falls behind",
    )


def test_a_cascading_replica_fed_by_the_wrong_member_is_a_warning(inventory: Inventory) -> None:
    dr = recorded("postgres", "cascade_dr_healthy")
    repointed = replace(dr, upstream="127.0.65.3:25532")
    check = check_shape(
        inventory,
        inventory.services["orders-db"],
        [recorded("postgres", "cascade_east"), recorded("postgres", "cascade_west"), repointed],
    )
    health, reasons = check.health, check.reasons
    assert health is Health.WARN
    assert reasons == ("db-dr follows db-east, but its declared upstream is db-west",)


def test_two_writers_in_a_cascade_are_split_brain(inventory: Inventory) -> None:
    east = recorded("postgres", "cascade_east")
    promoted_west = replace(
        recorded("postgres", "cascade_west"), role=Role.PRIMARY, read_only=False, upstream=None
    )
    check = check_shape(
        inventory,
        inventory.services["orders-db"],
        [east, promoted_west, recorded("postgres", "cascade_dr_healthy")],
    )
    assert check.health is Health.CRIT
    assert check.reasons[0] == (
        "split brain: db-east and db-west both accept writes; topology cascade allows one"
    )


def test_nothing_seen_is_unknown_not_ok(inventory: Inventory) -> None:
    down = replace(recorded("postgres", "cascade_east"), role=Role.DOWN)
    check = check_shape(inventory, inventory.services["orders-db"], [down])
    assert check.health is Health.UNKNOWN


def test_gtid_positions_parse_mariadb_and_ignore_mysql_uuid_sets() -> None:
    assert gtids("0-1-7,1-2-5, 2-2-9") == {0: (1, 7), 1: (2, 5), 2: (2, 9)}
    assert gtids("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5") == {}
    assert gtids(None) == {}


# -- what status says ------------------------------------------------------------------------


def snapshot(inventory: Inventory, *recordings: tuple[str, str]) -> StatusSnapshot:
    """The recordings judged as the collector judges one sweep."""
    collector = StatusCollector(inventory, transport=None)  # type: ignore[arg-type]
    base = 1_796_000_000.0
    for i, (kind, scenario) in enumerate(recordings):
        sample = replace(recorded(kind, scenario), sampled_at=base + i * 0.1)
        collector._latest[(sample.service, sample.host)] = sample  # what a sweep stores
    return collector.snapshot(now=base + 2.0)


def shown(inventory: Inventory, snap: StatusSnapshot) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(render(snap, inventory))
    return console.export_text()


HEALTHY = (
    ("mysql", "mp_east_healthy"),
    ("mysql", "mp_west_healthy"),
    ("postgres", "cascade_east"),
    ("postgres", "cascade_west"),
    ("postgres", "cascade_dr_healthy"),
)


def test_status_says_active_active_and_the_cascade_plainly(inventory: Inventory) -> None:
    snap = snapshot(inventory, *HEALTHY)
    text = shown(inventory, snap)
    assert "users-db: active-active: db-east (unit-east) and db-west (unit-west) take" in text
    assert "multi-primary: OK as declared" in text
    assert "cascade: OK cascade db-east -> db-west -> db-dr" in text
    assert "SPLIT BRAIN" not in text and "NO PRIMARY" not in text
    ok, line = verdict(snap, inventory)
    assert ok, line
    doc = to_json(snap, inventory)
    users = next(s for s in doc["services"] if s["service"] == "users-db")
    assert users["topology"] == "multi-primary"
    assert users["shape"] == {
        "health": "ok",
        "label": "active-active: db-east (unit-east) and db-west (unit-west) take writes and "
        "replicate both ways",
        "reasons": [],
    }


def test_status_names_a_broken_cascade_and_a_one_way_pair(inventory: Inventory) -> None:
    snap = snapshot(
        inventory,
        ("mysql", "mp_east_one_way"),
        ("mysql", "mp_west_one_way"),
        ("postgres", "cascade_east_alone"),
        ("postgres", "cascade_dr_broken"),
    )
    text = shown(inventory, snap)
    assert "multi-primary: CRIT one-way multi-primary: db-east is not receiving db-west's" in text
    assert "cascade: CRIT broken cascade link: db-dr is not receiving from db-west" in text
    ok, line = verdict(snap, inventory)
    assert not ok
    assert "users-db: one-way multi-primary: db-east is not receiving" in line
    assert "orders-db: broken cascade link: db-dr is not receiving from db-west" in line


def test_a_sites_city_is_in_its_heading(inventory: Inventory) -> None:
    text = shown(inventory, snapshot(inventory, *HEALTHY))
    assert "east (primary, Shanghai)" in text and "dr (dr, Hangzhou)" in text


STAR_INVENTORY = INVENTORY.replace("    topology: cascade\n", "").replace(
    ", upstream: db-west}", "}"
)
"""The same estate with orders-db declared primary-replica (no cascade)."""


def test_status_says_whom_each_replica_follows_a_chain_or_a_star(tmp_path: Path) -> None:
    path = tmp_path / "star.yaml"
    path.write_text(STAR_INVENTORY)
    inv = load_inventory(path)
    assert inv.services["orders-db"].topology.shape == "primary-replica"
    # as recorded: dr streams from west (a chain, though not declared one)
    text = shown(inv, snapshot(inv, *HEALTHY))
    assert "fed: db-dr from db-west; db-west from db-east" in text, text
    # dr re-pointed at east: both replicas follow the primary, a star
    dr = recorded("postgres", "cascade_dr_healthy")
    assert dr.upstream == "127.0.65.4:25533"  # west's address and port, as recorded
    snap = snapshot(inv, *HEALTHY)
    collector = StatusCollector(inv, transport=None)  # type: ignore[arg-type]
    for m in snap.members:
        sample = m.sample
        if m.service == "orders-db" and m.host == "db-dr":
            sample = replace(sample, upstream="127.0.65.3:25532")  # east's
        collector._latest[(m.service, m.host)] = sample
    text = shown(inv, collector.snapshot(now=snap.taken_at))
    assert "star: " in text and " from db-east" in text, text
    star = next(line for line in text.splitlines() if "star:" in line)
    assert sorted(star.split("star:")[1].split(" from ")[0].strip().split(", ")) == [
        "db-dr",
        "db-west",
    ], star
