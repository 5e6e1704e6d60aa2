"""The drill report as values: everything an auditor reads, folded from the audit log alone.

A report is built from a run's events and the chain's verification result, nothing else: no
inventory, no playbook file, no live system. So a copy of the database on another machine
makes the same report, and a report can be checked against the log it came from (its final
hash). The renderers (Markdown, HTML, JSON, JUnit) only format these values; they never read
the database. Every value is frozen, and a missing measurement is ``None``, never ``0``: a
run that did not measure its RTO must not look like one that recovered instantly.
"""

from __future__ import annotations

from dataclasses import dataclass

REPORT_FORMAT = "drconsole-report"
"""The ``format`` key of a JSON report."""

REPORT_VERSION = 1
"""The ``version`` key of a JSON report; bumped only with a new JSON Schema file."""

STEP_OUTCOMES = (
    "ok",
    "failed",
    "skipped",
    "continued",
    "aborted",
    "stopped",
    "unknown",
    "running",
)
"""How a step execution ended. ``continued``: it failed and the operator went on anyway;
``stopped``: the run stopped there waiting for an operator; ``unknown``: it was in flight when
the run died or was aborted, so nobody knows whether its command took effect; ``running``: the
run is still going."""


@dataclass(frozen=True)
class PlaybookRef:
    """Which playbook ran: the file's digest proves which version."""

    name: str
    """The playbook's ``name``."""
    kind: str
    """failover, failback, switchover, restore-verification or custom."""
    title: str
    """Its ``title`` ("" if none)."""
    path: str
    """The file as the operator named it."""
    digest: str
    """``sha256:...`` of the file's bytes."""


@dataclass(frozen=True)
class InventoryRef:
    """Which inventory the run used."""

    name: str
    """The inventory's ``name``."""
    path: str
    """The file as the operator named it."""
    digest: str
    """``sha256:...`` of the file's bytes."""


@dataclass(frozen=True)
class Operator:
    """A person who started, decided, noted or resumed something in the run."""

    name: str
    """As the audit log records it (``--operator``, default ``user@host``)."""
    roles: tuple[str, ...]
    """What they did: ``started``, ``confirmed``, ``approved with --yes``, ``skipped``,
    ``noted``, ``resumed``, ...; in the order first done."""


@dataclass(frozen=True)
class Objectives:
    """The playbook's recovery objectives, as recorded when the run started."""

    rto_seconds: float | None
    """Longest acceptable outage; None when the playbook states none."""
    rpo_seconds: float | None
    """Largest acceptable data loss in seconds; None when the playbook states none."""


@dataclass(frozen=True)
class Measured:
    """RTO and RPO as the run measured them, and whether the objectives were met."""

    rto_seconds: float | None
    """Seconds from the ``rto: start`` step to the end of the ``rto: end`` step; None if not
    measured."""
    rpo_seconds: float | None
    """Data loss in seconds (age of the newest acknowledged canary missing on the new primary)."""
    rpo_writes: int | None
    """Acknowledged canary writes missing on the new primary."""
    rto_met: bool | None
    """None when either the measurement or the objective is missing."""
    rpo_met: bool | None
    """None when either the measurement or the objective is missing."""
    rto_started_at: str | None
    """When the outage began (the ``rto_mark`` start), log timestamp."""
    rto_ended_at: str | None
    """When the outage ended (the ``rto_mark`` end), log timestamp."""
    rto_note: str | None
    """Why the RTO was not measured, when it was not."""
    rpo_note: str | None
    """Why the RPO was not measured, when it was not."""


@dataclass(frozen=True)
class OutputLine:
    """One recorded line of a command's output (secrets already masked by the engine)."""

    stream: str
    """``stdout`` or ``stderr``."""
    text: str
    """The line, without its newline."""


@dataclass(frozen=True)
class CommandRun:
    """One command sent to one host: the intent, the output, the result."""

    host: str
    """The inventory host."""
    attempt: int
    """The step's attempt (or the wait's poll number)."""
    command: str
    """The command as recorded before it was sent (secrets masked)."""
    sent_at: str
    """When the intent was recorded (before sending)."""
    offset: float
    """Seconds from the start of the run to ``sent_at``."""
    exit_status: int | None
    """The remote exit status; None if killed, timed out, unreachable or never recorded."""
    signal: str | None
    """The signal that killed it, if any."""
    duration: float | None
    """Seconds it ran; None when no result was recorded."""
    timed_out: bool
    """It ran past its timeout and was stopped."""
    ok: bool | None
    """Its expectation held; None when no result was recorded (the run died meanwhile)."""
    reason: str | None
    """Why it is not ok."""
    output: tuple[OutputLine, ...]
    """Every recorded line, stdout and stderr interleaved as they arrived."""
    dropped_lines: int
    """Lines beyond the audit cap, counted but not recorded."""


@dataclass(frozen=True)
class DecisionRecord:
    """An operator decision, or an automatic one by policy or ``--yes``."""

    at: str
    """When it was recorded."""
    offset: float
    """Seconds from the start of the run."""
    step_id: str | None
    """The step it was about."""
    action: str
    """confirm, skip, abort, done, retry, continue, rollback, rerun, ..."""
    by: str
    """Who decided (for automatic decisions: who passed ``--yes`` or ran the policy)."""
    auto: bool
    """True when no person at the keyboard decided."""
    reason: str | None
    """Why, as given."""


@dataclass(frozen=True)
class NoticeRecord:
    """Something the engine told the operator (a reconnect, a lock not taken, a wait met)."""

    at: str
    """When it was recorded."""
    offset: float
    """Seconds from the start of the run."""
    level: str
    """``info``, ``warning`` or ``error``."""
    message: str
    """What it said."""
    step_id: str | None
    """The step it concerns, if any."""
    host: str | None
    """The host it concerns, if any."""


@dataclass(frozen=True)
class StepRun:
    """One execution of a playbook step (a step re-run after a resume appears twice)."""

    id: str
    """The step's id."""
    title: str
    """Its rendered title."""
    kind: str
    """``run``, ``wait`` or ``manual``."""
    rollback: bool
    """A step of the rollback list."""
    description: str | None
    """Its rendered description."""
    instructions: str | None
    """For a manual step, what the operator was asked to do."""
    targets: tuple[str, ...]
    """The hosts it ran on (resolved when it started)."""
    started_at: str
    """When it began."""
    offset: float
    """Seconds from the start of the run to ``started_at``."""
    finished_at: str | None
    """When it ended; None if the log has no end for it."""
    duration: float | None
    """Seconds, as the engine measured them; None if it never ended."""
    attempts: int
    """Attempts made (retries included)."""
    outcome: str
    """One of ``STEP_OUTCOMES``."""
    reason: str | None
    """Why it failed, was skipped, or is unknown."""
    decisions: tuple[DecisionRecord, ...]
    """Decisions about it, in order."""
    commands: tuple[CommandRun, ...]
    """Commands it sent, in order (every poll of a wait included)."""
    notices: tuple[NoticeRecord, ...]
    """Notices about it."""
    rto_marks: tuple[str, ...]
    """``start`` and/or ``end`` when the outage began or ended at this step."""
    confirmed_by: str | None
    """Who approved it to run or declared it done, e.g. ``alice`` or ``alice (--yes)``."""


@dataclass(frozen=True)
class GateRun:
    """A preflight gate as evaluated."""

    index: int
    """1-based position in the playbook's preflight list."""
    title: str
    """The gate's title."""
    ok: bool
    """It passed."""
    detail: str
    """What was found, one line per member or host."""
    at: str
    """When it was evaluated."""
    offset: float
    """Seconds from the start of the run."""
    commands: tuple[CommandRun, ...]
    """Commands a ``command:`` gate ran."""


@dataclass(frozen=True)
class Sample:
    """A replication sample of one member taken during the run."""

    at: str
    """When it was recorded."""
    offset: float
    """Seconds from the start of the run."""
    phase: str
    """``before`` (preflight), ``during`` (monitor and waits) or ``after`` (the end)."""
    service: str
    """The replication group."""
    site: str
    """The member's site."""
    host: str | None
    """The member's host."""
    role: str
    """Observed: primary, replica, down or unknown."""
    link: str
    """Replication link: up, down, none (a primary) or unknown."""
    lag_seconds: float | None
    """None when unknown or not applicable; never invented."""
    lag_bytes: int | None
    """None when unknown or not applicable."""
    position: str | None
    """LSN, GTID set or offset."""
    health: str
    """ok, warn, crit, down or unknown."""
    error: str | None
    """Why the probe failed, if it did."""


@dataclass(frozen=True)
class LagSeries:
    """The lag of one member over the run, for the chart."""

    service: str
    """The replication group."""
    site: str
    """The member's site."""
    host: str | None
    """The member's host."""
    points: tuple[Sample, ...]
    """Its samples in time order (lag may be None in some)."""


@dataclass(frozen=True)
class CanaryReport:
    """The canary writes of the run and their read-back: how the RPO was measured."""

    service: str
    """The service written to."""
    writes_acknowledged: int
    """Writes the primary acknowledged."""
    writes_failed: int
    """Writes that were not acknowledged (the primary was fenced or down)."""
    checked_on: str | None
    """The host the canaries were read back on."""
    present: int | None
    """Acknowledged canaries found there."""
    missing: tuple[int, ...]
    """Numbers of acknowledged canaries missing there."""
    newest_present: int | None
    """The newest canary found there."""
    error: str | None
    """Why the read-back failed, if it did."""
    held: tuple[CanaryHeld, ...] = ()
    """What other members held, as steps observed it (``canary held at SITE: n <= N``)."""


@dataclass(frozen=True)
class CanaryHeld:
    """The canaries a member other than the read-back one held, as a step last saw them.

    A step reports it with a stdout line ``canary held at SITE: n <= N ...`` (city-loss does it
    for the synchronous standby while the city answers); the report compares it with the
    acknowledged writes.
    """

    site: str
    """Where the member is."""
    writes_on: str | None
    """The host whose acknowledged writes are compared (the primary the step watched), or
    None: every acknowledged write of the run."""
    acknowledged: int
    """Those acknowledged writes."""
    acknowledged_held: int
    """Of them, the ones numbered up to ``upto``: held there."""
    acknowledged_after: int
    """Of them, the ones numbered above ``upto``: acknowledged after that observation."""
    read_back_held: int | None
    """Of them, the ones the canary check found on the read-back member; None without a check."""
    upto: int
    """The newest canary number it held at the last observation (it holds every one below)."""
    step_id: str | None
    """The step that observed it."""
    observed_at: str
    """When the step printed that line (the audit log's timestamp; the observation itself
    may be older: the line says when it was answered)."""
    line: str
    """The step's line as printed."""


@dataclass(frozen=True)
class Deviation:
    """Something that did not go as the playbook planned, for the auditor's attention."""

    kind: str
    """gate-failed, step-failed, skip, retry, continued, aborted, unknown-outcome, stopped,
    rollback, override, resumed, notice, interrupted, chain-broken."""
    severity: str
    """``info``, ``warning`` or ``error``."""
    at: str | None
    """When it happened (None for the chain check)."""
    offset: float | None
    """Seconds from the start of the run."""
    step_id: str | None
    """The step concerned."""
    text: str
    """One sentence."""


@dataclass(frozen=True)
class Note:
    """An operator's note."""

    at: str
    """When it was written."""
    offset: float
    """Seconds from the start of the run."""
    by: str
    """Who wrote it."""
    step_id: str | None
    """The step running at the time."""
    text: str
    """What they wrote."""


@dataclass(frozen=True)
class Resumption:
    """The run was resumed after it stopped or died."""

    at: str
    """When."""
    offset: float
    """Seconds from the start of the run."""
    by: str
    """Who resumed it."""
    previous_status: str
    """How it had ended before (stopped, interrupted, ...)."""


@dataclass(frozen=True)
class ChainCheck:
    """The audit chain's verification for this run, so the report can be checked against
    the log."""

    ok: bool
    """Every hash and link of the run's events holds, and its runs row matches them."""
    events_checked: int
    """Events recomputed."""
    reason: str
    """A sentence: intact, or what is broken and where."""
    first_broken_seq: int | None
    """The run seq of the first broken event, if any."""
    first_broken_gid: int | None
    """Its position in the database's one chain."""
    final_hash: str
    """The hash of the run's last event: write it down, compare it later."""


@dataclass(frozen=True)
class PlannedStep:
    """A step of the playbook that the run never started."""

    id: str
    title: str
    """As written in the playbook (templates unrendered)."""
    kind: str


@dataclass(frozen=True)
class IncludedPart:
    """One included playbook of a composed run (``include:``): what it is and how its steps
    went."""

    id: str
    """The include step's id; its steps' ids start with ``id/``."""
    playbook: str
    """The included playbook's name."""
    title: str
    path: str
    """The included file."""
    digest: str
    """``sha256:<hex>`` of the included file when the run started."""
    outcome: str
    """``done`` (every step ran: ok, skipped or continued), ``failed``, ``not started`` or
    ``incomplete`` (started, not every step ended well)."""
    steps: tuple[tuple[str, str], ...]
    """Each planned step of the part with its outcome (``not run`` for one never started)."""
    started_at: str | None
    """When its first step started."""
    ended_at: str | None
    """When its last step that started ended."""
    duration: float | None
    """Seconds from its first step's start to its last step's end."""


@dataclass(frozen=True)
class VerificationOutput:
    """What one verification step of a recovery drill printed (check_sql, check_cmd, amcheck,
    mariadb-check, redis-check-aof): the operator's proof of the recovered data."""

    step_id: str
    """The step's id."""
    title: str
    """Its rendered title."""
    outcome: str
    """How it ended (one of ``STEP_OUTCOMES``)."""
    lines: tuple[str, ...]
    """Its recorded output (``report:`` figure lines left out)."""


@dataclass(frozen=True)
class PitrSection:
    """A point-in-time recovery run's figures, from the ``report:`` lines its steps printed
    (``console.report.recovery``) and its parameters. A figure the log does not hold is None."""

    service: str | None
    """The recovered service."""
    target: str
    """The target as given: ``time 2026-12-02T14:01:00Z``, ``restore point x``, ``xid 123``,
    ``GTID 0-1-9`` ("" when the run names none)."""
    recovered: str | None
    """The recovered point: the time of the last transaction replayed (or the backup's when
    none was)."""
    gap_seconds: float | None
    """Target minus the recovered point, in seconds."""
    gap_bound: bool
    """``gap_seconds`` is an upper bound (binlog and AOF times carry whole seconds)."""
    backup: str | None
    """The backup restored (pgBackRest label, base backup and its position, AOF copy)."""
    replayed_count: int | None
    """How much log was replayed (``replayed_what`` says in which unit)."""
    replayed_what: str | None
    """``WAL segments``, ``binlog transactions``, ``AOF annotations``."""
    replayed_bytes: int | None
    """Bytes of log replayed (``replayed_bytes_what`` says which)."""
    replayed_bytes_what: str | None
    """What the bytes count, e.g. ``bytes of WAL from the backup start``."""
    fetch_seconds: float | None
    """Duration of the steps of phase ``fetch`` (getting the backup)."""
    replay_seconds: float | None
    """Duration of the steps of phase ``replay`` (starting, replaying, proving, promoting)."""
    checks_seconds: float | None
    """Duration of the steps of phase ``checks`` (check_sql / check_cmd, integrity)."""
    proof: str | None
    """The ``PROVEN:`` / ``NOT PROVEN:`` line of the proof, as printed."""
    verification: tuple[VerificationOutput, ...]
    """The outputs of the checks-phase steps, in order."""


@dataclass(frozen=True)
class ColdBackupSection:
    """A cold-backup drill's figures (stop a replica, copy its files, start it; restore the
    copy by ``mv``), from the ``report:`` lines its steps printed and the measured RTO."""

    service: str | None
    """The service whose replica was copied."""
    downtime_seconds: float | None
    """The replica's downtime: the run's measured outage (stop .. caught up again)."""
    copy_bytes: int | None
    """Bytes copied."""
    copy_seconds: float | None
    """How long the copy took."""
    restore_seconds: float | None
    """How long the restore (mv and start of the copy) took."""
    proof: str | None
    """The ``MATCH:`` / ``MISMATCH:`` line of the verification, as printed."""
    verification: tuple[VerificationOutput, ...]
    """The outputs of the checks-phase steps, in order."""


@dataclass(frozen=True)
class Report:
    """Everything a drill report says about one run."""

    run_id: str
    """The run's id (a ULID)."""
    playbook: PlaybookRef
    """What ran."""
    inventory: InventoryRef
    """Against which inventory."""
    mode: str
    """``drill`` or ``incident``."""
    services: tuple[str, ...]
    """The services the run touched."""
    ran_on: tuple[str, ...]
    """The machines whose console ran it (more than one if it was resumed elsewhere)."""
    params: dict[str, str]
    """The parameters (secrets masked)."""
    operators: tuple[Operator, ...]
    """Everyone who started, decided, noted or resumed anything."""
    started_at: str
    """When the run started."""
    ended_at: str | None
    """When it finished (its last ``run_finished``); None if it never did."""
    last_event_at: str
    """The last event in the log for the run."""
    duration: float | None
    """Seconds from start to end; None if it never finished."""
    outcome: str
    """succeeded, failed, aborted, stopped, interrupted, running (or ``running?`` for a run
    whose process is on another host)."""
    exit_code: int | None
    """The exit code the run ended with."""
    summary: str
    """The engine's one-line summary of the end."""
    stopped_at: str | None
    """The step where it stopped, if it did not complete."""
    verdict: str
    """The one line at the top: outcome and objectives against measured RTO and RPO."""
    objectives: Objectives
    """The objectives."""
    measured: Measured
    """The measurements."""
    gates: tuple[GateRun, ...]
    """Preflight gates as evaluated (again after each resume that evaluated them)."""
    steps: tuple[StepRun, ...]
    """Step executions in the order they started (rollback steps included, flagged)."""
    samples: tuple[Sample, ...]
    """Every replication sample of the run, in order."""
    before: tuple[Sample, ...]
    """The replication state of the run's services before it (one sample per member)."""
    after: tuple[Sample, ...]
    """The state after it (one sample per member); empty if the run never got there."""
    lag: tuple[LagSeries, ...]
    """Lag per member over the run (members that ever reported a lag)."""
    canary: CanaryReport | None
    """The canary, when the playbook had one."""
    deviations: tuple[Deviation, ...]
    """Everything that did not go to plan, in order."""
    notes: tuple[Note, ...]
    """Operators' notes, in order."""
    notices: tuple[NoticeRecord, ...]
    """Every notice of the run, in order (warnings and errors are also deviations)."""
    resumptions: tuple[Resumption, ...]
    """Each time the run was resumed."""
    rollback_ran: bool
    """The rollback list was started."""
    rollback_ok: bool | None
    """It finished with every step ok (None if it never finished or never ran)."""
    chain: ChainCheck
    """The audit chain's verification."""
    event_count: int
    """Events of the run in the log."""
    not_run: tuple[PlannedStep, ...] = ()
    """Steps of the playbook the run never started (known when the log records the plan)."""
    parts: tuple[IncludedPart, ...] = ()
    """The included playbooks of a composed run, one section each (empty: it includes none)."""
    pitr: PitrSection | None = None
    """A point-in-time recovery run's figures (None for any other kind of run)."""
    cold_backup: ColdBackupSection | None = None
    """A cold-backup drill's figures (None for any other run)."""
