"""The board's rules as values: rows from the inventory, ages, DOWN sites, divergence said as
a fact, split brain, host-key alerts. Snapshots are synthetic here (named so): the rules are
pure; the Pilot tests prove them on the real lab."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from console.errors import Location
from console.model.backup import BackupSettings
from console.model.inventory import Inventory, load_inventory
from console.probes.sample import Link, Role
from console.probes.window import parse as parse_window
from console.tui.board_model import (
    columns,
    member_cells,
    member_states,
    primaries,
    security_alerts,
    site_headline,
    site_rows,
    status_changes,
    topology_line,
    verdict_line,
)
from console.tui.history import LagHistory
from console.tui.palette import DEFAULT_PALETTE
from console.tui.synthetic import SyntheticMember, synthetic_snapshot

EXAMPLE = Path(__file__).parent / "snapshot_data" / "example.yaml"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(EXAMPLE)


def test_narrow_columns_fit_80_columns(inventory: Inventory) -> None:
    cols = columns(inventory, wide=False, width=80)
    width = sum(c.width + 2 for c in cols) + 2 + 1  # padding, panel border, scrollbar
    assert width <= 80, width
    assert [c.key for c in cols] == ["member", "service", "role", "health", "lag", "trend", "age"]
    medium = columns(inventory, wide=False, width=120)
    assert medium[-1].key == "why" and sum(c.width + 2 for c in medium) + 3 <= 120
    wide = columns(inventory, wide=True, width=200)
    assert {"kind", "link", "behind", "position", "why"} <= {c.key for c in wide}
    assert sum(c.width + 2 for c in wide) <= 200


def test_rows_come_from_the_inventory_even_before_any_sample(inventory: Inventory) -> None:
    refs = site_rows(inventory, "east")
    assert [r.key for r in refs] == [
        "orders-db/db-east-1",
        "catalog-db/db-east-1",
        "sessions/cache-east-1",
    ]
    cells = member_cells(
        inventory, refs[0], None, LagHistory(), NOW, DEFAULT_PALETTE, columns(inventory, False, 80)
    )
    assert cells["health"].plain == "? UNKNOWN"
    assert cells["age"].plain == "never"
    assert cells["role"].plain == "(primary)"
    assert site_headline(inventory, "east", None, LagHistory(), NOW).status.startswith(
        "waiting for"
    )


def test_unknown_lag_is_a_question_mark_and_ages_show(inventory: Inventory) -> None:
    snap = synthetic_snapshot(
        inventory,
        NOW,
        {
            ("orders-db", "db-west-1"): SyntheticMember(lag_seconds=None, lag_bytes=None, age=12),
            ("sessions", "cache-west-1"): SyntheticMember(lag_seconds=1.5, lag_bytes=4096),
        },
    )
    history = LagHistory()
    history.record(snap.members)
    cols = columns(inventory, False, 80)
    west = {r.service: r for r in site_rows(inventory, "west")}
    orders = member_cells(
        inventory,
        west["orders-db"],
        snap.get("orders-db", "db-west-1"),
        history,
        NOW,
        DEFAULT_PALETTE,
        cols,
    )
    assert orders["lag"].plain == "? ?"
    assert orders["age"].plain == "12s ago"
    assert orders["health"].plain != "✓ OK"  # an unknown lag is never healthy
    sessions = member_cells(
        inventory,
        west["sessions"],
        snap.get("sessions", "cache-west-1"),
        history,
        NOW,
        DEFAULT_PALETTE,
        cols,
    )
    assert sessions["lag"].plain == "1.5s 4.0K"
    assert sessions["health"].plain == "✓ OK"


def test_a_dark_site_is_down_with_when_it_was_last_seen(inventory: Inventory) -> None:
    history = LagHistory()
    history.record(synthetic_snapshot(inventory, NOW - 40).members)
    dark = {
        (svc, host): SyntheticMember(role=Role.DOWN, link=Link.UNKNOWN, error="no answer")
        for svc, host in (
            ("orders-db", "db-west-1"),
            ("catalog-db", "db-west-1"),
            ("sessions", "cache-west-1"),
        )
    }
    snap = synthetic_snapshot(inventory, NOW, dark)
    history.record(snap.members)
    west = site_headline(inventory, "west", snap, history, NOW)
    assert (west.level, west.status) == ("down", "DOWN — not answering for 40 s")
    east = site_headline(inventory, "east", snap, history, NOW)
    assert east.level == "ok"
    assert "3 member(s) OK" in east.status
    assert "degraded" in verdict_line(inventory, snap, DEFAULT_PALETTE).plain


def test_divergence_split_brain_and_no_primary_are_said_as_facts(inventory: Inventory) -> None:
    moved = synthetic_snapshot(
        inventory,
        NOW,
        {
            ("orders-db", "db-west-1"): SyntheticMember(
                role=Role.PRIMARY, link=Link.NONE, read_only=False
            ),
            ("orders-db", "db-east-1"): SyntheticMember(role=Role.DOWN, link=Link.UNKNOWN),
        },
    )
    line = topology_line(
        inventory, "orders-db", moved.topologies["orders-db"], DEFAULT_PALETTE, 10
    ).plain
    assert "★ west/db-west-1" in line
    assert "primary moved to west (inventory: east)" in line
    assert "east/db-east-1 DOWN" in line
    split = synthetic_snapshot(
        inventory,
        NOW,
        {
            ("orders-db", "db-west-1"): SyntheticMember(
                role=Role.PRIMARY, link=Link.NONE, read_only=False
            )
        },
    )
    assert (
        "SPLIT BRAIN"
        in topology_line(
            inventory, "orders-db", split.topologies["orders-db"], DEFAULT_PALETTE, 10
        ).plain
    )
    none = synthetic_snapshot(
        inventory,
        NOW,
        {("orders-db", "db-east-1"): SyntheticMember(role=Role.DOWN, link=Link.UNKNOWN)},
    )
    text = topology_line(inventory, "orders-db", none.topologies["orders-db"], DEFAULT_PALETTE, 10)
    assert "NO PRIMARY" in text.plain


def test_a_refused_host_key_becomes_a_security_alert(inventory: Inventory) -> None:
    snap = synthetic_snapshot(
        inventory,
        NOW,
        {
            ("sessions", "cache-west-1"): SyntheticMember(
                role=Role.UNKNOWN,
                link=Link.UNKNOWN,
                error="cache-west-1: host key refused (unknown): ssh-ed25519 SHA256:abc",
            )
        },
    )
    alerts = security_alerts(snap)
    assert [a.host for a in alerts] == ["cache-west-1"]
    assert "host key refused" in alerts[0].message
    assert security_alerts(synthetic_snapshot(inventory, NOW)) == []


def test_the_changes_log_names_first_samples_and_transitions(inventory: Inventory) -> None:
    first = synthetic_snapshot(inventory, NOW - 10)
    lines = status_changes(inventory, {}, {}, first)
    assert "first sample: east/db-east-1 orders-db: primary OK" in lines
    assert len(lines) == 6
    dark = synthetic_snapshot(
        inventory,
        NOW,
        {
            ("orders-db", "db-west-1"): SyntheticMember(
                role=Role.PRIMARY, link=Link.NONE, read_only=False
            ),
            ("orders-db", "db-east-1"): SyntheticMember(
                role=Role.DOWN, link=Link.UNKNOWN, error="db-east-1: no answer within 10s"
            ),
        },
    )
    lines = status_changes(inventory, member_states(first), primaries(first), dark)
    assert "east/db-east-1 orders-db: primary OK → down DOWN (db-east-1: no answer within 10s)" in (
        lines
    )
    assert "orders-db: writable primary db-east-1 → db-west-1" in lines
    assert status_changes(inventory, member_states(dark), primaries(dark), dark) == []


def test_the_changes_log_names_a_member_turning_stale_and_back(inventory: Inventory) -> None:
    """No new sample for longer than the stale limit (30 s here) is a change the log names,
    as the row shows it (OK → STALE), though no snapshot brought it; the next fresh sample
    is a change back (STALE → OK)."""
    first = synthetic_snapshot(inventory, NOW)
    seen = member_states(first, inventory, NOW)
    assert status_changes(inventory, seen, primaries(first), first, NOW + 5) == []
    later = NOW + 40
    lines = status_changes(inventory, seen, primaries(first), first, later)
    assert "east/db-east-1 orders-db: primary OK → primary STALE (no new sample for 40s)" in (lines)
    assert len(lines) == 6, lines  # every member of the example went quiet
    stale = member_states(first, inventory, later)
    assert status_changes(inventory, stale, primaries(first), first, later + 1) == []
    fresh = synthetic_snapshot(inventory, later + 1)
    back = status_changes(inventory, stale, primaries(first), fresh, later + 1)
    assert "east/db-east-1 orders-db: primary STALE → primary OK" in back, back


def test_a_broken_recoverable_window_is_in_the_verdict(inventory: Inventory) -> None:
    """As ``status`` says it: every member healthy but a WAL gap in orders-db's archive is
    not "✓ all healthy" (the window recorded from the lab's pgBackRest repository)."""
    data = Path(__file__).resolve().parents[1] / "probes" / "data" / "window"
    backup = BackupSettings("pgbackrest", "orders-db", "db-dr-1", None, Location("i.yaml", 1, 1))
    gap = parse_window(backup, "orders-db", 0, (data / "gap.out").read_text(), "", NOW)
    healthy = parse_window(backup, "orders-db", 0, (data / "healthy.out").read_text(), "", NOW)
    snap = synthetic_snapshot(inventory, NOW)
    assert verdict_line(inventory, snap, DEFAULT_PALETTE).plain.startswith("✓ all")
    fine = dataclasses.replace(snap, windows={"orders-db": healthy})
    assert verdict_line(inventory, fine, DEFAULT_PALETTE).plain.startswith("✓ all")
    broken = dataclasses.replace(snap, windows={"orders-db": gap})
    said = verdict_line(inventory, broken, DEFAULT_PALETTE).plain
    assert said == "▲ orders-db recovery window CRIT", said


def test_a_redis_cluster_line_points_at_the_cluster_s_own_view() -> None:
    # a redis-cluster service has nodes, no members: "no sample yet" would never change
    managed = load_inventory(Path(__file__).resolve().parents[2] / "inventory/example-managed.yaml")
    line = topology_line(managed, "carts", None, DEFAULT_PALETTE, 10).plain
    assert line == "carts      Redis Cluster: the cluster's own view below (carts)"


def test_the_changes_log_names_an_active_active_writer_as_its_row_does() -> None:
    """Both writers of a multi-primary service replicate from each other (their samples say
    "replica"): the changes log says "writer", as the rows do, and a writer fenced read-only
    is a change from writer to replica."""
    active = load_inventory(
        Path(__file__).resolve().parents[2] / "inventory" / "example-active-active.yaml"
    )
    writers = {
        ("users-db", host): SyntheticMember(role=Role.REPLICA, read_only=False)
        for host in ("db-east-1", "db-west-1")
    }
    snap = synthetic_snapshot(active, NOW, writers)
    first = status_changes(active, {}, {}, snap)
    assert "first sample: east/db-east-1 users-db: writer OK" in first, first
    assert "first sample: west/db-west-1 users-db: writer OK" in first, first
    fenced = dict(writers)
    fenced[("users-db", "db-west-1")] = SyntheticMember(role=Role.REPLICA, read_only=True)
    later = synthetic_snapshot(active, NOW + 2, fenced)
    lines = status_changes(active, member_states(snap, active), primaries(snap), later)
    assert any(line.startswith("west/db-west-1 users-db: writer OK → replica") for line in lines)
