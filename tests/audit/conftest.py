"""Fixtures for the audit tests: a fresh store per test and a way to start runs.

Every test that takes ``db_path`` (or ``store``, ``start_run``) runs twice: on a SQLite file
and on a PostgreSQL team store (a database of its own on a real server started once per test
module, ``tests.support.pgserver``). ``db_path`` is then the location as ``--audit`` takes it:
a ``Path`` or a ``postgresql://`` URL. A test that is about one store only says so with
``@pytest.mark.stores("sqlite")``. ``raw_sql`` is the tamperer's connection to either.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.audit import AuditStore, RunStart, new_run_id
from console.audit.database import is_store_url
from tests.support.pgserver import PgServer, pg_missing, pg_server_fixture

STORES = ("sqlite", "postgresql")
"""The two audit stores every parametrised test runs on."""

Location = Path | str
"""An audit location: a SQLite file or a team store URL."""

pg_server = pg_server_fixture("module")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stores(*names): run only on these audit stores")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("stores")
    kinds = marker.args if marker is not None else STORES
    metafunc.parametrize("store_kind", kinds, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: which store this run of the test is on."""
    kind = str(request.param)
    if kind == "postgresql":
        missing = pg_missing()
        if missing is not None:
            pytest.skip(missing)
    return kind


def location_arg(location: Location) -> str:
    """The location as a command-line argument (for ``--audit`` and the workers)."""
    return str(location)


def location_from_arg(text: str) -> Location:
    """The inverse of ``location_arg``."""
    return text if is_store_url(text) else Path(text)


@contextlib.contextmanager
def raw_sql(location: Location) -> Iterator[Any]:
    """A connection straight to the store's tables, each statement committed at once: what
    someone with write access to the file or the database could do behind drconsole's back.
    Statements take ``?`` placeholders on both stores."""
    if isinstance(location, str):
        import psycopg

        from console.audit.pg import PgConn

        with psycopg.connect(location, autocommit=True) as raw:
            yield PgConn(raw)
    else:
        conn = sqlite3.connect(location, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()


def set_issued(conn: Any, location: Location, gid: int) -> None:
    """Roll back the store's memory of the highest gid issued (sqlite_sequence / audit_meta)."""
    if isinstance(location, str):
        conn.execute("UPDATE audit_meta SET value = ? WHERE name = 'issued_gid'", (gid,))
    else:
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (gid,))


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
def db_path(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Location:
    """Where the test's audit store is: a file in a directory that does not exist yet, or a
    new empty database on the module's PostgreSQL server."""
    if store_kind == "sqlite":
        return tmp_path / "state" / "drconsole" / "audit.db"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def store(db_path: Location) -> Iterator[AuditStore]:
    """A fresh store on a real file or a real PostgreSQL database."""
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
