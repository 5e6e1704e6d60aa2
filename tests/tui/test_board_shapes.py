"""The board's topology lines for declared shapes: active-active said plainly (never "split
brain" or "no primary"), a cascade's chain, and each finding with its word. On snapshots of
real probe outputs (``tests/status/record_shapes.py``)."""

from __future__ import annotations

import pytest

from console.model.inventory import Inventory, load_inventory
from console.tui.board_model import site_headline
from console.tui.board_topology import topology_text
from console.tui.history import LagHistory
from console.tui.palette import DEFAULT_PALETTE
from tests.status.test_topology import HEALTHY, INVENTORY, snapshot


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    path = tmp_path_factory.mktemp("board-shapes") / "inv.yaml"
    path.write_text(INVENTORY)
    return load_inventory(path)


def test_the_board_says_active_active_and_the_cascade(inventory: Inventory) -> None:
    text = topology_text(inventory, snapshot(inventory, *HEALTHY), DEFAULT_PALETTE).plain
    lines = text.splitlines()
    assert lines[0].startswith("users-db  ⇄ active-active: db-east (unit-east) and db-west")
    assert "SPLIT BRAIN" not in text and "NO PRIMARY" not in text
    assert lines[1].startswith("orders-db ★ east/db-east")
    assert lines[1].endswith("✓ cascade db-east -> db-west -> db-dr")
    # the replicas in chain order: west (fed by the primary) before dr (fed by west)
    assert lines[1].index("west/db-west") < lines[1].index("dr/db-dr"), lines[1]


def test_replicas_follow_the_declared_chain_whatever_order_they_are_sampled_in() -> None:
    from console.probes.sample import Link, ReplicationSample, Role
    from console.tui.board_topology import _in_chain_order

    def sample(host: str) -> ReplicationSample:
        return ReplicationSample(
            service="s", site=host, host=host, kind="postgres", role=Role.REPLICA,
            upstream=None, link=Link.UP, lag_seconds=0.0, lag_bytes=0, position=None,
            read_only=True, replicas=(), error=None, sampled_at=0.0,
        )  # fmt: skip

    seen = [sample(h) for h in ("d", "c", "b", "a")]
    ups = {"d": "c", "c": "b"}  # a and b follow the primary; b -> c -> d
    assert [r.host for r in _in_chain_order(ups, seen)] == ["b", "a", "c", "d"]
    assert [r.host for r in _in_chain_order({}, seen)] == ["d", "c", "b", "a"]
    assert [r.host for r in _in_chain_order({"x": "y", "y": "x"}, seen)] == ["d", "c", "b", "a"]


def test_the_board_names_a_conflict_and_a_broken_cascade(inventory: Inventory) -> None:
    snap = snapshot(
        inventory,
        ("mysql", "mp_east_conflict"),
        ("mysql", "mp_west_conflict"),
        ("postgres", "cascade_east_alone"),
        ("postgres", "cascade_dr_broken"),
    )
    lines = topology_text(inventory, snap, DEFAULT_PALETTE).plain.splitlines()
    assert lines[0].startswith("users-db  ⇄ multi-primary: db-east (unit-east) and db-west")
    assert "CRIT: replication conflict: db-east cannot apply 2-2-2 from db-west" in lines[0]
    assert "CRIT: replication conflict: db-west cannot apply 1-1-2 from db-east" in lines[0]
    assert "CRIT: broken cascade link: db-dr is not receiving from db-west" in lines[1]


def test_a_sites_city_is_in_its_panel_title(inventory: Inventory) -> None:
    snap = snapshot(inventory, *HEALTHY)
    head = site_headline(inventory, "dr", snap, LagHistory(), snap.taken_at)
    assert head.title == "dr — dr site in Hangzhou"
