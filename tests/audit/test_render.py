"""The wording of the timeline: offsets, durations, and summaries that never raise."""

from __future__ import annotations

from typing import Any

import pytest

from console.audit import Event
from console.audit.render import (
    SUMMARIES,
    SUMMARY_WIDTH,
    format_duration,
    format_offset,
    summarize,
)


def _event(kind: str, data: dict[str, Any]) -> Event:
    return Event(
        gid=1,
        run_id="01J",
        seq=1,
        ts="2025-05-01T00:00:00.000000Z",
        kind=kind,
        operator="o",
        host=None,
        step_id=None,
        data=data,
        prev_hash="0" * 64,
        hash="0" * 64,
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "+00:00.000"), (1.25, "+00:01.250"), (61.5, "+01:01.500"), (3723, "+1:02:03.000")],
)
def test_format_offset(seconds: float, text: str) -> None:
    assert format_offset(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0.85, "850ms"), (12.34, "12.3s"), (245, "4m05s"), (7380, "2h03m")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("kind", "data", "text"),
    [
        (
            "run_resumed",
            {"previous_status": "interrupted", "pid": 7, "hostname": "h"},
            "resumed (was interrupted) by pid 7 on h",
        ),
        (
            "lock_broken",
            {"service": "db", "holder": {"run_id": "01X", "operator": "bob", "since": "t"}},
            "lock on db broken; it was held by run 01X (operator bob, since t)",
        ),
        (
            "gate_result",
            {"index": 2, "gate": "replication", "ok": False, "detail": "lag 40s"},
            "gate 2 replication: FAILED — lag 40s",
        ),
        (
            "command_result",
            {"timed_out": True, "duration": 60, "ok": False, "reason": "timeout"},
            "timed out in 60s: FAILED — timeout",
        ),
        (
            "command_result",
            {"signal": "TERM", "duration": 1.5, "ok": False},
            "killed by TERM in 1.5s: FAILED",
        ),
        ("command_intent", {"command": "true", "attempt": 2}, "$ true (attempt 2)"),
        ("decision", {"action": "skip", "reason": "host down", "auto": False}, "skip — host down"),
        ("rto_mark", {"mark": "end"}, "outage ends (RTO clock off)"),
        ("canary_check", {"service": "db", "missing": [3, 4]}, "missing=[3,4], service=db"),
        ("rollback_started", {}, ""),
    ],
)
def test_summaries(kind: str, data: dict[str, Any], text: str) -> None:
    assert summarize(_event(kind, data)) == text


@pytest.mark.parametrize("kind", sorted(SUMMARIES))
def test_every_known_kind_survives_empty_and_malformed_data(kind: str) -> None:
    assert isinstance(summarize(_event(kind, {})), str)
    odd = {"playbook": "not a dict", "lines": 5, "targets": 3, "holder": [], "duration": "x"}
    assert isinstance(summarize(_event(kind, odd)), str)


def test_summaries_are_one_line_and_bounded() -> None:
    text = summarize(_event("note", {"text": "line one\nline two\t" + "x" * 500}))
    assert "\n" not in text and len(text) == SUMMARY_WIDTH and text.endswith("…")
    assert text.startswith("line one line two ")
