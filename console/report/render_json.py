"""The JSON drill report: every value of the report, full command output included, versioned.

For machines: a CI job that archives drills, a dashboard, an auditor's own checks. The
document carries ``format`` and ``version`` and follows the JSON Schema shipped beside this
module (``schema/report-v1.schema.json``); a change that would break a reader gets a new
version and a new schema file, never a silent edit.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from console.report.model import REPORT_FORMAT, REPORT_VERSION, Report

SCHEMA_PATH = Path(__file__).parent / "schema" / f"report-v{REPORT_VERSION}.schema.json"
"""The JSON Schema every JSON report of this version validates against."""


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON values, ``format`` and ``version`` first (``parts`` only for
    a composed run, ``pitr`` / ``cold_backup`` only for a recovery drill, the canary's ``held``
    only when a step observed it, so a report of any other run reads exactly as before)."""
    out = {"format": REPORT_FORMAT, "version": REPORT_VERSION, **asdict(report)}
    if not out["parts"]:
        del out["parts"]
    for section in ("pitr", "cold_backup"):
        if out[section] is None:
            del out[section]
    canary = out.get("canary")
    if canary is not None and not canary["held"]:
        del canary["held"]  # only a run whose steps observed another member's canaries
    return out


def render_json(report: Report) -> str:
    """The report as a JSON document (UTF-8 text, two-space indent, ends with a newline)."""
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n"


def load_schema() -> dict[str, Any]:
    """The shipped JSON Schema of this report version."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema
