"""Messages posted to the app: by its sources (status, the run) and by its screens.

Status snapshots arrive once per member probe and engine events arrive in bursts (10,000
output lines a second is a case we plan for). A view only ever needs the newest snapshot, and
one "the run changed" nudge per drain, so both messages replace an older one still waiting in
the queue (``can_replace``, as toolong does) instead of piling up.

Screens never call the app: they post the ``...Requested`` messages, which bubble up to it
(Textual's "attributes down, messages up").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from console.status.collector import StatusSnapshot

if TYPE_CHECKING:
    from console.tui.session import RunSession


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


# -- what screens ask of the app ------------------------------------------------------------


class RunRequested(Message):
    """Open the run screen of a playbook (nothing runs until the operator starts it)."""

    def __init__(
        self,
        playbook_path: Path,
        overrides: Mapping[str, str],
        *,
        resume: str | None = None,
        inventory_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.playbook_path = playbook_path
        """The playbook file."""
        self.overrides = dict(overrides)
        """Parameter values the operator set (``--var``)."""
        self.resume = resume
        """The run to resume, if any."""
        self.inventory_path = inventory_path
        """The inventory to run against (default: the one on screen)."""


class RunStartRequested(Message):
    """The operator confirmed: start the engine for this session."""

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session
        """The session to start."""


class ExportRequested(Message):
    """Ask for a format and a path, then write a run's report."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        """The run."""


class ReplayRequested(Message):
    """Play a recorded run back (``console.tui.screens.replay``)."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        """The run."""


class StatusPokeRequested(Message):
    """Probe every member now instead of at the next tick."""


class ApproveRequested(Message):
    """The operator said yes: record their approval of a waiting step (two-person rule)."""

    def __init__(self, run_id: str, step_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        """The run that waits."""
        self.step_id = step_id
        """Its step that waits for approvals."""
