"""One SQLite connection to an audit database, and its transactions.

What the store's every operation stands on: opening (creating the schema and switching to WAL
when asked, retrying the switch while another console does the same), checking that the file
is an audit database, and the two kinds of transaction: a ``BEGIN IMMEDIATE`` write whose
durability is chosen per call (``synchronous=FULL`` for intents, ``NORMAL`` otherwise), and a
read that sees one snapshot. ``console.audit.store`` builds the log on it.

The same class opens a PostgreSQL team store when the location is a ``postgresql://`` URL:
then ``console.audit.pg.PgLink`` provides the two kinds of transaction, and the connection it
yields takes the same ``?`` statements (psycopg is imported only then).
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Self, TypeGuard
from urllib.parse import urlsplit, urlunsplit

import sqlite_utils

from console.audit.errors import AuditError, NoAuditDatabase, NotAnAuditDatabase
from console.audit.schema import check_schema, create_schema
from console.audit.sql import Conn
from console.errors import DrError

if TYPE_CHECKING:
    from console.audit.pg import PgLink

DEFAULT_BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another process's transaction before giving up."""


class Database:
    """A connection to one audit database file. Safe to share between threads of a process.

    Args:
        path: The database file (its parent directories are created if ``create``), or the
            ``postgresql://`` URL of a team store (a ``str``).
        create: Create the file and schema if missing (False: the file must exist and be an
            audit database; the read-only commands use this so they never create one).
        busy_timeout: Seconds to wait for another writer.

    Raises:
        NoAuditDatabase: ``create`` is False and the file does not exist.
        NotAnAuditDatabase: The file is not a drconsole audit database.
        AuditError: The file cannot be opened or written.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        create: bool = True,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.hostname = socket.gethostname()
        """This machine's name, recorded with runs and locks and used to judge liveness."""
        self._mutex = threading.RLock()
        self._synchronous: str | None = None
        self._pg: PgLink | None = None
        self.dialect = "sqlite"
        """``sqlite`` (a file) or ``postgresql`` (a team store)."""
        if is_store_url(path):
            from console.audit.pg import PgLink  # noqa: PLC0415 - psycopg only when used

            self._pg = PgLink(path, create=create)
            self.dialect = "postgresql"
            self.path: Path | str = self._pg.url
            """The database file, or the team store's URL (its password hidden)."""
            return
        self.path = Path(path)
        if not create and not Path(path).is_file():
            raise NoAuditDatabase(self.path)
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(f"{self.path}: cannot open the audit database: {exc}") from None
        self._db = sqlite_utils.Database(self._conn, execute_plugins=False)
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                self._open(create)
                break
            except sqlite3.OperationalError as exc:
                # Two consoles creating the same new file race for the switch to WAL, which
                # SQLite does not always retry on its own: retry it here, as a busy handler would.
                if _is_busy(exc) and time.monotonic() < deadline:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    time.sleep(0.02)
                    continue
                self._conn.close()
                if _is_busy(exc):
                    raise AuditError(
                        f"{self.path}: the audit database stays locked: {exc}"
                    ) from None
                raise NotAnAuditDatabase(self.path, str(exc)) from None
            except DrError:
                self._conn.close()
                raise
            except sqlite3.DatabaseError as exc:
                self._conn.close()
                raise NotAnAuditDatabase(self.path, str(exc)) from None

    def _open(self, create: bool) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {int(DEFAULT_BUSY_TIMEOUT * 1000):d}")
        if create:
            self._db.enable_wal()
            with self._write(durable=True):
                create_schema(self._db)
        problem = check_schema(self._db)
        if problem is not None:
            raise NotAnAuditDatabase(self.path, problem)
        self._set_synchronous("NORMAL")

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection. The store cannot be used afterwards."""
        with self._mutex:
            if self._pg is not None:
                self._pg.close()
            else:
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _set_synchronous(self, level: str) -> None:
        if self._synchronous != level:
            self._conn.execute(f"PRAGMA synchronous = {level}")
            self._synchronous = level

    @contextmanager
    def _write(self, *, durable: bool) -> Iterator[Conn]:
        """One ``BEGIN IMMEDIATE`` transaction, committed at the end, rolled back on error."""
        with self._mutex:
            if self._pg is not None:
                with self._pg.write(durable=durable) as pg_conn:
                    yield pg_conn
                return
            try:
                self._set_synchronous("FULL" if durable else "NORMAL")
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise AuditError(f"{self.path}: cannot write the audit log: {exc}") from None
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise AuditError(f"{self.path}: cannot commit to the audit log: {exc}") from None

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        """One read transaction: every query inside sees the same snapshot."""
        with self._mutex:
            if self._pg is not None:
                with self._pg.read() as pg_conn:
                    yield pg_conn
                return
            try:
                self._conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise AuditError(f"{self.path}: cannot read the audit log: {exc}") from None
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise AuditError(f"{self.path}: cannot read the audit log: {exc}") from None
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")


def is_store_url(location: object) -> TypeGuard[str]:
    """Whether an audit location names a PostgreSQL team store rather than a SQLite file."""
    if not isinstance(location, str):
        return False
    lowered = location[:14].lower()
    return lowered.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages and the audit log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
