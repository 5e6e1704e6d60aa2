"""Events about the run as a whole: its start, plan, locks, gates, notices, rollback, end.

``run_started`` and ``run_resumed`` are written by the audit store itself (they change the
``runs`` row); the engine tells its listeners that a run began with :class:`RunStarted`, which
is never recorded. Everything else here the engine records through the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from console.events.base import Event
from console.events.enums import (
    ErrorKind,
    LockScope,
    NoticeLevel,
    RtoEdge,
    RunOutcome,
    StepKind,
)


def objective(objectives: Mapping[str, Any], name: str) -> float | None:
    """An objective in seconds from a recorded ``objectives`` mapping: ``rto`` or ``rpo``,
    spelt ``rto_seconds`` (or, in older logs, ``rto``); None when absent or not a number."""
    value = objectives.get(f"{name}_seconds", objectives.get(name))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run began, as listeners see it (the audit's ``run_started`` is :class:`RunCreated`)."""

    kind: ClassVar[str] = "run_started"
    recorded: ClassVar[bool] = False
    run_id: str
    playbook: str
    title: str
    mode: str
    operator: str
    params: dict[str, str]
    """Parameter values, secrets masked."""
    steps: tuple[str, ...]
    objectives: dict[str, float | None]
    resumed: bool = False


@dataclass(frozen=True)
class PlaybookRef:
    """The playbook a run was made from, as ``run_started`` records it."""

    decode_defaults: ClassVar[Mapping[str, Any]] = {"name": "?", "kind": "?"}

    name: str
    kind: str
    title: str
    path: str
    digest: str
    """``sha256:`` and the hex digest of the file's bytes."""


@dataclass(frozen=True)
class InventoryRef:
    """The inventory a run was made against."""

    decode_defaults: ClassVar[Mapping[str, Any]] = {"name": "?"}

    name: str
    path: str
    digest: str


@dataclass(frozen=True, kw_only=True)
class RunCreated(Event):
    """``run_started`` as the audit store records it: what ran, where, by which process."""

    kind: ClassVar[str] = "run_started"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"mode": "?"}
    playbook: PlaybookRef
    inventory: InventoryRef
    mode: str
    params: dict[str, Any]
    """Parameter values, secrets masked."""
    objectives: dict[str, Any]
    """``{"rto_seconds", "rpo_seconds"}`` (older logs: ``rto``, ``rpo``)."""
    services: tuple[str, ...]
    pid: int
    hostname: str

    @property
    def rto_objective(self) -> float | None:
        """The RTO objective in seconds, whichever spelling the log used."""
        return objective(self.objectives, "rto")

    @property
    def rpo_objective(self) -> float | None:
        """The RPO objective in seconds, whichever spelling the log used."""
        return objective(self.objectives, "rpo")


@dataclass(frozen=True, kw_only=True)
class RunResumed(Event):
    """A stopped or interrupted run was taken up again (written by the store)."""

    kind: ClassVar[str] = "run_resumed"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"previous_status": "?"}
    previous_status: str
    """The run's status before (interrupted, stopped, failed...)."""
    pid: int
    hostname: str


@dataclass(frozen=True)
class PlanEntry:
    """One step of the playbook as written, in the recorded plan."""

    decode_defaults: ClassVar[Mapping[str, Any]] = {"id": "?", "kind": StepKind("")}
    id: str
    title: str
    kind: StepKind
    confirm: bool
    rto: RtoEdge | None


@dataclass(frozen=True)
class PlanPart:
    """An included playbook of a composed run (``include:``), in the recorded plan: its steps
    are the plan's steps whose ids start with ``id/``."""

    decode_defaults: ClassVar[Mapping[str, Any]] = {"id": "?", "playbook": "?"}
    id: str
    """The include step's id (the prefix of its steps' ids)."""
    playbook: str
    """The included playbook's name."""
    title: str
    """The include's title (the included playbook's, unless the include gives one)."""
    path: str
    """The included file as it was found."""
    digest: str
    """``sha256:<hex>`` of the included file."""


@dataclass(frozen=True, kw_only=True)
class RunPlanned(Event):
    """The playbook's steps as written, recorded when the run is created, so that a report of
    a run that stopped early can name the steps it never reached."""

    kind: ClassVar[str] = "run_plan"
    omit_when_none: ClassVar[frozenset[str]] = frozenset({"parts"})
    steps: tuple[PlanEntry, ...]
    """Every main step, in order."""
    rollback: tuple[PlanEntry, ...]
    """The rollback list."""
    parts: tuple[PlanPart, ...] | None = None
    """The included playbooks of a composed run, in order (None: the playbook includes none;
    older logs lack it)."""


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    """Something the operator should read: a reconnect, a remote lock not taken, a changed file."""

    kind: ClassVar[str] = "notice"
    omit_when_none: ClassVar[frozenset[str]] = frozenset({"error"})
    decode_defaults: ClassVar[Mapping[str, Any]] = {"level": NoticeLevel.INFO}
    level: NoticeLevel
    message: str
    error: ErrorKind | None = None
    """The kind of the error the notice reports, if it reports one (older logs lack it)."""


@dataclass(frozen=True, kw_only=True)
class HostKeyAccepted(Event):
    """An unknown host key was accepted because the operator passed --accept-new-host-keys."""

    kind: ClassVar[str] = "host_key_accepted"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"key_type": "?", "fingerprint": "?"}
    key_type: str
    fingerprint: str


@dataclass(frozen=True, kw_only=True)
class LockAcquired(Event):
    """A service lock was taken (``local`` in the audit database, ``remote`` on a host)."""

    kind: ClassVar[str] = "lock_acquired"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"service": "?", "scope": "?"}
    omit_when_none: ClassVar[frozenset[str]] = frozenset({"token", "lease_seconds"})
    service: str
    scope: LockScope
    token: int | None = None
    """The lease's fencing token (a lock in the store; older logs lack it)."""
    lease_seconds: float | None = None
    """How long the lease lasts unless renewed."""


@dataclass(frozen=True, kw_only=True)
class LockReleased(Event):
    """A service lock was released."""

    kind: ClassVar[str] = "lock_released"
    decode_defaults: ClassVar[Mapping[str, Any]] = {"service": "?", "scope": "?"}
    service: str
    scope: LockScope


@dataclass(frozen=True, kw_only=True)
class LockBroken(Event):
    """A lock was broken: a stale one with --break-lock, or one a finished run left behind."""

    kind: ClassVar[str] = "lock_broken"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"service": "?", "scope": "?"}
    service: str
    scope: LockScope
    holder: dict[str, Any]
    """Who held it: the local lock's row, or ``{"owner": ...}`` from a host's owner file."""


@dataclass(frozen=True, kw_only=True)
class GateResult(Event):
    """A preflight gate was evaluated."""

    kind: ClassVar[str] = "gate_result"
    decode_defaults: ClassVar[Mapping[str, Any]] = {"gate": "?"}
    index: int
    gate: str
    """The gate's title."""
    ok: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    """An operator's note."""

    kind: ClassVar[str] = "note"
    durable: ClassVar[bool] = True
    text: str
    by: str
    """Who wrote it ("" in a log that lacks it: the event's operator then)."""


@dataclass(frozen=True, kw_only=True)
class RollbackStarted(Event):
    """The rollback list begins."""

    kind: ClassVar[str] = "rollback_started"
    durable: ClassVar[bool] = True
    reason: str


@dataclass(frozen=True, kw_only=True)
class RollbackFinished(Event):
    """The rollback list ended."""

    kind: ClassVar[str] = "rollback_finished"
    ok: bool | None
    """Every rollback step ok (None in a log that lacks it)."""


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run ended (recorded by the store's ``finish_run``)."""

    kind: ClassVar[str] = "run_finished"
    durable: ClassVar[bool] = True
    outcome: RunOutcome
    exit_code: int | None
    summary: str
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    rpo_writes: int | None = None
    rto_met: bool | None = None
    rpo_met: bool | None = None
    stopped_at: str | None = None
    """The step where the run stopped, if it did not complete."""


@dataclass(frozen=True)
class ImportedOrigin:
    """Where one pushed event stood in the store it was first recorded in."""

    run_seq: int
    """Its seq in the run (the same in both stores)."""
    gid: int
    """Its gid there."""
    prev_hash: str
    """The hash it was chained to there."""
    hash: str
    """Its hash there."""


@dataclass(frozen=True, kw_only=True)
class RunImported(Event):
    """Events of this run were pushed here from another store (``drconsole audit push``),
    after that store's chain verified: where from, and each event's place and hash in that
    chain, which ``audit verify`` recomputes here (the events are re-chained in this store).
    Recorded by the store only, after the events it describes."""

    kind: ClassVar[str] = "run_imported"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"source": "?", "source_host": "?"}
    source: str
    """The store the events came from (a fallback file's path)."""
    source_host: str
    """The machine that pushed them."""
    source_final_hash: str
    """The final hash of that store's whole chain when it verified."""
    origins: tuple[ImportedOrigin, ...]
    """One per pushed event, in order."""
