"""What the run screen says: its title and decision bar, and the dialogs it opens for the
engine's questions and for starting a run.

Pure wording and dialog building (no session state changes, no app): ``console.tui.screens.run``
decides when to show them and what an answer does.
"""

from __future__ import annotations

from rich.text import Text

from console.engine.decider import Question
from console.events import ErrorKind, OnFailure, QuestionKind
from console.tui.palette import Palette
from console.tui.screens.choice import Choice, ChoiceScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.session import RunSession


def title_line(s: RunSession, p: Palette) -> Text:
    """The line above the run: playbook, title, run id, state (in words and colour), operator."""
    state = s.run_state()
    text = Text(f"{s.playbook.name}", style="bold")
    text.append(f" · {s.playbook.title}")
    if s.run_id:
        text.append(f" · run {s.run_id}", style=p.muted)
    style = {
        "succeeded": p.ok,
        "failed": p.crit,
        "aborted": p.crit,
        "stopped": p.warn,
        "interrupted": p.warn,
        "waiting": p.warn,
        "paused": p.warn,
        "running": p.accent,
    }.get(state, "")
    text.append(f" · {state.upper()}", style=style)
    text.append(f" · operator {s.operator}", style=p.muted)
    return text


def decision_line(s: RunSession) -> tuple[str, str]:
    """The decision bar's text and level (``done``, ``failed``, ``ask`` or plain)."""
    pending = s.pending
    if s.error is not None:
        return f"✗ the run could not start: {s.error}", "failed"
    if s.result is not None:
        r = s.result
        level = "done" if r.outcome == "succeeded" else "failed"
        return f"run {r.outcome} (exit {r.exit_code}): {r.summary} — e: export report", level
    if not s.started:
        return "ready — r: start the run (asks first) · v on playbooks: parameters", ""
    if pending is not None:
        q = pending.question
        if q.kind == QuestionKind.CONFIRM:
            return (
                f"◆ {q.step_id} waits for your confirmation — r: run it · s: skip… · a: abort…",
                "ask",
            )
        if q.kind == QuestionKind.MANUAL:
            return f"◆ {q.step_id} is manual: do it, then r: done · s: skip… · a: abort…", "ask"
        if q.kind == QuestionKind.FAILURE:
            return (
                f"✗ {q.step_id} failed: {q.reason} — t: retry · s: skip… · a: abort… · r: choices",
                "failed",
            )
        return (
            f"? {q.step_id} was in flight when the run stopped — r: run it again · "
            "s: skip… · a: abort…",
            "ask",
        )
    if s.engine.paused:
        nxt = s.next_step() or "the end"
        return (
            f"❚❚ paused before {nxt} — r: run just that step · p: go on · s: skip it… · a: abort…",
            "ask",
        )
    return "▶ running — p: pause before the next step · n: note… · a: abort…", ""


def confirm_dialog(q: Question) -> ConfirmScreen:
    """May this step run (a confirm step), or is it done (a manual step)? Default: not yet."""
    body = Text(q.title, style="bold")
    if q.kind == QuestionKind.MANUAL:
        body.append(f"\n\n{q.instructions or ''}")
        body.append("\n\nSay done only when it is done.", style="italic")
        return ConfirmScreen(
            f"Manual step {q.step_id}", body, yes="Done", no="Not yet", danger=False
        )
    if q.targets:
        body.append(f"\non {', '.join(q.targets)}")
    for host, command in q.commands[:6]:
        body.append(f"\n{host} $ ", style="dim")
        body.append(command)
    body.append("\n\nThe command runs on the hosts above when you say yes.", style="italic")
    return ConfirmScreen(f"Run step {q.step_id}?", body, yes="Yes, run it", no="Not yet")


def failure_dialog(q: Question) -> ChoiceScreen:
    """A step failed: retry, skip, continue (when its policy allows) or abort. A refused host
    key says so in its title (known by the error's kind, not its words)."""
    security = q.error == ErrorKind.HOST_KEY
    title = "SECURITY: host key refused" if security else f"Step {q.step_id} failed"
    body = Text(q.title, style="bold")
    body.append(f"\n{q.reason or ''}")
    body.append(f"\nattempt {q.attempt} · on failure: {q.policy or 'abort'}", style="dim")
    choices = [Choice("t", "Retry", "retry"), Choice("s", "Skip…", "skip")]
    if q.policy == OnFailure.CONTINUE:
        choices.append(Choice("c", "Continue…", "continue"))
    choices.append(Choice("a", "Abort…", "abort", "error"))
    return ChoiceScreen(title, body, choices, alarm=True)


def unknown_dialog(q: Question) -> ChoiceScreen:
    """A resumed step whose outcome is unknown: run it again, skip it, or abort."""
    body = Text(q.title, style="bold")
    body.append(
        "\nThis step was in flight when the run stopped: it may or may not have done its "
        "work. Check the hosts, then run it again or skip it."
    )
    choices = [
        Choice("r", "Run it again", "rerun"),
        Choice("s", "Skip…", "skip"),
        Choice("a", "Abort…", "abort", "error"),
    ]
    return ChoiceScreen(f"Outcome unknown: {q.step_id}", body, choices)


def start_dialog(s: RunSession) -> ConfirmScreen:
    """Start (or resume) the run? What it runs, where, as whom, what it locks."""
    pb = s.playbook
    body = Text(pb.title, style="bold")
    body.append(f"\nplaybook {pb.name} ({pb.path})")
    body.append(f"\ninventory {s.inventory.name} ({s.inventory.path})")
    body.append(f"\nmode {s.mode.upper()} · operator {s.operator}")
    services = [x for x in pb.services_touched() if x in s.inventory.services]
    if services:
        body.append(f"\nlocks {', '.join(services)} for the length of the run")
    if s.resume_of:
        body.append(f"\nresumes run {s.resume_of}")
    params = ", ".join(
        f"{k}={'****' if k in pb.secret_params else v}" for k, v in s.prepared.params.items()
    )
    if params:
        body.append(f"\nparameters {params}")
    for warning in s.prepared.warnings:
        body.append(f"\nwarning: {warning}", style="bold")
    body.append(
        "\n\nPreflight runs first; each confirm step asks again before it runs.",
        style="italic",
    )
    title = "Resume the run?" if s.resume_of else "Start the run?"
    return ConfirmScreen(title, body, yes="Start", no="Not now")
