"""The audit database's tables, created with sqlite-utils, and the checks that a file is ours.

Three tables. ``events`` is the log itself: one global hash chain ordered by ``gid``, an
``AUTOINCREMENT`` key so that SQLite's own ``sqlite_sequence`` remembers the highest gid ever
issued (removing the newest events then leaves a trace ``verify`` finds). ``runs`` is a
projection of the events (one row per run, for fast listing); ``verify`` recomputes it from the
events, so editing it is detected too. ``locks`` holds the service locks.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from console.audit.model import Event, RunRecord, derive_status

SCHEMA_VERSION = 2
"""Stored in ``PRAGMA user_version``; bump it with a migration when the tables change.
2: the ``leases`` table (``console.audit.leases``), created on first use by a console that
records; a version-1 file is migrated by creating it."""

EVENT_COLUMNS = (
    "gid",
    "run_id",
    "seq",
    "ts",
    "kind",
    "operator",
    "host",
    "step_id",
    "data",
    "prev_hash",
    "hash",
)
"""The columns of ``events``, in the order the store reads and writes them."""

RUN_COLUMNS = (
    "run_id",
    "playbook_name",
    "playbook_kind",
    "playbook_title",
    "playbook_path",
    "playbook_digest",
    "inventory_name",
    "inventory_path",
    "inventory_digest",
    "mode",
    "operator",
    "services",
    "params",
    "objectives",
    "pid",
    "hostname",
    "started_at",
    "finished_at",
    "outcome",
    "finish_data",
)
"""The columns of ``runs``; ``services``, ``params``, ``objectives``, ``finish_data`` hold JSON."""

LOCK_COLUMNS = ("service", "run_id", "operator", "pid", "hostname", "since")
"""The columns of ``locks``."""

LEASES_SQL = """
CREATE TABLE IF NOT EXISTS leases (
    service TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    operator TEXT NOT NULL,
    hostname TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    released INTEGER NOT NULL DEFAULT 0
)
"""
"""The service leases (``console.audit.leases``); the same statement creates them in both
stores (``DOUBLE PRECISION``: a REAL would be single precision on PostgreSQL)."""

_EVENTS_SQL = """
CREATE TABLE IF NOT EXISTS events (
    gid INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    operator TEXT NOT NULL,
    host TEXT,
    step_id TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""


def create_schema(db: sqlite_utils.Database) -> None:
    """Create the tables and indexes if they are missing; must run inside a write transaction.

    Raises:
        sqlite3.DatabaseError: If the file is not a database or cannot be written.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"schema version {version} is newer than this drconsole understands "
            f"({SCHEMA_VERSION}); upgrade drconsole"
        )
    db.execute(_EVENTS_SQL)
    db.table("events").create_index(["run_id", "seq"], unique=True, if_not_exists=True)
    db.table("runs").create(
        {
            "run_id": str,
            "playbook_name": str,
            "playbook_kind": str,
            "playbook_title": str,
            "playbook_path": str,
            "playbook_digest": str,
            "inventory_name": str,
            "inventory_path": str,
            "inventory_digest": str,
            "mode": str,
            "operator": str,
            "services": str,
            "params": str,
            "objectives": str,
            "pid": int,
            "hostname": str,
            "started_at": str,
            "finished_at": str,
            "outcome": str,
            "finish_data": str,
        },
        pk="run_id",
        column_order=list(RUN_COLUMNS),
        not_null=[c for c in RUN_COLUMNS if c not in ("finished_at", "outcome")],
        if_not_exists=True,
    )
    db.table("runs").create_index(["started_at"], if_not_exists=True)
    db.table("runs").create_index(["playbook_name", "started_at"], if_not_exists=True)
    db.table("locks").create(
        {
            "service": str,
            "run_id": str,
            "operator": str,
            "pid": int,
            "hostname": str,
            "since": str,
        },
        pk="service",
        column_order=list(LOCK_COLUMNS),
        not_null=list(LOCK_COLUMNS),
        if_not_exists=True,
    )
    db.execute(LEASES_SQL)
    if version < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")


def check_schema(db: sqlite_utils.Database) -> str | None:
    """Why this database is not a drconsole audit database, or None if it is.

    Raises:
        sqlite3.DatabaseError: If the file is not an SQLite database at all.
    """
    names = set(db.table_names())
    missing = [t for t in ("events", "runs", "locks") if t not in names]
    if missing:
        return f"no {', '.join(missing)} table"
    for table, expected in (("events", EVENT_COLUMNS), ("runs", RUN_COLUMNS)):
        have = set(db.table(table).columns_dict)
        lacking = [c for c in expected if c not in have]
        if lacking:
            return f"table {table} lacks {', '.join(lacking)}"
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        return f"schema version {version} is newer than this drconsole ({SCHEMA_VERSION})"
    return None


def row_to_event(row: Sequence[Any]) -> Event:
    """An ``events`` row (columns in ``EVENT_COLUMNS`` order) as an ``Event``.

    Raises:
        ValueError: If the stored data is not a JSON object (the row was tampered with).
    """
    gid, run_id, seq, ts, kind, operator, host, step_id, data_text, prev_hash, hash_ = row
    try:
        data = json.loads(data_text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"its data is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("its data is not a JSON object")
    return Event(
        gid=gid,
        run_id=run_id,
        seq=seq,
        ts=ts,
        kind=kind,
        operator=operator,
        host=host,
        step_id=step_id,
        data=data,
        prev_hash=prev_hash,
        hash=hash_,
    )


EVENT_SELECT = "SELECT " + ", ".join(EVENT_COLUMNS) + " FROM events"  # noqa: S608 - constants
"""The start of every query that reads whole events."""

RUN_SELECT = "SELECT " + ", ".join(RUN_COLUMNS) + " FROM runs"  # noqa: S608 - constants
"""The start of every query that reads whole runs rows."""

RUN_INSERT = (
    "INSERT INTO runs ("  # noqa: S608 - constants
    + ", ".join(RUN_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" for _ in RUN_COLUMNS)
    + ")"
)
"""Insert a whole runs row, values in ``RUN_COLUMNS`` order."""
"""The start of every query that reads whole events."""


def row_to_record(row: dict[str, Any], this_host: str) -> RunRecord:
    """A runs row as a RunRecord, tolerating a row edited by hand (verify will flag it)."""
    pid = _int(row["pid"])
    hostname = _str(row["hostname"])
    outcome = None if row["outcome"] is None else _str(row["outcome"])
    return RunRecord(
        run_id=_str(row["run_id"]),
        playbook_name=_str(row["playbook_name"]),
        playbook_kind=_str(row["playbook_kind"]),
        playbook_title=_str(row["playbook_title"]),
        playbook_path=_str(row["playbook_path"]),
        playbook_digest=_str(row["playbook_digest"]),
        inventory_name=_str(row["inventory_name"]),
        inventory_path=_str(row["inventory_path"]),
        inventory_digest=_str(row["inventory_digest"]),
        mode=_str(row["mode"]),
        operator=_str(row["operator"]),
        services=tuple(str(s) for s in _json(row["services"], list)),
        params=_json(row["params"], dict),
        objectives=_json(row["objectives"], dict),
        pid=pid,
        hostname=hostname,
        started_at=_str(row["started_at"]),
        finished_at=None if row["finished_at"] is None else _str(row["finished_at"]),
        outcome=outcome,
        finish_data=_json(row["finish_data"], dict),
        status=derive_status(outcome, pid, hostname, this_host),
    )


def _json(text: Any, kind: type) -> Any:
    """A JSON column's value if it holds a ``kind`` (list or dict), else an empty one."""
    if isinstance(text, str) and text:
        try:
            value = json.loads(text)
        except ValueError:
            return kind()
        if isinstance(value, kind):
            return value
    return kind()


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _str(value: Any) -> str:
    return "" if value is None else str(value)
