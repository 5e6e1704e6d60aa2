"""``managed_by`` read into typed values (the bad values are cases in ``managed_cases.py``)."""

from __future__ import annotations

from pathlib import Path

from console.model.inventory import load_inventory
from tests.model.cases import INVENTORY

_EXTRA = """\
  cache:
    kind: redis
    members:
      db-east-1: {role: primary}
      db-west-1: {role: replica}
    managed_by:
      kind: sentinel
      sentinels: [127.254.1.1:26379, "db-west-1:26379"]
      master: cache-main
"""


def test_patroni_and_sentinel_are_read(tmp_path: Path) -> None:
    text = INVENTORY.replace(
        "    probe: {user: postgres, timeout: 2s}",
        "    managed_by: {kind: patroni, api: [http://127.254.1.1:8008/, https://db-west-1:8008]}\n"
        "    probe: {user: postgres, timeout: 2s}",
    ).replace("  ledger:\n", _EXTRA + "  ledger:\n")
    path = tmp_path / "inv.yaml"
    path.write_text(text, encoding="utf-8")
    inv = load_inventory(path)
    pg = inv.services["orders-db"].managed_by
    assert pg is not None and pg.kind == "patroni" and pg.manager == "Patroni"
    assert pg.api == ("http://127.254.1.1:8008", "https://db-west-1:8008")
    rd = inv.services["cache"].managed_by
    assert rd is not None and rd.kind == "sentinel" and rd.master == "cache-main"
    assert rd.sentinels == (("127.254.1.1", 26379), ("db-west-1", 26379))
    assert inv.services["ledger"].managed_by is None


def test_a_single_api_url_is_a_list_of_one(tmp_path: Path) -> None:
    text = INVENTORY.replace(
        "    probe: {user: postgres, timeout: 2s}",
        "    managed_by: {kind: patroni, api: 'http://db-east-1:8008'}\n"
        "    probe: {user: postgres, timeout: 2s}",
    )
    path = tmp_path / "inv.yaml"
    path.write_text(text, encoding="utf-8")
    mb = load_inventory(path).services["orders-db"].managed_by
    assert mb is not None and mb.api == ("http://db-east-1:8008",)
