"""Tampering with the database file behind the store's back is detected and located.

Each test edits the real store with raw SQL, as someone with write access to the SQLite file or
to the PostgreSQL database would (the same statements on both), then checks that ``verify``
fails and names the first broken event with a reason that says what kind of change it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from console.audit import AuditStore, Event, UnknownRun, event_hash
from console.audit.chain import canonical_json
from tests.audit.conftest import Location, raw_sql, run_start, set_issued


@dataclass
class Log:
    """A small, interleaved log of three runs, closed, ready to be tampered with."""

    path: Location
    runs: dict[str, str]
    events: list[Event]

    def raw(self) -> Any:
        return raw_sql(self.path)

    def verify(self, run: str | None = None) -> tuple[bool, int | None, str]:
        with AuditStore(self.path, create=False) as store:
            result = store.verify(self.runs[run] if run else None)
        gid = result.first_broken.gid if result.first_broken else None
        return result.ok, gid, result.reason

    def by_gid(self, gid: int) -> Event:
        return self.events[gid - 1]


@pytest.fixture
def log(db_path: Location) -> Iterator[Log]:
    path = db_path
    events: list[Event] = []
    runs: dict[str, str] = {}
    with AuditStore(path) as store:
        for name in ("A", "B"):
            run = run_start(operator=f"op-{name}")
            runs[name] = run.run_id
            events.append(store.create_run(run))
        a, b = runs["A"], runs["B"]
        events.append(store.append(a, "note", {"text": "a1"}, operator="op-A"))
        events.append(store.append(b, "note", {"text": "b1"}, operator="op-B"))
        events.append(
            store.append(
                a,
                "command_intent",
                {"command": "pg_ctl promote", "attempt": 1},
                operator="op-A",
                host="db-west-1",
                step_id="promote",
                durable=True,
            )
        )
        events.append(store.append(b, "note", {"text": "b2"}, operator="op-B"))
        run_c = run_start(operator="op-C")
        runs["C"] = run_c.run_id
        events.append(store.create_run(run_c))  # gid 7
        events.append(store.finish_run(a, "succeeded", {"exit_code": 0}))  # gid 8
        events.append(store.append(runs["C"], "note", {"text": "c1"}, operator="op-C"))
        events.append(store.finish_run(b, "failed", {"exit_code": 1}))  # gid 10
        events.append(store.append(runs["C"], "note", {"text": "c2"}, operator="op-C"))
        events.append(store.finish_run(runs["C"], "succeeded", {"exit_code": 0}))  # gid 12
        assert [e.gid for e in events] == list(range(1, 13))
        assert store.verify().ok
    yield Log(path, runs, events)


def test_untouched_log_verifies_whole_and_per_run(log: Log) -> None:
    assert log.verify() == (True, None, log.verify()[2])
    for name in "ABC":
        assert log.verify(name)[0]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("data", '{"attempt":1,"command":"rm -rf /"}'),
        ("ts", "2020-01-01T00:00:00.000000Z"),
        ("operator", "mallory"),
        ("host", "db-east-1"),
        ("step_id", "fence"),
        ("kind", "note"),
        ("seq", 99),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
    ],
)
def test_a_modified_field_is_detected_at_that_event(log: Log, column: str, value: object) -> None:
    with log.raw() as conn:
        conn.execute(f"UPDATE events SET {column} = ? WHERE gid = 5", (value,))
    ok, gid, reason = log.verify()
    assert not ok and gid == 5
    assert reason == (
        f"event 5 (run {log.runs['A']} seq {99 if column == 'seq' else 3}, "
        f"{'note' if column == 'kind' else 'command_intent'}): "
        "hash mismatch — the event was modified"
    )
    # The run that holds it fails the same way; a run that merely links past it does not.
    assert log.verify("A")[:2] == (False, 5)
    assert log.verify("C")[0]


def test_data_that_is_no_longer_json_is_reported_as_modified(log: Log) -> None:
    with log.raw() as conn:
        conn.execute("UPDATE events SET data = '{oops' WHERE gid = 3")
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 3)
    assert "not valid JSON" in reason and "modified" in reason


def test_an_event_rewritten_with_a_recomputed_hash_breaks_the_next_link(log: Log) -> None:
    original = log.by_gid(5)
    forged_data = {"command": "rm -rf /", "attempt": 1}
    forged = event_hash(original.prev_hash, {**original.hashed_fields(), "data": forged_data})
    with log.raw() as conn:
        conn.execute(
            "UPDATE events SET data = ?, hash = ? WHERE gid = 5",
            (canonical_json(forged_data), forged),
        )
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 6)
    assert "prev_hash does not match the previous event (gid 5)" in reason
    assert "removed or inserted before it" in reason


def test_a_deleted_event_is_detected_at_the_event_after_it(log: Log) -> None:
    with log.raw() as conn:
        conn.execute("DELETE FROM events WHERE gid = 4")
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 5)
    assert reason.startswith(f"event 5 (run {log.runs['A']} seq 3, command_intent): ")
    assert "gid 4 missing: events were removed before it" in reason
    # Run B lost its event: its own verification finds the hole too.
    assert not log.verify("B")[0]


def test_a_runs_cut_off_last_event_fails_that_runs_verification(log: Log) -> None:
    """B's run_finished (gid 10) is removed and B's runs row edited to match.

    B's remaining events are a consistent prefix, so only the hole in the global numbering
    shows the loss; verifying B alone must still not call B intact.
    """
    with log.raw() as conn:
        conn.execute("DELETE FROM events WHERE gid = 10")
        conn.execute(
            "UPDATE runs SET finished_at = NULL, outcome = NULL, finish_data = '{}' "
            "WHERE run_id = ?",
            (log.runs["B"],),
        )
    ok, gid, reason = log.verify("B")
    assert (ok, gid) == (False, 10)
    assert "1 event(s) are missing from the database, the first at gid 10" in reason
    ok, gid, reason = log.verify("C")  # C's events 9 and 11 surrounded the removed one
    assert (ok, gid) == (False, 10)
    assert f"event 9 (run {log.runs['C']} seq 2, note): the event after it (gid 10) is missing" in (
        reason
    )
    assert log.verify()[:2] == (False, 11)


def test_an_event_inserted_in_the_middle_is_detected(log: Log) -> None:
    """Someone renumbers the events after gid 4 and slips a forged, validly hashed one in."""
    before = log.by_gid(3)  # A's note, seq 2; the forged decision becomes A's seq 3
    fields = {
        "gid": 4,
        "run_id": log.runs["A"],
        "seq": 3,
        "ts": before.ts,
        "kind": "decision",
        "operator": "op-A",
        "host": None,
        "step_id": "promote",
        "data": {"action": "confirm", "reason": "approved by the CTO", "auto": False},
    }
    forged_hash = event_hash(before.hash, fields)
    with log.raw() as conn:
        conn.execute("UPDATE events SET gid = -gid WHERE gid >= 4")
        conn.execute("UPDATE events SET gid = 1 - gid WHERE gid < 0")
        a = log.runs["A"]
        conn.execute("UPDATE events SET seq = -seq WHERE run_id = ? AND seq >= 3", (a,))
        conn.execute("UPDATE events SET seq = 1 - seq WHERE run_id = ? AND seq < 0", (a,))
        conn.execute(
            "INSERT INTO events (gid, run_id, seq, ts, kind, operator, host, step_id, data, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                4,
                fields["run_id"],
                3,
                fields["ts"],
                "decision",
                "op-A",
                None,
                "promote",
                canonical_json(fields["data"]),
                before.hash,
                forged_hash,
            ),
        )
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 5)  # the forged event links fine; the one it displaced does not
    assert "it was recorded as gid 4 but is stored at gid 5" in reason
    assert "inserted" in reason


def test_an_event_appended_by_copying_a_row_is_detected(log: Log) -> None:
    with log.raw() as conn:
        conn.execute(
            "INSERT INTO events (gid, run_id, seq, ts, kind, operator, host, step_id, data, "
            "prev_hash, hash) SELECT 13, run_id, 5, ts, kind, operator, host, step_id, data, "
            "(SELECT hash FROM events WHERE gid = 12), hash FROM events WHERE gid = 5"
        )
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 13)
    assert "hash mismatch" in reason


def test_a_reordered_pair_is_detected(log: Log) -> None:
    with log.raw() as conn:
        conn.execute("UPDATE events SET gid = -1 WHERE gid = 5")
        conn.execute("UPDATE events SET gid = 5 WHERE gid = 6")
        conn.execute("UPDATE events SET gid = 6 WHERE gid = -1")
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 5)
    assert "recorded as gid 6 but is stored at gid 5" in reason
    assert "reordered" in reason


def test_a_deleted_run_in_the_middle_is_detected(log: Log) -> None:
    with log.raw() as conn:
        conn.execute("DELETE FROM events WHERE run_id = ?", (log.runs["B"],))
        conn.execute("DELETE FROM runs WHERE run_id = ?", (log.runs["B"],))
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 3)  # gid 2 was B's run_started
    assert "gid 2 missing" in reason
    with pytest.raises(UnknownRun):
        log.verify("B")
    assert not log.verify("A")[0]  # A's events link across the hole


def _add_run_d(log: Log) -> str:
    with AuditStore(log.path) as store:
        run = run_start(operator="op-D")
        store.create_run(run)  # gid 13
        store.append(run.run_id, "note", {"text": "d1"}, operator="op-D")  # gid 14
        assert store.verify().ok
    return run.run_id


def test_a_deleted_newest_run_is_detected(log: Log) -> None:
    """Removing the tail leaves the chain consistent; the store's memory of the highest gid
    issued (sqlite_sequence, audit_meta) says it was longer."""
    d = _add_run_d(log)
    with log.raw() as conn:
        conn.execute("DELETE FROM events WHERE run_id = ?", (d,))
        conn.execute("DELETE FROM runs WHERE run_id = ?", (d,))
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 13)
    assert "the chain ends at gid 12 but the database issued gids up to 14" in reason
    assert "the newest events were removed" in reason


def test_the_newest_events_removed_are_detected(log: Log) -> None:
    with log.raw() as conn:
        conn.execute("DELETE FROM events WHERE gid IN (11, 12)")
        conn.execute(
            "UPDATE runs SET finished_at = NULL, outcome = NULL, finish_data = '{}' "
            "WHERE run_id = ?",
            (log.runs["C"],),
        )
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, 11)
    assert "gids 11–12 missing: the newest events were removed" in reason
    assert log.verify("C")[:2] == (False, 11)


def test_a_runs_row_without_its_events_is_detected(log: Log) -> None:
    """The newest run's events are removed and the issued-gid memory rolled back to hide it."""
    d = _add_run_d(log)
    with log.raw() as conn:
        conn.execute("DELETE FROM events WHERE run_id = ?", (d,))
        set_issued(conn, log.path, 12)
    ok, gid, reason = log.verify()
    assert (ok, gid) == (False, None)
    assert reason == f"run {d} has a runs row but no events — its events were removed"
    with AuditStore(log.path, create=False) as store:
        result = store.verify(d)
    assert not result.ok and "has a runs row but no events" in result.reason


def test_events_without_their_runs_row_are_detected(log: Log) -> None:
    with log.raw() as conn:
        conn.execute("DELETE FROM runs WHERE run_id = ?", (log.runs["A"],))
    ok, gid, reason = log.verify()
    assert not ok and gid is None
    assert f"run {log.runs['A']} has events but no runs row" in reason
    assert "has events but no runs row" in log.verify("A")[2]


@pytest.mark.parametrize(
    ("column", "value"),
    [("operator", "mallory"), ("outcome", "succeeded"), ("mode", "incident"), ("pid", 1)],
)
def test_an_edited_runs_row_is_detected(log: Log, column: str, value: object) -> None:
    with log.raw() as conn:
        conn.execute(f"UPDATE runs SET {column} = ? WHERE run_id = ?", (value, log.runs["B"]))
    ok, _gid, reason = log.verify()
    assert not ok
    assert f"run {log.runs['B']}: the runs row says {column}={value!r}" in reason
    assert "the runs table was edited" in reason
    assert not log.verify("B")[0]
    assert log.verify("A")[0]


def test_verify_reports_the_final_hash_and_event_count(log: Log) -> None:
    with AuditStore(log.path, create=False) as store:
        whole = store.verify()
        one = store.verify(log.runs["B"].lower())
    assert whole.ok and whole.events_checked == 12 and whole.final_hash == log.by_gid(12).hash
    assert one.ok and one.events_checked == 4 and one.final_hash == log.by_gid(10).hash
