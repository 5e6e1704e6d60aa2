"""Reports of real lab drills, in every format, for every way a run can end.

Each scenario of the ``drills`` fixture (conftest) is reported in md, html, json and junit;
every document is validated (JSON Schema, junitparser, HTML well-formedness and
self-containment, Markdown shape) and then checked for what an auditor needs from that run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from console.audit.store import AuditStore
from console.report import FORMATS, build_report, render
from console.report.model import Report
from tests.report.checks import JunitCase, check_html, check_json, check_junit, check_md
from tests.report.conftest import SECRET, Drills

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Made:
    """One run's report and its four documents, validated."""

    report: Report
    docs: dict[str, str]
    json: dict[str, Any]
    props: dict[str, str]
    cases: list[JunitCase]
    html_text: str

    def case(self, start: str) -> JunitCase:
        """The one testcase whose name starts with ``start``."""
        found = [c for c in self.cases if c.name.startswith(start)]
        assert len(found) == 1, (start, [c.name for c in self.cases])
        return found[0]


@pytest.fixture(scope="module")
def made(drills: Drills) -> Iterator[dict[str, Made]]:
    """Every scenario's report in all four formats, each validated."""
    out: dict[str, Made] = {}
    with AuditStore(drills.audit, create=False) as store:
        for name, run_id in drills.runs.items():
            report = build_report(store, run_id)
            docs = {fmt: render(report, fmt) for fmt in FORMATS}
            doc = check_json(docs["json"])
            props, cases = check_junit(docs["junit"])
            text = check_html(docs["html"])
            check_md(docs["md"], report)
            out[name] = Made(report, docs, doc, props, cases, text)
    yield out


def test_every_scenario_ran_and_reports_its_outcome(drills: Drills, made: dict[str, Made]) -> None:
    expected = {
        "stopped": "stopped",
        "gate_failed": "stopped",
        "failed": "failed",
        "interrupted": "interrupted",
        "human": "succeeded",
        "aborted": "aborted",
        "succeeded": "succeeded",
    }
    for name, outcome in expected.items():
        m = made[name]
        assert m.report.run_id == drills.runs[name]
        assert m.report.outcome == outcome, name
        assert m.json["outcome"] == outcome
        assert m.props["outcome"] == outcome
        assert m.report.verdict.split(" ")[1] == outcome.upper()
        # the verdict is the first thing in the html and the md
        assert m.report.verdict in m.html_text
        assert m.report.chain.ok, m.report.chain.reason
        assert m.report.event_count == m.report.chain.events_checked


def test_successful_failover_report(made: dict[str, Made]) -> None:
    m = made["succeeded"]
    r = m.report
    assert r.playbook.name == "pg-failover"
    assert r.playbook.digest.startswith("sha256:") and len(r.playbook.digest) == 71
    assert r.inventory.digest.startswith("sha256:")
    assert r.exit_code == 0
    assert [op.name for op in r.operators] == ["alice"]
    assert "approved with --yes" in r.operators[0].roles
    assert r.steps and all(s.outcome == "ok" for s in r.steps)
    ids = [s.id for s in r.steps]
    assert "fence" in ids and "promote" in ids
    fence = r.steps[ids.index("fence")]
    assert fence.confirmed_by == "alice (--yes)"
    assert "start" in fence.rto_marks
    assert fence.commands[0].command.startswith("/usr/lib/postgresql/15/bin/pg_ctl")
    assert any("server stopped" in line.text for line in fence.commands[0].output)
    # objectives against measurements
    assert r.objectives.rto_seconds == 300.0 and r.objectives.rpo_seconds == 0.0
    assert r.measured.rto_seconds is not None and 0 < r.measured.rto_seconds < 300
    assert r.measured.rto_met is True and r.measured.rpo_met is True
    assert r.measured.rpo_writes == 0
    assert r.canary is not None and r.canary.writes_acknowledged >= 1
    assert r.canary.missing == ()
    assert r.verdict.startswith("✓ SUCCEEDED · RTO ")
    assert ": met · RPO 0s, 0 writes lost (objective 0s): met" in r.verdict
    # replication before and after: the primary moved from east to west
    before = {s.site: s.role for s in r.before if s.service == "orders-db"}
    after = {s.site: s.role for s in r.after if s.service == "orders-db"}
    assert before == {"east": "primary", "west": "replica"}
    assert after["west"] == "primary" and after["east"] != "primary"
    assert "orders-db at west (lab-west): replica → primary" in m.docs["md"]
    assert [d for d in r.deviations if d.severity == "error"] == []
    # the JSON keeps every output line; the junit carries RTO and RPO as properties
    fence_json = next(s for s in m.json["steps"] if s["id"] == "fence")
    assert fence_json["commands"][0]["output"]
    assert float(m.props["rto_seconds"]) == r.measured.rto_seconds
    assert m.props["rto_met"] == "true" and m.props["rpo_met"] == "true"
    assert m.props["rpo_seconds"] == "0" and m.props["rto_objective_seconds"] == "300"
    assert m.props["audit_final_hash"] == r.chain.final_hash
    assert all(c.result == "passed" for c in m.cases), [c for c in m.cases if c.result != "passed"]
    assert len([c for c in m.cases if c.classname == "pg-failover"]) == len(r.steps)


def test_failed_run_with_retry_and_rollback(made: dict[str, Made]) -> None:
    m = made["failed"]
    r = m.report
    assert r.exit_code == 1 and r.stopped_at == "flaky-check"
    by_id = {s.id: s for s in r.steps}
    check = by_id["flaky-check"]
    assert check.outcome == "failed" and check.attempts == 2
    assert [c.attempt for c in check.commands] == [1, 2]
    assert all(c.exit_status == 3 and c.ok is False for c in check.commands)
    assert any(
        o.stream == "stderr" and o.text == "replica not ready" for o in check.commands[0].output
    )
    undo = by_id["undo"]
    assert undo.rollback and undo.outcome == "ok"
    assert r.rollback_ran and r.rollback_ok is True
    assert "never-reached" not in by_id
    kinds = [d.kind for d in r.deviations]
    assert "retry" in kinds and "step-failed" in kinds and "rollback" in kinds
    # the outage began (rto: start on hold) and never ended: RTO is not measured, not zero
    assert r.measured.rto_seconds is None and r.measured.rto_met is None
    assert r.measured.rto_note and "had not ended" in r.measured.rto_note
    assert "RTO not measured (objective 1m00s)" in r.verdict
    # the monitor sampled lag while the run held
    assert {s.phase for s in r.samples} == {"before", "during", "after"}
    assert r.lag and r.lag[0].site == "west"
    assert "lag (seconds)" in m.docs["html"]
    # junit: the failed step fails, the rollback step passes, the RTO is not judged
    assert m.case("flaky-check").result == "failure"
    assert m.case("rollback undo").result == "passed"
    assert m.case("RTO").result == "skipped"
    assert m.case("run completed").result == "failure"
    assert m.props["rto_seconds"] == "" and m.props["rto_met"] == ""
    assert "replica not ready" in m.docs["md"]


def test_stopped_run_waiting_for_an_operator(made: dict[str, Made]) -> None:
    m = made["stopped"]
    r = m.report
    assert r.exit_code == 3 and r.stopped_at == "fence"
    fence = next(s for s in r.steps if s.id == "fence")
    assert fence.outcome == "stopped" and fence.commands == ()
    assert fence.confirmed_by is None
    assert any(d.kind == "stopped" and "needs confirmation" in d.text for d in r.deviations)
    assert r.operators[0].name == "dave"
    assert m.case("fence").result == "failure"
    assert "STOPPED at step fence" in r.verdict


def test_failed_gate_stops_before_any_step(made: dict[str, Made]) -> None:
    m = made["gate_failed"]
    r = m.report
    assert r.steps == ()
    failed = [g for g in r.gates if not g.ok]
    assert failed and failed[0].title == "the primary is at away_site"
    assert "is replica, not primary" in failed[0].detail
    assert sum(1 for d in r.deviations if d.kind == "gate-failed") == len(failed)
    gate_cases = [c for c in m.cases if c.classname == "pg-failback.preflight"]
    assert len(gate_cases) == len(r.gates)
    assert [c.result for c in gate_cases].count("failure") == len(failed)
    assert "✗ FAILED" in m.docs["md"]


def test_interrupted_run_ends_mid_step(made: dict[str, Made]) -> None:
    m = made["interrupted"]
    r = m.report
    assert r.ended_at is None and r.exit_code is None and r.duration is None
    long_step = next(s for s in r.steps if s.id == "long-step")
    assert long_step.outcome == "unknown" and long_step.duration is None
    assert long_step.commands[0].ok is None
    assert long_step.commands[0].reason and "no result recorded" in long_step.commands[0].reason
    output = [line.text for line in long_step.commands[0].output]
    assert len(output) == 1 and output[0].startswith("started, pid ")
    kinds = {d.kind for d in r.deviations}
    assert {"interrupted", "unknown-outcome"} <= kinds
    assert m.case("long-step").result == "error"
    assert m.case("run completed").result == "error"
    assert "no end recorded" in m.html_text


def test_person_decisions_notes_overrides_and_secrets(
    drills: Drills, made: dict[str, Made]
) -> None:
    m = made["human"]
    r = m.report
    carol = next(op for op in r.operators if op.name == "carol")
    assert {"started", "confirmed", "skipped", "noted", "declared done"} <= set(carol.roles)
    by_id = {s.id: s for s in r.steps}
    assert by_id["announce"].confirmed_by == "carol"
    decision = by_id["announce"].decisions[0]
    assert decision.auto is False and decision.reason == "go ahead, window approved"
    skipped = by_id["optional-check"]
    assert skipped.outcome == "skipped"
    assert "known issue INC-4711" in (skipped.reason or "")
    assert any(
        d.kind == "skip" and "skipped by carol: known issue INC-4711" in d.text
        for d in r.deviations
    )
    overrides = [d for d in r.deviations if d.kind == "override"]
    assert overrides and all("--break-lock" in d.text for d in overrides)
    assert any(drills.runs["interrupted"] in d.text for d in overrides)
    assert [n.step_id for n in r.notes] == ["announce", "tell-people"]
    assert r.notes[1].text == "the check failure is INC-4711 | <known>, not a blocker"
    # markup in notes and output is shown as text, everywhere
    assert "INC-4711 | <known>" in m.html_text
    assert "<known>" not in m.docs["html"] and "&lt;known&gt;" in m.docs["html"]
    assert "INC-4711 \\| \\<known>" in m.docs["md"]
    assert "<b>not</b>" in m.html_text and "<b>" not in m.docs["html"]
    assert r.measured.rto_met is True
    assert m.case("optional-check").result == "skipped"
    # the secret parameter is masked in every format
    assert r.params["token"] == "****"
    for fmt, text in m.docs.items():
        assert SECRET not in text, fmt
    assert "drill token **** accepted" in m.docs["md"]


def test_run_aborted_by_a_person(made: dict[str, Made]) -> None:
    m = made["aborted"]
    r = m.report
    assert r.mode == "incident" and r.exit_code == 3
    assert m.docs["md"].startswith("# Incident report: ")
    assert "Incident report" in m.html_text
    announce = next(s for s in r.steps if s.id == "announce")
    assert announce.outcome == "aborted" and announce.commands == ()
    assert announce.decisions[0].action == "abort" and announce.decisions[0].by == "gina"
    aborted = [d for d in r.deviations if d.kind == "aborted"]
    assert aborted and "gina chose abort at step announce: bridge call dropped" in aborted[0].text
    assert "gina" in [o.name for o in r.operators]
    assert m.case("announce").result == "failure"
    assert m.case("run completed").result == "failure"
    assert r.verdict.startswith("■ ABORTED at step announce")


def test_json_reports_survive_a_round_trip(made: dict[str, Made]) -> None:
    for m in made.values():
        again = json.loads(json.dumps(m.json))
        assert again == m.json
        assert again["verdict"] == m.report.verdict
        assert len(again["steps"]) == len(m.report.steps)
