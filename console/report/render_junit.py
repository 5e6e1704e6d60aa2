"""The JUnit XML drill report: a scheduled drill shows up in CI like a test run.

One ``testsuite`` per run, one ``testcase`` per step execution (a failed step is a
``failure``, a skipped one ``skipped``, an outcome nobody knows an ``error``), plus one per
preflight gate, one per objective (a missed RTO fails the build like a failed test), one for
the audit chain and one for the run's completion. The run's facts, RTO and RPO among them, are
``properties`` of the suite; a value that was not measured is an empty string.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from console.report.model import Report, StepRun
from console.report.text import met_word, seconds
from console.report.views import result_line, shown_commands, step_label

_ERROR_OUTCOMES = ("unknown", "running")
_FAILURE_OUTCOMES = ("failed", "aborted", "stopped", "continued")


def _num(value: float | int | None) -> str:
    return "" if value is None else f"{value:g}"


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def properties(report: Report) -> list[tuple[str, str]]:
    """The suite's properties: the run's identity, RTO/RPO against objectives, the chain."""
    m, o = report.measured, report.objectives
    return [
        ("run_id", report.run_id),
        ("outcome", report.outcome),
        ("exit_code", _num(report.exit_code)),
        ("verdict", report.verdict),
        ("mode", report.mode),
        ("playbook", report.playbook.name),
        ("playbook_kind", report.playbook.kind),
        ("playbook_digest", report.playbook.digest),
        ("inventory", report.inventory.name),
        ("inventory_digest", report.inventory.digest),
        ("operators", ", ".join(op.name for op in report.operators)),
        ("ran_on", ", ".join(report.ran_on)),
        ("started_at", report.started_at),
        ("ended_at", report.ended_at or ""),
        ("rto_seconds", _num(m.rto_seconds)),
        ("rto_objective_seconds", _num(o.rto_seconds)),
        ("rto_met", _flag(m.rto_met)),
        ("rpo_seconds", _num(m.rpo_seconds)),
        ("rpo_writes", _num(m.rpo_writes)),
        ("rpo_objective_seconds", _num(o.rpo_seconds)),
        ("rpo_met", _flag(m.rpo_met)),
        ("deviations", str(len(report.deviations))),
        ("audit_chain_ok", _flag(report.chain.ok)),
        ("audit_final_hash", report.chain.final_hash),
    ]


def _case(suite: ET.Element, classname: str, name: str, time: float | None) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", classname=classname, name=name, time=f"{max(time or 0.0, 0.0):.3f}"
    )


def _step_output(step: StepRun) -> str:
    commands, hidden = shown_commands(step)
    lines: list[str] = []
    for c in commands:
        lines.append(f"{c.host} $ {c.command}")
        label = (
            f"poll {c.attempt}: " if c.poll else (f"attempt {c.attempt}: " if c.attempt > 1 else "")
        )
        lines.append(f"  -> {label}{c.result}")
        if c.hidden_lines:
            lines.append(f"  ... {c.hidden_lines} earlier line(s) in the JSON report")
        lines.extend(f"  {t}" for t in c.tail)
    if hidden:
        lines.append(f"{hidden} earlier command(s) (attempts or polls) in the JSON report")
    for d in step.decisions:
        auto = " (automatic)" if d.auto else ""
        lines.append(f"decision {d.action} by {d.by}{auto}: {d.reason or ''}".rstrip(": "))
    return "\n".join(lines)


def render_junit(report: Report) -> str:
    """The report as a JUnit XML document (``<testsuites>`` with one ``<testsuite>``)."""
    pb = report.playbook.name
    root = ET.Element("testsuites", name=f"drconsole {report.mode}s")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"{pb} {report.run_id}",
        timestamp=report.started_at[:19],
        hostname=report.ran_on[-1] if report.ran_on else "unknown",
        id="0",
        package=pb,
    )
    props = ET.SubElement(suite, "properties")
    for key, value in properties(report):
        ET.SubElement(props, "property", name=key, value=value)
    for g in report.gates:
        case = _case(suite, f"{pb}.preflight", f"gate {g.index}: {g.title}", 0.0)
        if not g.ok:
            ET.SubElement(
                case, "failure", message=f"gate failed: {g.title}", type="gate"
            ).text = g.detail
    seen: Counter[str] = Counter()
    for step in report.steps:
        label = step_label(step)
        seen[label] += 1
        again = f" (execution {seen[label]})" if seen[label] > 1 else ""
        classname = f"{pb}.rollback" if step.rollback else pb
        case = _case(suite, classname, f"{label}: {step.title}{again}", step.duration)
        why = step.reason or step.outcome
        if step.outcome in _FAILURE_OUTCOMES:
            ET.SubElement(case, "failure", message=why, type=step.outcome).text = _failure_text(
                step
            )
        elif step.outcome in _ERROR_OUTCOMES:
            ET.SubElement(case, "error", message=why, type=f"outcome-{step.outcome}").text = (
                "the step was in flight when the log ends; whether its command took effect "
                "is not known: check the host"
            )
        elif step.outcome == "skipped":
            ET.SubElement(case, "skipped", message=why)
        out = _step_output(step)
        if out:
            ET.SubElement(case, "system-out").text = out
    for planned in report.not_run:
        case = _case(suite, pb, f"{planned.id}: {planned.title}", 0.0)
        ET.SubElement(case, "skipped", message="not run: the run ended before this step")
    _objective_cases(suite, report)
    chain = _case(suite, f"{pb}.audit", "audit chain intact", 0.0)
    if not report.chain.ok:
        ET.SubElement(chain, "failure", message=report.chain.reason, type="audit-chain")
    run = _case(suite, f"{pb}.run", "run completed", report.duration)
    if report.outcome != "succeeded":
        kind = "error" if report.outcome in ("interrupted", "running", "running?") else "failure"
        ET.SubElement(
            run, kind, message=f"run {report.outcome}: {report.summary}", type=report.outcome
        )
    total = report.duration
    if total is None:
        total = sum(s.duration or 0.0 for s in report.steps)
    _count(root, suite, total)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _failure_text(step: StepRun) -> str:
    failed = [c for c in step.commands if c.ok is False]
    lines = [f"{c.host}: {result_line(c)}" for c in failed[-5:]]
    return "\n".join(lines) or (step.reason or step.outcome)


def _objective_cases(suite: ET.Element, report: Report) -> None:
    m, o = report.measured, report.objectives
    for name, measured, objective, met, note in (
        ("RTO", m.rto_seconds, o.rto_seconds, m.rto_met, m.rto_note),
        ("RPO", m.rpo_seconds, o.rpo_seconds, m.rpo_met, m.rpo_note),
    ):
        goal = f"objective {seconds(objective)}" if objective is not None else "no objective"
        case = _case(suite, f"{report.playbook.name}.objectives", f"{name} ({goal})", 0.0)
        if met is False:
            ET.SubElement(
                case,
                "failure",
                message=f"{name} {seconds(measured)} missed the {goal}",
                type="objective-missed",
            )
        elif met is None:
            why = note or met_word(met)
            ET.SubElement(case, "skipped", message=f"{name} not judged: {why}")


def _count(root: ET.Element, suite: ET.Element, total: float) -> None:
    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    for el in (suite, root):
        el.set("tests", str(len(cases)))
        el.set("failures", str(failures))
        el.set("errors", str(errors))
        el.set("skipped", str(skipped))
        el.set("time", f"{total:.3f}")
