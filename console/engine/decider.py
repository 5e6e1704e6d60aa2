"""Operator decisions: one interface, answered by a person (the TUI) or a policy (headless).

The engine never decides on its own whether a confirm step may run, whether a manual step is
done, or what to do after a failure: it asks a :class:`Decider`, and records the answer (and
who gave it) in the audit log before acting on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from console.errors import Stopped
from console.events import DecisionAction, ErrorKind, OnFailure, QuestionKind


@dataclass(frozen=True)
class Question:
    """What the engine asks about."""

    step_id: str
    title: str
    kind: QuestionKind
    """``confirm`` (may this step run?), ``manual`` (is it done?), ``failure`` (what now?),
    ``unknown`` (a resumed step whose outcome is unknown: run it again?)."""
    targets: tuple[str, ...] = ()
    commands: tuple[tuple[str, str], ...] = ()
    """(host, command) pairs, secrets masked."""
    instructions: str | None = None
    reason: str | None = None
    """For ``failure``: why it failed."""
    policy: OnFailure | None = None
    """For ``failure``: the step's ``on_failure`` (abort, continue, rollback)."""
    attempt: int = 1
    has_rollback: bool = False
    error: ErrorKind | None = None
    """For ``failure``: why a command could not run at all (``host_key``: a refused key)."""


@dataclass(frozen=True)
class Answer:
    """What the operator (or the policy) decided."""

    action: DecisionAction
    """confirm: ``confirm`` | ``skip`` | ``abort``; manual: ``done`` | ``skip`` | ``abort``;
    failure: ``retry`` | ``skip`` | ``continue`` | ``rollback`` | ``abort``;
    unknown: ``rerun`` | ``skip`` | ``abort``."""
    reason: str | None = None
    """Required for skip and abort when a person decides."""
    auto: bool = False
    """True when no person decided (``--yes`` or the step's policy)."""
    rollback: bool = False
    """With ``abort``: run the rollback list first."""


class Decider(ABC):
    """Answers the engine's questions. Implementations: headless (policy), TUI (modals)."""

    operator: str
    """Who answers; recorded with every decision."""

    @abstractmethod
    async def decide(self, question: Question) -> Answer:
        """Answer one question.

        Raises:
            Stopped: nobody can answer (headless without ``--yes`` at a confirm or manual
                step); the engine records it and ends the run with exit code 3, resumable.
        """


class HeadlessDecider(Decider):
    """The policy for ``drconsole run``: ``--yes`` approves confirm and manual steps, and a
    failure follows the step's ``on_failure``. A step whose outcome is unknown after a resume is
    run again with ``--yes`` (playbook steps are written to be safe to repeat)."""

    def __init__(self, operator: str, *, yes: bool) -> None:
        self.operator = operator
        self.yes = yes

    async def decide(self, question: Question) -> Answer:
        A, Q = DecisionAction, QuestionKind
        if question.kind == Q.FAILURE:
            policy = question.policy or OnFailure.ABORT
            if policy == OnFailure.CONTINUE:
                return Answer(A.CONTINUE, "on_failure: continue", auto=True)
            if policy == OnFailure.ROLLBACK:
                return Answer(A.ABORT, "on_failure: rollback", auto=True, rollback=True)
            return Answer(A.ABORT, "on_failure: abort", auto=True)
        if not self.yes:
            what = {
                Q.CONFIRM: "needs confirmation",
                Q.MANUAL: "is a manual step",
                Q.UNKNOWN: "has an unknown outcome (it was in flight when the run stopped)",
            }.get(question.kind, "needs an operator")
            raise Stopped(
                f"step {question.step_id!r} {what}; run again with --yes to approve, or use the TUI"
            )
        action = {Q.CONFIRM: A.CONFIRM, Q.MANUAL: A.DONE, Q.UNKNOWN: A.RERUN}.get(
            question.kind, A.CONFIRM
        )
        return Answer(action, "approved by --yes", auto=True)
