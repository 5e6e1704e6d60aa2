"""Shared wording of the report: durations, times, outcomes, the verdict line.

Every format says the same thing in the same words, so a Markdown report and its HTML twin can
be compared line by line, and the auditor's one-line verdict never differs between them. Pure
functions over plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from console.model.durations import format_duration

OUTCOME_SYMBOLS = {
    "ok": "✓",
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "↷",
    "continued": "⚠",
    "aborted": "■",
    "stopped": "‖",
    "unknown": "?",
    "interrupted": "⚡",
    "running": "…",
    "running?": "…",
}
"""A symbol per outcome, so colour is never the only signal."""


def seconds(value: float | None) -> str:
    """A duration for a person: ``850ms``, ``12.3s``, ``4m05s``; ``—`` when unknown."""
    if value is None:
        return "—"
    return format_duration(value)


def offset(value: float | None) -> str:
    """Time since the start of the run: ``+0.35s``, ``+1m05s``; ``—`` when unknown."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else "+"
    value = abs(value)
    if value < 60:
        return f"{sign}{value:.2f}s"
    minutes, secs = divmod(value, 60)
    if minutes < 60:
        return f"{sign}{int(minutes)}m{secs:04.1f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{int(hours)}h{int(minutes):02d}m{int(secs):02d}s"


def timestamp(ts: str | None) -> str:
    """A log timestamp for a person: ``2026-11-26 22:13:31.512Z``; ``—`` when None."""
    if not ts:
        return "—"
    if len(ts) >= 23 and ts[10] == "T":
        return f"{ts[:10]} {ts[11:23]}Z"
    return ts


def symbol(outcome: str) -> str:
    """The symbol of an outcome (``·`` for one not known here)."""
    return OUTCOME_SYMBOLS.get(outcome, "·")


def met_word(met: bool | None) -> str:
    """``met``, ``MISSED`` or ``not judged``."""
    if met is None:
        return "not judged"
    return "met" if met else "MISSED"


def objective_clause(
    name: str,
    measured: float | None,
    objective: float | None,
    met: bool | None,
    extra: str = "",
    note: str | None = None,
) -> str:
    """``RTO 0.3s (objective 5m0s): met`` and its variants for missing values."""
    goal = f"objective {seconds(objective)}" if objective is not None else "no objective"
    if measured is None:
        why = f": {note}" if note else ""
        return f"{name} not measured ({goal}){why}"
    return f"{name} {seconds(measured)}{extra} ({goal}): {met_word(met)}"


def verdict(
    outcome: str,
    stopped_at: str | None,
    rto: tuple[float | None, float | None, bool | None, str | None],
    rpo: tuple[float | None, float | None, bool | None, str | None],
    rpo_writes: int | None,
) -> str:
    """The one line at the top of every report.

    Args:
        outcome: How the run ended.
        stopped_at: The step it stopped at, if any.
        rto: (measured, objective, met, note).
        rpo: (measured, objective, met, note).
        rpo_writes: Acknowledged writes lost.

    Returns:
        E.g. ``SUCCEEDED · RTO 300ms (objective 5m00s): met · RPO 0s, 0 writes lost
        (objective 0s): met``.
    """
    head = outcome.upper()
    if stopped_at and outcome not in ("succeeded",):
        head += f" at step {stopped_at}"
    writes = (
        f", {rpo_writes} write{'s' if rpo_writes != 1 else ''} lost"
        if rpo_writes is not None
        else ""
    )
    parts = [
        f"{symbol(outcome)} {head}",
        objective_clause("RTO", rto[0], rto[1], rto[2], note=rto[3]),
        objective_clause("RPO", rpo[0], rpo[1], rpo[2], extra=writes, note=rpo[3]),
    ]
    return " · ".join(parts)


def tail(lines: Sequence[str], count: int) -> tuple[list[str], int]:
    """The last ``count`` lines and how many were left out before them."""
    if len(lines) <= count:
        return list(lines), 0
    return list(lines[-count:]), len(lines) - count


def one_line(text: str, width: int = 200) -> str:
    """Text on one line, cut with an ellipsis past ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def parse_time(ts: str | None) -> datetime | None:
    """A log timestamp as an aware datetime; None if it is not one."""
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None


def offset_between(start: str | None, ts: str | None) -> float:
    """Seconds from one log timestamp to another (0 when either is unreadable)."""
    a, b = parse_time(start), parse_time(ts)
    if a is None or b is None:
        return 0.0
    return round((b - a).total_seconds(), 3)


def canary_problem(error: str) -> str:
    """How a canary check's error reads in a report: an unmeasurable RPO is said as such, not as
    a failed read-back."""
    if error.startswith("RPO not measurable"):
        return error
    return f"the canary read-back failed: {error}"
