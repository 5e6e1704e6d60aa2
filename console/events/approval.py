"""Events of the two-person rule: a step asks for approvals, other operators give them.

A step with ``approve: N`` (or a confirm step under the playbook's ``approvals:``) records
:class:`ApprovalRequested` once the run's own operator has confirmed it (that confirmation is
the first approval), then waits until N distinct operators approved. Each approval is an
:class:`Approved` event, written into the run's log by the console of the person who gave it
(``drconsole approve``, or the TUI's approvals panel, from any console on the same store); its
envelope's operator is that person, its ``hostname`` their machine, its time the log's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from console.events.base import Event


@dataclass(frozen=True, kw_only=True)
class ApprovalRequested(Event):
    """A step waits for approvals before it acts."""

    kind: ClassVar[str] = "approval_requested"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"needed": 2}
    title: str
    """The step's title, rendered (what the approvers are asked to allow)."""
    needed: int
    """How many distinct operators must approve (the run's own operator included)."""
    approvers: tuple[str, ...]
    """Who approved already: the run's operator, whose confirmation counts once."""
    mode: str
    """``drill`` or ``incident`` (``approvals:`` may ask for more in an incident)."""
    timeout: float | None = None
    """Seconds the run waits before it stops (exit 3); None: until interrupted."""


@dataclass(frozen=True, kw_only=True)
class Approved(Event):
    """An operator approved a waiting step (recorded by the approver's console)."""

    kind: ClassVar[str] = "approval"
    durable: ClassVar[bool] = True
    by: str
    """Who approved (also the event's operator)."""
    hostname: str
    """The machine of the console that approved."""
    count: int
    """Distinct approvals of this request so far, this one included."""
    needed: int
    """How many the request needs."""


@dataclass(frozen=True, kw_only=True)
class ApprovalDenied(Event):
    """An approval that was refused (the run's own operator, the same person twice, a step
    that waits for none): recorded in the run by the console that tried, then exit 3."""

    kind: ClassVar[str] = "approval_refused"
    durable: ClassVar[bool] = True
    by: str
    """Who tried to approve (also the event's operator)."""
    hostname: str
    """The machine of that console."""
    step: str | None = None
    """The step named on the command line (None: the run's only waiting step was meant)."""
    reason: str
    """Why it was refused, as the console said it."""
