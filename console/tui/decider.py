"""The TUI's ``Decider``: the engine's questions answered by the person at the keyboard.

The engine asks; this decider hands the question to the run session, which shows it (a modal
whose default is "No", a decision bar, the step's state turning to "waiting") and resolves it
when the operator answers. The engine records each answer, with the operator's name, in the
audit log before acting on it, exactly as it does for the headless policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from console.engine.decider import Answer, Decider, Question


class TuiDecider(Decider):
    """Asks the operator through the TUI.

    Args:
        operator: Who answers (recorded with every decision).
        ask: Shows the question and returns the operator's answer when there is one.
    """

    def __init__(self, operator: str, ask: Callable[[Question], Awaitable[Answer]]) -> None:
        self.operator = operator
        self._ask = ask

    async def decide(self, question: Question) -> Answer:
        """Wait for the operator (for as long as it takes: a person decides, not a timer)."""
        return await self._ask(question)
