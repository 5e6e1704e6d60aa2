"""How the audit log reads to a person: one line per event, a table of runs.

Pure formatting over the store's values (no I/O), so ``audit show``, the report and the TUI
can share the wording. Every event is read back through ``console.events.decode`` and
summarised by its type (a ``match`` that mypy checks covers every kind); a few kinds, and any
kind this version does not know, are shown generically as their stored keys and values.
Missing keys never raise: a log written by an older or newer engine must still be readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, assert_never

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from console import events as ev
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


def _flag(ok: bool | None) -> str:
    return "ok" if ok is True else "FAILED" if ok is False else "?"


def _generic(data: Mapping[str, Any]) -> str:
    parts = []
    for key in sorted(data):
        value = data[key]
        shown = value if isinstance(value, str) else canonical_json(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def _attempt(attempt: int, sep: str) -> str:
    return f"{sep}(attempt {attempt})" if attempt != 1 else ""


GENERIC = (ev.Notice, ev.CanaryCheck, ev.RollbackStarted, ev.RollbackFinished)
"""Kinds shown generically (their stored keys and values), as any unknown kind is."""


def _summary(payload: ev.Recorded, raw: Mapping[str, Any]) -> str:
    """The one-line summary of a decoded event (``raw``: its payload as stored)."""
    match payload:
        case ev.RunCreated(playbook=pb, inventory=inv):
            services = ", ".join(payload.services) or "no services"
            return f"{pb.name} ({pb.kind}) on inventory {inv.name}, mode {payload.mode}, {services}"
        case ev.RunResumed():
            return (
                f"resumed (was {payload.previous_status}) by pid {payload.pid} "
                f"on {payload.hostname}"
            )
        case ev.HostKeyAccepted():
            # the host is on the event's row (a log written by hand may carry it in the data)
            host = payload.host or payload.extra.get("host", "?")
            return f"accepted new host key of {host}: {payload.key_type} {payload.fingerprint}"
        case ev.LockAcquired() | ev.LockReleased():
            verb = "acquired" if isinstance(payload, ev.LockAcquired) else "released"
            return f"lock on {payload.service} {verb} ({payload.scope})"
        case ev.LockBroken(holder=holder):
            return (
                f"lock on {payload.service} broken; it was held by run "
                f"{holder.get('run_id', '?')} (operator {holder.get('operator', '?')}, "
                f"since {holder.get('since', '?')})"
            )
        case ev.GateResult():
            detail = f" — {payload.detail}" if payload.detail else ""
            return f"gate {payload.index} {payload.gate}: {_flag(payload.ok)}{detail}"
        case ev.StepStarted():
            targets = ", ".join(payload.targets) or "no hosts"
            return (
                f"{payload.title} [{payload.step_kind}] on {targets}"
                f"{_attempt(payload.attempt, ' ')}"
            )
        case ev.Decision():
            who = f" by {payload.by}" if payload.by else ""
            auto = " (automatic)" if payload.auto else ""
            reason = f" — {payload.reason}" if payload.reason else ""
            return f"{payload.action}{who}{auto}{reason}"
        case ev.CommandIntent():
            return f"$ {payload.command}{_attempt(payload.attempt, '  ')}"
        case ev.OutputLines(lines=lines):
            first = lines[0] if lines else ""
            more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
            return f"{payload.stream}: {first}{more}"
        case ev.CommandFinished():
            if payload.timed_out:
                how = "timed out"
            elif payload.signal:
                how = f"killed by {payload.signal}"
            else:
                how = f"exit {payload.exit_status}"
            reason = f" — {payload.reason}" if payload.reason else ""
            return f"{how} in {_num(payload.duration)}: {payload.verdict}{reason}"
        case ev.RunPlanned():
            ids = ", ".join(s.id for s in payload.steps)
            more = f"; {len(payload.rollback)} rollback step(s)" if payload.rollback else ""
            if payload.parts:
                more += "; includes " + ", ".join(f"{p.id} ({p.playbook})" for p in payload.parts)
            return f"plan: {len(payload.steps)} step(s): {ids}{more}"
        case ev.StepFinished():
            return (
                f"{payload.outcome} in {_num(payload.duration)} after {payload.attempts} attempt(s)"
            )
        case ev.ProbeSample():
            return (
                f"{payload.service}@{payload.site}: {payload.role}, link {payload.link}, "
                f"lag {_num(payload.lag_seconds)} / {_num(payload.lag_bytes, ' B')}, "
                f"position {payload.position}, {payload.health}"
            )
        case ev.CanaryWrite():
            return f"canary #{payload.n} on {payload.service}: {_flag(payload.ok)}"
        case ev.RtoMark(mark=ev.RtoEdge.START):
            return "outage starts (RTO clock on)"
        case ev.RtoMark(mark=ev.RtoEdge.END):
            return "outage ends (RTO clock off)"
        case ev.RtoMark(mark=mark):
            return f"rto mark {mark}"
        case ev.Measurement():
            return (
                f"RTO {_num(payload.rto_seconds)}, RPO {_num(payload.rpo_seconds)} "
                f"({payload.rpo_writes} writes lost)"
            )
        case ev.NoteAdded():
            return payload.text
        case ev.ApprovalRequested():
            timeout = f", for up to {_num(payload.timeout)}" if payload.timeout else ""
            return (
                f"waits for {payload.needed} approvals ({payload.mode}); approved so far: "
                f"{', '.join(payload.approvers) or 'nobody'}{timeout}"
            )
        case ev.CommitAwaited():
            return f"awaiting commit for {_num(payload.within)} (otherwise {payload.otherwise})"
        case ev.Committed():
            return f"committed by {payload.by} on {payload.hostname}"
        case ev.CommitExpired():
            return f"commit window of {_num(payload.within)} ended uncommitted: {payload.otherwise}"
        case ev.Approved():
            return (
                f"approved by {payload.by} on {payload.hostname} "
                f"({payload.count} of {payload.needed})"
            )
        case ev.ApprovalDenied():
            step = f" of step {payload.step}" if payload.step else ""
            return f"approval{step} by {payload.by} on {payload.hostname} refused: {payload.reason}"
        case ev.CommitDenied():
            return f"commit by {payload.by} on {payload.hostname} refused: {payload.reason}"
        case ev.RunImported():
            return (
                f"{len(payload.origins)} events pushed from {payload.source} "
                f"(on {payload.source_host}; its chain verified, final hash "
                f"{payload.source_final_hash[:16]})"
            )
        case ev.RunFinished():
            text = f"{payload.outcome} (exit {payload.exit_code})"
            if payload.rto_seconds is not None or payload.rpo_seconds is not None:
                text += f", RTO {_num(payload.rto_seconds)}, RPO {_num(payload.rpo_seconds)}"
            return text + (f" — {payload.summary}" if payload.summary else "")
        case ev.NotificationFailed():
            return f"not delivered to {payload.target} ({payload.subject}): {payload.reason}"
        case (
            ev.Notice()
            | ev.CanaryCheck()
            | ev.RollbackStarted()
            | ev.RollbackFinished()
            | ev.UnknownEvent()
        ):
            return _generic(raw)
        case _:
            assert_never(payload)


def _summary_of(kind: str, data: Mapping[str, Any]) -> str:
    return _summary(ev.decode(kind, data), data)


SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    kind: partial(_summary_of, kind)
    for kind, cls in ev.KINDS.items()
    if not issubclass(cls, GENERIC)
}
"""One-line summary of a stored payload, per kind that has its own wording; the kinds in
``GENERIC`` and any unknown kind are summarised as their keys and values."""


def summarize(event: Event) -> str:
    """One line describing an event, whatever its kind and however odd its data."""
    try:
        text = _summary(event.payload, event.data)
    except Exception:
        text = _generic(event.data)
    return _clip(text)


def _status_text(run: RunRecord) -> Text:
    exit_code = run.exit_code
    status = run.status + (f" (exit {exit_code})" if exit_code is not None else "")
    return Text(status, style=STATUS_STYLES.get(run.status, ""))


def _full_table(records: Sequence[RunRecord]) -> Table:
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
        table.add_row(
            run.run_id,
            run.playbook_name,
            Text(run.mode, style="bold magenta" if run.mode == "incident" else ""),
            run.operator,
            format_started(run.started_at),
            format_duration(run.duration_seconds),
            _status_text(run),
            format_duration(run.rto_seconds),
            format_duration(run.rpo_seconds),
        )
    return table


class RunsList:
    """The ``audit list`` table, laid out for the width it is printed at: the full table
    where it fits; narrower (a jump box's 80 columns), each run on two lines (run id,
    playbook and status, then mode, operator, start, duration, RTO and RPO below), every
    word whole rather than squeezed to ``pg-f…``."""

    def __init__(self, records: Sequence[RunRecord]) -> None:
        self.records = records

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        full = _full_table(self.records)
        unbounded = options.update(max_width=100_000)
        if Measurement.get(console, unbounded, full).maximum <= options.max_width:
            yield full
            return
        name_width = max([len("playbook"), *(len(r.playbook_name) for r in self.records)])
        head = Text(f"{'run id':<26}  {'playbook':<{name_width}}  status", style="bold")
        yield head
        yield Text("─" * min(options.max_width, head.cell_len + 12), style="dim")
        for run in self.records:
            line = Text(f"{run.run_id:<26}  {run.playbook_name:<{name_width}}  ")
            line.append_text(_status_text(run))
            yield line
            about = Text("  ")
            about.append(run.mode, style="bold magenta" if run.mode == "incident" else "")
            parts = [
                run.operator,
                f"started {format_started(run.started_at)}",
                format_duration(run.duration_seconds),
                f"RTO {format_duration(run.rto_seconds)}",
                f"RPO {format_duration(run.rpo_seconds)}",
            ]
            about.append(" · " + " · ".join(parts), style="dim")
            yield about


def runs_table(records: Sequence[RunRecord]) -> RunsList:
    """The ``audit list`` table (see :class:`RunsList`)."""
    return RunsList(records)


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
    if _failed(event.payload, event.data):
        return "red"
    if event.kind in ("decision", "lock_broken", "host_key_accepted"):
        return "yellow"
    if event.kind in ("run_started", "run_finished", "run_resumed"):
        return "bold"
    return ""


def _failed(payload: ev.Recorded, raw: Mapping[str, Any]) -> bool:
    """Whether the event says something failed (shown in red)."""
    bad = (ev.StepOutcome.FAILED, ev.StepOutcome.ABORTED)
    match payload:
        case ev.CommandFinished() | ev.GateResult() | ev.CanaryWrite() | ev.RollbackFinished():
            return payload.ok is False
        case ev.StepFinished() | ev.RunFinished():
            return payload.outcome in bad
        case ev.UnknownEvent():
            return raw.get("ok") is False or raw.get("outcome") in bad
        case _:
            return False
