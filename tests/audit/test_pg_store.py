"""What only the PostgreSQL team store has: its schema and version, how it is opened and
refused, the durability of each commit, and an event hashing the same as in a SQLite file.

The rest of the store's behaviour is checked on both stores by the parametrised suite (the
other modules of tests/audit); these tests are the PostgreSQL half of the few that are about
one store's mechanics.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from console.audit import AuditStore, NoAuditDatabase, NotAnAuditDatabase
from console.audit.errors import AuditError, AuditStoreUnreachable
from console.audit.pg_schema import PG_SCHEMA_VERSION
from console.cli import main
from tests.audit.conftest import raw_sql, run_start
from tests.support.pgserver import PgServer


@pytest.fixture
def url(pg_server: PgServer) -> str:
    """A new empty database on the module's server."""
    return pg_server.new_database()


def _tables(url: str) -> set[str]:
    with raw_sql(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_first_use_creates_the_schema_with_its_version(url: str) -> None:
    assert _tables(url) == set()
    with AuditStore(url) as store:
        assert store.dialect == "postgresql"
        assert store.path == url
    assert {"events", "runs", "locks", "audit_meta"} <= _tables(url)
    with raw_sql(url) as conn:
        meta = dict(conn.execute("SELECT name, value FROM audit_meta").fetchall())
    assert meta == {"schema_version": PG_SCHEMA_VERSION, "issued_gid": 0}


def test_read_only_open_of_an_empty_database_creates_nothing(url: str) -> None:
    with pytest.raises(NoAuditDatabase, match="no audit database here"):
        AuditStore(url, create=False)
    assert _tables(url) == set()
    assert main(["--audit", url, "audit", "list"]) == 2
    assert _tables(url) == set()


def test_a_newer_schema_is_refused_with_exit_2(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    AuditStore(url).close()
    with raw_sql(url) as conn:
        conn.execute("UPDATE audit_meta SET value = 99 WHERE name = 'schema_version'")
    for create in (True, False):
        with pytest.raises(NotAnAuditDatabase, match="schema version 99 is newer"):
            AuditStore(url, create=create)
    assert main(["--audit", url, "audit", "verify"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"{url}: not a drconsole audit database (schema version 99 is newer than this "
        f"drconsole understands ({PG_SCHEMA_VERSION}); upgrade drconsole)"
    )


def test_someone_elses_events_table_is_not_taken_for_ours(url: str) -> None:
    with raw_sql(url) as conn:
        conn.execute("CREATE TABLE audit_meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)")
        conn.execute("INSERT INTO audit_meta VALUES ('schema_version', 1)")
        conn.execute("CREATE TABLE events (id SERIAL PRIMARY KEY, payload TEXT)")
    with pytest.raises(NotAnAuditDatabase, match="no runs, locks table"):
        AuditStore(url, create=False)


def test_an_unreachable_store_is_exit_2_with_the_reason(
    pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"postgresql://drill:s3cret@127.0.0.1:{_closed_port()}/audit"
    with pytest.raises(AuditStoreUnreachable) as refused:
        AuditStore(closed)
    message = str(refused.value)
    assert "cannot reach the audit store" in message and "Connection refused" in message
    assert "s3cret" not in message and "drill:***@127.0.0.1" in message
    no_db = pg_server.url("no_such_database")
    for argv in (["audit", "list"], ["report", "--latest"]):
        assert main(["--audit", no_db, *argv]) == 2
        err = capsys.readouterr().err
        assert 'database "no_such_database" does not exist' in err
        assert "Traceback" not in err


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns


class _Tracer:
    """Records every statement the store's connection sends (psycopg has no trace hook)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.statements: list[str] = []
        self._execute = raw.execute

    def __enter__(self) -> list[str]:
        def execute(query: Any, *args: Any, **kwargs: Any) -> Any:
            text = query.decode() if isinstance(query, bytes) else str(query)
            self.statements.append(text)
            return self._execute(query, *args, **kwargs)

        self.raw.execute = execute  # type: ignore[method-assign]
        return self.statements

    def __exit__(self, *exc: object) -> None:
        del self.raw.execute


@pytest.fixture
def pg_store(url: str) -> Iterator[AuditStore]:
    with AuditStore(url) as store:
        yield store


def test_intents_are_flushed_with_synchronous_commit_on_and_writes_are_serialised(
    pg_store: AuditStore,
) -> None:
    """Each append is one message: its transaction takes the write lock before inserting and
    commits with ``off``; an intent's is followed by a transaction committed with ``on`` that
    writes a WAL record (so its commit waits for the flush, which takes the intent with it):
    the message's last statement, an implicit transaction of its own, under the session's
    ``synchronous_commit = on``."""
    run = run_start()
    pg_store.create_run(run)
    assert pg_store._pg is not None and pg_store._pg.flush_apart
    with _Tracer(pg_store._pg.conn.raw) as trace:
        pg_store.append(run.run_id, "note", {}, operator="o")
        pg_store.append(run.run_id, "command_intent", {"command": "x"}, operator="o", durable=True)
        pg_store.append(run.run_id, "output", {"lines": []}, operator="o")
    assert len(trace) == 3, "one round trip per append"
    level, locked, wrote_wal, commits, inserts = "?", False, False, [], 0
    session = pg_store._pg.conn.raw.execute("SHOW synchronous_commit").fetchone()
    assert session is not None and session[0] == "on"
    statements = []
    for text in trace:
        parts = [part.strip() for part in text.split(";") if part.strip()]
        # the statements after the message's last COMMIT are an implicit transaction,
        # committed at the end of the message with the session's level
        implicit = parts[len(parts) - parts[::-1].index("COMMIT") :]
        statements += parts if not implicit else [*parts, "END OF MESSAGE"]
    # what each name stands for, as the session's server holds it (some were prepared by
    # create_run, before the trace)
    prepared = {
        name: text.split(" AS ", 1)[1]
        for name, text in pg_store._pg.conn.raw.execute(
            "SELECT name, statement FROM pg_prepared_statements"
        ).fetchall()
    }
    in_block, issued = False, 0
    for statement in statements:
        if statement == "BEGIN":
            level, locked, wrote_wal, in_block = "?", False, False, True
        if statement == "COMMIT":
            in_block = False
        if not in_block and statement.startswith("SELECT pg_logical_emit_message(true,"):
            level, locked, wrote_wal = "on (session)", False, False
        if statement == "END OF MESSAGE":
            commits.append((level, wrote_wal))
        if statement.startswith("SET LOCAL synchronous_commit"):
            level = statement.rsplit("=", 1)[1].strip()
        if statement.startswith("SELECT pg_advisory_xact_lock("):
            locked = True
        if statement.startswith("EXECUTE drconsole_"):
            body = prepared[statement.removeprefix("EXECUTE ").split("(", 1)[0]]
            assert locked, f"{body[:30]}... without the store's write lock"
            if body.startswith("INSERT INTO events"):
                inserts += 1
            else:  # the highest gid issued, raised in the same locked transaction
                assert body.startswith("UPDATE audit_meta SET value = GREATEST("), body
                issued += 1
            wrote_wal = True
        if statement.startswith("SELECT pg_logical_emit_message(true,"):
            wrote_wal = True
        if statement == "COMMIT":
            commits.append((level, wrote_wal))
    assert inserts == 3 and issued == 3
    assert len(prepared) == 2, "the insert and the gid's record, each prepared once"
    assert commits == [("off", True), ("off", True), ("on (session)", True), ("off", True)]


def test_a_durable_append_is_in_the_flushed_wal_when_it_returns(
    pg_store: AuditStore, url: str
) -> None:
    """The intent's commit record is in the WAL up to the server's flush position read right
    after ``append`` returned (``pg_walinspect`` reads only flushed WAL); the event committed
    asynchronously, so without the flush transaction it would be there only once the WAL
    writer got to it."""
    run = run_start()
    pg_store.create_run(run)
    with raw_sql(url) as observer:
        observer.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        for _ in range(5):
            start = observer.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
            event = pg_store.append(
                run.run_id, "command_intent", {"command": "x"}, operator="o", durable=True
            )
            flushed = observer.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
            xid = observer.execute(
                "SELECT xmin::text FROM events WHERE gid = ?", (event.gid,)
            ).fetchone()[0]
            commit = observer.execute(
                "SELECT end_lsn FROM pg_get_wal_records_info(?, ?) "
                "WHERE xid::text = ? AND record_type = 'COMMIT'",
                (start, flushed, xid),
            ).fetchall()
            assert len(commit) == 1, f"the intent's commit (xid {xid}) was not flushed"


def test_an_event_hashes_the_same_in_both_stores(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same run, same events, same clock: the two stores hold byte-identical chains."""
    clock = iter(f"2026-12-03T10:00:{s:02d}.000000Z" for s in range(60))
    monkeypatch.setattr("console.audit.store.utc_now_ts", lambda: next(clock))
    run = run_start(run_id="01JTEAMSTORE0000000000000A", pid=4242, hostname="jump1")

    def record(store: AuditStore) -> list[tuple[Any, ...]]:
        store.create_run(run)
        store.append(run.run_id, "note", {"text": "é ünïcode ✓", "n": 1.5}, operator="o")
        store.append(
            run.run_id,
            "command_intent",
            {"command": "pg_ctl promote", "attempt": 1},
            operator="o",
            host="db-west-1",
            step_id="promote",
            durable=True,
        )
        store.finish_run(run.run_id, "succeeded", {"exit_code": 0})
        return [(e.gid, e.seq, e.ts, e.prev_hash, e.hash) for e in store.events(run.run_id)]

    with AuditStore(tmp_path / "audit.db") as lite:
        in_sqlite = record(lite)
        sqlite_final = lite.verify().final_hash
    clock = iter(f"2026-12-03T10:00:{s:02d}.000000Z" for s in range(60))
    with AuditStore(url) as team:
        in_pg = record(team)
        pg_final = team.verify().final_hash
    assert in_pg == in_sqlite
    assert pg_final == sqlite_final == in_sqlite[-1][-1]


def test_the_password_never_reaches_the_output(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    AuditStore(url).close()
    with_password = url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")
    assert main(["--audit", with_password, "audit", "list"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert out.strip() == f"no runs recorded in {url.replace('postgres@', 'postgres:***@')}"


def test_an_append_that_failed_after_preparing_its_statement_leaves_the_next_working(
    pg_store: AuditStore, url: str
) -> None:
    """The first append of a connection prepares its statement in the same message; when a
    later statement of that message fails, the next append still works (a fresh name)."""
    run = run_start()
    pg_store.create_run(run)
    with raw_sql(url) as conn:
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    with pytest.raises(AuditError, match="refused by the test"):
        pg_store.append(run.run_id, "note", {"n": 1}, operator="o")
    with raw_sql(url) as conn:
        conn.execute("DROP TRIGGER refuse ON events")
    event = pg_store.append(run.run_id, "note", {"n": 2}, operator="o")
    assert (event.seq, event.data) == (2, {"n": 2})
    assert pg_store.verify().ok
