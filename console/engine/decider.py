"""Operator decisions: one interface, answered by a person (the TUI) or a policy (headless).

The engine never decides on its own whether a confirm step may run, whether a manual step is
done, or what to do after a failure: it asks a :class:`Decider`, and records the answer (and
who gave it) in the audit log before acting on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from console.errors import Stopped


@dataclass(frozen=True)
class Question:
    """What the engine asks about."""

    step_id: str
    title: str
    kind: str
    """``confirm`` (may this step run?), ``manual`` (is it done?), ``failure`` (what now?),
    ``unknown`` (a resumed step whose outcome is unknown: run it again?)."""
    targets: tuple[str, ...] = ()
    commands: tuple[tuple[str, str], ...] = ()
    """(host, command) pairs, secrets masked."""
    instructions: str | None = None
    reason: str | None = None
    """For ``failure``: why it failed."""
    policy: str | None = None
    """For ``failure``: the step's ``on_failure`` (abort, continue, rollback)."""
    attempt: int = 1
    has_rollback: bool = False


@dataclass(frozen=True)
class Answer:
    """What the operator (or the policy) decided."""

    action: str
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
        if question.kind == "failure":
            policy = question.policy or "abort"
            if policy == "continue":
                return Answer("continue", "on_failure: continue", auto=True)
            if policy == "rollback":
                return Answer("abort", "on_failure: rollback", auto=True, rollback=True)
            return Answer("abort", "on_failure: abort", auto=True)
        if not self.yes:
            what = {
                "confirm": "needs confirmation",
                "manual": "is a manual step",
                "unknown": "has an unknown outcome (it was in flight when the run stopped)",
            }.get(question.kind, "needs an operator")
            raise Stopped(
                f"step {question.step_id!r} {what}; run again with --yes to approve, or use the TUI"
            )
        action = {"confirm": "confirm", "manual": "done", "unknown": "rerun"}.get(
            question.kind, "confirm"
        )
        return Answer(action, "approved by --yes", auto=True)
