"""Drill reports an auditor accepts: Markdown, self-contained HTML, JSON and JUnit XML.

A report is built from the audit log alone (``build_report``), so a copy of the database on
another machine makes the same report; the renderers only format it. ``export_report`` is the
one call the TUI's export dialog and the CLI share. ``build_history`` and its renderers give
every run of each playbook over time.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from console.audit.store import AuditStore
from console.errors import InputError
from console.report.build import build_report, fold_report
from console.report.history import History, build_history, parse_since, render_history_md
from console.report.model import REPORT_FORMAT, REPORT_VERSION, Report
from console.report.render_html import render_history_html, render_html
from console.report.render_json import SCHEMA_PATH, load_schema, render_json, report_dict
from console.report.render_junit import render_junit
from console.report.render_md import render_md

FORMATS = ("md", "html", "json", "junit")
"""The report formats, as ``--format`` names them."""

HISTORY_FORMATS = ("md", "html")
"""The formats of ``--history``."""

EXTENSIONS = {"md": ".md", "html": ".html", "json": ".json", "junit": ".xml"}
"""The file extension of each format."""


def render(report: Report, fmt: str) -> str:
    """The report in one format.

    Raises:
        InputError: An unknown format.
    """
    if fmt == "md":
        return render_md(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "junit":
        return render_junit(report)
    raise InputError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")


def render_history(history: History, fmt: str) -> str:
    """The history in md or html.

    Raises:
        InputError: Another format (json and junit describe one run).
    """
    if fmt == "md":
        return render_history_md(history)
    if fmt == "html":
        return render_history_html(history)
    raise InputError(f"--history makes md or html, not {fmt!r}")


def default_filename(report: Report, fmt: str) -> str:
    """``drill-pg-failover-01J....html``: what a report is called when only a folder is given."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in report.playbook.name)
    return f"{report.mode}-{safe}-{report.run_id}{EXTENSIONS.get(fmt, '.txt')}"


def write_text(path: Path, text: str) -> Path:
    """Write a file whole or not at all (temporary file, then rename).

    Raises:
        InputError: The folder does not exist or cannot be written (exit 2, one line).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{path}: cannot write the report: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report: {exc.strerror or exc}") from None
    return path


def export_report(audit: AuditStore, run_id: str, fmt: str, path: Path) -> Path:
    """Build the report of a run and write it in one format.

    Args:
        audit: The audit store.
        run_id: The run's id or a unique prefix.
        fmt: ``md``, ``html``, ``json`` or ``junit``.
        path: The file to write; if it is an existing folder, the report is written into it
            as :func:`default_filename`.

    Returns:
        The file written.

    Raises:
        InputError: Unknown format, unknown or ambiguous run, or a path that cannot be written.
        AuditError: The database cannot be read.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    report = build_report(audit, run_id)
    target = Path(path)
    if target.is_dir():
        target = target / default_filename(report, fmt)
    return write_text(target, render(report, fmt))


__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "HISTORY_FORMATS",
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "SCHEMA_PATH",
    "History",
    "Report",
    "build_history",
    "build_report",
    "default_filename",
    "export_report",
    "fold_report",
    "load_schema",
    "parse_since",
    "render",
    "render_history",
    "render_html",
    "render_json",
    "render_junit",
    "render_md",
    "report_dict",
    "write_text",
]
