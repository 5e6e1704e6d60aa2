"""The audit log on a shared PostgreSQL database (the team store), through psycopg 3.

The store's code is written once, against a connection whose ``execute(sql, params)`` takes
``?`` placeholders and returns a cursor (``sqlite3``'s shape). :class:`PgConn` gives a psycopg
connection that shape, so ``console.audit.store``, ``reading``, ``verify`` and ``locks`` run
unchanged on both; what differs lives here and in ``console.audit.pg_schema``:

* a write is ``BEGIN``, ``SET LOCAL synchronous_commit`` (``on`` for intents: the commit
  returns only once the WAL is flushed, and on a server with a synchronous standby once that
  standby has it too; ``off`` for the rest, which may then be lost in a crash as a whole
  transaction but never corrupted), then ``pg_advisory_xact_lock``: every write of every
  console on the store is serialised, as ``BEGIN IMMEDIATE`` serialises them on the file, so
  the chain stays one line (no two events share a predecessor);
* a read is one ``REPEATABLE READ READ ONLY`` transaction: one snapshot, like SQLite's;
* a lost connection (the server stopped, the network gone) is :class:`AuditStoreLost`, which
  the engine treats as "stop before the next command".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg

from console.audit.database import redact
from console.audit.errors import (
    AuditError,
    AuditStoreLost,
    AuditStoreUnreachable,
    NoAuditDatabase,
    NotAnAuditDatabase,
)
from console.audit.pg_schema import check_schema, create_schema

WRITE_LOCK_KEY = 0x64726373  # "drcs"
"""The advisory lock every write transaction takes (one key per database)."""

CONNECT_TIMEOUT = 10
"""Seconds to wait for the server when connecting."""

STUCK_WRITER_TIMEOUT = 30.0
"""Seconds a session may sit idle inside a transaction before the server ends it
(``idle_in_transaction_session_timeout``): a console paused or stuck in the middle of a write
(a closed laptop lid, SIGSTOP) would otherwise hold the store's write lock, and every other
console's writes would wait for it. A console's own transactions never idle: they are a few
statements sent back to back."""


_BEGIN = b"BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_advisory_xact_lock(%d)" % (
    WRITE_LOCK_KEY
)
_BEGIN_DURABLE = _BEGIN.replace(b"= off", b"= on")
_ISSUE_AND_COMMIT = (
    b"UPDATE audit_meta SET value = GREATEST(value, (SELECT MAX(gid) FROM events)) "
    b"WHERE name = 'issued_gid'; COMMIT"
)
"""Remember the highest gid ever issued, then commit: one round trip."""


class PgConn:
    """A psycopg connection with ``sqlite3``'s placeholder style (``?``)."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self._sql: dict[str, str] = {}
        self.inserted = False
        """Whether the transaction inserted events (the commit then records the highest gid
        issued, as ``sqlite_sequence`` does for the file)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement; ``?`` placeholders, values as in ``sqlite3``."""
        if not params:
            return self.raw.execute(sql.encode())  # no placeholders: ``%`` stays literal
        if sql.startswith("INSERT INTO events"):
            self.inserted = True
        converted = self._sql.get(sql)
        if converted is None:
            converted = sql.replace("%", "%%").replace("?", "%s")
            self._sql[sql] = converted
        return self.raw.execute(converted.encode(), params)


class PgLink:
    """The one connection of an ``AuditStore`` to a PostgreSQL team store.

    Args:
        url: ``postgresql://user[:password]@host[:port]/dbname[?options]``.
        create: Create the schema when it is missing (False: it must be there).

    Raises:
        AuditError: The server cannot be reached (the reason is in the message).
        NoAuditDatabase: ``create`` is False and the database has no audit schema.
        NotAnAuditDatabase: The schema is not ours, or newer than this drconsole.
    """

    def __init__(self, url: str, *, create: bool) -> None:
        self.url = redact(url)
        try:
            raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            raise AuditStoreUnreachable(
                f"{self.url}: cannot reach the audit store: {_first_line(exc)}"
            ) from None
        self.conn = PgConn(raw)
        try:
            raw.execute(
                b"SET idle_in_transaction_session_timeout = %d" % int(STUCK_WRITER_TIMEOUT * 1000)
            )
            if create:
                with self.write(durable=True) as conn:
                    create_schema(conn)
            with self.read() as conn:
                problem = check_schema(conn)
        except BaseException:
            raw.close()
            raise
        if problem == "missing":
            raw.close()
            raise NoAuditDatabase(self.url)
        if problem is not None:
            raw.close()
            raise NotAnAuditDatabase(self.url, problem)

    def close(self) -> None:
        self.conn.raw.close()

    def _fail(self, action: str, exc: psycopg.Error) -> AuditError:
        """``action`` is what could not be done ("write the audit log")."""
        raw = self.conn.raw
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if raw.closed or raw.broken or sqlstate[:2] in ("08", "57"):
            return AuditStoreLost(
                f"{self.url}: the audit store was lost (could not {action}): {_first_line(exc)}"
            )
        return AuditError(f"{self.url}: cannot {action}: {_first_line(exc)}")

    def _rollback(self) -> None:
        raw = self.conn.raw
        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with suppress(psycopg.Error):
                raw.execute(b"ROLLBACK")

    @contextmanager
    def write(self, *, durable: bool) -> Iterator[PgConn]:
        """One serialised write transaction, committed at the end, rolled back on error."""
        raw = self.conn.raw
        self.conn.inserted = False
        try:
            raw.execute(_BEGIN_DURABLE if durable else _BEGIN)  # one round trip
        except psycopg.Error as exc:
            self._rollback()
            raise self._fail("write the audit log", exc) from None
        try:
            yield self.conn
        except psycopg.Error as exc:
            self._rollback()
            raise self._fail("write the audit log", exc) from None
        except BaseException:
            self._rollback()
            raise
        try:
            raw.execute(_ISSUE_AND_COMMIT if self.conn.inserted else b"COMMIT")
        except psycopg.Error as exc:
            self._rollback()
            raise self._fail("commit to the audit log", exc) from None

    @contextmanager
    def read(self) -> Iterator[PgConn]:
        """One read-only transaction on one snapshot."""
        raw = self.conn.raw
        try:
            raw.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.Error as exc:
            self._rollback()
            raise self._fail("read the audit log", exc) from None
        try:
            yield self.conn
        except psycopg.Error as exc:
            raise self._fail("read the audit log", exc) from None
        finally:
            self._rollback()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
