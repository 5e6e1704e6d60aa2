"""Events of one step: it starts, someone decides, commands go out and come back, it ends.

A command's ``command_intent`` is durable (on disk before the command is sent); its output
comes in bounded batches; ``command_result`` says how it ended and, when it could not run at
all, the :class:`~console.events.enums.ErrorKind` of the failure, so a refused host key reads
as one everywhere without searching the reason's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from console.events.base import Event
from console.events.enums import DecisionAction, ErrorKind, StepKind, StepOutcome


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    """A step began (an attempt of it)."""

    kind: ClassVar[str] = "step_started"
    durable: ClassVar[bool] = True
    aliases: ClassVar[Mapping[str, tuple[str, ...]]] = {"step_kind": ("kind", "step_kind")}
    decode_defaults: ClassVar[Mapping[str, Any]] = {"step_kind": StepKind.RUN, "attempt": 1}
    title: str
    step_kind: StepKind
    """``run``, ``wait`` or ``manual`` (stored under both ``step_kind`` and ``kind``)."""
    targets: tuple[str, ...]
    attempt: int
    description: str | None = None
    commands: dict[str, str] = field(default_factory=dict)
    """Per target host, the rendered command (secrets masked)."""
    instructions: str | None = None
    """For a manual step, the rendered instructions."""
    rollback: bool = False
    """True for a step of the rollback list."""

    def data(self) -> dict[str, Any]:
        """The payload, with the step's kind also under ``kind`` as the audit renderer reads it."""
        out = super().data()
        out["kind"] = self.step_kind
        return out


@dataclass(frozen=True, kw_only=True)
class Decision(Event):
    """An operator decision (or an automatic one by policy or --yes)."""

    kind: ClassVar[str] = "decision"
    durable: ClassVar[bool] = True
    action: DecisionAction
    reason: str | None
    auto: bool
    """True when --yes or a policy decided, not a person at the keyboard."""
    by: str
    """Who decided (the operator's name; for automatic decisions, who passed --yes)."""


@dataclass(frozen=True, kw_only=True)
class CommandIntent(Event):
    """About to send a command to a host. On disk before the command is sent."""

    kind: ClassVar[str] = "command_intent"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"attempt": 1}
    omit_when_none: ClassVar[frozenset[str]] = frozenset({"fence"})
    command: str
    """The command, secrets masked."""
    attempt: int
    fence: dict[str, int] | None = None
    """The fencing tokens of the run's leases (service -> token) the intent was recorded
    under: it was recorded only while the run held each of them (older logs lack it)."""


@dataclass(frozen=True, kw_only=True)
class OutputLines(Event):
    """A batch of output lines from one command, one stream."""

    kind: ClassVar[str] = "output"
    decode_defaults: ClassVar[Mapping[str, Any]] = {"stream": "stdout"}
    stream: str
    """``stdout`` or ``stderr``."""
    lines: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CommandFinished(Event):
    """A command ended on a host (or could not be run there)."""

    kind: ClassVar[str] = "command_result"
    omit_when_none: ClassVar[frozenset[str]] = frozenset({"error"})
    exit_status: int | None
    signal: str | None
    duration: float | None
    timed_out: bool
    ok: bool
    reason: str | None
    """Why it is not ok (unmet expectation, timeout, SSH failure), or None."""
    dropped_lines: int = 0
    """Output lines beyond the audit cap, counted but not recorded."""
    poll: bool = False
    """One poll of a wait step: not ok means "not yet", not a failure."""
    error: ErrorKind | None = None
    """Why the command could not run at all (None when it ran; older logs lack it)."""

    @property
    def verdict(self) -> str:
        """``ok``, ``not yet`` (an unmet poll of a wait step) or ``FAILED``: the one wording
        of a result that every view shares."""
        if self.ok:
            return "ok"
        return "not yet" if self.poll else "FAILED"

    @property
    def host_key_refused(self) -> bool:
        """The host's key was unknown or changed, so nothing ran."""
        return self.error == ErrorKind.HOST_KEY


@dataclass(frozen=True, kw_only=True)
class WaitProgress(Event):
    """A poll of a wait step (emitted to listeners; the log has its commands' results)."""

    kind: ClassVar[str] = "wait_progress"
    recorded: ClassVar[bool] = False
    satisfied: bool
    detail: str
    elapsed: float
    timeout: float


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    """A step ended."""

    kind: ClassVar[str] = "step_finished"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"outcome": StepOutcome.UNKNOWN}
    outcome: StepOutcome
    duration: float | None
    attempts: int
    reason: str | None = None
    rollback: bool = False
