"""Messages the TUI's sources post to the app; the high-rate ones coalesce.

Status snapshots arrive once per member probe and engine events arrive in bursts (10,000
output lines a second is a case we plan for). A view only ever needs the newest snapshot, and
one "the run changed" nudge per drain, so both messages replace an older one still waiting in
the queue (``can_replace``, as toolong does) instead of piling up.
"""

from __future__ import annotations

from textual.message import Message

from console.status.collector import StatusSnapshot


class StatusArrived(Message):
    """A newer status snapshot is available."""

    def __init__(self, snapshot: StatusSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot
        """The snapshot."""

    def can_replace(self, message: Message) -> bool:
        """An older snapshot still queued is dropped: only the newest matters."""
        return isinstance(message, StatusArrived)


class RunChanged(Message):
    """The run session has news (events, a question, the end); the view drains it."""

    def can_replace(self, message: Message) -> bool:
        """One pending nudge is enough: the view reads everything new when it drains."""
        return isinstance(message, RunChanged)


class QuestionRaised(Message):
    """The engine waits for the operator's decision."""
