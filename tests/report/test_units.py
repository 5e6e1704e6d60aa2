"""The report without a lab: hand-written runs through the real audit store, odd payloads,
escaping, wording, the SVG and the speed of a 10,000-event run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.report_render import make_synthetic_run
from console.audit import AuditStore
from console.audit.model import BrokenEvent, Event, VerifyResult
from console.errors import InputError
from console.report import (
    FORMATS,
    build_history,
    build_report,
    default_filename,
    export_report,
    fold_report,
    parse_since,
    render,
    render_history,
)
from console.report.render_md import cell, fence
from console.report.svg import nice_step, timeline_svg
from console.report.text import offset, seconds, verdict
from tests.report.checks import check_html, check_json, check_junit, check_md
from tests.report.synthetic import RunWriter, new_store

pytestmark = pytest.mark.timeout(300)


def _all(store: AuditStore, run_id: str) -> dict[str, str]:
    report = build_report(store, run_id)
    docs = {fmt: render(report, fmt) for fmt in FORMATS}
    check_json(docs["json"])
    check_junit(docs["junit"])
    check_html(docs["html"])
    check_md(docs["md"], report)
    return docs


def test_missed_rto_fails_the_objective_everywhere(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store, objectives={"rto_seconds": 1.0, "rpo_seconds": 0.0})
    w.sample("before", "east", "primary", None)
    w.sample("before", "west", "replica", 0.2)
    w.step("fence")
    w.add("rto_mark", {"mark": "start"}, step="fence")
    w.sample("during", "west", "replica", None)
    w.sample("during", "west", "replica", 2.5)
    w.step("promote", duration=3.0)
    w.add("rto_mark", {"mark": "end"}, step="promote")
    w.add(
        "measurement",
        {
            "rto_seconds": 3.2,
            "rpo_seconds": 0.0,
            "rpo_writes": 0,
            "rto_objective": 1.0,
            "rpo_objective": 0.0,
            "rto_met": False,
            "rpo_met": True,
        },
    )
    w.sample("after", "west", "primary", None)
    w.finish(rto_seconds=3.2, rpo_seconds=0.0, rto_met=False, rpo_met=True)
    report = build_report(store, w.run_id)
    assert report.measured.rto_met is False
    assert "RTO 3.2s (objective 1.0s): MISSED" in report.verdict
    docs = _all(store, w.run_id)
    props, cases = check_junit(docs["junit"])
    assert props["rto_met"] == "false" and props["rto_seconds"] == "3.2"
    rto_case = next(c for c in cases if c.name.startswith("RTO"))
    assert rto_case.result == "failure" and "missed" in rto_case.message
    assert "verdict bad" in docs["html"]
    # lag: an unknown sample is never drawn or listed as zero
    west = next(s for s in report.lag if s.site == "west")
    assert [p.lag_seconds for p in west.points] == [0.2, None, 2.5]
    assert "lag unknown at" in docs["html"]
    assert "1 unknown" in docs["md"]


def test_resumed_run_shows_both_executions(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store, pid=999_999_999)
    w.step("one")
    w.add(
        "step_started",
        {"title": "Two", "kind": "run", "targets": ["h1"], "attempt": 1, "rollback": False},
        step="two",
    )
    w.add("command_intent", {"command": "sleep 100", "attempt": 1}, step="two", host="h1")
    # the process died (pid 999999999 does not exist); another operator resumes
    store.resume_run(w.run_id, operator="zoe")
    w.add(
        "decision",
        {"action": "rerun", "reason": "checked the host", "auto": False, "by": "zoe"},
        step="two",
        operator="zoe",
    )
    w.step("two")
    w.finish()
    report = build_report(store, w.run_id)
    assert [(s.id, s.outcome) for s in report.steps] == [
        ("one", "ok"),
        ("two", "unknown"),
        ("two", "ok"),
    ]
    assert report.steps[2].decisions[0].by == "zoe"
    assert report.steps[2].confirmed_by == "zoe"
    assert report.resumptions[0].by == "zoe"
    assert report.resumptions[0].previous_status == "interrupted"
    assert {"resumed", "unknown-outcome"} <= {d.kind for d in report.deviations}
    assert [o.name for o in report.operators] == ["tester", "zoe"]
    docs = _all(store, w.run_id)
    assert "two: Step two (execution 2)" in docs["junit"]


def test_unfinished_run_status_depends_on_its_process(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    alive = RunWriter(store)  # this very process: running
    alive.step("a")
    elsewhere = RunWriter(store, hostname="some-other-host")
    dead = RunWriter(store, pid=999_999_999)
    assert build_report(store, alive.run_id).outcome == "running"
    assert build_report(store, elsewhere.run_id).outcome == "running?"
    assert build_report(store, dead.run_id).outcome == "interrupted"
    running = build_report(store, alive.run_id)
    assert running.ended_at is None and running.duration is None
    for run_id in (alive.run_id, elsewhere.run_id, dead.run_id):
        _all(store, run_id)


def test_markup_in_the_log_stays_text(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    evil = '<script>alert("x")</script></svg><img src=x onerror=alert(1)>'
    w = RunWriter(store, title=evil, playbook="evil")
    w.step("s1", title=evil, command=f"echo '{evil}'", lines=(evil, "```", "| pipe |"))
    w.add("note", {"text": evil, "by": "tester"}, step="s1")
    w.add("notice", {"level": "warning", "message": evil})
    w.finish()
    docs = _all(store, w.run_id)
    assert "<script" not in docs["html"] and "<img" not in docs["html"]
    assert "&lt;script&gt;" in docs["html"]
    svg = timeline_svg(build_report(store, w.run_id))
    assert "<script" not in svg and "&lt;/svg&gt;" in svg
    assert "\\<script>" in docs["md"]  # in prose; check_md found none unescaped
    assert "````\n" in docs["md"], "a fence longer than the backticks inside"
    json.loads(docs["json"])
    assert "<script" not in docs["junit"]


def test_gate_commands_and_their_output_are_shown(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store)
    w.add("command_intent", {"command": "check-standby", "attempt": 1}, step="preflight", host="h2")
    w.add(
        "output",
        {"stream": "stderr", "lines": ["standby is 9 GB behind"]},
        step="preflight",
        host="h2",
    )
    w.add(
        "command_result",
        {"exit_status": 1, "duration": 0.1, "ok": False, "reason": "exit status 1, expected 0"},
        step="preflight",
        host="h2",
    )
    w.add("gate_result", {"index": 1, "gate": "standby close", "ok": False, "detail": "h2: exit 1"})
    w.finish(outcome="stopped", exit_code=3, summary="preflight gate failed")
    report = build_report(store, w.run_id)
    assert report.gates[0].commands[0].output[0].text == "standby is 9 GB behind"
    assert report.steps == ()
    docs = _all(store, w.run_id)
    assert "stderr| standby is 9 GB behind" in docs["md"]
    assert "stderr| standby is 9 GB behind" in docs["html"]
    _, cases = check_junit(docs["junit"])
    assert next(c for c in cases if c.name == "gate 1: standby close").result == "failure"


def test_odd_payloads_never_break_the_report(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store)
    w.add("step_started", {"title": None, "targets": "not-a-list", "attempt": "x"}, step="odd")
    w.add("command_result", {"exit_status": "zero"}, step="odd", host="h")
    w.add("output", {"lines": ["orphan line"]}, step="ghost", host="h")
    w.add("step_finished", {"outcome": "ok", "duration": "long"}, step="odd")
    w.add("gate_result", {"ok": "yes"})
    w.add("probe_sample", {"lag_seconds": "lots", "phase": "during"})
    w.add("brand_new_kind", {"anything": [1, 2, 3]})
    w.add("decision", {"action": "skip"}, step="later")
    w.finish(outcome="succeeded", rto_seconds="fast")
    report = build_report(store, w.run_id)
    assert report.measured.rto_seconds is None
    assert report.steps[0].duration is None
    assert report.samples[0].lag_seconds is None
    _all(store, w.run_id)


_KINDS = [
    "step_started",
    "step_finished",
    "decision",
    "command_intent",
    "output",
    "command_result",
    "gate_result",
    "probe_sample",
    "notice",
    "note",
    "rto_mark",
    "measurement",
    "canary_write",
    "canary_check",
    "lock_broken",
    "rollback_started",
    "rollback_finished",
    "run_resumed",
    "run_finished",
]
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_KEYS = st.sampled_from(
    [
        "title",
        "outcome",
        "duration",
        "attempt",
        "attempts",
        "action",
        "by",
        "auto",
        "lines",
        "stream",
        "ok",
        "lag_seconds",
        "phase",
        "mark",
        "level",
        "message",
        "text",
        "holder",
        "targets",
        "rollback",
        "reason",
        "exit_status",
        "missing",
        "previous_status",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_KINDS),
            st.dictionaries(_KEYS, _VALUES, max_size=6),
            st.sampled_from([None, "s1", "s2", "preflight"]),
            st.sampled_from([None, "h1", "h2"]),
        ),
        max_size=25,
    )
)
def test_fold_accepts_any_payload(
    items: list[tuple[str, dict[str, Any], str | None, str | None]],
) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    events = [
        Event(
            gid=1,
            run_id="R",
            seq=1,
            ts=start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            kind="run_started",
            operator="op",
            host=None,
            step_id=None,
            data={"playbook": {"name": "p"}, "pid": 1, "hostname": "x"},
            prev_hash="0" * 64,
            hash="1" * 64,
        )
    ]
    for i, (kind, data, step, host) in enumerate(items, start=2):
        events.append(
            Event(
                gid=i,
                run_id="R",
                seq=i,
                ts=(start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                kind=kind,
                operator="op",
                host=host,
                step_id=step,
                data=data,
                prev_hash="1" * 64,
                hash="2" * 64,
            )
        )
    chain = VerifyResult(False, 3, BrokenEvent(3, "R", 3, "x"), "broken for the test", "2" * 64)
    report = fold_report("R", events, chain, this_host="y")
    assert report.deviations[0].kind == "chain-broken"
    for fmt in FORMATS:
        assert render(report, fmt)


def test_export_to_a_file_or_a_folder(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store, playbook="pg failover/x")
    w.step("s")
    w.finish()
    out = export_report(store, w.run_id, "md", tmp_path / "r.md")
    assert out == tmp_path / "r.md" and out.read_text().startswith("# Drill report")
    folder = tmp_path / "out"
    folder.mkdir()
    written = export_report(store, w.run_id[:8], "junit", folder)
    report = build_report(store, w.run_id)
    assert written == folder / default_filename(report, "junit")
    assert written.name == f"drill-pg_failover_x-{w.run_id}.xml"
    assert not list(folder.glob(".report-*")), "no temporary file left behind"
    with pytest.raises(InputError, match="unknown report format"):
        export_report(store, w.run_id, "pdf", tmp_path / "r.pdf")
    with pytest.raises(InputError, match="does not exist"):
        export_report(store, w.run_id, "md", tmp_path / "missing" / "r.md")
    with pytest.raises(InputError, match="no run"):
        export_report(store, "NOPE", "md", tmp_path / "x.md")


def test_history_trend_says_better_or_worse(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    for rto in (4.0, 3.0, 2.0, 1.0):
        w = RunWriter(
            store, playbook="pg-failover", objectives={"rto_seconds": 2.5, "rpo_seconds": 0}
        )
        w.step("s")
        w.finish(rto_seconds=rto, rpo_seconds=0.0, rpo_writes=0)
    other = RunWriter(store, playbook="redis-failover")
    other.finish(outcome="failed", exit_code=1)
    history = build_history(store)
    book = next(b for b in history.playbooks if b.name == "pg-failover")
    assert [r.rto_seconds for r in book.runs] == [4.0, 3.0, 2.0, 1.0]
    assert [r.rto_met for r in book.runs] == [False, False, True, True]
    assert "RTO met in 2 of 4 judged" in book.summary
    assert "latest RTO 1.0s, better than the median 3.0s of earlier runs" in book.summary
    md = render_history(history, "md")
    assert "## redis-failover (custom)" in md and "1 failed" in md
    html = render_history(history, "html")
    text = check_html(html)
    assert "RTO per run" in html and "objective 2.5s" in html
    assert "latest RTO 1.0s" in text
    only = build_history(store, playbook="redis-failover")
    assert [b.name for b in only.playbooks] == ["redis-failover"]
    with pytest.raises(InputError):
        render_history(history, "junit")


def test_parse_since() -> None:
    now = datetime(2030, 6, 1, tzinfo=UTC)
    assert parse_since("90d", now) == now - timedelta(days=90)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2030-01-31", now) == datetime(2030, 1, 31, tzinfo=UTC)
    for bad in ("", "yesterday", "-5d", "5 days"):
        with pytest.raises(InputError, match="--since"):
            parse_since(bad, now)


def test_wording() -> None:
    assert seconds(None) == "—" and seconds(0.3) == "300ms" and seconds(300) == "5m00s"
    assert offset(1.234) == "+1.23s" and offset(75) == "+1m15.0s" and offset(None) == "—"
    line = verdict("failed", "x", (None, 60.0, None, "never started"), (0.0, 0.0, True, None), 0)
    assert line == (
        "✗ FAILED at step x · RTO not measured (objective 1m00s): never started · "
        "RPO 0s, 0 writes lost (objective 0s): met"
    )
    assert "no objective" in verdict(
        "succeeded", None, (1.0, None, None, None), (None, None, None, None), None
    )
    assert cell("a|b\nc") == "a\\|b c" and cell("<x>") == "\\<x>"
    assert fence(["``` inside"]) == ["````", "``` inside", "````"]
    assert [nice_step(x) for x in (0.8, 10, 95, 1000)] == [0.2, 2, 20, 200]


def test_ten_thousand_events_render_to_html(tmp_path: Path) -> None:
    """A long run renders whole and valid (its speed is measured in
    ``benchmarks/report_render.py``, not asserted here: a loaded machine is 10x slower)."""
    store = new_store(tmp_path)
    run_id = make_synthetic_run(store, 10_000)
    assert len(store.events(run_id)) >= 10_000
    check_html(render(build_report(store, run_id), "html"))


def test_what_another_member_held_of_the_acknowledged_canaries(tmp_path: Path) -> None:
    """A step's ``canary held at SITE: n <= N`` line is compared with the acknowledged writes:
    the report counts the acknowledged ones up to N as held there, the later ones as not seen,
    beside what the read-back found (city-loss: the synchronous standby vs dr)."""
    store = new_store(tmp_path)
    w = RunWriter(store)
    for n in range(1, 8):  # 1..6 acknowledged, 7 not (the city went dark)
        w.add(
            "canary_write",
            {"service": "db", "n": n, "ok": n <= 6, "written_at": 1.0 + n},
            host="h-east",
        )
    # written on the new primary after the failover: not one of east's writes
    w.add("canary_write", {"service": "db", "n": 8, "ok": True, "written_at": 9.0}, host="h-dr")
    w.step(
        "sync-holds",
        lines=(
            "first answer: west holds n <= 1 (1 rows), sync, flushed to 0/3000060",
            "the city stopped answering",
            "canary held at west: n <= 5 of the writes on h-east (5 rows), sync, at 01:14:39Z",
        ),
    )
    w.add(
        "canary_check",
        {
            "service": "db",
            "acknowledged": 7,
            "present": 5,
            "missing": [5, 6],
            "newest_present": 4,
            "rpo_writes": 2,
            "rpo_seconds": 2.0,
        },
        host="h-dr",
    )
    w.finish()
    report = build_report(store, w.run_id)
    assert report.canary is not None
    (held,) = report.canary.held
    assert (held.site, held.writes_on, held.upto) == ("west", "h-east", 5)
    assert (held.acknowledged, held.acknowledged_held, held.acknowledged_after) == (6, 5, 1)
    assert held.read_back_held == 4  # east's 1..4 on dr; its 5 and 6 missing there
    assert held.step_id == "sync-holds"
    docs = _all(store, w.run_id)
    assert (
        "**west** held **5 of the 6 canary writes h-east acknowledged** when last asked (n ≤ 5; "
        "1 acknowledged after that, not seen there); h-dr, where the run read them back, held 4"
    ) in docs["md"]
    assert "<strong>5 of the 6 canary writes h-east acknowledged</strong>" in docs["html"]
    assert json.loads(docs["json"])["canary"]["held"][0]["acknowledged_held"] == 5


def test_no_held_line_no_held_figure(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store)
    w.add("canary_write", {"service": "db", "n": 1, "ok": True, "written_at": 1.0}, host="h")
    w.step("s", lines=("canary held somewhere else: 3", "  canary held at west: n <= 2"))
    w.finish()
    report = build_report(store, w.run_id)
    assert report.canary is not None and report.canary.held == ()
    assert "held elsewhere" not in _all(store, w.run_id)["md"]


def test_a_held_line_without_a_host_counts_every_acknowledged_write(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    w = RunWriter(store)
    for n, host in ((1, "a"), (2, "a"), (3, "b")):
        w.add("canary_write", {"service": "db", "n": n, "ok": True, "written_at": n}, host=host)
    w.step("s", lines=("canary held at west: n <= 2",))
    w.finish()
    report = build_report(store, w.run_id)
    assert report.canary is not None
    (held,) = report.canary.held
    assert (held.writes_on, held.acknowledged, held.acknowledged_held) == (None, 3, 2)
    assert held.read_back_held is None  # no canary check ran
    md = _all(store, w.run_id)["md"]
    assert "**west** held **2 of the 3 acknowledged canary writes** when last asked" in md
