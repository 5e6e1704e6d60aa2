"""Events of the commit-or-roll-back window (``commit: {within, otherwise}`` in a playbook).

After its last step a run with a window records :class:`CommitAwaited`: the new state serves,
the old one is kept ready (the run keeps its leases and locks). An operator commits it from
any console on the store (``drconsole commit``, or the TUI), which records :class:`Committed`
in the run; when the window ends first, the run records :class:`CommitExpired` and does what
``otherwise`` says (runs the rollback steps, or keeps the new state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from console.events.base import Event


@dataclass(frozen=True, kw_only=True)
class CommitAwaited(Event):
    """The steps are done; the run waits for a commit until ``deadline``."""

    kind: ClassVar[str] = "commit_awaited"
    durable: ClassVar[bool] = True
    within: float
    """The window's length in seconds."""
    deadline: float
    """When it ends (epoch seconds, this console's clock)."""
    otherwise: str
    """``rollback`` or ``keep``: what happens when nobody commits in time."""


@dataclass(frozen=True, kw_only=True)
class Committed(Event):
    """An operator committed the run's new state (recorded by their console)."""

    kind: ClassVar[str] = "commit"
    durable: ClassVar[bool] = True
    by: str
    """Who committed (also the event's operator)."""
    hostname: str
    """The machine of that console."""


@dataclass(frozen=True, kw_only=True)
class CommitExpired(Event):
    """The window ended without a commit: ``otherwise`` happens now."""

    kind: ClassVar[str] = "commit_expired"
    durable: ClassVar[bool] = True
    within: float
    otherwise: str


@dataclass(frozen=True, kw_only=True)
class CommitDenied(Event):
    """A commit that was refused (the run awaits none, its window ended): recorded in the run
    by the console that tried, then exit 3."""

    kind: ClassVar[str] = "commit_refused"
    durable: ClassVar[bool] = True
    by: str
    """Who tried to commit (also the event's operator)."""
    hostname: str
    """The machine of that console."""
    reason: str
    """Why it was refused, as the console said it."""
