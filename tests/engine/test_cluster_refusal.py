"""The refusal of raw playbooks on a Redis Cluster (kind ``redis-cluster``), judged on model
values; the same on the real lab (exit 3) is in ``tests/managed/test_cluster_failover.py``."""

from __future__ import annotations

from pathlib import Path

from console.engine.managed import manager_refusal
from console.model.inventory import Inventory, load_inventory
from console.model.playbook import Playbook, load_playbook
from tests.model.cases import INVENTORY

_CLUSTER = INVENTORY.replace(
    "  ledger:\n",
    "  carts:\n    kind: redis-cluster\n    nodes: [db-east-1:7000, db-west-1:7000]\n  ledger:\n",
)

_PB = """\
version: 1
name: pb
kind: {kind}
{drives}service: {service}
steps:
  - id: one
    on: site:east
    run: echo hi
"""


def _load(
    tmp_path: Path, service: str, kind: str = "failover", drives: str = ""
) -> tuple[Inventory, Playbook]:
    (tmp_path / "inv.yaml").write_text(_CLUSTER, encoding="utf-8")
    text = _PB.format(kind=kind, drives=f"drives: {drives}\n" if drives else "", service=service)
    (tmp_path / "pb.yaml").write_text(text, encoding="utf-8")
    return load_inventory(tmp_path / "inv.yaml"), load_playbook(tmp_path / "pb.yaml")


def test_a_raw_failover_on_a_cluster_is_refused_naming_the_playbook_to_use(tmp_path: Path) -> None:
    inv, pb = _load(tmp_path, "carts")
    why = manager_refusal(pb, inv)
    assert why is not None
    assert why.startswith("service carts is a Redis Cluster (kind redis-cluster at ")
    assert "use redis-cluster-site-failover" in why


def test_a_playbook_that_drives_the_cluster_runs(tmp_path: Path) -> None:
    inv, pb = _load(tmp_path, "carts", drives="redis-cluster")
    assert manager_refusal(pb, inv) is None


def test_a_restore_verification_runs_raw(tmp_path: Path) -> None:
    pb_inv = _load(tmp_path, "carts", kind="restore-verification")
    assert manager_refusal(pb_inv[1], pb_inv[0]) is None


def test_a_patroni_playbook_on_the_cluster_is_refused(tmp_path: Path) -> None:
    inv, pb = _load(tmp_path, "carts", drives="patroni")
    why = manager_refusal(pb, inv)
    assert why is not None and "drives patroni, but service carts is a Redis Cluster" in why


def test_a_cluster_playbook_on_a_plain_service_is_refused(tmp_path: Path) -> None:
    inv, pb = _load(tmp_path, "orders-db", drives="redis-cluster")
    why = manager_refusal(pb, inv)
    assert why == (
        "playbook pb drives a Redis Cluster, but service orders-db is of kind postgres, "
        "not redis-cluster"
    )
