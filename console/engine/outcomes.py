"""How a step and a run end, as values, and the exit code of each run outcome.

The step runner (``console.engine.steps``) returns a :class:`StepEnd` to the run's state
machine (``console.engine.runner``), which ends the run with a :class:`RunEnd`; nothing is
signalled by raising ``CancelledError`` on purpose. ``CancelledError`` means only what asyncio
means by it: someone outside cancelled the run (Ctrl-C, SIGTERM, the TUI quitting), or an
operator's abort stopped the step's own task.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from console.errors import ExitCode
from console.events import CanaryCheck, Measurement, RunOutcome
from console.model.playbook import Objectives


class StepEnd(StrEnum):
    """How one step ended, as the run's state machine needs to know it."""

    OK = "ok"
    """Done: go on with the next step."""
    SKIPPED = "skipped"
    """Skipped (``when`` was false, or someone decided so): go on."""
    CONTINUED = "continued"
    """Failed, and the run goes on (``on_failure: continue`` or the operator's choice)."""
    FAILED = "failed"
    """Failed: the run ends ``failed`` (the rollback, if chosen, has already run)."""
    ABORTED = "aborted"
    """The operator aborted at or during this step: the run ends ``aborted``."""
    STOPPED = "stopped"
    """Nobody could answer the step's question: the run ends ``stopped``, resumable."""

    @property
    def goes_on(self) -> bool:
        """The run carries on with the next step."""
        return self in (StepEnd.OK, StepEnd.SKIPPED, StepEnd.CONTINUED)


@dataclass(frozen=True)
class StepResult:
    """A step's end and, for an abort or a stop, why."""

    end: StepEnd
    reason: str | None = None


@dataclass(frozen=True)
class AbortRequest:
    """The operator asked to abort the run (and to run the rollback list first, or not)."""

    reason: str
    rollback: bool


EXIT_CODES: dict[RunOutcome, ExitCode] = {
    RunOutcome.SUCCEEDED: ExitCode.OK,
    RunOutcome.FAILED: ExitCode.FAILED,
    RunOutcome.ABORTED: ExitCode.STOPPED,
    RunOutcome.STOPPED: ExitCode.STOPPED,
    RunOutcome.INTERRUPTED: ExitCode.INTERRUPTED,
}
"""The exit code of each way a run ends (a run that could not take its lock: ``LOCKED``)."""


@dataclass(frozen=True)
class RunEnd:
    """How the run's state machine ended, before the run is finished and recorded."""

    outcome: RunOutcome
    reason: str
    stopped_at: str | None = None
    """The step the run ended at, when it did not complete."""
    exit_code: ExitCode | None = None
    """Overrides the outcome's exit code (another run held a lock: 4)."""

    @property
    def code(self) -> ExitCode:
        """The process exit code for this end."""
        return self.exit_code if self.exit_code is not None else EXIT_CODES[self.outcome]


def measure(
    objectives: Objectives,
    rto_start: float | None,
    rto_end: float | None,
    check: CanaryCheck | None,
) -> Measurement:
    """The measured RTO (between the marks) and RPO (the canary check) against the
    objectives. An RPO objective of 0 is met only with no acknowledged write lost."""
    rto = round(rto_end - rto_start, 3) if rto_start is not None and rto_end is not None else None
    rpo_s = check.rpo_seconds if check is not None else None
    rpo_w = check.rpo_writes if check is not None else None
    rto_met = None if rto is None or objectives.rto is None else rto <= objectives.rto
    rpo_met = None
    if rpo_s is not None and objectives.rpo is not None:
        rpo_met = rpo_s <= objectives.rpo and (objectives.rpo > 0 or rpo_w == 0)
    return Measurement(
        rto_seconds=rto,
        rpo_seconds=rpo_s,
        rpo_writes=rpo_w,
        rto_objective=objectives.rto,
        rpo_objective=objectives.rpo,
        rto_met=rto_met,
        rpo_met=rpo_met,
    )
