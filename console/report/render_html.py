"""The HTML drill report and history: one self-contained file an auditor can open or print.

Jinja2 templates with autoescaping (every value from the log is text, never markup), the
stylesheet inlined, the charts inline SVG, no script, no font or image fetched: the file
renders the same offline, in a browser years from now, and when printed to PDF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from console.report.history import History, HistoryRun, measured_cell
from console.report.model import REPORT_VERSION, Report, Sample
from console.report.svg import TrendPoint, lag_svg, timeline_svg, trend_svg
from console.report.text import met_word, offset, seconds, symbol, timestamp
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

TEMPLATES = Path(__file__).parent / "templates"
"""Where the templates and the stylesheet live (shipped inside the package)."""

_ENV: Environment | None = None


def environment() -> Environment:
    """The shared Jinja2 environment with the report's filters (created once)."""
    global _ENV  # noqa: PLW0603 - one environment per process, templates compiled once
    if _ENV is None:
        env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(["html", "j2"], default=True),
            undefined=StrictUndefined,
            trim_blocks=False,
            lstrip_blocks=False,
            keep_trailing_newline=True,
        )
        env.filters.update(
            sec=seconds,
            off=offset,
            ts=timestamp,
            sym=symbol,
            metword=met_word,
            metclass=_met_class,
            lag=_lag,
        )
        _ENV = env
    return _ENV


def _met_class(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "missed")


def _lag(sample: Sample) -> str:
    return lag_text(sample)


def verdict_class(report: Report) -> str:
    """``good``, ``warn`` or ``bad``: the verdict banner's border."""
    missed = report.measured.rto_met is False or report.measured.rpo_met is False
    if report.outcome == "succeeded" and not missed and report.chain.ok:
        return "good"
    if report.outcome in ("stopped", "running", "running?") and not missed and report.chain.ok:
        return "warn"
    return "bad"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document."""
    steps: list[dict[str, Any]] = []
    for step in report.steps:
        commands, hidden = shown_commands(step)
        steps.append(
            {
                "step": step,
                "label": step_label(step),
                "commands": commands,
                "hidden": hidden,
                "polls": polls_text(step),
            }
        )
    lag_s = lag_svg(report, "seconds")
    lag_b = lag_svg(report, "bytes")
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            r=report,
            version=REPORT_VERSION,
            verdict_class=verdict_class(report),
            steps=steps,
            timeline=Markup(timeline_svg(report)),  # noqa: S704 - built with every text escaped
            lag_seconds=Markup(lag_s) if lag_s else None,  # noqa: S704
            lag_bytes=Markup(lag_b) if lag_b else None,  # noqa: S704
            changes=role_changes(report),
            gate_commands={g.index: [command_view(c) for c in g.commands] for g in report.gates},
            pitr_rows=pitr_rows(report.pitr) if report.pitr else None,
            cold_rows=cold_rows(report.cold_backup) if report.cold_backup else None,
        )
    )


def render_history_html(history: History) -> str:
    """The drill history as one self-contained HTML document with an SVG trend per playbook."""
    books = []
    for book in history.playbooks:
        rto = [TrendPoint(_trend_label(r), r.rto_seconds, r.rto_met) for r in book.runs]
        rpo = [TrendPoint(_trend_label(r), r.rpo_seconds, r.rpo_met) for r in book.runs]
        rto_goal = next(
            (r.rto_objective for r in reversed(book.runs) if r.rto_objective is not None), None
        )
        rpo_goal = next(
            (r.rpo_objective for r in reversed(book.runs) if r.rpo_objective is not None), None
        )
        failed = any(r.outcome != "succeeded" for r in book.runs[-1:]) or any(
            r.rto_met is False or r.rpo_met is False for r in book.runs[-1:]
        )
        books.append(
            {
                "book": book,
                "klass": "bad" if failed else "good",
                "rto": Markup(trend_svg("RTO per run", rto, rto_goal)),  # noqa: S704 - escaped
                "rpo": Markup(trend_svg("RPO per run", rpo, rpo_goal)),  # noqa: S704 - escaped
            }
        )
    return (
        environment()
        .get_template("history.html.j2")
        .render(h=history, books=books, cellfn=measured_cell)
    )


def _trend_label(run: HistoryRun) -> str:
    return f"{timestamp(run.started_at)} {run.run_id} {run.outcome}"
