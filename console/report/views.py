"""What the human-readable formats (Markdown, HTML) choose to show of a report.

A report keeps everything (the JSON format carries every command and every output line);
a page for a person shows the tail of each output and, for a wait that polled a hundred times,
only its last poll per host. Those choices live here once so the Markdown and the HTML show
the same things.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.report.model import (
    ColdBackupSection,
    CommandRun,
    PitrSection,
    Report,
    Sample,
    StepRun,
)
from console.report.text import seconds

TAIL_LINES = 20
"""Output lines shown per command in md and html (all of them are in the JSON)."""

MAX_COMMANDS_SHOWN = 8
"""A step with more commands than this shows only the last one per host; a wait step always
shows only its last poll per host (the earlier polls are in the JSON report)."""


@dataclass(frozen=True)
class CommandView:
    """One command as a page shows it."""

    host: str
    """Where it ran."""
    attempt: int
    """Attempt or poll number."""
    command: str
    """The masked command."""
    result: str
    """One line: exit status, duration, ok or why not."""
    ok: bool | None
    """Its verdict (None: no result recorded)."""
    poll: bool
    """A poll of a wait step: an unmet expectation there means "not yet", not a failure."""
    tail: tuple[str, ...]
    """The last lines of its output, stderr lines prefixed ``stderr| ``."""
    hidden_lines: int
    """Earlier lines not shown here (in the JSON report)."""


def result_line(cmd: CommandRun, poll: bool = False) -> str:
    """``exit 0 in 104ms: ok``, ``timed out after 60s``, ``no result recorded: ...``.

    Args:
        cmd: The command.
        poll: It is a poll of a wait step, where an unmet expectation means "not yet".
    """
    if cmd.ok is None and cmd.exit_status is None and cmd.duration is None:
        return cmd.reason or "no result recorded"
    if cmd.timed_out:
        how = "timed out"
    elif cmd.signal:
        how = f"killed by {cmd.signal}"
    elif cmd.exit_status is not None:
        how = f"exit {cmd.exit_status}"
    else:
        how = "no exit status"
    verdict = "ok" if cmd.ok else ("not yet" if poll else "FAILED")
    text = f"{how} in {seconds(cmd.duration)}: {verdict}"
    if cmd.reason:
        text += f" — {cmd.reason}"
    if cmd.dropped_lines:
        text += f" ({cmd.dropped_lines} output lines over the audit cap were not recorded)"
    return text


def command_view(cmd: CommandRun, lines: int = TAIL_LINES, poll: bool = False) -> CommandView:
    """The command with the tail of its output (``poll``: a wait step's poll)."""
    shown = cmd.output[-lines:] if len(cmd.output) > lines else cmd.output
    return CommandView(
        host=cmd.host,
        attempt=cmd.attempt,
        command=cmd.command,
        result=result_line(cmd, poll),
        ok=cmd.ok,
        poll=poll,
        tail=tuple(("stderr| " if o.stream == "stderr" else "") + o.text for o in shown),
        hidden_lines=len(cmd.output) - len(shown),
    )


def polls_text(step: StepRun) -> str | None:
    """``5 polls over 2.1s`` for a wait step that ran commands; None otherwise."""
    if step.kind != "wait" or not step.commands:
        return None
    return f"{len(step.commands)} poll(s) over {seconds(step.duration)}"


def shown_commands(step: StepRun) -> tuple[list[CommandView], int]:
    """The commands a page shows for a step, and how many it leaves to the JSON report."""
    commands = list(step.commands)
    poll = step.kind == "wait"
    if not poll and len(commands) <= MAX_COMMANDS_SHOWN:
        return [command_view(c, poll=poll) for c in commands], 0
    last: dict[str, CommandRun] = {}
    for c in commands:
        last[c.host] = c
    kept = sorted(last.values(), key=lambda c: c.sent_at)
    return [command_view(c, poll=poll) for c in kept], len(commands) - len(kept)


def lag_text(sample: Sample) -> str:
    """A member's lag for a table: ``0s / 0 B``, ``unknown`` (never a made-up zero)."""
    if sample.role == "primary" and sample.lag_seconds is None and sample.lag_bytes is None:
        return "— (primary)"
    if sample.lag_seconds is None and sample.lag_bytes is None:
        return "unknown"
    secs = seconds(sample.lag_seconds) if sample.lag_seconds is not None else "?"
    size = f"{sample.lag_bytes} B" if sample.lag_bytes is not None else "? B"
    return f"{secs} / {size}"


def role_changes(report: Report) -> list[str]:
    """Sentences for every member whose observed role changed between before and after."""
    before = {(s.service, s.site): s for s in report.before}
    out = []
    for s in report.after:
        was = before.get((s.service, s.site))
        if was is not None and was.role != s.role:
            out.append(f"{s.service} at {s.site} ({s.host or '?'}): {was.role} → {s.role}")
    return out


def step_label(step: StepRun) -> str:
    """``fence`` or ``rollback restart-old``."""
    return f"rollback {step.id}" if step.rollback else step.id


NOT_RECORDED = "not recorded"
"""A recovery figure the log does not hold (an older playbook, or a step that never got there)."""


def size_text(value: int | None) -> str:
    """``33.7 MB (33720344 bytes)``; ``not recorded`` when unknown."""
    if value is None:
        return NOT_RECORDED
    if value < 1000:
        return f"{value} bytes"
    size = float(value)
    units = ["kB", "MB", "GB", "TB"]
    size /= 1000
    while size >= 1000 and len(units) > 1:
        size /= 1000
        units.pop(0)
    return f"{size:.1f} {units[0]} ({value} bytes)"


def _took(value: float | None) -> str:
    return NOT_RECORDED if value is None else seconds(value)


def pitr_rows(p: PitrSection) -> list[tuple[str, str]]:
    """The point-in-time recovery's figures as (label, value) rows, in every format alike."""
    if p.gap_seconds is None:
        gap = NOT_RECORDED
    elif p.gap_bound:
        gap = f"under {seconds(p.gap_seconds)} (the log's times carry whole seconds)"
    else:
        gap = f"{p.gap_seconds:.6f} s" if abs(p.gap_seconds) < 60 else seconds(p.gap_seconds)
    if p.replayed_count is None:
        replayed = NOT_RECORDED
    else:
        replayed = f"{p.replayed_count} {p.replayed_what or ''}".strip()
    if p.replayed_bytes is not None:
        what = f" {p.replayed_bytes_what}" if p.replayed_bytes_what else ""
        replayed += f"; {size_text(p.replayed_bytes)}{what}"
    parts = (p.fetch_seconds, p.replay_seconds, p.checks_seconds)
    total = None if all(x is None for x in parts) else sum(x or 0.0 for x in parts)
    return [
        ("service", p.service or "—"),
        ("target", p.target or "none given"),
        ("recovered point", p.recovered or NOT_RECORDED),
        ("gap (target − recovered)", gap),
        ("backup used", p.backup or NOT_RECORDED),
        ("log replayed", replayed),
        (
            "restore time",
            f"{_took(total)}: fetch {_took(p.fetch_seconds)}, replay {_took(p.replay_seconds)}, "
            f"checks {_took(p.checks_seconds)}",
        ),
        ("proof", p.proof or NOT_RECORDED),
    ]


def cold_rows(c: ColdBackupSection) -> list[tuple[str, str]]:
    """The cold-backup drill's figures as (label, value) rows, in every format alike."""
    copy = size_text(c.copy_bytes)
    if c.copy_seconds is not None:
        copy += f" in {seconds(c.copy_seconds)}"
    return [
        ("service", c.service or "—"),
        ("replica downtime", _took(c.downtime_seconds)),
        ("copy", copy),
        ("restore (mv and start)", _took(c.restore_seconds)),
        ("proof", c.proof or NOT_RECORDED),
    ]
