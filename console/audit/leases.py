"""Service leases with fencing tokens: a lock that ends by itself, and a holder that knows it.

A run's lock on a service in the store (``console.audit.locks``) says who holds it; on a team
store shared by laptops nobody can ask another laptop whether its holder still lives. A lease
adds what a lock lacks: an **expiry on the database's own clock** (``clock_timestamp()`` on
PostgreSQL, the file's machine clock on SQLite), renewed by the run while it lives, and a
**fencing token**, a number no earlier lease of the store ever had (one more than the highest
ever issued: rows are never deleted, a released lease keeps its token). Every ``command_intent``
the run records carries its tokens, and is recorded only if, in the same write transaction
(serialised with every other console's writes), each of those leases is still the run's, with
that token, and has not expired. So a holder that was paused past its expiry (a laptop lid, a
``SIGSTOP``, a partition) and comes back finds its next intent refused (:class:`LeaseLost`,
the run stops, exit 3) and never sends the command, whether or not another run has taken the
service over in between: an expired lease is lost, not resumed. Another run may take a lease
(and the lock row with it) once it has expired or been released.

These functions run inside a write transaction that ``AuditStore`` opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from console.audit.sql import Conn
from console.errors import LockHeld, Stopped

DEFAULT_TTL = 60.0
"""Seconds a lease lasts unless renewed (the engine renews it every third of that)."""

NOW_SQL = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
}
"""The database's clock, in epoch seconds, per dialect."""

_COLUMNS = "service, run_id, operator, hostname, token, expires_at, released"


class LeaseLost(Stopped):
    """The run's lease on a service expired or passed to another run: it may not act (exit 3)."""


@dataclass(frozen=True)
class Lease:
    """A service lease as the store holds it."""

    service: str
    run_id: str
    operator: str
    hostname: str
    token: int
    """The fencing token: higher than every lease issued before it in this store."""
    expires_at: float
    """Epoch seconds on the database's clock."""
    released: bool = False

    def live(self, now: float) -> bool:
        """Held: not released and not expired at ``now`` (the database's clock)."""
        return not self.released and self.expires_at > now


def now(conn: Conn, dialect: str) -> float:
    """The database's clock now (epoch seconds)."""
    return float(conn.execute("SELECT " + NOW_SQL[dialect]).fetchone()[0])


def current(conn: Conn, service: str) -> Lease | None:
    """The lease row of ``service`` (live or not), or None when it never had one."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM leases WHERE service = ?",  # noqa: S608 - constant columns
        (service,),
    ).fetchone()
    if row is None:
        return None
    return Lease(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]), float(row[5]), bool(row[6])
    )


def take(
    conn: Conn,
    dialect: str,
    service: str,
    run_id: str,
    operator: str,
    hostname: str,
    ttl: float,
) -> tuple[Lease, Lease | None]:
    """Take the lease on ``service`` for ``run_id`` with a new token.

    Returns:
        The lease now held, and the previous holder's lease when another run's had expired
        (it is taken over: the caller records that).

    Raises:
        LockHeld: Another run's lease is live (the message says until when).
    """
    at = now(conn, dialect)
    before = current(conn, service)
    if before is not None and before.run_id != run_id and before.live(at):
        raise LockHeld(
            f"service {service} is leased to run {before.run_id} of {before.operator} (on "
            f"{before.hostname}) for {before.expires_at - at:.1f}s more (token {before.token})"
        )
    top = conn.execute("SELECT COALESCE(MAX(token), 0) FROM leases").fetchone()[0]
    token = int(top) + 1
    expires = at + ttl
    conn.execute(
        f"INSERT INTO leases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0) "  # noqa: S608
        "ON CONFLICT (service) DO UPDATE SET run_id = excluded.run_id, "
        "operator = excluded.operator, hostname = excluded.hostname, token = excluded.token, "
        "expires_at = excluded.expires_at, released = 0",
        (service, run_id, operator, hostname, token, expires),
    )
    taken_over = before if before is not None and before.run_id != run_id else None
    if taken_over is not None and taken_over.released:
        taken_over = None
    return Lease(service, run_id, operator, hostname, token, expires), taken_over


def renew(
    conn: Conn, dialect: str, fences: Mapping[str, int], run_id: str, ttl: float
) -> list[str]:
    """Push the expiry of each of the run's live leases to now + ``ttl``.

    Returns:
        The services whose lease is lost (expired, released, or another run's): not renewed.
    """
    lost = []
    clock = NOW_SQL[dialect]
    for service, token in fences.items():
        row = conn.execute(
            f"UPDATE leases SET expires_at = {clock} + ? "  # noqa: S608 - constant clock
            f"WHERE service = ? AND run_id = ? AND token = ? AND released = 0 "
            f"AND expires_at > {clock} RETURNING service",
            (ttl, service, run_id, token),
        ).fetchone()
        if row is None:
            lost.append(service)
    return lost


def check(conn: Conn, dialect: str, fences: Mapping[str, int], run_id: str) -> None:
    """Refuse an intent whose run no longer holds every one of its leases.

    Raises:
        LeaseLost: A lease expired, was released, or is another run's now (which, and how).
    """
    at = now(conn, dialect)
    for service, token in fences.items():
        lease = current(conn, service)
        if lease is None:
            raise LeaseLost(f"the lease on {service} (token {token}) is gone from the store")
        if lease.run_id != run_id or lease.token != token:
            raise LeaseLost(
                f"the lease on {service} (token {token}) expired and passed to run "
                f"{lease.run_id} of {lease.operator} (token {lease.token}): this run may not act"
            )
        if lease.released:
            raise LeaseLost(f"the lease on {service} (token {token}) was released")
        if lease.expires_at <= at:
            raise LeaseLost(
                f"the lease on {service} (token {token}) expired {at - lease.expires_at:.1f}s "
                "ago (the run was not renewing it): this run may not act"
            )


def release(conn: Conn, service: str, run_id: str, token: int) -> bool:
    """Release the run's lease on ``service`` (its row and token stay). True if it held it."""
    row = conn.execute(
        "UPDATE leases SET released = 1 WHERE service = ? AND run_id = ? AND token = ? "
        "RETURNING service",
        (service, run_id, token),
    ).fetchone()
    return row is not None


def live_leases(conn: Conn, dialect: str) -> tuple[float, list[Lease]]:
    """The database's clock and every live lease (who holds what now)."""
    at = now(conn, dialect)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM leases WHERE released = 0 ORDER BY service"  # noqa: S608
    ).fetchall()
    leases = [
        Lease(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), float(r[5]), bool(r[6]))
        for r in rows
    ]
    return at, [lease for lease in leases if lease.live(at)]
