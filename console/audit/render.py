"""How the audit log reads to a person: one line per event, a table of runs.

Pure formatting over the store's values (no I/O), so ``audit show``, the report and the TUI
can share the wording. Every event kind the engine emits has its own one-line summary; a kind
this module does not know is still shown, generically, as its data's keys and values. Missing
keys never raise: a log written by an older or newer engine must still be readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from console.audit.chain import canonical_json
from console.audit.model import Event, RunRecord, parse_ts
from console.model.durations import format_duration as _format_duration

SUMMARY_WIDTH = 160
"""Summaries are cut to this many characters (with an ellipsis)."""

STATUS_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "aborted": "red",
    "stopped": "yellow",
    "interrupted": "bold yellow",
    "running": "cyan",
    "running?": "cyan",
}
"""Rich styles per run status; the status word is always printed too."""


def format_offset(seconds: float) -> str:
    """Time since the start of a run: ``+00:01.250``, ``+1:02:03.000``."""
    sign = "-" if seconds < 0 else "+"
    whole_ms = round(abs(seconds) * 1000)
    hours, rest = divmod(whole_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = rest / 1000
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:06.3f}"
    return f"{sign}{minutes:02d}:{secs:06.3f}"


def format_duration(seconds: float | None) -> str:
    """A duration for a table: ``850ms``, ``12.3s``, ``4m05s``, ``2h03m``; ``—`` for None."""
    return _format_duration(seconds, unknown="—")


def format_started(ts: str) -> str:
    """A log timestamp shortened for a table: ``2025-05-01 12:03:04Z``."""
    return ts[:10] + " " + ts[11:19] + "Z" if len(ts) >= 19 else ts


def _clip(text: str, width: int = SUMMARY_WIDTH) -> str:
    text = " ".join(text.split())  # one line, whatever the data held
    return text if len(text) <= width else text[: width - 1] + "…"


def _num(value: Any, unit: str = "s") -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?" if value is None else str(value)
    return f"{value:g}{unit}"


def _flag(ok: Any) -> str:
    return "ok" if ok is True else "FAILED" if ok is False else "?"


def _generic(data: Mapping[str, Any]) -> str:
    parts = []
    for key in sorted(data):
        value = data[key]
        shown = value if isinstance(value, str) else canonical_json(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def _run_started(d: Mapping[str, Any]) -> str:
    pb = d.get("playbook") or {}
    inv = d.get("inventory") or {}
    services = ", ".join(d.get("services") or []) or "no services"
    return (
        f"{pb.get('name', '?')} ({pb.get('kind', '?')}) on inventory {inv.get('name', '?')}, "
        f"mode {d.get('mode', '?')}, {services}"
    )


def _run_resumed(d: Mapping[str, Any]) -> str:
    return (
        f"resumed (was {d.get('previous_status', '?')}) by pid {d.get('pid', '?')} "
        f"on {d.get('hostname', '?')}"
    )


def _lock(verb: str) -> Callable[[Mapping[str, Any]], str]:
    def summary(d: Mapping[str, Any]) -> str:
        return f"lock on {d.get('service', '?')} {verb} ({d.get('scope', '?')})"

    return summary


def _lock_broken(d: Mapping[str, Any]) -> str:
    holder = d.get("holder") or {}
    return (
        f"lock on {d.get('service', '?')} broken; it was held by run {holder.get('run_id', '?')} "
        f"(operator {holder.get('operator', '?')}, since {holder.get('since', '?')})"
    )


def _gate(d: Mapping[str, Any]) -> str:
    detail = d.get("detail")
    return f"gate {d.get('index', '?')} {d.get('gate', '?')}: {_flag(d.get('ok'))}" + (
        f" — {detail}" if detail else ""
    )


def _step_started(d: Mapping[str, Any]) -> str:
    targets = ", ".join(str(t) for t in d.get("targets") or []) or "no hosts"
    attempt = d.get("attempt")
    return f"{d.get('title', '?')} [{d.get('kind', '?')}] on {targets}" + (
        f" (attempt {attempt})" if attempt not in (None, 1) else ""
    )


def _decision(d: Mapping[str, Any]) -> str:
    reason = d.get("reason")
    by = d.get("by")
    who = f" by {by}" if by else ""
    return f"{d.get('action', '?')}{who}{' (automatic)' if d.get('auto') else ''}" + (
        f" — {reason}" if reason else ""
    )


def _intent(d: Mapping[str, Any]) -> str:
    attempt = d.get("attempt")
    return f"$ {d.get('command', '?')}" + (
        f"  (attempt {attempt})" if attempt not in (None, 1) else ""
    )


def _output(d: Mapping[str, Any]) -> str:
    lines = d.get("lines") or []
    first = str(lines[0]) if lines else ""
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return f"{d.get('stream', 'stdout')}: {first}{more}"


def _result(d: Mapping[str, Any]) -> str:
    if d.get("timed_out"):
        how = "timed out"
    elif d.get("signal"):
        how = f"killed by {d.get('signal')}"
    else:
        how = f"exit {d.get('exit_status', '?')}"
    reason = d.get("reason")
    verdict = "not yet" if d.get("poll") and d.get("ok") is False else _flag(d.get("ok"))
    return f"{how} in {_num(d.get('duration'))}: {verdict}" + (f" — {reason}" if reason else "")


def _plan(d: Mapping[str, Any]) -> str:
    steps = [s for s in d.get("steps") or [] if isinstance(s, Mapping)]
    rollback = d.get("rollback") or []
    ids = ", ".join(str(s.get("id", "?")) for s in steps)
    more = f"; {len(rollback)} rollback step(s)" if rollback else ""
    return f"plan: {len(steps)} step(s): {ids}{more}"


def _step_finished(d: Mapping[str, Any]) -> str:
    return (
        f"{d.get('outcome', '?')} in {_num(d.get('duration'))} "
        f"after {d.get('attempts', '?')} attempt(s)"
    )


def _probe(d: Mapping[str, Any]) -> str:
    return (
        f"{d.get('service', '?')}@{d.get('site', '?')}: {d.get('role', '?')}, "
        f"link {d.get('link', '?')}, lag {_num(d.get('lag_seconds'))} / "
        f"{_num(d.get('lag_bytes'), ' B')}, position {d.get('position', '?')}, "
        f"{d.get('health', '?')}"
    )


def _canary_write(d: Mapping[str, Any]) -> str:
    return f"canary #{d.get('n', '?')} on {d.get('service', '?')}: {_flag(d.get('ok'))}"


def _rto_mark(d: Mapping[str, Any]) -> str:
    mark = d.get("mark")
    return {"start": "outage starts (RTO clock on)", "end": "outage ends (RTO clock off)"}.get(
        str(mark), f"rto mark {mark}"
    )


def _measurement(d: Mapping[str, Any]) -> str:
    return (
        f"RTO {_num(d.get('rto_seconds'))}, RPO {_num(d.get('rpo_seconds'))} "
        f"({d.get('rpo_writes', '?')} writes lost)"
    )


def _note(d: Mapping[str, Any]) -> str:
    return str(d.get("text", ""))


def _run_finished(d: Mapping[str, Any]) -> str:
    text = f"{d.get('outcome', '?')} (exit {d.get('exit_code', '?')})"
    if d.get("rto_seconds") is not None or d.get("rpo_seconds") is not None:
        text += f", RTO {_num(d.get('rto_seconds'))}, RPO {_num(d.get('rpo_seconds'))}"
    summary = d.get("summary")
    return text + (f" — {summary}" if summary else "")


SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "run_started": _run_started,
    "run_resumed": _run_resumed,
    "host_key_accepted": lambda d: (
        f"accepted new host key of {d.get('host', '?')}: {d.get('key_type', '?')} "
        f"{d.get('fingerprint', '?')}"
    ),
    "lock_acquired": _lock("acquired"),
    "lock_released": _lock("released"),
    "lock_broken": _lock_broken,
    "gate_result": _gate,
    "step_started": _step_started,
    "decision": _decision,
    "command_intent": _intent,
    "output": _output,
    "command_result": _result,
    "run_plan": _plan,
    "step_finished": _step_finished,
    "probe_sample": _probe,
    "canary_write": _canary_write,
    "rto_mark": _rto_mark,
    "measurement": _measurement,
    "note": _note,
    "run_finished": _run_finished,
}
"""One-line summary per known event kind; other kinds (``canary_check``, ``rollback_*``, and
any new one) are summarised generically."""


def summarize(event: Event) -> str:
    """One line describing an event, whatever its kind and however odd its data."""
    formatter = SUMMARIES.get(event.kind, _generic)
    try:
        text = formatter(event.data)
    except Exception:
        text = _generic(event.data)
    return _clip(text)


def runs_table(records: Sequence[RunRecord]) -> Table:
    """The ``audit list`` table."""
    table = Table(title=None, header_style="bold", pad_edge=False)
    table.add_column("run id", no_wrap=True, min_width=26)
    table.add_column("playbook", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    table.add_column("operator", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("RTO", justify="right", no_wrap=True)
    table.add_column("RPO", justify="right", no_wrap=True)
    for run in records:
        exit_code = run.finish_data.get("exit_code")
        status = run.status + (f" (exit {exit_code})" if exit_code is not None else "")
        table.add_row(
            run.run_id,
            run.playbook_name,
            Text(run.mode, style="bold magenta" if run.mode == "incident" else ""),
            run.operator,
            format_started(run.started_at),
            format_duration(run.duration_seconds),
            Text(status, style=STATUS_STYLES.get(run.status, "")),
            format_duration(run.rto_seconds),
            format_duration(run.rpo_seconds),
        )
    return table


def _digest(digest: str) -> str:
    """``sha256:`` and the first 16 hex digits, whether or not the stored digest has the prefix."""
    hexpart = digest.removeprefix("sha256:")
    return f"sha256:{hexpart[:16]}"


def run_header(run: RunRecord) -> Text:
    """The lines above a run's timeline: what ran, where, by whom, how it ended."""
    text = Text()
    text.append(f"run {run.run_id}", style="bold")
    title = f' "{run.playbook_title}"' if run.playbook_title else ""
    text.append(f"  {run.playbook_name} ({run.playbook_kind}){title}\n")
    text.append(f"mode {run.mode} · operator {run.operator} · started {run.started_at} · ")
    text.append(run.status, style=STATUS_STYLES.get(run.status, ""))
    if run.duration_seconds is not None:
        text.append(f" after {format_duration(run.duration_seconds)}")
    text.append(
        f"\nplaybook {run.playbook_path} {_digest(run.playbook_digest)} · inventory "
        f"{run.inventory_name} ({run.inventory_path}) {_digest(run.inventory_digest)}"
    )
    if run.services:
        text.append(f" · services {', '.join(run.services)}")
    return text


def timeline_rows(events: Sequence[Event], start_ts: str | None = None) -> list[Text]:
    """The ``audit show`` timeline, one line per event: offset from the start, seq, kind, step,
    host, summary, in aligned columns.

    Plain aligned lines rather than a Rich table: a long drill has tens of thousands of events
    and a table measures every cell before printing the first.
    """
    origin = start_ts or (events[0].ts if events else None)
    cells: list[tuple[tuple[str, str, str, str, str], Event]] = []
    for event in events:
        try:
            elapsed = parse_ts(event.ts) - parse_ts(origin or event.ts)
            offset = format_offset(elapsed.total_seconds())
        except ValueError:
            offset = str(event.ts)
        cells.append(
            ((offset, str(event.seq), event.kind, event.step_id or "", event.host or ""), event)
        )
    header = ("time", "seq", "kind", "step", "host")
    widths = [
        max([len(header[i])] + [len(parts[i]) for parts, _ in cells]) for i in range(len(header))
    ]

    def line(parts: Sequence[str], kind_style: str, summary: str, style: str = "") -> Text:
        text = Text(style=style)
        text.append(parts[0].rjust(widths[0]) + "  ")
        text.append(parts[1].rjust(widths[1]) + "  ", style="dim" if not style else "")
        text.append(parts[2].ljust(widths[2]), style=kind_style)
        text.append("  " + parts[3].ljust(widths[3]) + "  " + parts[4].ljust(widths[4]) + "  ")
        text.append(summary)
        return text

    rows = [line(header, "", "what", style="bold")]
    for parts, event in cells:
        rows.append(line(parts, _kind_style(event), summarize(event)))
    return rows


def _kind_style(event: Event) -> str:
    ok = event.data.get("ok")
    if ok is False or event.data.get("outcome") in ("failed", "aborted"):
        return "red"
    if event.kind in ("decision", "lock_broken", "host_key_accepted"):
        return "yellow"
    if event.kind in ("run_started", "run_finished", "run_resumed"):
        return "bold"
    return ""
