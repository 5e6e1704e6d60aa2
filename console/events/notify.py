"""Events of the notifications a run sends (``console.notify``).

A notification is never part of what a run does to a system, so only its failure is recorded:
the run goes on, and the log says who was not told what, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from console.events.base import Event


@dataclass(frozen=True, kw_only=True)
class NotificationFailed(Event):
    """A notification could not be delivered (refused, unreachable, or timed out)."""

    kind: ClassVar[str] = "notification_failed"
    target: str
    """The apprise URL it was for, secrets masked (``json://user:****@host/path``)."""
    subject: str
    """What it was about (``run started``, ``step fence failed``, ``run finished``...)."""
    reason: str
    """Why it failed, as the notification library said it."""
    timed_out: bool = False
    """True when the receiver did not answer within the notification timeout."""
