"""The audit store: an append-only, hash-chained log of runs in one SQLite file.

One ``AuditStore`` per process, each with its own connection; several processes (two consoles,
a cron run) may write the same file at once. Every append is one ``BEGIN IMMEDIATE``
transaction (read the chain's last hash, insert, commit), so the global chain stays a single
line however writers interleave, and a process killed at any instant leaves either the whole
event or none of it. The database is in WAL mode; an append that records an intent ("about to
run X on H") is committed with ``synchronous=FULL`` so it is on disk before the command is
sent, the rest with ``NORMAL`` (durable at the next checkpoint, never corrupt).

sqlite-utils creates the schema and serves the simple queries; the transactional writes are
plain ``sqlite3`` because their exact statements are the point.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from console.audit import leases, locks
from console.audit.chain import (
    GENESIS_HASH,
    canonical_json,
    event_hash,
    hash_parts,
    normalize_data,
)
from console.audit.errors import AuditError, UnknownRun
from console.audit.leases import Lease
from console.audit.model import (
    MODES,
    RUN_OUTCOMES,
    Event,
    EventDraft,
    LockInfo,
    RunRecord,
    RunStart,
    derive_status,
    ts_seconds,
    utc_now_ts,
)
from console.audit.projection import RunRow, apply_event, run_created
from console.audit.reading import LogReader
from console.audit.schema import (
    RUN_COLUMNS,
    RUN_INSERT,
    row_to_record,
)
from console.audit.sql import Conn, dialect_of
from console.errors import LockHeld
from console.events import Event as TypedEvent
from console.events import InventoryRef, PlaybookRef, RunFinished, RunImported

if TYPE_CHECKING:
    from console.audit.pg import PgConn

E = TypeVar("E", bound=TypedEvent)

_HEAD = (
    "SELECT (SELECT gid FROM events ORDER BY gid DESC LIMIT 1), "
    "(SELECT hash FROM events ORDER BY gid DESC LIMIT 1), "
    "(SELECT MAX(seq) FROM events WHERE run_id = ?), "
    "(SELECT 1 FROM runs WHERE run_id = ?)"
)
"""The end of the chain, the run's last seq and whether it has a runs row, in one query."""

CHAINED_INSERT = (
    "INSERT INTO events (gid, run_id, seq, ts, kind, operator, host, step_id, data, prev_hash, "
    """hash)
SELECT h.gid, ?, s.seq, ?, ?, ?, ?, ?, ?, h.prev, encode(sha256(convert_to(
    ? || h.gid::text || ? || h.prev || ? || s.seq::text || ?, 'UTF8')), 'hex')
FROM (SELECT COALESCE((SELECT gid FROM events ORDER BY gid DESC LIMIT 1), 0) + 1 AS gid,
             COALESCE((SELECT hash FROM events ORDER BY gid DESC LIMIT 1), ?) AS prev) h,
     (SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM events WHERE run_id = ?) s
WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = ?)"""
)
"""An event linked to the end of the chain by the server, in the statement that inserts it:
the end of the chain and the run's next seq are read after the write lock is taken (the
statement's snapshot is), and the hash is SHA-256 over the canonical parts the console sent
(``console.audit.chain.hash_parts``) with those three values put in. No row is inserted for
an unknown run (nor when a fence condition added after it fails). ``RETURNING`` follows."""

_PG_NOW = leases.NOW_SQL["postgresql"]
FENCE_CONDITION = (
    " AND EXISTS (SELECT 1 FROM leases WHERE service = ? AND run_id = ? AND token = ? "  # noqa: S608
    f"AND released = 0 AND expires_at > {_PG_NOW})"
)
"""One more condition of ``CHAINED_INSERT`` per lease the event is fenced by (the one of
``console.audit.leases.check``, which then says why when the event was not inserted)."""


LIFECYCLE_KINDS = frozenset({"run_started", "run_resumed", "run_finished", "run_imported"})
"""Kinds only the store's own methods append: they change the ``runs`` row, or (for
``run_imported``) vouch for events the store imported."""


class AuditStore(LogReader):
    """The audit log of one database file. Safe to share between threads of one process.

    The connection and its transactions are ``console.audit.database.Database``'s (its
    arguments and errors too), the reads ``console.audit.reading.LogReader``'s; this class
    writes.
    """

    def _append_in(
        self, conn: Conn, run_id: str, draft: EventDraft, *, new_run: bool = False
    ) -> Event:
        """Append one event inside an open write transaction (``new_run``: the run's first)."""
        if not isinstance(draft.kind, str) or not draft.kind:
            raise ValueError("an event needs a kind")
        if not isinstance(draft.operator, str) or not draft.operator:
            raise ValueError("an event needs an operator")
        data = normalize_data(draft.data)
        # one query for everything the append needs to know (one round trip to a team store)
        last_gid, last_hash, top_seq, has_row = conn.execute(_HEAD, (run_id, run_id)).fetchone()
        if new_run:
            if top_seq is not None:
                raise ValueError(f"run {run_id} has events already")
        elif has_row is None:
            raise UnknownRun(run_id)
        fields: dict[str, Any] = {
            "run_id": run_id,
            "seq": (top_seq or 0) + 1,
            "ts": self._now(),
            "kind": draft.kind,
            "operator": draft.operator,
            "host": draft.host,
            "step_id": draft.step_id,
            "data": data,
        }
        return self._chain_in(conn, fields, (last_gid, last_hash))

    def _now(self) -> str:
        """The timestamp of the next event (a seam for the fallback store, which must give an
        event it re-writes the time it was first given)."""
        return utc_now_ts()

    def _chain_in(
        self, conn: Conn, fields: dict[str, Any], last: tuple[Any, Any] | None = None
    ) -> Event:
        """Link an event (every hashed field but ``gid``) to the end of the chain and insert it
        (``last``: the chain's last gid and hash, when the caller has just read them)."""
        if last is None:
            last = conn.execute("SELECT gid, hash FROM events ORDER BY gid DESC LIMIT 1").fetchone()
        gid, prev_hash = (
            (last[0] + 1, last[1]) if last and last[0] is not None else (1, GENESIS_HASH)
        )
        fields = {"gid": gid, **fields}
        data = fields["data"]
        digest = event_hash(prev_hash, fields)
        conn.execute(
            "INSERT INTO events (gid, run_id, seq, ts, kind, operator, host, step_id, data, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                gid,
                fields["run_id"],
                fields["seq"],
                fields["ts"],
                fields["kind"],
                fields["operator"],
                fields["host"],
                fields["step_id"],
                canonical_json(data),
                prev_hash,
                digest,
            ),
        )
        return Event(**fields, prev_hash=prev_hash, hash=digest)

    def import_events(self, events: Sequence[Event], *, durable: bool = True) -> list[Event]:
        """Append events recorded in another store, in one transaction, keeping every field
        but their place in the chain: same run, seq, time, kind, operator, host, step, data;
        a new gid, prev_hash and hash here (``audit push``, the fallback's copy).

        Each must continue its run (its seq is one more than the run's last here; only a
        ``run_started`` begins a run this store does not have), and the runs row follows the
        lifecycle events as it does for appended ones.

        Returns:
            The events as stored here.

        Raises:
            ValueError: An event does not continue its run here.
        """
        with self._write(durable=durable) as conn:
            return self._import_in(conn, events)

    def _import_in(self, conn: Conn, events: Sequence[Event]) -> list[Event]:
        stored: list[Event] = []
        for event in events:
            row = self._row(conn, event.run_id)
            top = conn.execute(
                "SELECT MAX(seq) FROM events WHERE run_id = ?", (event.run_id,)
            ).fetchone()[0]
            expected = (top or 0) + 1
            if event.seq != expected:
                raise ValueError(
                    f"run {event.run_id}: event seq {event.seq} does not continue the run "
                    f"here (its next seq is {expected})"
                )
            if row is None and event.kind != "run_started":
                raise ValueError(f"run {event.run_id} does not begin with run_started")
            fields = event.hashed_fields()
            del fields["gid"]
            new = self._chain_in(conn, fields)
            new_row = apply_event(row, new)
            if row is None and new_row is not None:
                self._insert_row(conn, new_row)
            elif new_row is not row and new_row is not None:
                self._put_row(conn, new_row)
            stored.append(new)
        return stored

    def push_run(
        self, events: Sequence[Event], imported: RunImported, *, operator: str
    ) -> list[Event]:
        """Import a run's events from another store and record where they came from
        (``imported``, appended after them), all in one durable transaction.

        Raises as ``import_events``.
        """
        if not events:
            raise ValueError("nothing to push")
        with self._write(durable=True) as conn:
            stored = self._import_in(conn, events)
            stored.append(
                self._append_in(
                    conn,
                    events[0].run_id,
                    EventDraft(kind=imported.kind, data=imported.data(), operator=operator),
                )
            )
        return stored

    def _put_row(self, conn: Conn, row: RunRow) -> None:
        assignments = ", ".join(f"{c} = ?" for c in RUN_COLUMNS[1:])
        conn.execute(
            f"UPDATE runs SET {assignments} WHERE run_id = ?",  # noqa: S608 - constant columns
            [row[c] for c in RUN_COLUMNS[1:]] + [row["run_id"]],
        )

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, run: RunStart) -> Event:
        """Insert the run's row and append its ``run_started`` event (durably).

        Returns:
            The ``run_started`` event.

        Raises:
            ValueError: The run id exists already, or the mode is not drill/incident.
        """
        if not run.run_id:
            raise ValueError("a run needs an id")
        if run.mode not in MODES:
            raise ValueError(f"mode must be drill or incident, not {run.mode!r}")
        data = run_created(
            playbook=PlaybookRef(
                name=run.playbook_name,
                kind=run.playbook_kind,
                title=run.playbook_title,
                path=str(run.playbook_path),
                digest=run.playbook_digest,
            ),
            inventory=InventoryRef(
                name=run.inventory_name,
                path=str(run.inventory_path),
                digest=run.inventory_digest,
            ),
            mode=run.mode,
            params=dict(run.params),
            objectives=dict(run.objectives),
            services=tuple(run.services),
            pid=run.pid,
            hostname=run.hostname,
        ).data()
        with self._write(durable=True) as conn:
            if self._row(conn, run.run_id) is not None:
                raise ValueError(f"run {run.run_id} exists already")
            event = self._append_in(
                conn,
                run.run_id,
                EventDraft(kind="run_started", data=data, operator=run.operator),
                new_run=True,
            )
            row = apply_event(None, event)
            assert row is not None
            self._insert_row(conn, row)
        return event

    def _insert_row(self, conn: Conn, row: RunRow) -> None:
        conn.execute(
            RUN_INSERT,
            [row.get(c) for c in RUN_COLUMNS],
        )

    def resume_run(
        self,
        run_id: str,
        *,
        operator: str,
        pid: int | None = None,
        hostname: str | None = None,
    ) -> Event:
        """Append ``run_resumed`` and make this process the run's owner again.

        The run's outcome (if it had stopped) is cleared: it is running again.

        Args:
            run_id: The exact run id.
            operator: Who resumes it.
            pid: The resuming process (default this one).
            hostname: Its machine (default this one).

        Returns:
            The ``run_resumed`` event; its data carries ``previous_status``.

        Raises:
            UnknownRun: No such run.
            LockHeld: The run's process is still alive on this host.
        """
        pid = os.getpid() if pid is None else pid
        hostname = self.hostname if hostname is None else hostname
        with self._write(durable=True) as conn:
            row = self._row(conn, run_id)
            if row is None:
                raise UnknownRun(run_id)
            previous = derive_status(row["outcome"], row["pid"], row["hostname"], self.hostname)
            if previous == "running" and (row["pid"], row["hostname"]) != (pid, hostname):
                raise LockHeld(
                    f"run {run_id} is still running (pid {row['pid']} on {row['hostname']}); "
                    "it cannot be resumed until that process ends"
                )
            data = {"previous_status": previous, "pid": pid, "hostname": hostname}
            event = self._append_in(
                conn, run_id, EventDraft(kind="run_resumed", data=data, operator=operator)
            )
            new_row = apply_event(row, event)
            assert new_row is not None
            self._put_row(conn, new_row)
        return event

    def finish_run(
        self,
        run_id: str,
        outcome: str,
        data: Mapping[str, Any],
        *,
        operator: str | None = None,
    ) -> Event:
        """Append ``run_finished`` (durably) and record the outcome in the run's row.

        Args:
            run_id: The exact run id.
            outcome: One of ``RUN_OUTCOMES``.
            data: exit_code, rto_seconds, rpo_seconds, rpo_writes, summary...; ``outcome`` is
                added (it must agree if present).
            operator: Who finished it (default the operator who started it).

        Returns:
            The ``run_finished`` event.

        Raises:
            ValueError: Unknown outcome, or the run has finished already.
            UnknownRun: No such run.
        """
        if outcome not in RUN_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(RUN_OUTCOMES)}, not {outcome!r}")
        if "outcome" in data and data["outcome"] != outcome:
            raise ValueError(f"data says outcome {data['outcome']!r} but outcome is {outcome!r}")
        with self._write(durable=True) as conn:
            row = self._row(conn, run_id)
            if row is None:
                raise UnknownRun(run_id)
            if row["outcome"] is not None:
                raise ValueError(f"run {run_id} has finished already ({row['outcome']})")
            event = self._append_in(
                conn,
                run_id,
                EventDraft(
                    kind="run_finished",
                    data={**data, "outcome": outcome},
                    operator=operator or row["operator"],
                ),
            )
            new_row = apply_event(row, event)
            assert new_row is not None
            self._put_row(conn, new_row)
        return event

    # -- events ----------------------------------------------------------------------------

    def append(
        self,
        run_id: str,
        kind: str,
        data: Mapping[str, Any],
        *,
        operator: str,
        host: str | None = None,
        step_id: str | None = None,
        durable: bool = False,
        fence: Mapping[str, int] | None = None,
    ) -> Event:
        """Append one event to a run.

        Args:
            run_id: The exact run id.
            kind: What happened (see the kinds in ``console.audit.render``).
            data: The payload; plain JSON values (datetimes, paths, enums are converted).
            operator: Who was operating.
            host: The inventory host concerned.
            step_id: The playbook step concerned.
            durable: Commit with ``synchronous=FULL``: on disk when this returns. Use it for
                every intent recorded before acting.
            fence: The run's leases (service -> fencing token): the event is appended only
                if the run still holds each of them (``console.audit.leases.check``).

        Returns:
            The event as stored, with its gid, seq, ts and hash.

        Raises:
            ValueError: A lifecycle kind (use create_run, resume_run, finish_run), NaN, or
                a missing kind or operator.
            TypeError: Data that has no JSON form.
            UnknownRun: No such run.
            AuditError: The database cannot be written.
            LeaseLost: ``fence`` names a lease the run no longer holds (nothing appended).
        """
        return self.append_batch(
            run_id,
            [EventDraft(kind=kind, data=data, operator=operator, host=host, step_id=step_id)],
            durable=durable,
            fence=fence,
        )[0]

    def record(
        self, run_id: str, event: E, *, operator: str, fence: Mapping[str, int] | None = None
    ) -> E:
        """Append a typed event (its ``kind``, ``data()``, host and step; durably when it is
        an intent) and return the copy stamped with its place and time in the log.

        Raises as ``append`` (``ValueError`` also for an event that is never recorded).
        """
        if not event.recorded:
            raise ValueError(f"{event.kind} events are for listeners only, never recorded")
        stored = self.append(
            run_id,
            event.kind,
            event.data(),
            operator=operator,
            host=event.host,
            step_id=event.step_id,
            durable=event.durable,
            fence=fence,
        )
        return event.stamped(seq=stored.seq, ts=ts_seconds(stored.ts))

    def finish(self, run_id: str, finished: RunFinished, *, operator: str) -> RunFinished:
        """``finish_run`` with a typed ``RunFinished``; returns it stamped like ``record``."""
        stored = self.finish_run(run_id, finished.outcome, finished.data(), operator=operator)
        return finished.stamped(seq=stored.seq, ts=ts_seconds(stored.ts))

    def append_batch(
        self,
        run_id: str,
        drafts: Sequence[EventDraft],
        *,
        durable: bool = False,
        fence: Mapping[str, int] | None = None,
    ) -> list[Event]:
        """Append several events to a run in one transaction (e.g. a burst of output lines).

        All or none are stored; they get consecutive gids and seqs. Raises as ``append``.
        """
        for draft in drafts:
            if draft.kind in LIFECYCLE_KINDS:
                raise ValueError(f"{draft.kind} is appended by create/resume/finish_run only")
        with self._write(durable=durable) as conn:
            if dialect_of(conn) == "postgresql":
                sinks = self._chain_on_server(cast("PgConn", conn), run_id, drafts, fence)
            else:
                if fence:
                    leases.check(conn, self.dialect, fence, run_id)
                return [self._append_in(conn, run_id, draft) for draft in drafts]
        return self._chained(run_id, sinks, fence)

    def _chain_on_server(
        self,
        conn: PgConn,
        run_id: str,
        drafts: Sequence[EventDraft],
        fence: Mapping[str, int] | None,
    ) -> list[tuple[dict[str, Any], list[Any]]]:
        """Queue the drafts' inserts, each linked by the team store itself
        (``console.audit.pg.CHAINED_INSERT``): the whole append is then one round trip."""
        condition = FENCE_CONDITION * len(fence or {})
        fenced = [v for service, token in (fence or {}).items() for v in (service, run_id, token)]
        sinks = []
        for draft in drafts:
            if not isinstance(draft.kind, str) or not draft.kind:
                raise ValueError("an event needs a kind")
            if not isinstance(draft.operator, str) or not draft.operator:
                raise ValueError("an event needs an operator")
            fields: dict[str, Any] = {
                "run_id": run_id,
                "ts": self._now(),
                "kind": draft.kind,
                "operator": draft.operator,
                "host": draft.host,
                "step_id": draft.step_id,
                "data": normalize_data(draft.data),
            }
            a, b, c, d = hash_parts(fields)
            params = [
                *(fields[k] for k in ("run_id", "ts", "kind", "operator", "host", "step_id")),
                canonical_json(fields["data"]),
                a,
                b,
                c,
                d,
                GENESIS_HASH,
                run_id,
                run_id,
                *fenced,
            ]
            sql = CHAINED_INSERT + condition + " RETURNING gid, seq, prev_hash, hash"
            sinks.append((fields, conn.defer(sql, params)))
        return sinks

    def _chained(
        self,
        run_id: str,
        sinks: list[tuple[dict[str, Any], list[Any]]],
        fence: Mapping[str, int] | None,
    ) -> list[Event]:
        """The events ``_chain_on_server`` stored, or why none was (all or none are)."""
        if sinks and not sinks[0][1]:
            with self._read() as conn:
                if self._row(conn, run_id) is None:
                    raise UnknownRun(run_id)
                if fence:
                    leases.check(conn, self.dialect, fence, run_id)
            raise AuditError(f"{self.path}: run {run_id}: the team store did not append")
        return [
            Event(gid=int(gid), seq=int(seq), **fields, prev_hash=prev, hash=digest)
            for fields, [(gid, seq, prev, digest)] in sinks
        ]

    def append_checked(self, run_id: str, decide: Callable[[Conn, RunRecord], EventDraft]) -> Event:
        """Append the event ``decide`` returns, having read what it needs in the same write
        transaction (so no other console's write comes between the check and the append);
        durably. ``decide`` raises to append nothing (``console.audit.approvals``).

        Raises:
            UnknownRun: No such run.
            whatever ``decide`` raises.
        """
        with self._write(durable=True) as conn:
            row = self._row(conn, run_id)
            if row is None:
                raise UnknownRun(run_id)
            draft = decide(conn, row_to_record(row, self.hostname))
            if draft.kind in LIFECYCLE_KINDS:
                raise ValueError(f"{draft.kind} is appended by create/resume/finish_run only")
            return self._append_in(conn, run_id, draft)

    # -- locks -----------------------------------------------------------------------------

    def acquire_lock(self, service: str, run_id: str, operator: str) -> LockInfo:
        """Lock ``service`` for ``run_id`` (this process); atomic across processes.

        Raises:
            LockHeld: Another run holds it; the message names operator, run, since when, and
                "stale: its process is gone" when that holder is dead on this host.
        """
        with self._write(durable=True) as conn:
            return locks.acquire(
                conn,
                service,
                run_id,
                operator,
                pid=os.getpid(),
                hostname=self.hostname,
                since=utc_now_ts(),
            )

    def take_lease(
        self, service: str, run_id: str, operator: str, ttl: float
    ) -> tuple[LockInfo, Lease, LockInfo | None]:
        """Lock ``service`` for ``run_id`` with a lease of ``ttl`` seconds and a new fencing
        token, in one durable transaction; a lock whose holder's lease has expired is taken
        over (the caller records that with the returned former holder).

        Returns:
            The lock, the lease, and the lock taken over from an expired holder (or None).

        Raises:
            LockHeld: Another run holds the lock, or its lease is live.
        """
        with self._write(durable=True) as conn:
            former = locks.holder(conn, service)
            broken = None
            lease = leases.current(conn, service)
            at = leases.now(conn, self.dialect)
            if (
                former is not None
                and former.run_id != run_id
                and lease is not None
                and lease.run_id == former.run_id
                and not lease.live(at)
            ):  # the lock's holder let its lease expire: the lock is taken over
                conn.execute("DELETE FROM locks WHERE service = ?", (service,))
                broken = former
            try:
                lock = locks.acquire(
                    conn,
                    service,
                    run_id,
                    operator,
                    pid=os.getpid(),
                    hostname=self.hostname,
                    since=utc_now_ts(),
                )
            except LockHeld as exc:
                if lease is not None and lease.run_id != run_id and lease.live(at):
                    raise LockHeld(
                        f"{exc}; its lease (token {lease.token}) lasts "
                        f"{lease.expires_at - at:.1f}s more unless its run renews it"
                    ) from None
                raise
            lease, _expired = leases.take(
                conn, self.dialect, service, run_id, operator, self.hostname, ttl
            )
        return lock, lease, broken

    def renew_leases(self, run_id: str, fences: Mapping[str, int], ttl: float) -> list[str]:
        """Renew the run's leases (``console.audit.leases.renew``); the services lost."""
        with self._write(durable=False) as conn:
            return leases.renew(conn, self.dialect, fences, run_id, ttl)

    def release_lease(self, service: str, run_id: str, token: int) -> bool:
        """Release the run's lease on ``service``; True if it held it."""
        with self._write(durable=True) as conn:
            return leases.release(conn, service, run_id, token)

    def live_leases(self) -> tuple[float, list[Lease]]:
        """The database's clock and the live leases (``console.audit.leases.live_leases``)."""
        with self._read() as conn:
            return leases.live_leases(conn, self.dialect)

    def release_lock(self, service: str, run_id: str) -> bool:
        """Release ``service`` if ``run_id`` holds it. True if released, False otherwise."""
        with self._write(durable=True) as conn:
            return locks.release(conn, service, run_id)

    def break_lock(self, service: str, by: str) -> LockInfo:
        """Remove the lock on ``service`` (a stale one, or one held from another host).

        The caller records a ``lock_broken`` event with the returned holder.

        Raises:
            NoSuchLock: Nothing holds it.
            LockHeld: The holder's process is alive on this host.
        """
        with self._write(durable=True) as conn:
            broken = locks.break_(conn, service, by, hostname=self.hostname)
            # its holder's lease goes with it (a broken lock is not held by a live lease)
            conn.execute(
                "UPDATE leases SET released = 1 WHERE service = ? AND run_id = ?",
                (service, broken.run_id),
            )
            return broken
