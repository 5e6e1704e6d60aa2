"""Which classes exist, under which stored kind, and the one way back from a payload.

:data:`Recorded` is the closed union of what the audit log holds (plus :class:`UnknownEvent`
for a kind this version does not know); :data:`Emitted` is what the engine hands its listeners.
Readers ``match`` on these unions and end with ``assert_never``, so mypy names every reader
that lacks a case when a kind is added, and a renamed field is a type error, not a silently
empty value. :data:`KINDS` is built from :data:`Recorded` and checked when this module is
imported: one class per kind, and every field of every class readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from console.events.approval import ApprovalDenied, ApprovalRequested, Approved
from console.events.base import Event, UnknownEvent, check_readable, decode_as
from console.events.commit import CommitAwaited, CommitDenied, CommitExpired, Committed
from console.events.measure import CanaryCheck, CanaryWrite, Measurement, ProbeSample, RtoMark
from console.events.notify import NotificationFailed
from console.events.run import (
    GateResult,
    HostKeyAccepted,
    LockAcquired,
    LockBroken,
    LockReleased,
    NoteAdded,
    Notice,
    RollbackFinished,
    RollbackStarted,
    RunCreated,
    RunFinished,
    RunImported,
    RunPlanned,
    RunResumed,
    RunStarted,
)
from console.events.step import (
    CommandFinished,
    CommandIntent,
    Decision,
    OutputLines,
    StepFinished,
    StepStarted,
    WaitProgress,
)

_Shared = (
    RunPlanned
    | RunFinished
    | Notice
    | HostKeyAccepted
    | LockAcquired
    | LockReleased
    | LockBroken
    | GateResult
    | NoteAdded
    | RollbackStarted
    | RollbackFinished
    | StepStarted
    | Decision
    | CommandIntent
    | OutputLines
    | CommandFinished
    | StepFinished
    | ProbeSample
    | CanaryWrite
    | CanaryCheck
    | RtoMark
    | Measurement
    | NotificationFailed
    | ApprovalRequested
    | Approved
    | CommitAwaited
    | Committed
    | CommitExpired
)
"""The events the engine emits and the log holds alike."""

Recorded = (
    RunCreated | RunResumed | RunImported | _Shared | ApprovalDenied | CommitDenied | UnknownEvent
)
"""Every event a log can hold, as :func:`decode` returns it (``run_started``,
``run_resumed`` and ``run_imported`` as the store writes them)."""

Emitted = RunStarted | WaitProgress | _Shared
"""Every event the engine hands its listeners (they are told a run began with
:class:`RunStarted`, and of each poll of a wait, neither of which is recorded)."""


def _kinds() -> dict[str, type[Event]]:
    out: dict[str, type[Event]] = {}
    for cls in get_args(Recorded):
        if cls is UnknownEvent:
            continue
        if not cls.recorded:
            raise TypeError(f"{cls.__name__} is in Recorded but says it is never recorded")
        if cls.kind in out:
            other = out[cls.kind].__name__
            raise TypeError(f"kind {cls.kind!r} is both {other} and {cls.__name__}")
        check_readable(cls)
        out[cls.kind] = cls
    for cls in get_args(Emitted):
        check_readable(cls)
        if cls.recorded and out.get(cls.kind) is not cls:
            raise TypeError(f"{cls.__name__} is emitted and recorded but not in Recorded")
    return out


KINDS: Mapping[str, type[Event]] = _kinds()
"""Stored kind -> the class its payload decodes into."""


_EMITTED = get_args(Emitted)


def as_emitted(event: Event) -> Emitted:
    """``event`` as a member of :data:`Emitted`, for a listener's exhaustive ``match``.

    Raises:
        TypeError: It is not an event the engine emits.
    """
    if not isinstance(event, _EMITTED):
        raise TypeError(f"{type(event).__name__} is not an event the engine emits")
    return event


def decode(
    kind: str,
    payload: Any,
    *,
    step_id: str | None = None,
    host: str | None = None,
    ts: float = 0.0,
    seq: int | None = None,
) -> Recorded:
    """A stored payload read back as its event, tolerantly (see ``console.events.base``).

    An unknown kind is an :class:`UnknownEvent` holding the payload whole; a payload that is
    not even a mapping reads as an empty one. Never raises for the payload's content.
    """
    cls = KINDS.get(kind)
    if cls is None:
        raw = dict(payload) if isinstance(payload, Mapping) else {}
        return UnknownEvent(stored_kind=kind, step_id=step_id, host=host, ts=ts, seq=seq, extra=raw)
    event = decode_as(cls, payload, step_id=step_id, host=host, ts=ts, seq=seq)
    assert isinstance(event, get_args(Recorded))
    return event
