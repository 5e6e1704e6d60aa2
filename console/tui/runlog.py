"""Engine events as the lines of the run screen's log: pure formatting, no widgets.

One stream for everything that happens in a run: the console's own lines start with ``»``,
a command's stdout is ``host │ text`` and its stderr ``host ! text``. The marks are what the
log's highlighter colours, so the meaning survives a monochrome terminal, a copy-paste into a
ticket, or a screen reader.
"""

from __future__ import annotations

from typing import assert_never

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
    e = ev.as_emitted(event)
    match e:
        case ev.RunStarted():
            word = "resumed" if e.resumed else "started"
            return [
                f"{SYSTEM}run {e.run_id} {word}: {e.title} ({e.playbook}), "
                f"{e.mode.upper()} mode, operator {e.operator}"
            ]
        case ev.GateResult():
            lines = [f"{SYSTEM}gate {e.index} {'✓' if e.ok else '✗'} {e.gate}"]
            if not e.ok:
                lines += [f"{SYSTEM}    {line}" for line in e.detail.splitlines()[:6]]
            return lines
        case ev.StepStarted():
            if e.rollback:
                label = "rollback"
            else:
                label = f"step {step_numbers.get(e.step_id or '', 0)}/{total_steps}"
            again = f" (attempt {e.attempt})" if e.attempt > 1 else ""
            where = f" on {', '.join(e.targets)}" if e.targets else ""
            return [f"{SYSTEM}{label} {e.step_id}{again}: {e.title}{where}"]
        case ev.CommandIntent():
            first = e.command.strip().splitlines()[0] if e.command.strip() else ""
            return [f"{SYSTEM}{e.host} $ {shorten(first, 300)}"]
        case ev.CommandFinished(ok=True):
            return []
        case ev.CommandFinished(poll=True):
            return [f"{SYSTEM}· {e.host}: {e.verdict} ({e.reason or 'condition not met'})"]
        case ev.CommandFinished():
            return [f"{SYSTEM}✗ {e.host}: {e.reason or 'failed'}"]
        case ev.Decision():
            who = f"auto, {e.by}" if e.auto else e.by
            why = f": {e.reason}" if e.reason else ""
            return [f"{SYSTEM}decision {e.action} on {e.step_id} by {who}{why}"]
        case ev.StepFinished():
            why = f" — {e.reason}" if e.reason else ""
            return [
                f"{SYSTEM}{step_label(e.outcome)} {e.step_id} in {fmt_seconds(e.duration)}{why}"
            ]
        case ev.Notice():
            return [f"{SYSTEM}{e.level}: {e.message}"]
        case ev.NotificationFailed():
            return [f"{SYSTEM}warning: notification to {e.target} not delivered: {e.reason}"]
        case ev.NoteAdded():
            return [f"{SYSTEM}note by {e.by}: {e.text}"]
        case ev.ApprovalRequested():
            return [
                f"{SYSTEM}{e.step_id} waits for {e.needed} approvals "
                f"(approved: {', '.join(e.approvers)}); another operator runs "
                f"drconsole approve RUN_ID {e.step_id}"
            ]
        case ev.Approved():
            return [f"{SYSTEM}approved by {e.by} on {e.hostname} ({e.count} of {e.needed})"]
        case ev.CommitAwaited():
            return [
                f"{SYSTEM}awaiting commit for {fmt_seconds(e.within)} (otherwise {e.otherwise}): "
                "press c to commit, or drconsole commit RUN_ID"
            ]
        case ev.Committed():
            return [f"{SYSTEM}committed by {e.by} on {e.hostname}"]
        case ev.CommitExpired():
            return [f"{SYSTEM}commit window ended uncommitted: {e.otherwise}"]
        case ev.RtoMark():
            return [f"{SYSTEM}RTO clock {'started' if e.mark == ev.RtoEdge.START else 'stopped'}"]
        case ev.RollbackStarted():
            return [f"{SYSTEM}rollback started: {e.reason}"]
        case ev.RollbackFinished():
            return [f"{SYSTEM}rollback {'finished' if e.ok else 'FAILED'}"]
        case ev.CanaryCheck() if e.error:
            return [f"{SYSTEM}✗ canary check failed: {e.error}"]
        case ev.CanaryCheck():
            return [
                f"{SYSTEM}canary: {e.acknowledged} acknowledged, {e.present} present, "
                f"{e.rpo_writes} lost"
            ]
        case ev.LockAcquired():
            where = f" on {e.host}" if e.host else ""
            return [f"{SYSTEM}lock on {e.service} taken ({e.scope}{where})"]
        case ev.LockBroken():
            return [f"{SYSTEM}stale lock on {e.service} broken ({e.scope})"]
        case ev.HostKeyAccepted():
            return [f"{SYSTEM}warning: accepted new host key of {e.host}: {e.fingerprint}"]
        case ev.RunFinished():
            rto = fmt_seconds(e.rto_seconds) if e.rto_seconds is not None else "not measured"
            rpo = fmt_seconds(e.rpo_seconds) if e.rpo_seconds is not None else "not measured"
            return [
                f"{SYSTEM}run {e.outcome} (exit {e.exit_code}): {e.summary}",
                f"{SYSTEM}RTO {rto}, RPO {rpo}",
            ]
        case (
            ev.OutputLines()  # see output_lines
            | ev.RunPlanned()
            | ev.LockReleased()
            | ev.WaitProgress()
            | ev.ProbeSample()
            | ev.CanaryWrite()
            | ev.Measurement()
        ):
            return []
        case _:
            assert_never(e)
