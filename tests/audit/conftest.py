"""Fixtures for the audit tests: a fresh database file per test and a way to start runs."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.audit import AuditStore, RunStart, new_run_id


def run_start(**overrides: Any) -> RunStart:
    """A plausible RunStart for this process; any field may be overridden."""
    fields: dict[str, Any] = {
        "run_id": new_run_id(),
        "playbook_name": "pg-failover",
        "playbook_kind": "failover",
        "playbook_path": "playbooks/pg-failover.yaml",
        "playbook_digest": "a" * 64,
        "inventory_name": "lab",
        "inventory_path": "inventory/lab.yaml",
        "inventory_digest": "b" * 64,
        "mode": "drill",
        "operator": "alice@jump1",
        "services": ("orders-db",),
        "params": {"from_site": "east", "to_site": "west", "dns_token": "****"},
        "objectives": {"rto_seconds": 300, "rpo_seconds": 0},
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "playbook_title": "Fail orders-db over from east to west",
    }
    fields.update(overrides)
    return RunStart(**fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's audit database lives (in a directory that does not exist yet)."""
    return tmp_path / "state" / "drconsole" / "audit.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[AuditStore]:
    """A fresh store on a real file."""
    with AuditStore(db_path) as s:
        yield s


@pytest.fixture
def start_run(store: AuditStore) -> Callable[..., str]:
    """Start a run in ``store`` and return its id; keyword arguments override RunStart fields."""

    def start(**overrides: Any) -> str:
        run = run_start(**overrides)
        store.create_run(run)
        return run.run_id

    return start
