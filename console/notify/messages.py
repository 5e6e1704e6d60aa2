"""The words of each notification, made from the run's own events (pure: no IO).

Short on purpose: a title a phone shows whole, and a body of a few lines that says what a
watcher needs to act on (who, what, where it stands) and the run id to find the rest with
``drconsole audit show`` or ``drconsole report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from console import events as ev
from console.model.durations import format_duration

if TYPE_CHECKING:  # the status watch sends messages too, and must not load the engine
    from console.engine.decider import Question


class Level(StrEnum):
    """How a notification should look (apprise's notify types)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class Message:
    """One notification."""

    subject: str
    """What it is about, in a few words (recorded with a failed delivery)."""
    title: str
    body: str
    level: Level = Level.INFO


@dataclass(frozen=True)
class RunInfo:
    """What every message of a run repeats: which run, of what, by whom."""

    run_id: str
    playbook: str
    title: str
    mode: str
    operator: str
    inventory: str


def _head(run: RunInfo) -> str:
    return f"[{run.mode}] {run.playbook}"


def _tail(run: RunInfo) -> str:
    return f"run {run.run_id} · inventory {run.inventory} · operator {run.operator}"


def run_started(run: RunInfo, started: ev.RunStarted) -> Message:
    """The run began (or was resumed)."""
    word = "resumed" if started.resumed else "started"
    lines = [f"{run.title}", f"{len(started.steps)} step(s): {', '.join(started.steps)}"]
    rto = started.objectives.get("rto_seconds", started.objectives.get("rto"))
    rpo = started.objectives.get("rpo_seconds", started.objectives.get("rpo"))
    if rto is not None or rpo is not None:
        lines.append(
            f"objectives: RTO {format_duration(rto, 'none')}, RPO {format_duration(rpo, 'none')}"
        )
    if started.params:
        lines.append("parameters: " + ", ".join(f"{k}={v}" for k, v in started.params.items()))
    lines.append(_tail(run))
    return Message(
        subject=f"run {word}",
        title=f"{_head(run)}: run {word} by {run.operator}",
        body="\n".join(lines),
    )


def step_failed(run: RunInfo, finished: ev.StepFinished) -> Message:
    """A step failed (the run may go on, roll back or abort: later messages say)."""
    why = finished.reason or "no reason recorded"
    attempts = f" after {finished.attempts} attempt(s)" if finished.attempts > 1 else ""
    return Message(
        subject=f"step {finished.step_id} failed",
        title=f"{_head(run)}: step {finished.step_id} FAILED",
        body=f"{why}{attempts}\n{_tail(run)}",
        level=Level.FAILURE,
    )


_WAITING = {
    ev.QuestionKind.CONFIRM: "waits for a confirmation",
    ev.QuestionKind.MANUAL: "waits for a manual step to be done",
    ev.QuestionKind.FAILURE: "failed and waits for a decision (retry, skip, roll back, abort)",
    ev.QuestionKind.UNKNOWN: "has an unknown outcome and waits for a decision",
}


def waiting(run: RunInfo, question: Question) -> Message:
    """The run waits for a person (confirm, manual step, decision after a failure)."""
    what = _WAITING.get(question.kind, "waits for an operator")
    lines = [question.title]
    if question.instructions:
        lines.append(question.instructions)
    if question.reason:
        lines.append(f"why: {question.reason}")
    if question.targets:
        lines.append(f"on {', '.join(question.targets)}")
    lines.append(_tail(run))
    return Message(
        subject=f"step {question.step_id} waiting ({question.kind})",
        title=f"{_head(run)}: step {question.step_id} {what}",
        body="\n".join(lines),
        level=Level.WARNING,
    )


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "no objective"}[met]


_OUTCOME_LEVEL = {
    ev.RunOutcome.SUCCEEDED: Level.SUCCESS,
    ev.RunOutcome.FAILED: Level.FAILURE,
    ev.RunOutcome.INTERRUPTED: Level.FAILURE,
}


def run_finished(
    run: RunInfo,
    finished: ev.RunFinished,
    measurement: ev.Measurement | None,
    report: str,
) -> Message:
    """The run ended: outcome, RTO and RPO against the objectives, where the report is."""
    lines = [finished.summary] if finished.summary else []
    if finished.stopped_at:
        lines.append(f"stopped at step {finished.stopped_at}")
    if finished.rto_seconds is not None:
        goal = measurement.rto_objective if measurement else None
        lines.append(
            f"RTO {format_duration(finished.rto_seconds)} (objective "
            f"{format_duration(goal, 'none')}): {_verdict(finished.rto_met)}"
        )
    else:
        lines.append("RTO not measured")
    if finished.rpo_seconds is not None:
        goal = measurement.rpo_objective if measurement else None
        writes = f", {finished.rpo_writes} write(s) lost" if finished.rpo_writes is not None else ""
        lines.append(
            f"RPO {format_duration(finished.rpo_seconds)}{writes} (objective "
            f"{format_duration(goal, 'none')}): {_verdict(finished.rpo_met)}"
        )
    else:
        lines.append("RPO not measured")
    lines.append(f"report: {report}")
    lines.append(_tail(run))
    missed = finished.rto_met is False or finished.rpo_met is False
    level = _OUTCOME_LEVEL.get(finished.outcome, Level.WARNING)
    if level is Level.SUCCESS and missed:
        level = Level.WARNING
    return Message(
        subject="run finished",
        title=f"{_head(run)}: run {str(finished.outcome).upper()} (exit {finished.exit_code})",
        body="\n".join(lines),
        level=level,
    )
