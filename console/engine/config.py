"""What one run is given (:class:`RunConfig`) and what it hands back (:class:`RunResult`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from console import events as ev
from console.audit.leases import DEFAULT_TTL
from console.audit.store import AuditStore
from console.engine.decider import Decider
from console.engine.resume import ResumeState
from console.model.inventory import Inventory
from console.model.playbook import Playbook
from console.ssh.transport import Transport

Listener = Callable[[ev.Event], None]
"""Told every event of a run, in order (after it is recorded)."""
Finishing = Callable[[ev.RunFinished], Awaitable[None]]
"""Awaited with the run's end just before ``run_finished`` is recorded (the run's last
event), so what it records (a notification that failed) is still part of the run. It must
bound its own time and never raise."""


@dataclass(frozen=True)
class RunResult:
    """How a run ended."""

    run_id: str
    outcome: ev.RunOutcome
    exit_code: int
    summary: str
    rto_seconds: float | None
    rpo_seconds: float | None
    rpo_writes: int | None
    rto_met: bool | None
    rpo_met: bool | None


@dataclass
class RunConfig:
    """Everything one run needs."""

    inventory: Inventory
    playbook: Playbook
    params: dict[str, str]
    mode: str
    operator: str
    audit: AuditStore
    transport: Transport
    decider: Decider
    listeners: list[Listener] = field(default_factory=list)
    resume: ResumeState | None = None
    """The state of the run to resume (``console.engine.resume.load_resume_state``)."""
    break_lock: bool = False
    override_cooldown: str | None = None
    """``--override-cooldown REASON``: run although a service is cooling down (recorded)."""
    command_timeout: float | None = None
    """Default per-command timeout when a step has none (else the host's ssh setting)."""
    probe_timeout: float | None = None
    monitor_interval: float = 5.0
    """Seconds between background samples of the playbook's services during the run."""
    audit_output_cap: int = 20_000
    """Output lines per command and stream recorded in the audit log; more are counted."""
    lease_ttl: float = DEFAULT_TTL
    """Seconds a service lease lasts unless renewed (renewed every third of that)."""
    approval_timeout: float | None = None
    """Seconds a step waits for the other approvals it needs (``--timeout``) before the run
    stops (exit 3); None: until it is interrupted."""
    commit_poll: float = 1.0
    """Seconds between two reads of the store while the run awaits a commit."""
    approval_poll: float = 1.0
    """Seconds between two reads of the store while a step waits for approvals."""
    finishing: list[Finishing] = field(default_factory=list)
    """Awaited in order before ``run_finished`` is recorded (``console.notify.run``)."""
