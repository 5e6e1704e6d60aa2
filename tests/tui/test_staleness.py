"""Stale data looks stale (issue 11 item 6): the board, the run screen's replication panel,
and the primary's view of its replicas.

The board snapshots here are synthetic (``console.tui.synthetic``, named so): the rules are
pure functions of values and the time. The primary's view is judged on recorded real probe
outputs (``tests/probes/data``); ``tests/status/test_survivors_lab.py`` and
``benchmarks/board_dark_site.py`` prove it on the real lab.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from rich.text import Text

from console.model.inventory import Inventory, load_inventory
from console.probes.sample import Health, ReplicationSample
from console.probes.topology import ack_limit, reconcile, survivors_view
from console.status.freshness import shown_health, stale_limit
from console.tui.board_model import (
    columns,
    member_cells,
    row_stamp,
    site_headline,
    site_rows,
    topology_line,
    verdict_line,
)
from console.tui.history import LagHistory
from console.tui.palette import DEFAULT_PALETTE
from console.tui.synthetic import SyntheticMember, synthetic_snapshot
from console.tui.widgets.run_panels import ReplicationPanel
from tests.probes.recordings import load

EXAMPLE = Path(__file__).parent / "snapshot_data" / "example.yaml"
NOW = 1_800_000_000.0
REFRESH = 2.0


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(EXAMPLE)


def _west_aged(inventory: Inventory, age: float) -> dict[tuple[str, str], SyntheticMember]:
    out = {}
    for service in inventory.services.values():
        for host in service.members:
            if inventory.hosts[host].site == "west":
                out[(service.name, host)] = SyntheticMember(age=age)
    return out


def test_the_stale_limit_is_a_small_multiple_of_the_poll_interval() -> None:
    assert stale_limit(2.0, 30.0) == 3.0
    assert stale_limit(1.0, 30.0) == 2.0  # never under one interval plus a probe's second
    assert stale_limit(10.0, 30.0) == 15.0
    assert stale_limit(60.0, 30.0) == 30.0  # the service's own limit still caps it
    assert stale_limit(None, 30.0) == 30.0  # a one-shot sweep: the collector's rule


def test_a_stale_member_has_no_green_tick_and_its_lag_is_dimmed_with_its_age(
    inventory: Inventory,
) -> None:
    snap = synthetic_snapshot(inventory, NOW, _west_aged(inventory, 6.0), poll_interval=REFRESH)
    cols = columns(inventory, wide=True, width=200)
    ref = next(r for r in site_rows(inventory, "west") if r.service == "orders-db")
    status = snap.get(ref.service, ref.host)
    assert status is not None and status.health.health is Health.OK  # the sample said OK...
    cells = member_cells(inventory, ref, status, LagHistory(), NOW, DEFAULT_PALETTE, cols)
    assert cells["health"].plain == "◌ STALE"  # ...the board does not repeat it as current
    assert "✓" not in cells["health"].plain
    assert cells["lag"].plain == "0s"  # the last value, shown...
    assert cells["lag"].style == DEFAULT_PALETTE.muted  # ...dimmed
    assert cells["age"].plain == "6s ago" and cells["age"].style == DEFAULT_PALETTE.crit
    assert cells["why"].plain.startswith("stale: no new sample; the last said replica OK")
    # one interval old is a normal refresh, not stale
    fresh = synthetic_snapshot(inventory, NOW, _west_aged(inventory, 2.5), poll_interval=REFRESH)
    fstatus = fresh.get(ref.service, ref.host)
    cells = member_cells(inventory, ref, fstatus, LagHistory(), NOW, DEFAULT_PALETTE, cols)
    assert cells["health"].plain == "✓ OK"


def test_a_row_is_redrawn_when_it_turns_stale(inventory: Inventory) -> None:
    snap = synthetic_snapshot(inventory, NOW, _west_aged(inventory, 0.0), poll_interval=REFRESH)
    status = snap.get("orders-db", "db-west-1")
    assert row_stamp(inventory, status, NOW + 1)[1] is False
    assert row_stamp(inventory, status, NOW + 4)[1] is True  # same sample, new stamp


def test_site_topology_and_verdict_say_not_answering(inventory: Inventory) -> None:
    snap = synthetic_snapshot(inventory, NOW, _west_aged(inventory, 6.0), poll_interval=REFRESH)
    history = LagHistory()
    history.record(snap.members)
    west = site_headline(inventory, "west", snap, history, NOW)
    assert (west.level, west.status) == ("down", "DOWN — not answering for 6 s")
    east = site_headline(inventory, "east", snap, history, NOW)
    assert east.level == "ok"
    line = topology_line(
        inventory, "orders-db", snap.topologies["orders-db"], DEFAULT_PALETTE, 12, snap, NOW
    )
    assert "━▶" not in line.plain  # no streaming arrow for a replica nobody has heard from
    assert "╳ west/db-west-1 stale 6s (was 0s · 0 B)" in line.plain
    verdict = verdict_line(inventory, snap, DEFAULT_PALETTE, NOW)
    assert "degraded" in verdict.plain and "west not answering for 6 s" in verdict.plain
    assert "✓ all" not in verdict.plain


def test_without_a_poll_interval_nothing_changes(inventory: Inventory) -> None:
    """A snapshot from a one-shot sweep (no poll interval) keeps the collector's 30 s rule."""
    snap = synthetic_snapshot(inventory, NOW, _west_aged(inventory, 6.0))
    assert all(shown_health(inventory, m, NOW) == "ok" for m in snap.members)
    assert verdict_line(inventory, snap, DEFAULT_PALETTE, NOW).plain.startswith("✓ all")


def test_the_replication_panel_shows_stale(inventory: Inventory) -> None:
    snap = synthetic_snapshot(inventory, NOW, _west_aged(inventory, 6.0), poll_interval=REFRESH)
    panel = ReplicationPanel()
    shown: list[Text] = []
    panel.update = shown.append  # type: ignore[method-assign,assignment]
    panel.show(inventory, ["orders-db"], snap, NOW)
    text = shown[-1].plain
    west = next(line for line in text.splitlines() if line.startswith(" west"))
    assert "◌ STALE" in west and "not answering for 6 s" in west and "✓" not in west
    east = next(line for line in text.splitlines() if line.startswith(" east"))
    assert "✓ OK" in east


# -- the primary's view of its replicas, on recorded real outputs ---------------------------


def _later(sample: ReplicationSample, seconds: float) -> ReplicationSample:
    return replace(sample, sampled_at=sample.sampled_at + seconds)


def test_redis_primary_seeing_no_ack_turns_the_replica_not_ok() -> None:
    primary = load("redis/primary_healthy").parse()
    replica = replace(load("redis/replica_healthy").parse(), sampled_at=primary.sampled_at)
    (info,) = primary.replicas
    assert info.ack_age is not None and info.ack_age <= 1  # recorded: acknowledged just now
    assert survivors_view(replica, _later(primary, 5), info) is None
    silent = replace(info, ack_age=4.0)
    newer = replace(_later(primary, 5), replicas=(silent,))
    said = survivors_view(replica, newer, silent)
    assert said == "as seen by db-east-1: no acknowledgement from it for 4 s"
    out = {s.host: s for s in reconcile([newer, replica])}
    assert out["db-west-1"].error == said
    assert out["db-west-1"].details["primary_view"] == said
    # the replica's own sample, as new as the primary's, is believed
    same = replace(primary, replicas=(silent,))
    assert {s.host: s for s in reconcile([same, replica])}["db-west-1"].error is None


def test_postgres_primary_listing_no_standby_turns_it_not_ok() -> None:
    replica = load("postgres/replica_healthy").parse()
    gone = _later(load("postgres/primary_no_replica").parse(), 0)
    gone = replace(gone, sampled_at=replica.sampled_at + 3)
    out = {s.host: s for s in reconcile([gone, replica])}
    assert out["db-west-1"].error == "as seen by db-east-1: no replica is connected to it"


def test_postgres_reply_age_limit_follows_the_standbys_setting() -> None:
    replica = load("postgres/replica_healthy").parse()
    assert ack_limit(replica) == 21.0  # recorded before the setting was read: the 10 s default
    one_second = replace(replica, details={**replica.details, "status_interval": "1.000"})
    assert ack_limit(one_second) == 3.0
    primary = _later(load("postgres/primary_healthy").parse(), 0)
    primary = replace(primary, sampled_at=replica.sampled_at + 10)
    (info,) = primary.replicas
    late = replace(info, ack_age=5.0)
    assert survivors_view(one_second, primary, late) is not None
    assert survivors_view(replica, primary, late) is None  # within its 10 s interval


def test_mysql_primary_without_dump_threads_proves_nothing() -> None:
    """MySQL lists replicas only to a user with PROCESS: an empty list is not a verdict."""
    replica = load("mysql/replica_healthy").parse()
    primary = replace(load("mysql/primary_healthy").parse(), replicas=())
    primary = replace(primary, sampled_at=replica.sampled_at + 5)
    assert survivors_view(replica, primary, None) is None
