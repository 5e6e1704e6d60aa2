"""The shape of connection the store's SQL is written against, for both stores.

``sqlite3.Connection`` has it; ``console.audit.pg.PgConn`` gives a psycopg connection the same
shape (``?`` placeholders, rows as tuples). The few statements that differ between the two ask
``dialect_of``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class Cursor(Protocol):
    """What the store uses of a cursor."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What the store uses of a connection: one method."""

    def execute(self, sql: str, params: Any = ..., /) -> Cursor: ...


def dialect_of(conn: Conn) -> str:
    """``postgresql`` for a team store's connection, ``sqlite`` for a file's."""
    return str(getattr(conn, "dialect", "sqlite"))
