"""Service locks in the audit database: one run at a time per service, across processes.

A run locks every service it touches so that two operators on one jump box cannot fail the
same database over at once. The lock lives in the audit database because that file is already
shared by every console on the machine and already serialises writers: taking a lock is one
``BEGIN IMMEDIATE`` transaction that reads the holder and inserts, so it is atomic across
processes. (Consoles on different laptops exclude each other with a lock directory on the
service's primary host; that half belongs to the engine.)

These functions run inside a write transaction that ``AuditStore`` opens; they do no
transaction handling of their own.
"""

from __future__ import annotations

from console.audit.errors import NoSuchLock
from console.audit.model import LockInfo
from console.audit.schema import LOCK_COLUMNS
from console.audit.sql import Conn
from console.errors import LockHeld

_SELECT = "SELECT " + ", ".join(LOCK_COLUMNS) + " FROM locks WHERE service = ?"  # noqa: S608


def holder(conn: Conn, service: str) -> LockInfo | None:
    """Who holds the lock on ``service``, or None."""
    row = conn.execute(_SELECT, (service,)).fetchone()
    if row is None:
        return None
    return LockInfo(
        service=row[0], run_id=row[1], operator=row[2], pid=row[3], hostname=row[4], since=row[5]
    )


def acquire(
    conn: Conn,
    service: str,
    run_id: str,
    operator: str,
    *,
    pid: int,
    hostname: str,
    since: str,
) -> LockInfo:
    """Take the lock on ``service`` for ``run_id``.

    The run that already holds it may take it again: from the same process that is a no-op,
    and from a new process (``--resume`` after a crash) it takes the lock over, provided the
    old process is gone from this host.

    Returns:
        The lock as now held.

    Raises:
        LockHeld: Another run holds it (or the same run, still alive in another process); the
            message names operator, run id, pid, host and since when, and says "stale" if the
            holder's process is gone.
    """
    current = holder(conn, service)
    if current is not None:
        same_process = current.pid == pid and current.hostname == hostname
        if current.run_id == run_id and same_process:
            return current
        if current.run_id != run_id or current.liveness(hostname) != "stale":
            raise LockHeld(current.describe())
        conn.execute("DELETE FROM locks WHERE service = ?", (service,))
    conn.execute(
        "INSERT INTO locks (service, run_id, operator, pid, hostname, since) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (service, run_id, operator, pid, hostname, since),
    )
    return LockInfo(
        service=service, run_id=run_id, operator=operator, pid=pid, hostname=hostname, since=since
    )


def release(conn: Conn, service: str, run_id: str) -> bool:
    """Release ``service`` if ``run_id`` holds it; True if it did, False otherwise."""
    cursor = conn.execute(
        "DELETE FROM locks WHERE service = ? AND run_id = ? RETURNING service", (service, run_id)
    )
    return cursor.fetchone() is not None  # (a row back, not rowcount: a pipeline has none yet)


def break_(conn: Conn, service: str, by: str, *, hostname: str) -> LockInfo:
    """Remove the lock on ``service`` whoever holds it, unless its holder is alive here.

    Args:
        conn: A connection inside a write transaction.
        service: The locked service.
        by: Who breaks it (named in the refusal; the caller records the breaking).
        hostname: This machine's name.

    Returns:
        The lock that was removed, for the caller's ``lock_broken`` event.

    Raises:
        NoSuchLock: Nothing holds it.
        LockHeld: Its holder's process is alive on this host; stop that run instead.
    """
    current = holder(conn, service)
    if current is None:
        raise NoSuchLock(service)
    if current.liveness(hostname) == "alive":
        raise LockHeld(
            f"{current.describe()}; its process is alive, so {by} cannot break the lock: "
            "stop that run instead"
        )
    conn.execute("DELETE FROM locks WHERE service = ?", (service,))
    return current
