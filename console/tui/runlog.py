"""Engine events as the lines of the run screen's log: pure formatting, no widgets.

One stream for everything that happens in a run: the console's own lines start with ``»``,
a command's stdout is ``host │ text`` and its stderr ``host ! text``. The marks are what the
log's highlighter colours, so the meaning survives a monochrome terminal, a copy-paste into a
ticket, or a screen reader.
"""

from __future__ import annotations

from console import events as ev
from console.tui.format import fmt_seconds, shorten, step_label

SYSTEM = "» "
"""Prefix of the console's own lines."""
STDOUT_MARK = " │ "
"""Between host and text on a stdout line."""
STDERR_MARK = " ! "
"""Between host and text on a stderr line."""


def output_lines(event: ev.OutputLines, host_width: int) -> list[str]:
    """A batch of command output, host-prefixed, stderr marked."""
    host = (event.host or "?").ljust(host_width)
    mark = STDERR_MARK if event.stream == "stderr" else STDOUT_MARK
    return [f"{host}{mark}{line}" for line in event.lines]


def event_lines(event: ev.Event, step_numbers: dict[str, int], total_steps: int) -> list[str]:
    """The console's lines for one event (empty for events the log does not show)."""
    if isinstance(event, ev.RunStarted):
        word = "resumed" if event.resumed else "started"
        return [
            f"{SYSTEM}run {event.run_id} {word}: {event.title} ({event.playbook}), "
            f"{event.mode.upper()} mode, operator {event.operator}"
        ]
    if isinstance(event, ev.GateResult):
        mark = "✓" if event.ok else "✗"
        lines = [f"{SYSTEM}gate {event.index} {mark} {event.gate}"]
        if not event.ok:
            lines += [f"{SYSTEM}    {line}" for line in event.detail.splitlines()[:6]]
        return lines
    if isinstance(event, ev.StepStarted):
        if event.rollback:
            label = "rollback"
        else:
            label = f"step {step_numbers.get(event.step_id or '', 0)}/{total_steps}"
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        where = f" on {', '.join(event.targets)}" if event.targets else ""
        return [f"{SYSTEM}{label} {event.step_id}{again}: {event.title}{where}"]
    if isinstance(event, ev.CommandIntent):
        first = event.command.strip().splitlines()[0] if event.command.strip() else ""
        return [f"{SYSTEM}{event.host} $ {shorten(first, 300)}"]
    if isinstance(event, ev.CommandFinished):
        if event.ok:
            return []
        if event.poll:
            return [f"{SYSTEM}· {event.host}: not yet ({event.reason or 'condition not met'})"]
        return [f"{SYSTEM}✗ {event.host}: {event.reason or 'failed'}"]
    if isinstance(event, ev.Decision):
        who = f"auto, {event.by}" if event.auto else event.by
        why = f": {event.reason}" if event.reason else ""
        return [f"{SYSTEM}decision {event.action} on {event.step_id} by {who}{why}"]
    if isinstance(event, ev.StepFinished):
        why = f" — {event.reason}" if event.reason else ""
        return [
            f"{SYSTEM}{step_label(event.outcome)} {event.step_id} "
            f"in {fmt_seconds(event.duration)}{why}"
        ]
    if isinstance(event, ev.Notice):
        return [f"{SYSTEM}{event.level}: {event.message}"]
    if isinstance(event, ev.NoteAdded):
        return [f"{SYSTEM}note by {event.by}: {event.text}"]
    if isinstance(event, ev.RtoMark):
        return [f"{SYSTEM}RTO clock {'started' if event.mark == 'start' else 'stopped'}"]
    if isinstance(event, ev.RollbackStarted):
        return [f"{SYSTEM}rollback started: {event.reason}"]
    if isinstance(event, ev.RollbackFinished):
        return [f"{SYSTEM}rollback {'finished' if event.ok else 'FAILED'}"]
    if isinstance(event, ev.CanaryCheck):
        if event.error:
            return [f"{SYSTEM}✗ canary check failed: {event.error}"]
        return [
            f"{SYSTEM}canary: {event.acknowledged} acknowledged, {event.present} present, "
            f"{event.rpo_writes} lost"
        ]
    if isinstance(event, ev.LockAcquired):
        where = f" on {event.host}" if event.host else ""
        return [f"{SYSTEM}lock on {event.service} taken ({event.scope}{where})"]
    if isinstance(event, ev.LockBroken):
        return [f"{SYSTEM}stale lock on {event.service} broken ({event.scope})"]
    if isinstance(event, ev.HostKeyAccepted):
        return [f"{SYSTEM}warning: accepted new host key of {event.host}: {event.fingerprint}"]
    if isinstance(event, ev.RunFinished):
        rto = fmt_seconds(event.rto_seconds) if event.rto_seconds is not None else "not measured"
        rpo = fmt_seconds(event.rpo_seconds) if event.rpo_seconds is not None else "not measured"
        return [
            f"{SYSTEM}run {event.outcome} (exit {event.exit_code}): {event.summary}",
            f"{SYSTEM}RTO {rto}, RPO {rpo}",
        ]
    return []
