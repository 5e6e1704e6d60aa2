"""The Markdown drill report: readable as plain text in a terminal and rendered in a code review.

Plain GitHub-flavoured Markdown: headings, pipe tables for the facts and the replication
state, fenced blocks for commands and output (so nothing in a command or its output can turn
into markup), no HTML. The verdict is the first line after the title, as an auditor reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from console.report.model import REPORT_VERSION, Report, Sample, StepRun, VerificationOutput
from console.report.text import canary_problem, met_word, offset, seconds, symbol, timestamp
from console.report.views import (
    cold_rows,
    command_view,
    lag_text,
    pitr_rows,
    polls_text,
    role_changes,
    shown_commands,
    step_label,
)


def inline(text: object) -> str:
    """Free text from the log made inert in Markdown: ``<`` cannot open an HTML tag."""
    return str(text).replace("<", "\\<")


def cell(text: object) -> str:
    """A value made safe for one Markdown table cell (pipes and ``<`` escaped, one line)."""
    flat = " ".join(str(text).split())
    return inline(flat.replace("\\", "\\\\").replace("|", "\\|")) or " "


def fence(lines: Iterable[str], lang: str = "") -> list[str]:
    """A fenced block long enough that no line inside can close it."""
    body = [str(x) for x in lines]
    ticks = 3
    for line in body:
        run = len(line) - len(line.lstrip("`"))
        ticks = max(ticks, run + 1)
    mark = "`" * ticks
    return [f"{mark}{lang}", *body, mark]


def table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A pipe table."""
    out = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    out.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return out


def render_md(report: Report) -> str:
    """The report as Markdown text (ends with a newline)."""
    r = report
    kind = "Incident" if r.mode == "incident" else "Drill"
    title = inline(r.playbook.title or r.playbook.name)
    out = [f"# {kind} report: {title}", "", f"**{inline(r.verdict)}**", ""]
    out += _run(r)
    out += _objectives(r)
    out += _pitr(r)
    out += _cold_backup(r)
    out += _deviations(r)
    out += _gates(r)
    out += [f"## Steps ({len(r.steps)})", ""]
    for step in r.steps:
        out += _step(step)
    if not r.steps:
        out += ["No step started.", ""]
    if r.not_run:
        out += [f"### Not run ({len(r.not_run)})", ""]
        out += [f"- `{p.id}` ({p.kind}) {p.title}" for p in r.not_run]
        out += [""]
    elif r.outcome in ("stopped", "failed", "aborted", "interrupted"):
        out += [
            "_Steps after the last one shown were not started (the log records steps as they "
            "start; the playbook version is identified by its digest)._",
            "",
        ]
    out += _parts(r)
    out += _replication(r)
    out += _notes(r)
    out += _chain(r)
    out += [
        "---",
        f"_Built from the audit log alone by `drconsole report` (report format {REPORT_VERSION}): "
        f"{r.event_count} events of run {r.run_id}. Times are UTC; offsets are from the start "
        "of the run._",
    ]
    return "\n".join(out) + "\n"


def _parts(r: Report) -> list[str]:
    """A section per included playbook of a composed run (nothing for any other run)."""
    if not r.parts:
        return []
    out = [f"## Included playbooks ({len(r.parts)})", ""]
    for p in r.parts:
        took = seconds(p.duration) if p.duration is not None else "-"
        when = f"{timestamp(p.started_at)} to {timestamp(p.ended_at)}" if p.started_at else "-"
        out += [f"### `{p.id}`: {inline(p.title)} ({inline(p.playbook)}) — {p.outcome}", ""]
        out += table(
            ("", ""),
            [
                ("file", f"`{p.path}`"),
                ("digest", f"`{p.digest}`"),
                ("outcome", p.outcome),
                ("time", f"{when} ({took})" if p.started_at else "-"),
            ],
        )
        out += [""]
        out += table(("step", "outcome"), [(f"`{sid}`", word) for sid, word in p.steps])
        out += [""]
    return out


def _verification_md(items: Sequence[VerificationOutput]) -> list[str]:
    out: list[str] = []
    for v in items:
        out += [f"**{symbol(v.outcome)} `{v.step_id}`** {inline(v.title)}", ""]
        out += fence(v.lines or ["(no output)"])
        out += [""]
    return out


def _pitr(r: Report) -> list[str]:
    """The point-in-time recovery's figures (nothing for any other run)."""
    p = r.pitr
    if p is None:
        return []
    out = ["## Point-in-time recovery", ""]
    out += table(("", ""), [(k, v) for k, v in pitr_rows(p)])
    out += [""]
    if p.verification:
        out += ["### Verification", ""]
        out += _verification_md(p.verification)
    return out


def _cold_backup(r: Report) -> list[str]:
    """The cold-backup drill's figures (nothing for any other run)."""
    c = r.cold_backup
    if c is None:
        return []
    out = ["## Cold backup", ""]
    out += table(("", ""), [(k, v) for k, v in cold_rows(c)])
    out += [""]
    if c.verification:
        out += ["### Verification", ""]
        out += _verification_md(c.verification)
    return out


def _run(r: Report) -> list[str]:
    ended = (
        f"{timestamp(r.ended_at)} (after {seconds(r.duration)})"
        if r.ended_at
        else f"no end recorded; last event {timestamp(r.last_event_at)}"
    )
    exit_text = f" (exit {r.exit_code})" if r.exit_code is not None else ""
    summary = f" — {r.summary}" if r.summary else ""
    rows: list[tuple[str, str]] = [
        ("Run", f"`{r.run_id}`"),
        ("Outcome", f"{symbol(r.outcome)} {r.outcome}{exit_text}{summary}"),
        ("Playbook", f"{r.playbook.name} ({r.playbook.kind}) `{r.playbook.path}`"),
        ("Playbook digest", f"`{r.playbook.digest}`"),
        ("Inventory", f"{r.inventory.name} `{r.inventory.path}`"),
        ("Inventory digest", f"`{r.inventory.digest}`"),
        ("Mode", r.mode),
        ("Services", ", ".join(r.services) or "—"),
        ("Ran on", ", ".join(r.ran_on) or "—"),
        ("Operators", "; ".join(f"{o.name} ({', '.join(o.roles)})" for o in r.operators) or "—"),
        ("Started", timestamp(r.started_at)),
        ("Ended", ended),
    ]
    if r.params:
        rows.append(("Parameters", ", ".join(f"`{k}={v}`" for k, v in sorted(r.params.items()))))
    rows.extend(
        ("Resumed", f"{timestamp(x.at)} by {x.by} (it was {x.previous_status})")
        for x in r.resumptions
    )
    return ["## Run", "", *table(("", ""), rows), ""]


def _objectives(r: Report) -> list[str]:
    m, o = r.measured, r.objectives
    rto_how = (
        f"outage from {timestamp(m.rto_started_at)} to {timestamp(m.rto_ended_at)}"
        if m.rto_seconds is not None
        else m.rto_note or ""
    )
    if r.canary is not None:
        c = r.canary
        rpo_how = (
            f"canary on {c.service}: {c.writes_acknowledged} acknowledged, "
            f"{c.writes_failed} not acknowledged"
        )
        if c.checked_on:
            present = "?" if c.present is None else c.present
            missing = ", ".join(str(n) for n in c.missing) or "none"
            rpo_how += f"; read back on {c.checked_on}: {present} present, missing {missing}"
        if c.error:
            rpo_how += f"; {canary_problem(c.error)}"
    else:
        rpo_how = m.rpo_note or ""
    writes = f", {m.rpo_writes} write(s) lost" if m.rpo_writes is not None else ""
    rows = [
        ("RTO", seconds(o.rto_seconds), seconds(m.rto_seconds), met_word(m.rto_met), rto_how),
        (
            "RPO",
            seconds(o.rpo_seconds),
            seconds(m.rpo_seconds) + writes,
            met_word(m.rpo_met),
            rpo_how,
        ),
    ]
    return [
        "## Objectives and measurements",
        "",
        *table(("", "objective", "measured", "verdict", "how"), rows),
        "",
        *_held(r),
    ]


def _held(r: Report) -> list[str]:
    """What other members held of the acknowledged canary writes (one line each)."""
    c = r.canary
    if c is None or not c.held:
        return []
    out = []
    for h in c.held:
        whose = (
            f"canary writes {h.writes_on} acknowledged"
            if h.writes_on
            else "acknowledged canary writes"
        )
        after = (
            f"; {h.acknowledged_after} acknowledged after that, not seen there"
            if h.acknowledged_after
            else ""
        )
        line = (
            f"- **{h.site}** held **{h.acknowledged_held} of the {h.acknowledged} {whose}** "
            f"when last asked (n ≤ {h.upto}{after})"
        )
        if c.checked_on and h.read_back_held is not None:
            line += f"; {c.checked_on}, where the run read them back, held {h.read_back_held}"
        out.append(line + f". `{inline(h.line)}`")
    return ["Acknowledged writes held elsewhere:", "", *out, ""]


def _deviations(r: Report) -> list[str]:
    out = [f"## Deviations ({len(r.deviations)})", ""]
    if not r.deviations:
        return [*out, "None: every gate passed and every step ran once, as planned.", ""]
    for d in r.deviations:
        out.append(f"- **{d.severity.upper()}** `{offset(d.offset)}` [{d.kind}] {inline(d.text)}")
    return [*out, ""]


def _gates(r: Report) -> list[str]:
    out = ["## Preflight gates", ""]
    if not r.gates:
        return [*out, "No gate was evaluated.", ""]
    rows = [
        (g.index, g.title, "✓ passed" if g.ok else "✗ FAILED", g.detail.replace("\n", "; "))
        for g in r.gates
    ]
    out += [*table(("#", "gate", "result", "detail"), rows), ""]
    for g in r.gates:
        for c in g.commands:
            view = command_view(c)
            out += [f"Gate {g.index} ran on {c.host}:", ""]
            out += [*fence([c.command], "console"), inline(view.result), ""]
            if view.tail:
                out += [*fence(view.tail), ""]
    return out


def _step(step: StepRun) -> list[str]:
    out = [
        f"### {symbol(step.outcome)} {step.outcome} · {step_label(step)} — {inline(step.title)}",
        "",
    ]
    facts = [
        f"{step.kind} step",
        f"on {', '.join(step.targets)}" if step.targets else "",
        f"started {offset(step.offset)} ({timestamp(step.started_at)})",
        f"took {seconds(step.duration)}",
        f"{step.attempts} attempt(s)",
        polls_text(step) or "",
        f"outage {' and '.join(step.rto_marks)} here" if step.rto_marks else "",
        f"approved by {step.confirmed_by}" if step.confirmed_by else "",
    ]
    out += [" · ".join(f for f in facts if f), ""]
    if step.reason:
        out += [f"> {inline(step.reason)}", ""]
    if step.description:
        out += [inline(step.description), ""]
    if step.instructions:
        out += [f"**Instructions:** {inline(step.instructions)}", ""]
    for d in step.decisions:
        auto = " (automatic)" if d.auto else ""
        why = f" — {inline(d.reason)}" if d.reason else ""
        out.append(f"- decision **{d.action}** by {d.by}{auto}{why} `{offset(d.offset)}`")
    if step.decisions:
        out.append("")
    commands, hidden = shown_commands(step)
    for c in commands:
        attempt = (
            f"poll {c.attempt}: " if c.poll else (f"attempt {c.attempt}: " if c.attempt > 1 else "")
        )
        out += fence([f"{c.host} $ {c.command}"], "console")
        out += [f"{attempt}{inline(c.result)}", ""]
        if c.tail:
            if c.hidden_lines:
                out += [f"_… {c.hidden_lines} earlier line(s) in the JSON report_", ""]
            out += [*fence(c.tail), ""]
    if hidden:
        out += [f"_{hidden} earlier command(s) (attempts or polls) are in the JSON report._", ""]
    for n in step.notices:
        out.append(f"- {n.level}: {inline(n.message)}")
    if step.notices:
        out.append("")
    return out


def _sample_rows(rows: Sequence[Sample]) -> list[tuple[object, ...]]:
    return [
        (
            s.service,
            s.site,
            s.host or "—",
            s.role,
            s.link,
            lag_text(s),
            s.position or "—",
            s.health + (f": {s.error}" if s.error else ""),
            offset(s.offset),
        )
        for s in rows
    ]


def _replication(r: Report) -> list[str]:
    head = ("service", "site", "host", "role", "link", "lag", "position", "health", "sampled")
    out = ["## Replication", ""]
    for title, rows in (("Before the run", r.before), ("After the run", r.after)):
        out += [f"### {title}", ""]
        out += [*table(head, _sample_rows(rows)), ""] if rows else ["No sample recorded.", ""]
    changes = role_changes(r)
    if changes:
        out += ["**Role changes:** " + inline("; ".join(changes)), ""]
    out += ["### Lag over the run", ""]
    if not r.lag:
        return [*out, "No member reported a lag during the run.", ""]
    for s in r.lag:
        known = [p.lag_seconds for p in s.points if p.lag_seconds is not None]
        unknown = sum(1 for p in s.points if p.lag_seconds is None)
        peak = seconds(max(known)) if known else "unknown"
        out.append(
            f"- {s.service} at {s.site} ({s.host or '?'}): {len(s.points)} samples, "
            f"peak {peak}" + (f", {unknown} unknown" if unknown else "")
        )
    return [*out, ""]


def _notes(r: Report) -> list[str]:
    out = [f"## Operator notes ({len(r.notes)})", ""]
    if not r.notes:
        return [*out, "No notes.", ""]
    rows = [(offset(n.offset), n.by, n.step_id or "—", n.text) for n in r.notes]
    return [*out, *table(("when", "who", "step", "note"), rows), ""]


def _chain(r: Report) -> list[str]:
    c = r.chain
    word = "✓" if c.ok else "✗ BROKEN:"
    out = ["## Audit chain", "", f"**{word}** {inline(c.reason)}", ""]
    rows: list[tuple[str, str]] = [("events checked", f"{c.events_checked} of {r.event_count}")]
    if not c.ok:
        rows.append(("first broken", f"seq {c.first_broken_seq} (gid {c.first_broken_gid})"))
    rows += [
        ("final hash", f"`{c.final_hash}`"),
        ("check it", f"`drconsole audit verify {r.run_id}`"),
    ]
    return [*out, *table(("", ""), rows), ""]
