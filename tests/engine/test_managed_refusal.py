"""The refusal of raw playbooks on managed services, judged on model values (no server).

The same refusal on the real managed lab (exit 3, recorded, nothing changed) is in
``tests/managed/test_refusal.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.engine.managed import manager_refusal
from console.model.inventory import Inventory, load_inventory
from console.model.playbook import Playbook, load_playbook
from tests.model.cases import INVENTORY, PLAYBOOK

_MANAGED = INVENTORY.replace(
    "    probe: {user: postgres, timeout: 2s}",
    "    managed_by: {kind: patroni, api: 'http://db-east-1:8008'}\n"
    "    probe: {user: postgres, timeout: 2s}",
)


def _load(tmp_path: Path, inv: str, pb: str) -> tuple[Inventory, Playbook]:
    (tmp_path / "inv.yaml").write_text(inv, encoding="utf-8")
    (tmp_path / "pb.yaml").write_text(pb, encoding="utf-8")
    return load_inventory(tmp_path / "inv.yaml"), load_playbook(tmp_path / "pb.yaml")


def test_a_raw_playbook_on_a_patroni_service_is_refused_naming_both(tmp_path: Path) -> None:
    inv, pb = _load(tmp_path, _MANAGED, PLAYBOOK)
    why = manager_refusal(pb, inv)
    assert why is not None
    assert "service orders-db is managed by Patroni" in why
    assert f"managed_by at {tmp_path / 'inv.yaml'}:" in why
    assert "raw playbook pb" in why and "use patroni-switchover" in why


def test_the_same_playbook_on_an_unmanaged_service_runs(tmp_path: Path) -> None:
    inv, pb = _load(tmp_path, INVENTORY, PLAYBOOK)
    assert manager_refusal(pb, inv) is None


def test_a_playbook_that_drives_the_manager_runs(tmp_path: Path) -> None:
    inv, pb = _load(
        tmp_path,
        _MANAGED,
        PLAYBOOK.replace("kind: failover\n", "kind: failover\ndrives: patroni\n"),
    )
    assert manager_refusal(pb, inv) is None


@pytest.mark.parametrize(
    ("inventory", "needle"),
    [
        (
            _MANAGED.replace(
                "kind: patroni, api: 'http://db-east-1:8008'", "kind: patroni, api: 'http://h:1'"
            ),
            None,
        ),
        (INVENTORY, "names no manager"),
    ],
)
def test_a_sentinel_playbook_is_refused_elsewhere(
    tmp_path: Path, inventory: str, needle: str | None
) -> None:
    pb_text = PLAYBOOK.replace("kind: failover\n", "kind: failover\ndrives: sentinel\n")
    inv, pb = _load(tmp_path, inventory, pb_text)
    why = manager_refusal(pb, inv)
    assert why is not None
    if needle is None:
        assert "drives sentinel, but service orders-db is managed by Patroni" in why
    else:
        assert needle in why


def test_a_restore_verification_may_run_raw(tmp_path: Path) -> None:
    inv, pb = _load(
        tmp_path, _MANAGED, PLAYBOOK.replace("kind: failover\n", "kind: restore-verification\n")
    )
    assert manager_refusal(pb, inv) is None
