"""Recompute the chain and name the first place where it is broken.

Checks, in this order, for every event in chain order: its own hash (was it modified?), its
link to the event before it and the continuity of ``gid`` (was something removed or inserted
before it?), the continuity of ``seq`` within its run. Then that no newer events were cut off
the end (``sqlite_sequence`` remembers the highest gid ever issued), and that each ``runs`` row
is exactly what the run's events say (``console.audit.projection``).

What a hash chain without a secret cannot show: someone who rewrites the whole tail of the
chain consistently, or removes the newest events *and* edits ``sqlite_sequence``. Against that,
write down the final hash (the report prints it) and compare it later.

A hash mismatch gets a closer look before it is reported: an event whose hash is right for a
*different* gid was moved, which tells an insertion or a reordering apart from an edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.audit.chain import GENESIS_HASH, event_hash
from console.audit.errors import UnknownRun
from console.audit.model import BrokenEvent, Event, VerifyResult
from console.audit.pg_schema import issued_max as pg_issued_max
from console.audit.projection import RunRow, apply_event
from console.audit.schema import EVENT_SELECT, RUN_COLUMNS, RUN_SELECT, row_to_event
from console.audit.sql import Conn, dialect_of
from console.events import RunImported

_RENUMBER_WINDOW = 16


class _Broken(Exception):
    """Internal: verification stops at the first problem."""

    def __init__(self, where: BrokenEvent, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def _where(event: Event) -> BrokenEvent:
    return BrokenEvent(gid=event.gid, run_id=event.run_id, seq=event.seq, kind=event.kind)


def _label(event: Event) -> str:
    return f"event {event.gid} (run {event.run_id} seq {event.seq}, {event.kind})"


def _fail(event: Event, problem: str) -> _Broken:
    return _Broken(_where(event), f"{_label(event)}: {problem}")


def _load(raw: tuple[Any, ...]) -> Event:
    try:
        return row_to_event(raw)
    except ValueError as exc:
        where = BrokenEvent(gid=raw[0], run_id=raw[1], seq=raw[2], kind=raw[4])
        label = f"event {raw[0]} (run {raw[1]} seq {raw[2]}, {raw[4]})"
        raise _Broken(where, f"{label}: {exc} — the event was modified") from None


def _hash_matches(event: Event, **changes: Any) -> bool:
    fields = {**event.hashed_fields(), **changes}
    try:
        return event_hash(event.prev_hash, fields) == event.hash
    except (TypeError, ValueError):
        return False


def _check_hash(event: Event) -> None:
    if _hash_matches(event):
        return
    for delta in range(1, _RENUMBER_WINDOW + 1):
        for moved in (event.gid - delta, event.gid + delta):
            if moved >= 1 and _hash_matches(event, gid=moved):
                raise _fail(
                    event,
                    f"hash mismatch — it was recorded as gid {moved} but is stored at gid "
                    f"{event.gid}: events were inserted, removed or reordered around it",
                )
    raise _fail(event, "hash mismatch — the event was modified")


def _check_link(event: Event, prev_gid: int, prev_hash: str) -> None:
    if event.gid != prev_gid + 1:
        missing = (
            f"gid {prev_gid + 1}"
            if event.gid == prev_gid + 2
            else f"gids {prev_gid + 1}–{event.gid - 1}"
        )
        raise _fail(
            event,
            "prev_hash does not match the previous event — "
            f"{missing} missing: events were removed before it",
        )
    if event.prev_hash != prev_hash:
        before = "the genesis hash" if prev_gid == 0 else f"the previous event (gid {prev_gid})"
        raise _fail(
            event,
            f"prev_hash does not match {before} — an event was removed or inserted before it",
        )


def _check_seq(event: Event, last_seq: int) -> None:
    if last_seq == 0:
        if event.seq != 1:
            raise _fail(
                event,
                f"run {event.run_id} begins at seq {event.seq}: its first events were removed",
            )
        if event.kind != "run_started":
            raise _fail(event, f"the first event of run {event.run_id} is not run_started")
        return
    if event.seq != last_seq + 1:
        raise _fail(
            event,
            f"seq jumps from {last_seq} to {event.seq} in run {event.run_id} — "
            "events of this run were removed or reordered",
        )
    if event.kind == "run_started":
        raise _fail(event, f"a second run_started in run {event.run_id}")


def _check_imported(conn: Conn, event: Event) -> None:
    """A ``run_imported`` event vouches for events pushed from another store: each of them,
    put back in its place there (its gid and prev_hash there), must hash to what it hashed
    to there, and consecutive ones must link as they did there."""
    if event.kind != RunImported.kind:
        return
    payload = event.payload
    if not isinstance(payload, RunImported) or not payload.origins:
        raise _fail(event, "its data lacks the origins of the pushed events — it was modified")
    seqs = [o.run_seq for o in payload.origins]
    rows = conn.execute(
        EVENT_SELECT + " WHERE run_id = ? AND seq >= ? AND seq <= ? ORDER BY seq",
        (event.run_id, min(seqs), max(seqs)),
    ).fetchall()
    here = {e.seq: e for e in (_load(raw) for raw in rows)}
    before = None
    for origin in payload.origins:
        pushed = here.get(origin.run_seq)
        if pushed is None or pushed.seq >= event.seq:
            raise _fail(
                event, f"the pushed event seq {origin.run_seq} is not in this run before it"
            )
        fields = {**pushed.hashed_fields(), "gid": origin.gid}
        try:
            same = event_hash(origin.prev_hash, fields) == origin.hash
        except (TypeError, ValueError):
            same = False
        if not same:
            raise _fail(
                pushed,
                f"it no longer hashes as it did in {payload.source} (gid {origin.gid} there) — "
                "the pushed event was modified",
            )
        if before is not None and origin.gid == before.gid + 1 and origin.prev_hash != before.hash:
            raise _fail(
                pushed,
                f"it did not follow seq {before.run_seq} in {payload.source}'s chain — the pushed "
                "events were altered",
            )
        before = origin


@dataclass
class _RunFold:
    """Per-run state while walking: the last seq and the runs row the events imply."""

    last_seq: int = 0
    row: RunRow | None = None


def _fold(state: _RunFold, event: Event) -> None:
    _check_seq(event, state.last_seq)
    try:
        state.row = apply_event(state.row, event)
    except KeyError as exc:
        raise _fail(event, f"its data lacks {exc.args[0]} — the event was modified") from None
    state.last_seq = event.seq


def _check_row(run_id: str, implied: RunRow | None, stored: dict[str, Any] | None) -> None:
    where = BrokenEvent(gid=None, run_id=run_id, seq=None, kind=None)
    if stored is None:
        raise _Broken(where, f"run {run_id} has events but no runs row — the runs table was edited")
    if implied is None:  # pragma: no cover - a run's first event is checked to be run_started
        raise _Broken(where, f"run {run_id} has no run_started event")
    for column in RUN_COLUMNS:
        if stored.get(column) != implied.get(column):
            raise _Broken(
                where,
                f"run {run_id}: the runs row says {column}={stored.get(column)!r} but its events "
                f"say {implied.get(column)!r} — the runs table was edited",
            )


def _stored_runs(conn: Conn, run_id: str | None = None) -> dict[str, dict[str, Any]]:
    sql = RUN_SELECT
    cursor = (
        conn.execute(sql + " WHERE run_id = ?", (run_id,))
        if run_id is not None
        else conn.execute(sql + " ORDER BY run_id")
    )
    return {row[0]: dict(zip(RUN_COLUMNS, row, strict=True)) for row in cursor}


def _issued_max(conn: Conn) -> int:
    if dialect_of(conn) == "postgresql":
        return pg_issued_max(conn)
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0


def _tail(conn: Conn) -> tuple[int, str]:
    row = conn.execute("SELECT gid, hash FROM events ORDER BY gid DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def _check_tail(conn: Conn, last_gid: int) -> None:
    issued = _issued_max(conn)
    if issued > last_gid:
        missing = f"gid {issued}" if issued == last_gid + 1 else f"gids {last_gid + 1}–{issued}"
        raise _Broken(
            BrokenEvent(gid=last_gid + 1, run_id=None, seq=None, kind=None),
            f"the chain ends at gid {last_gid} but the database issued gids up to {issued} — "
            f"{missing} missing: the newest events were removed",
        )


def verify_all(conn: Conn) -> VerifyResult:
    """Verify every event in the database and every ``runs`` row.

    Must be called inside a read transaction so the walk sees one snapshot.
    """
    checked = 0
    last_gid, last_hash = 0, GENESIS_HASH
    runs: dict[str, _RunFold] = {}
    try:
        for raw in conn.execute(EVENT_SELECT + " ORDER BY gid"):
            event = _load(raw)
            checked += 1
            _check_hash(event)
            _check_link(event, last_gid, last_hash)
            _fold(runs.setdefault(event.run_id, _RunFold()), event)
            _check_imported(conn, event)
            last_gid, last_hash = event.gid, event.hash
        _check_tail(conn, last_gid)
        stored = _stored_runs(conn)
        for run_id, state in runs.items():
            _check_row(run_id, state.row, stored.get(run_id))
        for run_id in stored:
            if run_id not in runs:
                raise _Broken(
                    BrokenEvent(gid=None, run_id=run_id, seq=None, kind=None),
                    f"run {run_id} has a runs row but no events — its events were removed",
                )
    except _Broken as broken:
        return VerifyResult(
            ok=False,
            events_checked=checked,
            first_broken=broken.where,
            reason=broken.reason,
            final_hash=_tail(conn)[1],
        )
    return VerifyResult(
        ok=True,
        events_checked=checked,
        first_broken=None,
        reason=f"intact: {checked} events in {len(runs)} runs, every hash and link verified",
        final_hash=last_hash,
    )


def _neighbour(conn: Conn, gid: int) -> Event | None:
    raw = conn.execute(EVENT_SELECT + " WHERE gid = ?", (gid,)).fetchone()
    return None if raw is None else _load(raw)


def _check_complete(conn: Conn, run_id: str) -> None:
    """No event is missing anywhere: a removed event might have been this run's last ones.

    A run's own events cannot show that its newest events were cut out (with its runs row
    edited to match); only the hole they leave in the global numbering can.
    """
    count, top = conn.execute("SELECT COUNT(*), COALESCE(MAX(gid), 0) FROM events").fetchone()
    issued = max(_issued_max(conn), top)
    if count == issued:
        return
    row = conn.execute(
        "SELECT e.gid + 1 FROM events AS e WHERE e.gid < ? AND NOT EXISTS "
        "(SELECT 1 FROM events AS n WHERE n.gid = e.gid + 1) ORDER BY e.gid LIMIT 1",
        (top,),
    ).fetchone()
    first_missing = (
        1 if conn.execute("SELECT 1 FROM events WHERE gid = 1").fetchone() is None else None
    )
    if first_missing is None:
        first_missing = int(row[0]) if row is not None else top + 1
    raise _Broken(
        BrokenEvent(gid=first_missing, run_id=None, seq=None, kind=None),
        f"run {run_id}'s own events verify, but {issued - count} event(s) are missing from the "
        f"database, the first at gid {first_missing}: they were removed and may have been this "
        "run's (run drconsole audit verify for the whole chain)",
    )


def verify_run(conn: Conn, run_id: str) -> VerifyResult:
    """Verify one run's events, the links into and out of each, and its ``runs`` row.

    Args:
        conn: A connection inside a read transaction.
        run_id: The exact run id.

    Raises:
        UnknownRun: If neither an event nor a runs row has this id.
    """
    raws = conn.execute(EVENT_SELECT + " WHERE run_id = ? ORDER BY gid", (run_id,)).fetchall()
    stored = _stored_runs(conn, run_id)
    if not raws and not stored:
        raise UnknownRun(run_id)
    checked = 0
    state = _RunFold()
    last_hash = GENESIS_HASH
    issued = max(_issued_max(conn), _tail(conn)[0])
    try:
        if not raws:
            raise _Broken(
                BrokenEvent(gid=None, run_id=run_id, seq=None, kind=None),
                f"run {run_id} has a runs row but no events — its events were removed",
            )
        own = {raw[0] for raw in raws}
        for raw in raws:
            event = _load(raw)
            checked += 1
            _check_hash(event)
            if event.gid == 1:
                _check_link(event, 0, GENESIS_HASH)
            else:
                before = _neighbour(conn, event.gid - 1)
                if before is None:
                    raise _fail(
                        event,
                        f"the event before it (gid {event.gid - 1}) is missing — "
                        "an event was removed before it",
                    )
                _check_link(event, before.gid, before.hash)
            _fold(state, event)
            _check_imported(conn, event)
            last_hash = event.hash
            if event.gid + 1 in own:
                continue
            after = _neighbour(conn, event.gid + 1)
            if after is None and event.gid < issued:
                raise _Broken(
                    BrokenEvent(gid=event.gid + 1, run_id=None, seq=None, kind=None),
                    f"{_label(event)}: the event after it (gid {event.gid + 1}) is missing — "
                    "an event was removed after it",
                )
            if after is not None and after.prev_hash != event.hash:
                raise _fail(
                    after,
                    f"prev_hash does not match event {event.gid} of run {run_id} — "
                    "an event was removed, inserted or modified between them",
                )
        _check_row(run_id, state.row, stored.get(run_id))
        _check_complete(conn, run_id)
    except _Broken as broken:
        return VerifyResult(
            ok=False,
            events_checked=checked,
            first_broken=broken.where,
            reason=broken.reason,
            final_hash=raws[-1][-1] if raws else GENESIS_HASH,
        )
    return VerifyResult(
        ok=True,
        events_checked=checked,
        first_broken=None,
        reason=f"intact: run {run_id}, {checked} events, every hash and link verified",
        final_hash=last_hash,
    )
