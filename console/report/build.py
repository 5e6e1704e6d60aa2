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
from console.report.payload import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_num,
    as_opt_str,
    as_str,
    as_strs,
)
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
    outcome_recorded = as_opt_str(fin.get("outcome")) if fin is not None else None
    status = derive_status(outcome_recorded, f.process[0], f.process[1], this_host)
    stopped_at = as_opt_str(fin.get("stopped_at")) if fin is not None else None
    for step in list(f.open_steps.values()):
        if status == "stopped" and step.id == stopped_at:
            f.close(
                step,
                "stopped",
                "the run stopped here: "
                + as_str(fin.get("summary") if fin else "", "waiting for an operator"),
            )
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
    pb = as_dict(d.get("playbook"))
    inv = as_dict(d.get("inventory"))
    duration = None
    if fin is not None and f.finished_at:
        duration = f.offset(f.finished_at)
    exit_code = as_int(fin.get("exit_code")) if fin is not None else None
    deviations = sorted(
        f.deviations,
        key=lambda x: (x.offset is not None, x.offset if x.offset is not None else 0.0),
    )
    return Report(
        run_id=f.run_id,
        playbook=PlaybookRef(
            name=as_str(pb.get("name"), "?"),
            kind=as_str(pb.get("kind"), "?"),
            title=as_str(pb.get("title")),
            path=as_str(pb.get("path")),
            digest=as_str(pb.get("digest")),
        ),
        inventory=InventoryRef(
            name=as_str(inv.get("name"), "?"),
            path=as_str(inv.get("path")),
            digest=as_str(inv.get("digest")),
        ),
        mode=as_str(d.get("mode"), "?"),
        services=as_strs(d.get("services")),
        ran_on=tuple(f.machines),
        params={str(k): as_str(v) for k, v in as_dict(d.get("params")).items()},
        operators=tuple(Operator(name, tuple(roles)) for name, roles in f.operators.items()),
        started_at=f.start_ts,
        ended_at=f.finished_at,
        last_event_at=f.last_ts,
        duration=duration,
        outcome=status,
        exit_code=exit_code,
        summary=as_str(fin.get("summary")) if fin is not None else "",
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
    )


def _not_run(f: Folder, steps: Sequence[StepRun]) -> tuple[PlannedStep, ...]:
    """The playbook's steps the run never started, from its recorded plan."""
    started = {s.id for s in steps if not s.rollback}
    return tuple(
        PlannedStep(as_str(p.get("id"), "?"), as_str(p.get("title")), as_str(p.get("kind")))
        for p in f.planned
        if as_str(p.get("id")) not in started
    )


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
    obj = as_dict(f.started.get("objectives"))
    rto = obj.get("rto_seconds", obj.get("rto"))
    rpo = obj.get("rpo_seconds", obj.get("rpo"))
    return Objectives(rto_seconds=as_num(rto), rpo_seconds=as_num(rpo))


def _measured(f: Folder, objectives: Objectives, status: str) -> Measured:
    m = f.measurement or f.finished or {}
    rto = as_num(m.get("rto_seconds"))
    rpo = as_num(m.get("rpo_seconds"))
    writes = as_int(m.get("rpo_writes"))
    rto_met = as_bool(m.get("rto_met"))
    rpo_met = as_bool(m.get("rpo_met"))
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
        if f.canary_check is not None and f.canary_check.get("error"):
            rpo_note = canary_problem(str(f.canary_check.get("error")))
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
    c = f.canary_check or {}
    return CanaryReport(
        service=f.canary_service,
        writes_acknowledged=f.canary_ok,
        writes_failed=f.canary_failed,
        checked_on=f.canary_check_host,
        present=as_int(c.get("present")),
        missing=tuple(
            n for n in as_list(c.get("missing")) if isinstance(n, int) and not isinstance(n, bool)
        ),
        newest_present=as_int(c.get("newest_present")),
        error=as_opt_str(c.get("error")),
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
