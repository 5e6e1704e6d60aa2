"""A report is a function of the log: a copy of the database makes the same report, and a log
edited behind the store's back makes a report that says its chain is BROKEN."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.report import FORMATS, build_report, export_report, render
from tests.report.checks import check_html, check_json, check_junit
from tests.report.conftest import Drills, copy_db

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]


def _all_formats(db: Path, run_id: str) -> dict[str, str]:
    with AuditStore(db, create=False) as store:
        report = build_report(store, run_id)
        return {fmt: render(report, fmt) for fmt in FORMATS}


def test_a_copy_of_the_database_makes_the_same_report(drills: Drills, tmp_path: Path) -> None:
    elsewhere = tmp_path / "auditor" / "copied-audit.db"
    elsewhere.parent.mkdir()
    copy_db(drills.audit, elsewhere)
    for name, run_id in drills.runs.items():
        original = _all_formats(drills.audit, run_id)
        copied = _all_formats(elsewhere, run_id)
        for fmt in FORMATS:
            assert copied[fmt] == original[fmt], f"{name} {fmt} differs on the copy"


def test_export_from_the_copy_equals_export_from_the_original(
    drills: Drills, tmp_path: Path
) -> None:
    copy = copy_db(drills.audit, tmp_path / "copy.db")
    run_id = drills.runs["succeeded"]
    for fmt in FORMATS:
        with AuditStore(drills.audit, create=False) as store:
            a = export_report(store, run_id, fmt, tmp_path / f"a.{fmt}")
        with AuditStore(copy, create=False) as store:
            b = export_report(store, run_id[:12], fmt, tmp_path / f"b.{fmt}")
        assert a.read_bytes() == b.read_bytes(), fmt


def test_tampered_log_turns_the_chain_broken(drills: Drills, tmp_path: Path) -> None:
    db = copy_db(drills.audit, tmp_path / "tampered.db")
    run_id = drills.runs["succeeded"]
    before = _all_formats(db, run_id)
    assert "**✓** intact: run " in before["md"]
    conn = sqlite3.connect(str(db))
    try:
        row = conn.execute(
            "SELECT gid, seq, data FROM events WHERE run_id = ? AND kind = 'command_intent' "
            "ORDER BY gid LIMIT 1",
            (run_id,),
        ).fetchone()
        data = json.loads(row[2])
        data["command"] = "echo nothing to see here"
        conn.execute(
            "UPDATE events SET data = ? WHERE gid = ?",
            (json.dumps(data, separators=(",", ":"), sort_keys=True), row[0]),
        )
        conn.commit()
    finally:
        conn.close()
    with AuditStore(db, create=False) as store:
        report = build_report(store, run_id)
        docs = {fmt: render(report, fmt) for fmt in FORMATS}
    assert report.chain.ok is False
    assert report.chain.first_broken_seq == row[1]
    assert report.chain.first_broken_gid == row[0]
    assert report.deviations[0].kind == "chain-broken"
    assert report.deviations[0].severity == "error"
    assert "BROKEN" in report.deviations[0].text
    assert "✗ BROKEN:" in docs["md"]
    assert "✗ BROKEN:" in check_html(docs["html"])
    doc = check_json(docs["json"])
    assert doc["chain"]["ok"] is False and doc["chain"]["first_broken_seq"] == row[1]
    props, cases = check_junit(docs["junit"])
    assert props["audit_chain_ok"] == "false"
    chain_case = next(c for c in cases if c.name == "audit chain intact")
    assert chain_case.result == "failure"
    # the report shows what the log now says, and says the log cannot be trusted
    assert "echo nothing to see here" in docs["md"]
    assert docs["md"] != before["md"]
