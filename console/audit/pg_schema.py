"""The team store's tables on PostgreSQL: the SQLite schema's twin, and its version.

Same tables, same columns in the same order, so every query of the store runs on both:

* ``events``: the log, one global chain ordered by ``gid``;
* ``runs``: the projection ``verify`` recomputes; ``locks``: the service locks;
* ``audit_meta``: ``schema_version`` (what ``PRAGMA user_version`` is to the file) and
  ``issued_gid``, the highest gid ever stored, which every transaction that appends raises in
  its commit, as ``AUTOINCREMENT`` keeps ``sqlite_sequence``: removing the newest events
  leaves a trace ``verify`` finds. (A PostgreSQL sequence would not do: a rolled-back
  ``nextval`` leaves a gap that is no tampering; a trigger per row would rewrite the row once
  per event of a batch.)

Text that is sorted or compared by prefix is ``COLLATE "C"``, so a database created with any
locale orders run ids and timestamps as SQLite does, byte by byte.
"""

from __future__ import annotations

from typing import Any, Protocol

from console.audit.schema import EVENT_COLUMNS, LEASES_SQL, LOCK_COLUMNS, RUN_COLUMNS

PG_SCHEMA_VERSION = 2
"""Stored in ``audit_meta``; bump it with a migration when the tables change.
2: the ``leases`` table (``console.audit.leases``); a version-1 store is migrated by creating
it (every statement of ``_TABLES`` is idempotent)."""


class _Conn(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS audit_meta (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS events (
        gid BIGINT PRIMARY KEY,
        run_id TEXT COLLATE "C" NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL,
        operator TEXT NOT NULL,
        host TEXT,
        step_id TEXT,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_events_run_id_seq ON events (run_id, seq)",
    """
    CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT COLLATE "C" PRIMARY KEY,
        playbook_name TEXT COLLATE "C" NOT NULL,
        playbook_kind TEXT NOT NULL,
        playbook_title TEXT NOT NULL,
        playbook_path TEXT NOT NULL,
        playbook_digest TEXT NOT NULL,
        inventory_name TEXT NOT NULL,
        inventory_path TEXT NOT NULL,
        inventory_digest TEXT NOT NULL,
        mode TEXT NOT NULL,
        operator TEXT NOT NULL,
        services TEXT NOT NULL,
        params TEXT NOT NULL,
        objectives TEXT NOT NULL,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        started_at TEXT COLLATE "C" NOT NULL,
        finished_at TEXT COLLATE "C",
        outcome TEXT,
        finish_data TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS idx_runs_started_at ON runs (started_at)",
    "CREATE INDEX IF NOT EXISTS idx_runs_playbook_name_started_at ON runs "
    "(playbook_name, started_at)",
    """
    CREATE TABLE IF NOT EXISTS locks (
        service TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        operator TEXT NOT NULL,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        since TEXT NOT NULL
    )
    """,
    "INSERT INTO audit_meta (name, value) VALUES ('issued_gid', 0) ON CONFLICT DO NOTHING",
    LEASES_SQL,
)


def schema_version(conn: _Conn) -> int | None:
    """The stored schema version, or None when the database has no audit tables yet."""
    exists = conn.execute("SELECT to_regclass('audit_meta') IS NOT NULL").fetchone()[0]
    if not exists:
        return None
    row = conn.execute("SELECT value FROM audit_meta WHERE name = 'schema_version'").fetchone()
    return None if row is None else int(row[0])


def create_schema(conn: _Conn) -> str | None:
    """Create the tables when they are missing; inside a write transaction (it holds the
    store's advisory lock, so two consoles creating a new store at once do not race).

    Returns:
        Why the database cannot be used (a newer schema), or None.
    """
    version = schema_version(conn)
    if version is not None and version > PG_SCHEMA_VERSION:
        return _newer(version)
    if version == PG_SCHEMA_VERSION:
        return None
    for statement in _TABLES:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO audit_meta (name, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        (PG_SCHEMA_VERSION,),
    )
    return None


def _newer(version: int) -> str:
    return (
        f"schema version {version} is newer than this drconsole understands "
        f"({PG_SCHEMA_VERSION}); upgrade drconsole"
    )


def check_schema(conn: _Conn) -> str | None:
    """Why this database is not a drconsole team store: ``"missing"`` when it has no audit
    tables at all, another reason when they are not ours, or None when it is one."""
    version = schema_version(conn)
    if version is None:
        return "missing"
    if version > PG_SCHEMA_VERSION:
        return _newer(version)
    columns: dict[str, set[str]] = {}
    for table, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name IN ('events', 'runs', 'locks')"
    ).fetchall():
        columns.setdefault(str(table), set()).add(str(column))
    missing = [t for t in ("events", "runs", "locks") if t not in columns]
    if missing:
        return f"no {', '.join(missing)} table"
    for table, expected in (
        ("events", EVENT_COLUMNS),
        ("runs", RUN_COLUMNS),
        ("locks", LOCK_COLUMNS),
    ):
        lacking = [c for c in expected if c not in columns[table]]
        if lacking:
            return f"table {table} lacks {', '.join(lacking)}"
    return None


def issued_max(conn: _Conn) -> int:
    """The highest gid ever inserted (``sqlite_sequence``'s role)."""
    row = conn.execute("SELECT value FROM audit_meta WHERE name = 'issued_gid'").fetchone()
    return int(row[0]) if row else 0
