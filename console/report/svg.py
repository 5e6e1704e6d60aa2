"""Inline SVG for the HTML reports: the step timeline, the lag chart, the history trend.

Drawn by hand as plain SVG text rather than with a plotting library, so the HTML stays one
self-contained file with no script and no network, prints cleanly, and the drawing costs
milliseconds even for a run with thousands of samples. Colours are fixed fills (a printed
page has no theme), and every state also has a word or a symbol: colour is never the only
signal. Every text that comes from the log is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from console.report.model import LagSeries, Report, StepRun
from console.report.text import offset_between, seconds, symbol

FILL = {
    "ok": "#2e7d32",
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "aborted": "#c62828",
    "continued": "#ef6c00",
    "skipped": "#9e9e9e",
    "stopped": "#f9a825",
    "unknown": "#6a1b9a",
    "interrupted": "#6a1b9a",
    "running": "#1565c0",
}
"""Bar fill per outcome."""

SERIES = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037")
"""Line colours of the lag and trend series, in order."""

DASHES = ("", "6 3", "2 2", "8 3 2 3", "4 4", "1 3", "10 4")
"""Dash patterns matching ``SERIES``, so series differ without colour too."""

MAX_POINTS = 600
"""A series longer than this is thinned (keeping extremes) before drawing."""


def nice_step(span: float, ticks: int = 6) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def _fmt(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


_BYTE_UNITS = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"), (1, "B"))


def _byte_scale(value: float) -> tuple[int, str]:
    for size, name in _BYTE_UNITS:
        if value >= size:
            return size, name
    return 1, "B"


def _tick_label(value: float, unit: str) -> str:
    if unit == "s":
        return seconds(value) if value else "0"
    if unit == "B":
        size, name = _byte_scale(value)
        return f"{round(value / size, 2):g} {name}"
    return f"{value:g}{unit}"


def value_axis(peak: float, unit: str, ticks: int = 4) -> tuple[float, float]:
    """(tick step, axis maximum) for values up to ``peak``: round seconds, or round numbers
    of B, KiB, MiB, GiB for bytes (whole bytes at least)."""
    if unit == "B":
        size, _ = _byte_scale(max(peak, 1.0))
        step = max(nice_step(max(peak, 4.0) / size, ticks), 1.0 if size == 1 else 0.0) * size
    else:
        step = nice_step(peak or 1.0, ticks)
    top = max(step * math.ceil((peak or step) / step), step)
    return step, top


@dataclass(frozen=True)
class _Frame:
    """The plot area of a chart and its scales."""

    left: float
    top: float
    width: float
    height: float
    x_max: float
    y_max: float

    def x(self, value: float) -> float:
        return self.left + (value / self.x_max if self.x_max else 0.0) * self.width

    def y(self, value: float) -> float:
        return self.top + self.height - (value / self.y_max if self.y_max else 0.0) * self.height


def _time_axis(frame: _Frame, out: list[str], label: str = "time since start of run") -> None:
    step = nice_step(frame.x_max)
    bottom = frame.top + frame.height
    value = 0.0
    while value <= frame.x_max + 1e-9:
        x = frame.x(value)
        out.append(
            f'<line x1="{_fmt(x)}" y1="{_fmt(frame.top)}" x2="{_fmt(x)}" y2="{_fmt(bottom)}" '
            'stroke="#e0e0e0" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{_fmt(x)}" y="{_fmt(bottom + 14)}" text-anchor="middle" '
            f'font-size="10" fill="#555">+{escape(_tick_label(value, "s"))}</text>'
        )
        value += step
    out.append(
        f'<text x="{_fmt(frame.left + frame.width / 2)}" y="{_fmt(bottom + 28)}" '
        f'text-anchor="middle" font-size="10" fill="#555">{escape(label)}</text>'
    )


def _rto_band(report: Report, frame: _Frame, out: list[str], end: float) -> None:
    m = report.measured
    if m.rto_started_at is None:
        return
    start = _offset_of(report, m.rto_started_at)
    stop = _offset_of(report, m.rto_ended_at) if m.rto_ended_at else end
    x1, x2 = frame.x(start), frame.x(max(stop, start))
    width = max(x2 - x1, 2.0)
    label = f"outage (RTO {seconds(m.rto_seconds)})" if m.rto_ended_at else "outage (not ended)"
    out.append(
        f'<rect x="{_fmt(x1)}" y="{_fmt(frame.top)}" width="{_fmt(width)}" '
        f'height="{_fmt(frame.height)}" fill="#c62828" fill-opacity="0.08" stroke="#c62828" '
        'stroke-dasharray="4 3" stroke-width="1"><title>'
        f"{escape(label)}</title></rect>"
    )
    out.append(
        f'<text x="{_fmt(x1 + 3)}" y="{_fmt(frame.top + 10)}" font-size="10" '
        f'fill="#c62828">{escape(label)}</text>'
    )


def _offset_of(report: Report, ts: str) -> float:
    return offset_between(report.started_at, ts)


def _run_span(report: Report) -> float:
    ends = [_offset_of(report, report.last_event_at)]
    for step in report.steps:
        ends.append(step.offset + (step.duration or 0.0))
    ends.append(0.001)
    return max(ends)


def timeline_svg(report: Report) -> str:
    """Every step execution as a bar on the run's time axis, the outage shaded.

    Rows: the preflight gates (ticks), then one row per step execution (rollback steps
    flagged), then the operators' notes (markers).
    """
    steps = report.steps
    span = _run_span(report)
    row = 22
    label_w = 250
    width = 960
    rows = len(steps) + (1 if report.gates else 0) + (1 if report.notes else 0)
    top = 20
    frame = _Frame(label_w, top, width - label_w - 90, max(rows, 1) * row, span, 1.0)
    height = top + frame.height + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {width} '
        f'{_fmt(height)}" width="{width}" height="{_fmt(height)}" role="img" '
        f'aria-label="timeline of the run\'s steps" font-family="sans-serif">'
    ]
    _time_axis(frame, out)
    _rto_band(report, frame, out, span)
    y = top
    if report.gates:
        out.append(_label(8, y + 15, "preflight gates", "#333"))
        for gate in report.gates:
            x = frame.x(gate.offset)
            colour = FILL["ok"] if gate.ok else FILL["failed"]
            word = "passed" if gate.ok else "FAILED"
            out.append(
                f'<rect x="{_fmt(x - 2)}" y="{_fmt(y + 4)}" width="4" height="{row - 8}" '
                f'fill="{colour}"><title>gate {gate.index} {word}: {escape(gate.title)}'
                "</title></rect>"
            )
        y += row
    for step in steps:
        out.extend(_step_row(step, frame, y, row, span))
        y += row
    if report.notes:
        out.append(_label(8, y + 15, "operator notes", "#333"))
        for note in report.notes:
            x = frame.x(note.offset)
            out.append(
                f'<path d="M{_fmt(x)} {_fmt(y + 4)} l5 8 l-5 8 l-5 -8 z" fill="#1565c0">'
                f"<title>{escape(note.by)}: {escape(note.text)}</title></path>"
            )
    out.append("</svg>")
    return "".join(out)


def _label(x: float, y: float, text: str, colour: str) -> str:
    shown = text if len(text) <= 38 else text[:37] + "…"
    return (
        f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="11" fill="{colour}">'
        f"<title>{escape(text)}</title>{escape(shown)}</text>"
    )


def _step_row(step: StepRun, frame: _Frame, y: float, row: int, span: float) -> list[str]:
    colour = FILL.get(step.outcome, "#757575")
    prefix = "↺ " if step.rollback else ""
    out = [_label(8, y + 15, f"{symbol(step.outcome)} {prefix}{step.id}", "#222")]
    start = step.offset
    end = start + step.duration if step.duration is not None else span
    x1 = frame.x(start)
    w = max(frame.x(end) - x1, 3.0)
    open_end = step.duration is None
    title = (
        f"{step.id}: {step.outcome} — {step.title} — started +{seconds(step.offset)}, "
        f"took {seconds(step.duration)}"
    )
    out.append(
        f'<rect x="{_fmt(x1)}" y="{_fmt(y + 4)}" width="{_fmt(w)}" height="{row - 8}" '
        f'rx="2" fill="{colour}"'
        + (
            ' fill-opacity="0.45" stroke="' + colour + '" stroke-dasharray="3 2"'
            if open_end
            else ""
        )
        + f"><title>{escape(title)}</title></rect>"
    )
    words = (
        f"{step.outcome} {seconds(step.duration)}" if not open_end else f"{step.outcome}, no end"
    )
    out.append(
        f'<text x="{_fmt(x1 + w + 4)}" y="{_fmt(y + 15)}" font-size="10" fill="#333">'
        f"{escape(words)}</text>"
    )
    return out


def _thin(points: Sequence[tuple[float, float | None]]) -> list[tuple[float, float | None]]:
    if len(points) <= MAX_POINTS:
        return list(points)
    bucket = math.ceil(len(points) / (MAX_POINTS // 2))
    out: list[tuple[float, float | None]] = []
    for i in range(0, len(points), bucket):
        chunk = points[i : i + bucket]
        known = [p for p in chunk if p[1] is not None]
        if not known:
            out.append(chunk[0])
            continue
        lo = min(known, key=lambda p: p[1] or 0.0)
        hi = max(known, key=lambda p: p[1] or 0.0)
        out.extend(sorted({lo, hi}, key=lambda p: p[0]))
    return out


def lag_svg(report: Report, metric: str = "seconds") -> str | None:
    """Replication lag of every member over the run; None when no member reported one.

    Args:
        report: The report.
        metric: ``seconds`` or ``bytes``.

    Unknown lag (the probe failed, the link was down) is drawn as a ``?`` mark on the top edge,
    never as zero.
    """
    attr = "lag_seconds" if metric == "seconds" else "lag_bytes"
    series: list[tuple[LagSeries, list[tuple[float, float | None]]]] = []
    for s in report.lag:
        pts = [(p.offset, _value(getattr(p, attr))) for p in s.points]
        if any(v is not None for _, v in pts):
            series.append((s, pts))
    if not series:
        return None
    span = _run_span(report)
    peak = max(v for _, pts in series for _, v in pts if v is not None)
    unit = "s" if metric == "seconds" else "B"
    y_step, y_max = value_axis(peak, unit)
    width, left = 960, 80
    legend_h = 16 * len(series)
    frame = _Frame(left, 22, width - left - 30, 170, span, y_max)
    height = frame.top + frame.height + 40 + legend_h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lag" viewBox="0 0 {width} '
        f'{_fmt(height)}" width="{width}" height="{_fmt(height)}" role="img" '
        f'aria-label="replication lag in {metric}" font-family="sans-serif">'
    ]
    _time_axis(frame, out)
    _rto_band(report, frame, out, span)
    value = 0.0
    while value <= y_max + 1e-9:
        y = frame.y(value)
        out.append(
            f'<line x1="{_fmt(left)}" y1="{_fmt(y)}" x2="{_fmt(left + frame.width)}" '
            f'y2="{_fmt(y)}" stroke="#eeeeee"/>'
        )
        out.append(
            f'<text x="{_fmt(left - 6)}" y="{_fmt(y + 3)}" text-anchor="end" font-size="10" '
            f'fill="#555">{escape(_tick_label(value, unit))}</text>'
        )
        value += y_step
    out.append(
        f'<text x="12" y="{_fmt(frame.top + frame.height / 2)}" font-size="10" fill="#555" '
        f'transform="rotate(-90 12 {_fmt(frame.top + frame.height / 2)})" '
        f'text-anchor="middle">lag ({metric})</text>'
    )
    for i, (s, pts) in enumerate(series):
        colour, dash = SERIES[i % len(SERIES)], DASHES[i % len(DASHES)]
        out.extend(_series(frame, _thin(pts), colour, dash, f"{s.service} {s.site}", unit))
        ly = frame.top + frame.height + 40 + 16 * i
        out.append(
            f'<line x1="{left}" y1="{_fmt(ly - 4)}" x2="{left + 30}" y2="{_fmt(ly - 4)}" '
            f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
        )
        unknown = sum(1 for _, v in pts if v is None)
        extra = f", {unknown} sample(s) unknown (?)" if unknown else ""
        legend = f"{s.service} at {s.site} ({s.host or '?'}): {len(pts)} samples{extra}"
        out.append(
            f'<text x="{left + 36}" y="{_fmt(ly)}" font-size="11" fill="#222">'
            f"{escape(legend)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _value(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    return float(raw)


def _series(
    frame: _Frame,
    pts: Sequence[tuple[float, float | None]],
    colour: str,
    dash: str,
    name: str,
    unit: str,
) -> list[str]:
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) > 1:
            out.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                f'stroke-width="2" stroke-dasharray="{dash}"/>'
            )
        run.clear()

    for x_val, y_val in pts:
        x = frame.x(x_val)
        if y_val is None:
            flush()
            out.append(
                f'<text x="{_fmt(x)}" y="{_fmt(frame.top - 4)}" text-anchor="middle" '
                f'font-size="11" fill="{colour}"><title>{escape(name)}: lag unknown at '
                f"+{escape(seconds(x_val))}</title>?</text>"
            )
            continue
        y = frame.y(y_val)
        run.append(f"{_fmt(x)},{_fmt(y)}")
        out.append(
            f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="2.5" fill="{colour}">'
            f"<title>{escape(name)}: {escape(_tick_label(y_val, unit))}"
            f" at +{escape(seconds(x_val))}</title></circle>"
        )
    flush()
    return out


@dataclass(frozen=True)
class TrendPoint:
    """One run in a history trend."""

    label: str
    """What the tooltip says (run id, date)."""
    value: float | None
    """The measured value; None when not measured."""
    met: bool | None
    """Whether the objective was met."""


def trend_svg(title: str, points: Sequence[TrendPoint], objective: float | None) -> str:
    """A measured value over successive runs (oldest left), the objective as a dashed line.

    A met objective is a filled circle, a miss a red cross, an unmeasured run a ``?`` on the
    axis: shape, not colour alone, tells them apart.
    """
    width, left, top, plot_h = 460, 56, 24, 120
    n = max(len(points), 1)
    values = [p.value for p in points if p.value is not None]
    peak = max([*values, objective or 0.0, 1.0])
    y_step = nice_step(peak, 4)
    y_max = y_step * math.ceil(peak / y_step)
    plot_w = width - left - 16
    frame = _Frame(left, top, plot_w, plot_h, float(max(n - 1, 1)), y_max)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {width} '
        f'{top + plot_h + 34}" width="{width}" height="{top + plot_h + 34}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif">',
        f'<text x="{left}" y="14" font-size="12" font-weight="bold" fill="#222">'
        f"{escape(title)}</text>",
    ]
    value = 0.0
    while value <= y_max + 1e-9:
        y = frame.y(value)
        out.append(
            f'<line x1="{left}" y1="{_fmt(y)}" x2="{left + plot_w}" y2="{_fmt(y)}" '
            'stroke="#eeeeee"/>'
            f'<text x="{left - 6}" y="{_fmt(y + 3)}" text-anchor="end" font-size="10" '
            f'fill="#555">{escape(seconds(value) if value else "0")}</text>'
        )
        value += y_step
    if objective is not None:
        y = frame.y(objective)
        out.append(
            f'<line x1="{left}" y1="{_fmt(y)}" x2="{left + plot_w}" y2="{_fmt(y)}" '
            'stroke="#c62828" stroke-dasharray="6 3"/>'
            f'<text x="{left + plot_w}" y="{_fmt(y - 3)}" text-anchor="end" font-size="10" '
            f'fill="#c62828">objective {escape(seconds(objective))}</text>'
        )
    line: list[str] = []
    marks: list[str] = []
    for i, p in enumerate(points):
        x = frame.x(float(i)) if n > 1 else left + plot_w / 2
        tip = f"{p.label}: {seconds(p.value)}" + (
            "" if p.met is None else (" (met)" if p.met else " (MISSED)")
        )
        if p.value is None:
            marks.append(
                f'<text x="{_fmt(x)}" y="{_fmt(top + plot_h - 3)}" text-anchor="middle" '
                f'font-size="11" fill="#757575"><title>{escape(p.label)}: not measured'
                "</title>?</text>"
            )
            continue
        y = frame.y(p.value)
        line.append(f"{_fmt(x)},{_fmt(y)}")
        if p.met is False:
            marks.append(
                f'<path d="M{_fmt(x - 4)} {_fmt(y - 4)} l8 8 m0 -8 l-8 8" stroke="#c62828" '
                f'stroke-width="2"><title>{escape(tip)}</title></path>'
            )
        else:
            marks.append(
                f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="4" fill="#2e7d32">'
                f"<title>{escape(tip)}</title></circle>"
            )
    if len(line) > 1:
        out.append(
            f'<polyline points="{" ".join(line)}" fill="none" stroke="#1565c0" stroke-width="1.5"/>'
        )
    out.extend(marks)
    out.append(
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 26}" text-anchor="middle" '
        f'font-size="10" fill="#555">runs, oldest to newest ({len(points)})</text>'
    )
    out.append("</svg>")
    return "".join(out)
