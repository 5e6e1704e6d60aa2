"""A status snapshot made of recorded real probe outputs, for the status views' unit tests.

Every sample is parsed from ``tests/probes/data/`` (recorded from real servers by
``tests/probes/record.py``) and judged by the real collector's rules; only the moment the
snapshot is taken is chosen here, so the views can be tested to the character.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from console.model.inventory import Inventory, load_inventory
from console.status.collector import StatusCollector, StatusSnapshot
from tests.probes.recordings import load

INVENTORY = """\
version: 1
name: recorded
ssh: {user: drill}
sites:
  east:
    role: primary
    description: Shanghai IDC-1
    hosts:
      db-east-1: {address: 127.0.60.1}
  west:
    role: standby
    description: Hangzhou IDC-2
    hosts:
      db-west-1: {address: 127.0.60.2}
services:
  orders-db:
    kind: postgres
    members:
      db-east-1: {port: 25432, role: primary}
      db-west-1: {port: 25433, role: replica}
    thresholds: {lag_warn: 5s, lag_crit: 30s, lag_bytes_warn: 1048576}
  billing-db:
    kind: mysql
    members:
      db-east-1: {port: 23306, role: primary}
      db-west-1: {port: 23307, role: replica}
  sessions:
    kind: redis
    members:
      db-east-1: {port: 26379, role: primary}
      db-west-1: {port: 26380, role: replica}
"""

RECORDINGS = (
    "postgres/primary_replica_lagging",
    "postgres/replica_lagging",
    "mysql/primary_healthy",
    "mysql/replica_link_down",
    "redis/primary_healthy",
    "redis/replica_healthy",
)


def recorded_inventory(directory: Path) -> Inventory:
    """The inventory the recordings were made against (names and ports)."""
    path = directory / "recorded.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    return load_inventory(path)


SWEPT_AT = 1_795_731_000.0
"""When the recorded sweep happened (the recordings of each kind were made minutes apart;
they are placed in one sweep, 0.1 s apart)."""


def recorded_snapshot(
    inventory: Inventory, *, age: float = 2.0, **collector: Any
) -> StatusSnapshot:
    """The recordings judged as the collector judges a sweep, ``age`` seconds after it."""
    c = StatusCollector(inventory, transport=None, **collector)  # type: ignore[arg-type]
    for i, name in enumerate(RECORDINGS):
        sample = replace(load(name).parse(), sampled_at=SWEPT_AT + i * 0.1)
        c._latest[(sample.service, sample.host)] = sample  # what a sweep would have stored
    return c.snapshot(now=SWEPT_AT + 0.5 + age)
