"""The typed events a run emits, in the order things happen.

The engine knows nothing of who listens. The audit recorder, the headless printer, the TUI and
(through the audit log) the report all consume this one stream. Each event names its audit
``kind`` and turns itself into the audit payload with :meth:`Event.data`; the payloads are the
contract that ``console.audit.render`` and ``console.report`` read back, so change them only by
adding keys.

Secrets never reach an event: the engine scrubs every command and output line first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every engine event."""

    kind: ClassVar[str] = "event"
    """The audit event kind."""
    durable: ClassVar[bool] = False
    """Recorded with ``synchronous=FULL`` before the engine goes on (intents)."""
    step_id: str | None = None
    """The step concerned, if any."""
    host: str | None = None
    """The inventory host concerned, if any."""
    ts: float = 0.0
    """Wall-clock time (``time.time()``) when it happened; set by the engine."""
    seq: int | None = None
    """The event's sequence number in the run's audit log (None when not recorded)."""

    def data(self) -> dict[str, Any]:
        """The audit payload: every field except the ones the audit row carries itself."""
        out = asdict(self)
        for key in ("step_id", "host", "ts", "seq"):
            out.pop(key, None)
        return out


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run began (the audit's ``run_started`` is written by the store itself)."""

    kind: ClassVar[str] = "run_started"
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


@dataclass(frozen=True, kw_only=True)
class RunPlanned(Event):
    """The playbook's steps as written, recorded when the run is created, so that a report of
    a run that stopped early can name the steps it never reached."""

    kind: ClassVar[str] = "run_plan"
    steps: tuple[dict[str, Any], ...]
    """``{"id", "title", "kind", "confirm", "rto"}`` for every step, in order."""
    rollback: tuple[dict[str, Any], ...]
    """The same for the rollback list."""


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    """Something the operator should read: a reconnect, a remote lock not taken, a changed file."""

    kind: ClassVar[str] = "notice"
    level: str
    """``info``, ``warning`` or ``error``."""
    message: str


@dataclass(frozen=True, kw_only=True)
class HostKeyAccepted(Event):
    """An unknown host key was accepted because the operator passed --accept-new-host-keys."""

    kind: ClassVar[str] = "host_key_accepted"
    durable: ClassVar[bool] = True
    key_type: str
    fingerprint: str


@dataclass(frozen=True, kw_only=True)
class LockAcquired(Event):
    """A service lock was taken (``local`` in the audit database, ``remote`` on a host)."""

    kind: ClassVar[str] = "lock_acquired"
    durable: ClassVar[bool] = True
    service: str
    scope: str


@dataclass(frozen=True, kw_only=True)
class LockReleased(Event):
    """A service lock was released."""

    kind: ClassVar[str] = "lock_released"
    service: str
    scope: str


@dataclass(frozen=True, kw_only=True)
class LockBroken(Event):
    """A stale lock was broken with --break-lock."""

    kind: ClassVar[str] = "lock_broken"
    durable: ClassVar[bool] = True
    service: str
    scope: str
    holder: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class GateResult(Event):
    """A preflight gate was evaluated."""

    kind: ClassVar[str] = "gate_result"
    index: int
    gate: str
    """The gate's title."""
    ok: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    """A step began (an attempt of it)."""

    kind: ClassVar[str] = "step_started"
    durable: ClassVar[bool] = True
    title: str
    step_kind: str
    """``run``, ``wait`` or ``manual``."""
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
    action: str
    """confirm, decline, skip, retry, abort, done, rerun, continue, rollback."""
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
    command: str
    """The command, secrets masked."""
    attempt: int


@dataclass(frozen=True, kw_only=True)
class OutputLines(Event):
    """A batch of output lines from one command, one stream."""

    kind: ClassVar[str] = "output"
    stream: str
    lines: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CommandFinished(Event):
    """A command ended on a host."""

    kind: ClassVar[str] = "command_result"
    exit_status: int | None
    signal: str | None
    duration: float
    timed_out: bool
    ok: bool
    reason: str | None
    """Why it is not ok (unmet expectation, timeout, SSH failure), or None."""
    dropped_lines: int = 0
    """Output lines beyond the audit cap, counted but not recorded."""
    poll: bool = False
    """One poll of a wait step: not ok means "not yet", not a failure."""


@dataclass(frozen=True, kw_only=True)
class WaitProgress(Event):
    """A poll of a wait step (emitted to listeners; recorded only when the outcome changes)."""

    kind: ClassVar[str] = "wait_progress"
    satisfied: bool
    detail: str
    elapsed: float
    timeout: float


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    """A step ended."""

    kind: ClassVar[str] = "step_finished"
    durable: ClassVar[bool] = True
    outcome: str
    """``ok``, ``failed``, ``skipped``, ``unknown`` (it may or may not have acted),
    ``aborted``, or ``stopped`` (the run stopped before the step did anything: waiting for an
    operator who was not there)."""
    duration: float
    attempts: int
    reason: str | None = None
    rollback: bool = False


@dataclass(frozen=True, kw_only=True)
class ProbeSample(Event):
    """A replication sample taken during the run (before, during waits, after)."""

    kind: ClassVar[str] = "probe_sample"
    service: str
    site: str
    role: str
    link: str
    lag_seconds: float | None
    lag_bytes: int | None
    position: str | None
    health: str
    error: str | None
    phase: str
    """``before``, ``during`` or ``after``."""


@dataclass(frozen=True, kw_only=True)
class CanaryWrite(Event):
    """A canary write on the observed primary, acknowledged or not."""

    kind: ClassVar[str] = "canary_write"
    service: str
    n: int
    ok: bool
    written_at: float
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class CanaryCheck(Event):
    """The canaries read back on the (new) primary: the measured data loss."""

    kind: ClassVar[str] = "canary_check"
    service: str
    acknowledged: int
    present: int
    missing: tuple[int, ...]
    newest_present: int | None
    rpo_writes: int | None
    rpo_seconds: float | None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class RtoMark(Event):
    """Where the measured outage starts or ends."""

    kind: ClassVar[str] = "rto_mark"
    durable: ClassVar[bool] = True
    mark: str
    """``start`` or ``end``."""


@dataclass(frozen=True, kw_only=True)
class Measurement(Event):
    """Measured RTO and RPO against the objectives."""

    kind: ClassVar[str] = "measurement"
    rto_seconds: float | None
    rpo_seconds: float | None
    rpo_writes: int | None
    rto_objective: float | None
    rpo_objective: float | None
    rto_met: bool | None
    rpo_met: bool | None


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    """An operator's note."""

    kind: ClassVar[str] = "note"
    durable: ClassVar[bool] = True
    text: str
    by: str


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
    ok: bool


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run ended (the audit's ``run_finished`` is written by the store itself)."""

    kind: ClassVar[str] = "run_finished"
    outcome: str
    """succeeded, failed, aborted, stopped or interrupted."""
    exit_code: int
    summary: str
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    rpo_writes: int | None = None
    rto_met: bool | None = None
    rpo_met: bool | None = None
    stopped_at: str | None = None
    """The step where the run stopped, if it did not complete."""
