"""The recovery sections of a report (``console.report.recovery``): a point-in-time recovery's
and a cold backup's figures, folded from the ``report:`` lines of a run's recorded output.

Hand-written runs in the shapes the engine records (``tests/report/synthetic.py``); the same
fold on a real lab run's log is checked in ``tests/drills_pitr``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.audit import AuditStore
from console.report import FORMATS, build_report, render
from console.report.recovery import figure_line
from tests.report.checks import check_html, check_json, check_md
from tests.report.synthetic import RunWriter, new_store

pytestmark = pytest.mark.timeout(120)

TARGET = "2026-12-02T14:01:00Z"


def _docs(store: AuditStore, run_id: str) -> dict[str, str]:
    report = build_report(store, run_id)
    docs = {fmt: render(report, fmt) for fmt in FORMATS}
    check_json(docs["json"])
    check_html(docs["html"])
    check_md(docs["md"], report)
    return docs


def _pitr_run(store: AuditStore, *, old: bool = False) -> RunWriter:
    """A pg-pitr-shaped run; ``old``: as logged before the playbooks printed figure lines."""
    w = RunWriter(
        store,
        playbook="pg-pitr",
        kind="point-in-time-restore",
        params={"target_time": TARGET, "target_name": "", "check_sql": "SELECT 1"},
    )

    def lines(*text: str) -> tuple[str, ...]:
        return tuple(x for x in text if not (old and x.startswith("report:")))

    w.step(
        "restore",
        duration=4.0,
        lines=lines(
            "report: phase=fetch",
            "INFO: repo1: restore backup set 20261202-140000F",
            "report: backup=20261202-140000F",
        ),
    )
    w.step("replay", duration=2.0, lines=lines("report: phase=replay", "paused at the target"))
    w.step(
        "prove",
        duration=0.5,
        lines=lines(
            "report: phase=replay",
            "report: replayed=7 replayed_what='WAL segments' replayed_bytes=117441176 "
            "replayed_bytes_what='of WAL from the backup start'",
            "report: recovered=2026-12-02T14:00:58.750000Z",
            "report: gap_s=1.25",
            "PROVEN: nothing after the target was applied",
        ),
    )
    w.step("promote", duration=0.25, lines=lines("report: phase=replay", "read-write"))
    w.step(
        "check-sql",
        duration=0.125,
        lines=lines("report: phase=checks", " markers ", "---------", " A", "(1 row)"),
    )
    w.step(
        "amcheck",
        duration=0.375,
        lines=lines("report: phase=checks", "pg_amcheck: no corruption found"),
    )
    w.step("teardown", duration=0.1, lines=("scratch server stopped and removed",))
    w.finish()
    return w


def test_a_pitr_run_reports_its_figures_in_every_format(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = _pitr_run(store)
    report = build_report(store, w.run_id)
    p = report.pitr
    assert p is not None and report.cold_backup is None
    assert p.target == f"time {TARGET}"
    assert p.recovered == "2026-12-02T14:00:58.750000Z"
    assert p.gap_seconds == 1.25 and not p.gap_bound
    assert p.backup == "20261202-140000F"
    assert (p.replayed_count, p.replayed_what) == (7, "WAL segments")
    assert p.replayed_bytes == 117441176
    # fetch: restore; replay: replay + prove + promote; checks: check-sql + amcheck
    assert (p.fetch_seconds, p.replay_seconds, p.checks_seconds) == (4.0, 2.75, 0.5)
    assert p.proof == "PROVEN: nothing after the target was applied"
    assert [v.step_id for v in p.verification] == ["check-sql", "amcheck"]
    assert p.verification[0].lines == (" markers ", "---------", " A", "(1 row)")
    docs = _docs(store, w.run_id)
    md = docs["md"]
    assert "## Point-in-time recovery" in md
    assert "| gap (target − recovered) | 1.250000 s |" in md
    assert "| log replayed | 7 WAL segments; 117.4 MB (117441176 bytes) of WAL from" in md
    assert "| restore time | 7.2s: fetch 4.0s, replay 2.8s, checks 500ms |" in md
    assert "### Verification" in md and "pg_amcheck: no corruption found" in md
    html = docs["html"]
    assert '<section id="pitr">' in html and "20261202-140000F" in html
    assert "<pre> markers \n---------\n A\n(1 row)</pre>" in html
    doc = json.loads(docs["json"])
    assert doc["pitr"]["replayed_bytes"] == 117441176
    assert doc["pitr"]["verification"][1]["lines"] == ["pg_amcheck: no corruption found"]
    assert "cold_backup" not in doc


def test_an_old_log_without_figure_lines_still_gets_its_section(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = _pitr_run(store, old=True)
    p = build_report(store, w.run_id).pitr
    assert p is not None
    assert (p.recovered, p.gap_seconds, p.backup, p.replayed_count) == (None, None, None, None)
    # the shipped step ids give the phases of an older log
    assert (p.fetch_seconds, p.replay_seconds, p.checks_seconds) == (4.0, 2.75, 0.5)
    assert [v.step_id for v in p.verification] == ["check-sql", "amcheck"]
    md = _docs(store, w.run_id)["md"]
    assert "| recovered point | not recorded |" in md
    assert "| backup used | not recorded |" in md


def test_any_other_run_has_no_recovery_section(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store)
    w.step("fence", lines=("report: phase=fetch backup=x",))
    w.finish()
    report = build_report(store, w.run_id)
    assert report.pitr is None and report.cold_backup is None
    docs = _docs(store, w.run_id)
    assert "Point-in-time recovery" not in docs["md"] and "Cold backup" not in docs["md"]
    doc = json.loads(docs["json"])
    assert "pitr" not in doc and "cold_backup" not in doc


def test_a_whole_second_log_gives_a_bound_and_a_retried_step_counts_once(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(
        store,
        playbook="mariadb-pitr",
        kind="point-in-time-restore",
        params={"target_gtid": "0-1-9"},
    )
    w.step("restore", duration=1.0, lines=("report: phase=fetch",))
    # a replay that failed once and ran again: its last execution's figures and duration
    w.step("replay", duration=9.0, outcome="failed", lines=("report: phase=replay replayed=1",))
    w.step("replay", duration=2.0, lines=("report: phase=replay replayed=3 replayed_bytes=900",))
    w.step("prove", duration=0.5, lines=("report: phase=replay gap_max_s=2", "NOT PROVEN: x"))
    w.finish(outcome="failed", exit_code=1)
    p = build_report(store, w.run_id).pitr
    assert p is not None
    assert p.target == "GTID 0-1-9"
    assert (p.gap_seconds, p.gap_bound) == (2.0, True)
    assert (p.replayed_count, p.replayed_bytes) == (3, 900)
    assert (p.fetch_seconds, p.replay_seconds, p.checks_seconds) == (1.0, 2.5, None)
    assert p.proof == "NOT PROVEN: x"
    md = _docs(store, w.run_id)["md"]
    assert "| gap (target − recovered) | under 2.0s (the log's times carry whole seconds) |" in md
    assert "checks not recorded" in md


def test_a_cold_backup_reports_downtime_copy_and_restore(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store, playbook="pg-cold-backup", kind="restore-verification")
    w.add("rto_mark", {"mark": "start"}, step="stop-replica")
    w.step("stop-replica", duration=0.2)
    w.step("copy", duration=0.6, lines=("report: phase=fetch copy_bytes=97436488 copy_s=0.490",))
    w.step("start-replica", duration=0.1)
    w.add("rto_mark", {"mark": "end"}, step="replica-caught-up")
    w.add("measurement", {"rto_seconds": 1.6, "rpo_seconds": None, "rpo_writes": None})
    w.step("restore", duration=0.2, lines=("report: phase=replay restore_s=0.123",))
    w.step("verify", duration=0.1, lines=("report: phase=checks", "MATCH: the copy is it"))
    w.finish()
    report = build_report(store, w.run_id)
    c = report.cold_backup
    assert c is not None and report.pitr is None
    assert (c.copy_bytes, c.copy_seconds, c.restore_seconds) == (97436488, 0.49, 0.123)
    assert c.downtime_seconds == report.measured.rto_seconds == 1.6
    assert c.proof == "MATCH: the copy is it"
    assert [v.step_id for v in c.verification] == ["verify"]
    docs = _docs(store, w.run_id)
    assert "| copy | 97.4 MB (97436488 bytes) in 490ms |" in docs["md"]
    assert "| restore (mv and start) | 123ms |" in docs["md"]
    assert "| replica downtime | 1.6s |" in docs["md"]
    assert '<section id="cold-backup">' in docs["html"]
    assert json.loads(docs["json"])["cold_backup"]["copy_bytes"] == 97436488


@pytest.mark.parametrize(
    ("line", "figures"),
    [
        ("report: phase=fetch", {"phase": "fetch"}),
        ("  report: a=1 b='two words' c=", {"a": "1", "b": "two words", "c": ""}),
        ("report: unbalanced 'quote", {}),
        ("report: noequals =x", {}),
        ("reports: a=1", None),
        ("the report: a=1", None),
    ],
)
def test_figure_lines(line: str, figures: dict[str, str] | None) -> None:
    assert figure_line(line) == figures


def test_nonsense_figures_are_ignored_not_fatal(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store, kind="point-in-time-restore", params={"target_xid": "12"})
    w.step(
        "prove",
        lines=(
            "report: phase=nonsense replayed=-3 replayed_bytes=1.5 gap_s=nan recovered=",
            "report: 'unbalanced",
        ),
    )
    w.finish()
    p = build_report(store, w.run_id).pitr
    assert p is not None
    assert (p.replayed_count, p.replayed_bytes, p.gap_seconds, p.recovered) == (
        None,
        None,
        None,
        None,
    )
    # "prove" is a replay step of the shipped playbooks; no step declared a valid phase
    assert p.replay_seconds == 0.5
    _docs(store, w.run_id)
