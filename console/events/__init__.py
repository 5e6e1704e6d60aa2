"""The one vocabulary of a run: typed events, their closed word lists, and the way back.

The engine emits these events; the audit store records them (``Event.data()`` is the stored
payload); every reader of the log (resume, the ``runs`` projection, ``audit show``, the report,
the TUI) gets them back through :func:`decode` instead of reading dicts. The package sits
below ``audit`` and imports nothing of drconsole, so every layer may use it.

Adding an event kind (for a new feature):

1. Define a frozen, ``kw_only`` dataclass subclassing :class:`Event` in the module of its
   family (``run``, ``step``, ``measure``) with ``kind = "<stored kind>"``, ``durable = True``
   if it is an intent that must be on disk before acting, and its payload as typed fields
   (enums from ``enums``). Give a field a default (or a ``decode_defaults`` entry) when older
   logs will lack it; decoding needs no other code.
2. Add the class to :data:`Recorded` (stored) and/or :data:`Emitted` (listeners) in
   ``registry``; the registry checks at import that each kind has one class and every field a
   reader.
3. Run mypy: every reader ``match`` that ends in ``assert_never`` and lacks a case for the new
   class is an error (``console.audit.render``, ``console.report.fold``,
   ``console.tui.runlog``, ``console.engine.headless``); add the case (a reader that has
   nothing to say about it writes ``case NewKind(): pass`` and so says so).
   ``tests/events/test_registry.py`` also feeds one event of every kind through each reader.
"""

from console.events.approval import ApprovalDenied, ApprovalRequested, Approved
from console.events.base import ENVELOPE, Event, UnknownEvent, decode_as
from console.events.commit import CommitAwaited, CommitDenied, CommitExpired, Committed
from console.events.enums import (
    DecisionAction,
    ErrorKind,
    LockScope,
    NoticeLevel,
    OnFailure,
    OpenStrEnum,
    QuestionKind,
    RtoEdge,
    RunOutcome,
    SamplePhase,
    StepKind,
    StepOutcome,
    StepStatus,
)
from console.events.measure import CanaryCheck, CanaryWrite, Measurement, ProbeSample, RtoMark
from console.events.notify import NotificationFailed
from console.events.registry import KINDS, Emitted, Recorded, as_emitted, decode
from console.events.run import (
    GateResult,
    HostKeyAccepted,
    ImportedOrigin,
    InventoryRef,
    LockAcquired,
    LockBroken,
    LockReleased,
    NoteAdded,
    Notice,
    PlanEntry,
    PlanPart,
    PlaybookRef,
    RollbackFinished,
    RollbackStarted,
    RunCreated,
    RunFinished,
    RunImported,
    RunPlanned,
    RunResumed,
    RunStarted,
    objective,
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

__all__ = [
    "ENVELOPE",
    "KINDS",
    "ApprovalDenied",
    "ApprovalRequested",
    "Approved",
    "CanaryCheck",
    "CanaryWrite",
    "CommandFinished",
    "CommandIntent",
    "CommitAwaited",
    "CommitDenied",
    "CommitExpired",
    "Committed",
    "Decision",
    "DecisionAction",
    "Emitted",
    "ErrorKind",
    "Event",
    "GateResult",
    "HostKeyAccepted",
    "ImportedOrigin",
    "InventoryRef",
    "LockAcquired",
    "LockBroken",
    "LockReleased",
    "LockScope",
    "Measurement",
    "NoteAdded",
    "Notice",
    "NoticeLevel",
    "NotificationFailed",
    "OnFailure",
    "OpenStrEnum",
    "OutputLines",
    "PlanEntry",
    "PlanPart",
    "PlaybookRef",
    "ProbeSample",
    "QuestionKind",
    "Recorded",
    "RollbackFinished",
    "RollbackStarted",
    "RtoEdge",
    "RtoMark",
    "RunCreated",
    "RunFinished",
    "RunImported",
    "RunOutcome",
    "RunPlanned",
    "RunResumed",
    "RunStarted",
    "SamplePhase",
    "StepFinished",
    "StepKind",
    "StepOutcome",
    "StepStarted",
    "StepStatus",
    "UnknownEvent",
    "WaitProgress",
    "as_emitted",
    "decode",
    "decode_as",
    "objective",
]
