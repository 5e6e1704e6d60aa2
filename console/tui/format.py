"""Words, symbols and numbers the TUI shows, as pure functions of values (no IO, no widgets).

At 3 a.m. the operator reads shapes before words and words before colours, so every state
here has a symbol and a word, and a colour is only ever a third signal. Unknown is never
printed as zero: a lag nobody measured is ``?``, and a sparkline point nobody measured is a
dot, not the lowest bar.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.status.view import fmt_bytes

HEALTH_LABEL: dict[str, tuple[str, str]] = {
    "ok": ("✓", "OK"),
    "warn": ("▲", "WARN"),
    "crit": ("✗", "CRIT"),
    "down": ("▼", "DOWN"),
    "unknown": ("?", "UNKNOWN"),
    "stale": ("◌", "STALE"),
}
"""Health value -> (symbol, word); ``stale`` is a sample older than its expected refresh."""

STEP_LABEL: dict[str, tuple[str, str]] = {
    "pending": ("·", "pending"),
    "running": ("▶", "running"),
    "ok": ("✓", "ok"),
    "failed": ("✗", "failed"),
    "skipped": ("↷", "skipped"),
    "unknown": ("?", "unknown"),
    "aborted": ("■", "aborted"),
    "continued": ("↪", "continued"),
    "waiting": ("◆", "waiting"),
    "not run": ("–", "not run"),
}
"""Step status -> (symbol, word); ``waiting`` is a running step that waits for the operator."""

SPARK_BARS = "▁▂▃▄▅▆▇█"
"""Sparkline levels, lowest first."""

SPARK_UNKNOWN = "·"
"""A sparkline point with no measurement (never drawn as the lowest bar)."""


def health_label(health: str) -> str:
    """``✓ OK``, ``▼ DOWN`` ... for a health value."""
    symbol, word = HEALTH_LABEL.get(health, ("?", health.upper()))
    return f"{symbol} {word}"


def step_label(status: str) -> str:
    """``✓ ok``, ``▶ running`` ... for a step status."""
    symbol, word = STEP_LABEL.get(status, ("?", status))
    return f"{symbol} {word}"


def fmt_seconds(value: float | None) -> str:
    """A lag or duration in seconds, short: ``0s``, ``1.2s``, ``35s``, ``2m05s``; ``?`` when
    unknown."""
    if value is None:
        return "?"
    if value < 0:
        value = 0.0
    if value < 10:
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return f"{text}s"
    if value < 60:
        return f"{value:.0f}s"
    if value < 3600:
        minutes, secs = divmod(round(value), 60)
        return f"{minutes}m{secs:02d}s"
    hours, rest = divmod(round(value), 3600)
    return f"{hours}h{rest // 60:02d}m"


def fmt_lag_bytes(value: int | None) -> str:
    """Bytes (or offset units) behind: ``0 B``, ``1.5 MiB``; ``?`` when unknown."""
    return fmt_bytes(value)


def fmt_bytes_compact(value: int | None) -> str:
    """Bytes behind in at most 5 characters (binary units): ``0B``, ``512B``, ``12K``,
    ``1.5M``; ``?`` when unknown."""
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            if unit == "B":
                return f"{int(size)}B"
            return f"{size:.1f}{unit}" if size < 10 else f"{size:.0f}{unit}"
        size /= 1024
    return f"{value}B"  # pragma: no cover


def fmt_age(seconds: float | None) -> str:
    """How old a sample is: ``now``, ``4s ago``, ``3m ago``; ``never`` when there is none."""
    if seconds is None:
        return "never"
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m ago"
    return f"{seconds // 3600:.0f}h ago"


def fmt_clock(seconds: float | None) -> str:
    """A running clock: ``00:07``, ``12:03``, ``1:02:03``; ``--:--`` when not started."""
    if seconds is None:
        return "--:--"
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def fmt_objective(seconds: float | None) -> str:
    """An objective: ``5m``, ``30s``, ``0s``; ``none`` when the playbook sets none."""
    if seconds is None:
        return "none"
    if seconds and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def sparkline(values: Sequence[float | None], width: int, ceiling: float | None = None) -> str:
    """A text sparkline of the last ``width`` buckets of ``values`` (oldest first).

    Args:
        values: Measurements, oldest first; None where nothing was measured.
        width: Characters to draw; older values are merged into buckets (their maximum).
        ceiling: The value drawn as a full bar (e.g. the critical lag); values above it are
            full bars. None scales to the largest value shown.

    Returns:
        Exactly ``width`` characters (left-padded with spaces while history is short).
    """
    if width <= 0:
        return ""
    if not values:
        return " " * width
    buckets: list[float | None]
    if len(values) <= width:
        buckets = list(values)
    else:
        # the newest value keeps a column of its own (a member that just went dark shows
        # its dot at once); older values are merged, worst value per bucket
        older = values[:-1]
        buckets = []
        size = len(older) / (width - 1) if width > 1 else 0
        for i in range(width - 1):
            chunk = [v for v in older[int(i * size) : int((i + 1) * size)] if v is not None]
            buckets.append(max(chunk) if chunk else None)
        buckets.append(values[-1])
    known = [v for v in buckets if v is not None]
    top = ceiling if ceiling and ceiling > 0 else (max(known) if known else 0.0)
    out = []
    for v in buckets:
        if v is None:
            out.append(SPARK_UNKNOWN)
        elif top <= 0 or v <= 0:
            out.append(SPARK_BARS[0])
        else:
            level = min(len(SPARK_BARS) - 1, int(v / top * (len(SPARK_BARS) - 1) + 0.5))
            out.append(SPARK_BARS[max(level, 1)])
    return "".join(out).rjust(width)


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    one = " ".join(text.split())
    return one if len(one) <= width else one[: max(0, width - 1)] + "…"
