"""The tamper-evident audit log: runs and events in SQLite, chained by SHA-256.

Everything that changes a system is recorded here before it happens; ``verify`` proves the
record was not edited afterwards. Import from this package; its modules are an implementation
detail except ``chain`` (the hashing rules, kept pure so anyone can re-implement them).
"""

from console.audit.chain import GENESIS_HASH, canonical_json, event_hash
from console.audit.errors import (
    AmbiguousRunId,
    AuditError,
    NoAuditDatabase,
    NoSuchLock,
    NotAnAuditDatabase,
    UnknownRun,
)
from console.audit.ids import new_run_id
from console.audit.model import (
    RUN_OUTCOMES,
    RUN_STATUSES,
    BrokenEvent,
    Event,
    EventDraft,
    LockInfo,
    RunRecord,
    RunStart,
    VerifyResult,
    parse_ts,
)
from console.audit.store import AuditStore

__all__ = [
    "GENESIS_HASH",
    "RUN_OUTCOMES",
    "RUN_STATUSES",
    "AmbiguousRunId",
    "AuditError",
    "AuditStore",
    "BrokenEvent",
    "Event",
    "EventDraft",
    "LockInfo",
    "NoAuditDatabase",
    "NoSuchLock",
    "NotAnAuditDatabase",
    "RunRecord",
    "RunStart",
    "UnknownRun",
    "VerifyResult",
    "canonical_json",
    "event_hash",
    "new_run_id",
    "parse_ts",
]
