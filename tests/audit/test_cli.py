"""``drconsole audit list | show | verify`` through ``console.cli.main``: output and exit codes."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

from console.audit import AuditStore
from console.audit.render import runs_table
from console.cli import main
from tests.audit.conftest import Location, raw_sql, run_start


def _cli(db: Location, *args: str) -> int:
    return main(["--audit", str(db), "audit", *args])


def _populate(db: Location) -> tuple[str, str]:
    """One finished drill with an event of every kind the engine emits, one interrupted run."""
    with AuditStore(db) as store:
        run = run_start(operator="alice@jump1")
        rid = run.run_id
        store.create_run(run)
        op = "alice@jump1"
        store.append(
            rid,
            "host_key_accepted",
            {"host": "db-west-1", "key_type": "ssh-ed25519", "fingerprint": "SHA256:abc"},
            operator=op,
        )
        store.append(rid, "lock_acquired", {"service": "orders-db", "scope": "local"}, operator=op)
        store.append(
            rid,
            "gate_result",
            {"index": 1, "gate": "replication", "ok": True, "detail": "lag 0.2s <= 5s"},
            operator=op,
        )
        store.append(
            rid,
            "step_started",
            {"title": "Stop writes", "kind": "run", "targets": ["db-east-1"], "attempt": 1},
            operator=op,
            step_id="fence",
        )
        store.append(
            rid,
            "decision",
            {"action": "confirm", "reason": "--yes", "auto": True},
            operator=op,
            step_id="fence",
        )
        store.append(
            rid,
            "command_intent",
            {"command": "pg_ctl promote -D /data", "attempt": 1},
            operator=op,
            host="db-east-1",
            step_id="fence",
            durable=True,
        )
        store.append(
            rid,
            "output",
            {"stream": "stdout", "lines": ["server promoting", "done"]},
            operator=op,
            host="db-east-1",
            step_id="fence",
        )
        store.append(
            rid,
            "command_result",
            {
                "exit_status": 0,
                "signal": None,
                "duration": 0.25,
                "timed_out": False,
                "ok": True,
                "reason": None,
            },
            operator=op,
            host="db-east-1",
            step_id="fence",
        )
        store.append(
            rid,
            "step_finished",
            {"outcome": "ok", "duration": 0.3, "attempts": 1},
            operator=op,
            step_id="fence",
        )
        store.append(
            rid,
            "probe_sample",
            {
                "service": "orders-db",
                "site": "west",
                "role": "primary",
                "link": "up",
                "lag_seconds": 0,
                "lag_bytes": 0,
                "position": "0/3000060",
                "health": "ok",
            },
            operator=op,
        )
        store.append(rid, "canary_write", {"service": "orders-db", "n": 7, "ok": True}, operator=op)
        store.append(rid, "rto_mark", {"mark": "start"}, operator=op, step_id="fence")
        store.append(
            rid,
            "measurement",
            {"rto_seconds": 42.5, "rpo_seconds": 0.0, "rpo_writes": 0},
            operator=op,
        )
        store.append(rid, "note", {"text": "resolvers agree"}, operator=op)
        store.append(rid, "lock_released", {"service": "orders-db", "scope": "local"}, operator=op)
        store.append(rid, "brand_new_kind", {"zeta": 1, "alpha": "x"}, operator=op)
        store.finish_run(
            rid,
            "succeeded",
            {
                "exit_code": 0,
                "rto_seconds": 42.5,
                "rpo_seconds": 0.0,
                "rpo_writes": 0,
                "summary": "4/4 steps ok",
            },
        )
        other = run_start(playbook_name="redis-failover", mode="incident", pid=2**22 + 7)
        store.create_run(other)
    return rid, other.run_id


@pytest.fixture
def populated(db_path: Location) -> tuple[Location, str, str]:
    db = db_path
    rid, other = _populate(db)
    return db, rid, other


def test_list_shows_every_run_with_status_and_measurements(
    populated: tuple[Location, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, rid, other = populated
    assert _cli(db, "list") == 0
    out = capsys.readouterr().out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "pg-failover" in lines[rid] and "drill" in lines[rid]
    assert "succeeded (exit 0)" in lines[rid] and "42.5s" in lines[rid]
    assert "alice@jump1" in lines[rid]
    assert "redis-failover" in lines[other] and "incident" in lines[other]
    assert "interrupted" in lines[other]
    assert out.index(other) < out.index(rid)  # newest first


def test_list_json_is_one_array(
    populated: tuple[Location, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, rid, other = populated
    assert _cli(db, "list", "--json") == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in runs] == [other, rid]
    first = runs[1]
    assert first["status"] == "succeeded" and first["exit_code"] == 0
    assert first["rto_seconds"] == 42.5 and first["rpo_seconds"] == 0.0
    assert first["playbook"]["name"] == "pg-failover" and first["mode"] == "drill"
    assert runs[0]["status"] == "interrupted" and runs[0]["finished_at"] is None


def test_list_of_an_empty_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.db"
    AuditStore(db).close()
    assert _cli(db, "list") == 0
    assert "no runs recorded" in capsys.readouterr().out
    assert _cli(db, "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_show_prints_a_readable_timeline(
    populated: tuple[Location, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, rid, _ = populated
    assert _cli(db, "show", rid.lower()) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run {rid}  pg-failover (failover)")
    assert "mode drill · operator alice@jump1" in out
    expected = [
        "pg-failover (failover) on inventory lab, mode drill, orders-db",
        "accepted new host key of db-west-1: ssh-ed25519 SHA256:abc",
        "lock on orders-db acquired (local)",
        "gate 1 replication: ok — lag 0.2s <= 5s",
        "Stop writes [run] on db-east-1",
        "confirm (automatic) — --yes",
        "$ pg_ctl promote -D /data",
        "stdout: server promoting (+1 more lines)",
        "exit 0 in 0.25s: ok",
        "ok in 0.3s after 1 attempt(s)",
        "orders-db@west: primary, link up, lag 0s / 0 B, position 0/3000060, ok",
        "canary #7 on orders-db: ok",
        "outage starts (RTO clock on)",
        "RTO 42.5s, RPO 0s (0 writes lost)",
        "resolvers agree",
        "lock on orders-db released (local)",
        "alpha=x, zeta=1",
        "succeeded (exit 0), RTO 42.5s, RPO 0s — 4/4 steps ok",
    ]
    positions = [out.index(text) for text in expected]
    assert positions == sorted(positions)
    intent = next(line for line in out.splitlines() if "$ pg_ctl promote" in line)
    assert intent.split()[1:6] == ["7", "command_intent", "fence", "db-east-1", "$"]
    assert re.fullmatch(r"\+00:0\d\.\d{3}", intent.split()[0])
    assert "18 events; verify with: drconsole audit verify" in out


def test_show_json_is_one_event_per_line(
    populated: tuple[Location, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, rid, _ = populated
    assert _cli(db, "show", rid, "--json") == 0
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 18
    assert [e["seq"] for e in events] == list(range(1, 19))
    assert {"run_id", "seq", "ts", "kind", "gid", "data", "hash", "prev_hash"} <= set(events[0])
    assert events[6]["kind"] == "command_intent" and events[6]["host"] == "db-east-1"
    assert events[7]["prev_hash"] == events[6]["hash"]


def test_verify_exit_0_when_intact_and_1_when_broken(
    populated: tuple[Location, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, rid, other = populated
    assert _cli(db, "verify") == 0
    out = capsys.readouterr().out
    assert "intact: the whole audit log: 19 events checked" in out
    assert _cli(db, "verify", rid) == 0
    assert f"intact: run {rid}: 18 events checked" in capsys.readouterr().out

    with raw_sql(db) as conn:
        conn.execute('UPDATE events SET data = \'{"command":"true","attempt":1}\' WHERE seq = 7')
    assert _cli(db, "verify") == 1
    out = capsys.readouterr().out
    assert "BROKEN: the whole audit log" in out
    assert f"event 7 (run {rid} seq 7, command_intent): hash mismatch — the event was modified" in (
        out
    )
    assert _cli(db, "verify", rid) == 1
    assert "command_intent): hash mismatch" in capsys.readouterr().out
    assert _cli(db, "verify", other) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "01ZZZZ"), "no run '01ZZZZ' in the audit log"),
        (("verify", "01ZZZZ"), "no run '01ZZZZ' in the audit log"),
        (("show", "0"), "matches several runs"),
    ],
)
def test_unknown_or_ambiguous_run_ids_are_exit_2_one_line(
    populated: tuple[Location, str, str],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    db, _, _ = populated
    assert _cli(db, *args) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("action", [("list",), ("show", "01ABC"), ("verify",)])
def test_a_missing_database_is_exit_2_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: tuple[str, ...]
) -> None:
    db = tmp_path / "nowhere" / "audit.db"
    assert _cli(db, *action) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"{db}: no audit database here (nothing has run yet, or wrong --audit)"
    assert not db.parent.exists()


def test_a_file_that_is_not_an_audit_database_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "audit.db"
    junk.write_bytes(b"\x00garbage" * 1000)
    assert _cli(junk, "verify") == 2
    captured = capsys.readouterr()
    assert "not a drconsole audit database" in captured.err
    assert "Traceback" not in captured.err


def test_audit_without_an_action_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(tmp_path / "a.db") == 2
    assert "audit needs an action" in capsys.readouterr().err


def test_env_variable_names_the_database(
    populated: tuple[Location, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, rid, _ = populated
    monkeypatch.setenv("DRCONSOLE_AUDIT", str(db))
    assert main(["audit", "verify", rid]) == 0
    assert "intact" in capsys.readouterr().out


@pytest.mark.stores("sqlite")  # PostgreSQL's typed columns refuse a pid of 'abc'
def test_hand_edited_rows_and_events_never_produce_a_traceback(
    populated: tuple[Location, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, rid, _ = populated
    assert isinstance(db, Path)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE runs SET pid = 'abc', started_at = 'yesterday', services = 'not json', "
            "finish_data = '[1]', finished_at = 42 WHERE run_id = ?",
            (rid,),
        )
        conn.execute("UPDATE events SET data = '{bad' WHERE run_id = ? AND seq = 3", (rid,))
    conn.close()
    seen: list[str] = []

    def run(*args: str) -> tuple[int, str, str]:
        code = _cli(db, *args)
        captured = capsys.readouterr()
        seen.extend((captured.out, captured.err))
        return code, captured.out, captured.err

    code, out, _ = run("list")
    assert code == 0 and "yesterday" in out
    code, out, _ = run("list", "--json")
    assert code == 0
    assert {r["run_id"]: r["pid"] for r in json.loads(out)}[rid] == 0
    code, _, err = run("show", rid)
    assert code == 1
    assert "has an unreadable event" in err and "drconsole audit verify" in err
    code, out, _ = run("verify")
    assert code == 1
    assert f"event 3 (run {rid} seq 3, lock_acquired): its data is not valid JSON" in out
    assert not any("Traceback" in text for text in seen)


@pytest.mark.parametrize("width", [80, 100])
def test_list_at_a_jump_box_width_keeps_every_word_whole(
    populated: tuple[Location, str, str], width: int
) -> None:
    """At 80 or 100 columns the nine-column table would squeeze names to ``pg-f…``: each run
    is two lines instead, every word whole; wide enough, the full table as before."""
    db, rid, other = populated
    with AuditStore(db, create=False) as store:
        records = store.runs()
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(runs_table(records))
    text = console.export_text()
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), text
    assert "…" not in text
    first = next(i for i, line in enumerate(lines) if line.startswith(rid))
    assert lines[first].split()[1:] == ["pg-failover", "succeeded", "(exit", "0)"], lines[first]
    below = lines[first + 1]
    for word in ("drill", "alice@jump1", "42.5s", "RTO 42.5s", "RPO 0s"):
        assert word in below, below
    assert "incident" in lines[next(i for i, ln in enumerate(lines) if ln.startswith(other)) + 1]
    wide = Console(width=200, record=True, color_system=None, file=io.StringIO())
    wide.print(runs_table(records))
    table = wide.export_text()
    assert "┃ playbook" in table and "│ pg-failover" in table
