"""The audit log on a shared PostgreSQL database (the team store), through psycopg 3.

The store's code is written once, against a connection whose ``execute(sql, params)`` takes
``?`` placeholders and returns a cursor (``sqlite3``'s shape). :class:`PgConn` gives a psycopg
connection that shape, so ``console.audit.store``, ``reading``, ``verify`` and ``locks`` run
unchanged on both; what differs lives here and in ``console.audit.pg_schema``:

* a write is ``BEGIN``, ``SET LOCAL synchronous_commit = off``, then
  ``pg_advisory_xact_lock``: every write of every console on the store is serialised, as
  ``BEGIN IMMEDIATE`` serialises them on the file, so the chain stays one line (no two events
  share a predecessor). An intent's transaction is followed by a second one committed with
  ``synchronous_commit = on``, which returns only once the WAL (the intent in it) is flushed,
  and on a server with a synchronous standby once that standby has it too: the flush waits
  outside the lock (``PgLink.write``). The rest may be lost in a crash as whole transactions
  at the end of the log, never corrupted;
* an append is one round trip: the server links the event to the end of the chain itself
  (``console.audit.store.CHAINED_INSERT``, a prepared statement), so the lock is held for
  the few statements of one message and never while a console computes;
* a read is one ``REPEATABLE READ READ ONLY`` transaction: one snapshot, like SQLite's;
* a lost connection (the server stopped, the network gone) is :class:`AuditStoreLost`, which
  the engine treats as "stop before the next command".
"""

from __future__ import annotations

import itertools
import re
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


_LOCK = b"SELECT pg_advisory_xact_lock(%d)" % WRITE_LOCK_KEY
_ASYNC = b"SET LOCAL synchronous_commit = off"
_SYNC = b"SET LOCAL synchronous_commit = on"
_ISSUE = (
    "UPDATE audit_meta SET value = GREATEST(value, (SELECT MAX(gid) FROM events)) "
    "WHERE name = 'issued_gid'"
)
"""Remember the highest gid ever issued (sent with the commit, in its round trip; prepared
once per connection like the insert: parsed and planned for every append it was a third of
the server's time per append, measured, ~95 of ~330 µs)."""
_FLUSH_RECORD = b"SELECT pg_logical_emit_message(true, 'drconsole', '')"
"""A tiny WAL record of the flush transaction's own (no table, no row, no lock): a transaction
that writes no WAL commits without flushing, whatever ``synchronous_commit`` says. Sent after
the write's ``COMMIT`` in the same message, it is a transaction by itself (the statements of
a message after its ``COMMIT`` form one implicit transaction, committed at the message's end)
with the session's ``synchronous_commit = on``: one statement, not four."""
_CAN_FLUSH = (
    b"SELECT has_function_privilege('pg_logical_emit_message(boolean, text, text)', 'EXECUTE')"
)


class PgConn:
    """A psycopg connection with ``sqlite3``'s placeholder style (``?``).

    Inside a write transaction (``PgLink.write``) it saves round trips: the statements that
    open the transaction are sent with its first query, and an event's ``INSERT`` (whose
    result nobody reads) waits to go with the next query or with the commit, all in one
    simple-protocol message (the values bound here, by psycopg's client-side quoting).
    """

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self._sql: dict[str, str] = {}
        self._quoting = psycopg.ClientCursor(raw)
        self.pending: list[bytes] = []
        """Statements of the open write transaction not sent yet (they go with the next)."""
        self._prepared: dict[str, str] = {}
        """The statements prepared on the server, by their text (``defer``)."""
        self._preparing: dict[str, str] = {}
        self._names = itertools.count(1)
        self._sinks: dict[int, list[Any]] = {}
        """Where the rows of pending statements go, by their index in ``pending``."""
        self.batching = False
        """Inside a write transaction: events' inserts wait in ``pending``."""
        self.inserted = False
        """Whether the transaction inserted events (the commit then records the highest gid
        issued, as ``sqlite_sequence`` does for the file)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement; ``?`` placeholders, values as in ``sqlite3``."""
        if not params:
            query = sql.encode()  # no placeholders: ``%`` stays literal
            return self.send(query) if self.pending else self.raw.execute(query)
        if sql.startswith("INSERT INTO events"):
            self.inserted = True
        converted = self._sql.get(sql)
        if converted is None:
            converted = sql.replace("%", "%%").replace("?", "%s")
            self._sql[sql] = converted
        if not self.batching:
            return self.raw.execute(converted.encode(), params)
        query = self._quoting.mogrify(converted, params).encode()
        if sql.startswith("INSERT INTO events ("):
            self.pending.append(query)
            return self._quoting
        return self.send(query)

    def defer(self, sql: str, params: Sequence[Any], *, rows: bool = True) -> list[Any]:
        """Queue a statement of the open write transaction (``?`` placeholders) to go with
        the next one or with the commit; the list returned receives its rows then (``rows``
        False: a statement that returns none, such as an ``UPDATE``).

        The statement is prepared on the server (once per connection, in the message that
        first uses it): its plan is made once, not for every event."""
        if not self.batching:
            raise RuntimeError("defer() outside a write transaction")
        if sql.startswith("INSERT INTO events"):
            self.inserted = True
        name = self._prepared.get(sql) or self._preparing.get(sql)
        if name is None:
            # a name never used before on this connection: a message that failed after its
            # PREPARE may have left that one behind
            name = f"drconsole_{next(self._names)}"
            numbered = iter(range(1, len(params) + 1))
            body = re.sub(r"\?", lambda _: f"${next(numbered)}", sql)
            self.pending.append(f"PREPARE {name} AS {body}".encode())
            self._preparing[sql] = name
        sink: list[Any] = []
        if rows:
            self._sinks[len(self.pending)] = sink
        if params:
            placeholders = ", ".join(["%s"] * len(params))
            call = self._quoting.mogrify(f"EXECUTE {name}({placeholders})", params)
            self.pending.append(call.encode())
        else:
            self.pending.append(f"EXECUTE {name}".encode())
        return sink

    def send(self, query: bytes) -> psycopg.Cursor[Any]:
        """Send the pending statements and ``query`` in one message; the cursor holds the
        result of ``query``, the lists ``defer`` returned the rows of theirs."""
        sinks, preparing = self._sinks, self._preparing
        self._sinks, self._preparing = {}, {}
        cursor = self.raw.execute(b"; ".join([*self.pending, query]))
        self.pending.clear()
        self._prepared.update(preparing)
        index = 0
        while True:
            if index in sinks:
                sinks[index].extend(cursor.fetchall())
            if not cursor.nextset():
                return cursor
            index += 1

    def clear(self) -> None:
        """Forget what was not sent (the transaction is over)."""
        self.pending.clear()
        self._sinks, self._preparing = {}, {}


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
        self.flush_apart = False
        """Whether durable writes are flushed by a transaction of their own (``write``)."""
        try:
            can_flush = raw.execute(_CAN_FLUSH).fetchone()
            self.flush_apart = can_flush is not None and bool(can_flush[0])
            # on for the session whatever the server's or the role's default: a write's own
            # transaction sets it off (``write``); what it leaves on is the flush
            raw.execute(
                b"SET idle_in_transaction_session_timeout = %d; SET synchronous_commit = on"
                % int(STUCK_WRITER_TIMEOUT * 1000)
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
        """One serialised write transaction, committed at the end, rolled back on error.

        Two round trips for an append: ``BEGIN``, the commit level and the lock travel with
        the transaction's first query, the insert with the commit (``PgConn``). A durable
        write is committed with ``synchronous_commit = off`` (the lock is released once the
        commit is in the WAL, not once it is on disk) and then, in the same message, flushed
        by a second transaction with ``synchronous_commit = on`` that writes one WAL record:
        its commit returns once the WAL up to it is flushed (and on a synchronous standby),
        which takes the first transaction with it, WAL being one sequence. So the intent is
        durable when this returns, as before, but its flush happens outside the store's lock,
        and the flushes of several consoles become one (PostgreSQL's group commit) instead of
        one after another. Without the right to call ``pg_logical_emit_message`` the commit
        itself is synchronous, under the lock.
        """
        conn = self.conn
        flush_after = durable and self.flush_apart
        conn.inserted = False
        conn.pending[:] = [b"BEGIN", _SYNC if durable and not flush_after else _ASYNC, _LOCK]
        conn.batching = True
        try:
            yield conn
            if conn.inserted:
                conn.defer(_ISSUE, (), rows=False)
            end = [b"COMMIT"]
            if flush_after:
                end.append(_FLUSH_RECORD)
            conn.send(b"; ".join(end))
        except psycopg.Error as exc:
            self._rollback()
            raise self._fail("write the audit log", exc) from None
        except BaseException:
            self._rollback()
            raise
        finally:
            conn.batching = False
            conn.clear()

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
