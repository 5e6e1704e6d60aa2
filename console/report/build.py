"""Build a run's :class:`~console.report.model.Report` from the audit log alone.

The report is a pure function of the run's events and the chain's verification result (plus,
for a run with no end in the log, whether its process still lives), which is what lets an
auditor rebuild it from a copy of the database and get the same document. The events are
folded one by one (``console.report.fold``); this module then closes what the log left open
(a step in flight when the run died is ``unknown``, never ``ok``), derives the deviations and
the measurements, and freezes the result. What is missing is said to be missing, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.audit.model import Event, VerifyResult, derive_status
from console.audit.store import AuditStore
from console.report.fold import Folder
from console.report.model import (
    CanaryHeld,
    CanaryReport,
    ChainCheck,
    Deviation,
    InventoryRef,
    LagSeries,
    Measured,
    Objectives,
    Operator,
    PlannedStep,
    PlaybookRef,
    Report,
    Sample,
    StepRun,
)
from console.report.parts import included_parts
from console.report.recovery import cold_backup_section, pitr_section
from console.report.text import canary_problem, one_line, verdict


def build_report(audit: AuditStore, run_id: str) -> Report:
    """The report of one run, from the audit log alone.

    Args:
        audit: The audit store.
        run_id: A run id or a unique prefix of one.

    Raises:
        UnknownRun: No such run (exit 2 at the CLI).
        AmbiguousRunId: The prefix matches several runs.
        AuditError: The database cannot be read.
    """
    full = audit.resolve_run_id(run_id)
    events = audit.events(full)
    chain = audit.verify(full)
    return fold_report(full, events, chain, this_host=audit.hostname)


def fold_report(
    run_id: str, events: Sequence[Event], chain: VerifyResult, *, this_host: str
) -> Report:
    """The report of one run from its events, in log order.

    Args:
        run_id: The run's full id.
        events: Its events, ordered by gid (``AuditStore.events``).
        chain: The run's verification (``AuditStore.verify(run_id)``).
        this_host: This machine's name: a run with no end in the log whose process is alive
            here is ``running``, gone here ``interrupted``, elsewhere ``running?``.
    """
    folder = Folder(run_id, events)
    for event in events:
        folder.feed(event)
    return finish(folder, chain, this_host)


def finish(f: Folder, chain: VerifyResult, this_host: str) -> Report:
    """The frozen report from the fold's state, once every event was fed."""
    d = f.started
    fin = f.finished
    outcome_recorded = None if fin is None or "outcome" in fin.defaulted else str(fin.outcome)
    status = derive_status(outcome_recorded, f.process[0], f.process[1], this_host)
    stopped_at = fin.stopped_at if fin is not None else None
    for step in list(f.open_steps.values()):
        if status == "stopped" and step.id == stopped_at:
            summary = fin.summary if fin is not None else ""
            if fin is not None and not summary and "summary" in fin.defaulted:
                summary = "waiting for an operator"
            f.close(step, "stopped", "the run stopped here: " + summary)
        elif status in ("running", "running?"):
            f.close(step, "running", "still running")
        else:
            f.close(step, "unknown", f"no end recorded (run {status})")
    if fin is None and status == "interrupted":
        f.deviations.append(
            Deviation(
                "interrupted",
                "error",
                f.last_ts,
                f.offset(f.last_ts),
                None,
                "the log ends without run_finished and the run's process is gone: it was "
                f"interrupted (killed or crashed) after its last event at {f.last_ts}",
            )
        )
    steps = [s.freeze() for s in f.steps]
    for frozen in steps:
        _step_deviation(f, frozen)
    objectives = _objectives(f)
    measured = _measured(f, objectives, status)
    chain_check = _chain(f, chain)
    if not chain_check.ok:
        f.deviations.insert(
            0,
            Deviation(
                "chain-broken",
                "error",
                None,
                None,
                None,
                one_line(f"audit chain BROKEN: {chain.reason}", 400),
            ),
        )
    pb, inv = d.playbook, d.inventory
    params = {str(k): "" if v is None else str(v) for k, v in d.params.items()}
    duration = None
    if fin is not None and f.finished_at:
        duration = f.offset(f.finished_at)
    exit_code = fin.exit_code if fin is not None else None
    deviations = sorted(
        f.deviations,
        key=lambda x: (x.offset is not None, x.offset if x.offset is not None else 0.0),
    )
    return Report(
        run_id=f.run_id,
        playbook=PlaybookRef(
            name=pb.name, kind=pb.kind, title=pb.title, path=pb.path, digest=pb.digest
        ),
        inventory=InventoryRef(name=inv.name, path=inv.path, digest=inv.digest),
        mode=d.mode,
        services=d.services,
        ran_on=tuple(f.machines),
        params=params,
        operators=tuple(Operator(name, tuple(roles)) for name, roles in f.operators.items()),
        started_at=f.start_ts,
        ended_at=f.finished_at,
        last_event_at=f.last_ts,
        duration=duration,
        outcome=status,
        exit_code=exit_code,
        summary=fin.summary if fin is not None else "",
        stopped_at=stopped_at,
        verdict=verdict(
            status,
            stopped_at,
            (measured.rto_seconds, objectives.rto_seconds, measured.rto_met, measured.rto_note),
            (measured.rpo_seconds, objectives.rpo_seconds, measured.rpo_met, measured.rpo_note),
            measured.rpo_writes,
        ),
        objectives=objectives,
        measured=measured,
        gates=tuple(f.gates),
        steps=tuple(steps),
        samples=tuple(f.samples),
        before=_phase(f.samples, "before", first=True),
        after=_phase(f.samples, "after", first=False),
        lag=_lag_series(f.samples),
        canary=_canary(f),
        deviations=tuple(deviations),
        notes=tuple(f.notes),
        notices=tuple(f.notices),
        resumptions=tuple(f.resumptions),
        rollback_ran=f.rollback_ran,
        rollback_ok=f.rollback_ok,
        chain=chain_check,
        event_count=f.event_count,
        not_run=_not_run(f, steps),
        parts=included_parts(f.parts, f.planned, steps),
        pitr=pitr_section(str(pb.kind), d.services, params, steps),
        cold_backup=cold_backup_section(d.services, steps, measured.rto_seconds),
    )


def _not_run(f: Folder, steps: Sequence[StepRun]) -> tuple[PlannedStep, ...]:
    """The playbook's steps the run never started, from its recorded plan."""
    started = {s.id for s in steps if not s.rollback}
    return tuple(PlannedStep(p.id, p.title, str(p.kind)) for p in f.planned if p.id not in started)


def _step_deviation(f: Folder, step: StepRun) -> None:
    label = f"{'rollback ' if step.rollback else ''}step {step.id}"
    when = _at(f, step)
    if step.outcome == "failed":
        f.deviations.append(
            Deviation(
                "step-failed",
                "error",
                *when,
                step.id,
                one_line(
                    f"{label} failed after {step.attempts} attempt(s): {step.reason or '?'}",
                    400,
                ),
            )
        )
    elif step.outcome == "skipped":
        skip = next((x for x in step.decisions if x.action == "skip"), None)
        if skip is not None:
            who = "policy" if skip.auto else skip.by
            text = f"{label} skipped by {who}: {skip.reason or 'no reason given'}"
            severity = "warning"
        else:
            text = f"{label} skipped: {step.reason or 'no reason recorded'}"
            severity = "info" if (step.reason or "").startswith("when:") else "warning"
        f.deviations.append(Deviation("skip", severity, *when, step.id, one_line(text, 400)))
    elif step.outcome in ("unknown", "aborted"):
        f.deviations.append(
            Deviation(
                "unknown-outcome" if step.outcome == "unknown" else "aborted",
                "error",
                *when,
                step.id,
                one_line(
                    f"{label} outcome {step.outcome.upper()}: {step.reason or '?'} — check "
                    "the host before acting on it",
                    400,
                ),
            )
        )


def _at(f: Folder, step: StepRun) -> tuple[str | None, float | None]:
    ts = step.finished_at or step.started_at
    return ts, f.offset(ts)


def _objectives(f: Folder) -> Objectives:
    return Objectives(rto_seconds=f.started.rto_objective, rpo_seconds=f.started.rpo_objective)


def _measured(f: Folder, objectives: Objectives, status: str) -> Measured:
    m = f.measurement if f.measurement is not None else f.finished
    rto = m.rto_seconds if m is not None else None
    rpo = m.rpo_seconds if m is not None else None
    writes = m.rpo_writes if m is not None else None
    rto_met = m.rto_met if m is not None else None
    rpo_met = m.rpo_met if m is not None else None
    if rto_met is None and rto is not None and objectives.rto_seconds is not None:
        rto_met = rto <= objectives.rto_seconds
    rto_note = None
    if rto is None:
        if f.rto_start is None:
            rto_note = "the outage never started (no step marked rto: start ran)"
        elif f.rto_end is None:
            when = {
                "running": "the log was read",
                "running?": "the log was read",
                "interrupted": "the log ends",
            }.get(status, "the run ended")
            rto_note = (
                f"the outage began at +{f.offset(f.rto_start):.2f}s and had not ended when {when}"
            )
        else:
            rto_note = "no measurement recorded"
    rpo_note = None
    if rpo is None:
        if f.canary_check is not None and f.canary_check.error:
            rpo_note = canary_problem(f.canary_check.error)
        elif f.canary_service is None:
            rpo_note = "no canary ran"
        else:
            rpo_note = "the canaries were never read back"
    return Measured(
        rto_seconds=rto,
        rpo_seconds=rpo,
        rpo_writes=writes,
        rto_met=rto_met,
        rpo_met=rpo_met,
        rto_started_at=f.rto_start,
        rto_ended_at=f.rto_end,
        rto_note=rto_note,
        rpo_note=rpo_note,
    )


def _canary(f: Folder) -> CanaryReport | None:
    if f.canary_service is None:
        return None
    c = f.canary_check
    return CanaryReport(
        service=f.canary_service,
        writes_acknowledged=f.canary_ok,
        writes_failed=f.canary_failed,
        checked_on=f.canary_check_host,
        present=c.present if c is not None else None,
        missing=c.missing if c is not None else (),
        newest_present=c.newest_present if c is not None else None,
        error=c.error if c is not None else None,
        held=tuple(
            _held(f, site, upto, on, step_id, at, line)
            for site, (upto, on, step_id, at, line) in sorted(f.canary_held.items())
        ),
    )


def _held(
    f: Folder, site: str, upto: int, on: str | None, step_id: str | None, at: str, line: str
) -> CanaryHeld:
    """One ``canary held at`` observation against the acknowledged writes (only those ``on``
    acknowledged, when the line names whose writes it counted)."""
    acked = [n for n, host in f.canary_acked if on is None or host == on]
    missing = set(f.canary_check.missing) if f.canary_check is not None else set()
    return CanaryHeld(
        site=site,
        writes_on=on,
        acknowledged=len(acked),
        acknowledged_held=sum(1 for n in acked if n <= upto),
        acknowledged_after=sum(1 for n in acked if n > upto),
        read_back_held=(
            sum(1 for n in acked if n not in missing)
            if f.canary_check is not None and f.canary_check.error is None
            else None
        ),
        upto=upto,
        step_id=step_id,
        observed_at=at,
        line=line,
    )


def _chain(f: Folder, chain: VerifyResult) -> ChainCheck:
    broken = chain.first_broken
    return ChainCheck(
        ok=chain.ok,
        events_checked=chain.events_checked,
        reason=chain.reason,
        first_broken_seq=broken.seq if broken is not None else None,
        first_broken_gid=broken.gid if broken is not None else None,
        final_hash=chain.final_hash if chain.ok else f.last_hash or chain.final_hash,
    )


def _phase(samples: Sequence[Sample], phase: str, *, first: bool) -> tuple[Sample, ...]:
    """One sample per member of a phase: the first (before) or last (after) of each."""
    chosen: dict[tuple[str, str, str | None], Sample] = {}
    for s in samples:
        if s.phase != phase:
            continue
        key = (s.service, s.site, s.host)
        if first and key in chosen:
            continue
        chosen[key] = s
    return tuple(chosen.values())


def _lag_series(samples: Sequence[Sample]) -> tuple[LagSeries, ...]:
    """Per member that ever reported a lag, its samples in order, except those taken while it
    was the primary (a primary has no lag: that is not an unknown lag)."""
    points: dict[tuple[str, str, str | None], list[Sample]] = {}
    for s in samples:
        if s.role == "primary" and s.lag_seconds is None and s.lag_bytes is None:
            continue
        points.setdefault((s.service, s.site, s.host), []).append(s)
    return tuple(
        LagSeries(service, site, host, tuple(pts))
        for (service, site, host), pts in points.items()
        if any(p.lag_seconds is not None or p.lag_bytes is not None for p in pts)
    )
