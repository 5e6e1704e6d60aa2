"""The two-person rule in the store: what waits for approval, and giving one.

A run whose step needs N approvals records ``approval_requested`` and waits; any console on
the same store (a team store, or the same file) lists what waits (:func:`pending_approvals`)
and approves (:func:`approve`). An approval is checked and appended in one write transaction,
so two consoles cannot both be "the second person", and the same person approving twice from
two laptops is refused as surely as from one. The rules, in the order they are checked:

* the run must be running and one of its steps waiting (its last ``approval_requested`` not
  followed by the step's end or the run being resumed);
* the run's own operator never approves: their confirmation is the first approval already;
* an operator who approved this request already is refused, and told when they did.

What is waiting is read from the run's own events (``approval_requested``, ``approval``,
``step_finished``, ``run_resumed``): no table of its own, so both stores and ``audit verify``
need nothing new.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from console.audit.model import Event, EventDraft, RunRecord
from console.audit.schema import EVENT_SELECT, row_to_event
from console.audit.sql import Conn
from console.audit.store import AuditStore
from console.errors import ExitCode, Stopped
from console.events import ApprovalDenied, ApprovalRequested, Approved

KINDS = ("approval_requested", "approval", "step_finished", "run_resumed")
"""The events that say what waits for approval."""


class ApprovalRefused(Stopped):
    """An approval that cannot be given (exit 3): nothing waits, or the wrong person."""


@dataclass(frozen=True)
class PendingApproval:
    """A step that waits for approvals."""

    run_id: str
    step_id: str
    title: str
    needed: int
    approvers: tuple[str, ...]
    """Who approved so far, in order (the run's operator first)."""
    approved_at: tuple[str, ...]
    """When each approved (the request's time for the run's operator)."""
    run_operator: str
    playbook: str
    mode: str
    requested_at: str
    timeout: float | None

    @property
    def missing(self) -> int:
        """How many approvals are still needed."""
        return max(0, self.needed - len(self.approvers))

    def waits_for(self, operator: str) -> bool:
        """True when ``operator`` may approve it (neither its run's operator nor an approver)."""
        return self.missing > 0 and operator not in self.approvers


def pending_in(run: RunRecord, events: Iterable[Event]) -> list[PendingApproval]:
    """The requests of ``run`` still missing approvals, from its events in order (pure)."""
    open_: dict[str, PendingApproval] = {}
    for event in events:
        if event.kind == "run_resumed":
            open_.clear()
        elif event.kind == "step_finished" and event.step_id is not None:
            open_.pop(event.step_id, None)
        elif event.kind == "approval_requested" and event.step_id is not None:
            req = event.payload
            assert isinstance(req, ApprovalRequested)
            approvers = tuple(dict.fromkeys(req.approvers or (run.operator,)))
            open_[event.step_id] = PendingApproval(
                run_id=run.run_id,
                step_id=event.step_id,
                title=req.title,
                needed=req.needed,
                approvers=approvers,
                approved_at=tuple(event.ts for _ in approvers),
                run_operator=run.operator,
                playbook=run.playbook_name,
                mode=req.mode or run.mode,
                requested_at=event.ts,
                timeout=req.timeout,
            )
        elif event.kind == "approval" and event.step_id in open_:
            was = open_[event.step_id]
            if event.operator not in was.approvers:
                open_[event.step_id] = replace(
                    was,
                    approvers=(*was.approvers, event.operator),
                    approved_at=(*was.approved_at, event.ts),
                )
    if run.status != "running":
        return []
    return [p for p in open_.values() if p.missing > 0]


def _run_events(conn: Conn, run_id: str) -> list[Event]:
    marks = ", ".join("?" for _ in KINDS)
    rows = conn.execute(
        EVENT_SELECT + f" WHERE run_id = ? AND kind IN ({marks}) ORDER BY gid",
        (run_id, *KINDS),
    ).fetchall()
    return [row_to_event(r) for r in rows]


def pending_approvals(store: AuditStore, run_id: str | None = None) -> list[PendingApproval]:
    """What waits for approval on the store (of one run: exact id), oldest request first."""
    runs = [r for r in store.runs() if r.status == "running"]
    if run_id is not None:
        runs = [r for r in runs if r.run_id == run_id]
    out: list[PendingApproval] = []
    for run in runs:
        out.extend(pending_in(run, store.events(run.run_id, kinds=KINDS)))
    return sorted(out, key=lambda p: p.requested_at)


def _choose(
    pending: Sequence[PendingApproval], run: RunRecord, step_id: str | None
) -> PendingApproval:
    if step_id is not None:
        for p in pending:
            if p.step_id == step_id:
                return p
        waiting = ", ".join(p.step_id for p in pending)
        raise ApprovalRefused(
            f"run {run.run_id}: step {step_id!r} waits for no approval"
            + (f" (waiting: {waiting})" if waiting else "")
        )
    if not pending:
        raise ApprovalRefused(f"run {run.run_id} ({run.status}) waits for no approval")
    if len(pending) > 1:
        names = ", ".join(p.step_id for p in pending)
        raise ApprovalRefused(f"run {run.run_id}: several steps wait ({names}); name one")
    return pending[0]


def approve(
    store: AuditStore,
    run_id: str,
    step_id: str | None,
    *,
    operator: str,
    hostname: str | None = None,
) -> tuple[Event, PendingApproval]:
    """Approve the waiting step of ``run_id`` (the only one, or ``step_id``) as ``operator``.

    Returns:
        The ``approval`` event as stored, and the request as it stands with it.

    Raises:
        ApprovalRefused: Nothing waits, the step does not, the operator is the run's own, or
            they approved this request already (the message says which, exit 3). The
            refusal is recorded in the run first (``approval_refused``: who, where, why).
        UnknownRun: No such run (nothing recorded: there is no run to record it in).
    """
    machine = hostname or socket.gethostname()
    chosen: list[PendingApproval] = []

    def decide(conn: Conn, run: RunRecord) -> EventDraft:
        events = _run_events(conn, run.run_id)
        every = pending_in(replace(run, status="running"), events)
        pending = pending_in(run, events)
        if not pending and every:
            raise ApprovalRefused(
                f"run {run.run_id} is {run.status}: it waits for nothing any more"
            )
        request = _choose(pending, run, step_id)
        if operator == request.run_operator:
            raise ApprovalRefused(
                f"{operator} started run {run.run_id}: the run's own operator counts once "
                f"(already, by confirming step {request.step_id!r}); another person must approve"
            )
        if operator in request.approvers:
            at = request.approved_at[request.approvers.index(operator)]
            raise ApprovalRefused(
                f"{operator} approved step {request.step_id!r} of run {run.run_id} already "
                f"(at {at}); the same person counts once: another person must approve "
                f"({request.missing} more needed)"
            )
        now = replace(request, approvers=(*request.approvers, operator))
        chosen.append(now)
        payload = Approved(
            by=operator, hostname=machine, count=len(now.approvers), needed=request.needed
        )
        return EventDraft(
            kind=payload.kind, data=payload.data(), operator=operator, step_id=request.step_id
        )

    try:
        event = store.append_checked(run_id, decide)
    except ApprovalRefused as refused:
        denied = ApprovalDenied(by=operator, hostname=machine, step=step_id, reason=str(refused))
        store.record(run_id, denied, operator=operator)
        raise
    return event, chosen[0]


def approved_after(events: Iterable[Event], step_id: str) -> list[Approved]:
    """The ``approval`` events of ``step_id`` among ``events``, typed (the engine's poll)."""
    out = []
    for e in events:
        payload = e.payload
        if isinstance(payload, Approved) and e.step_id == step_id:
            out.append(replace(payload, by=e.operator))
    return out


def approve_command(args: argparse.Namespace) -> int:
    """``drconsole approve [RUN_ID [STEP]]``: approve a waiting step as ``--operator``; without
    a run id, list what waits for this operator. Exit 0, or 3 when the approval is refused."""
    store = AuditStore(args.audit, create=False)
    try:
        if args.run_id is None:
            waiting = [p for p in pending_approvals(store) if p.waits_for(args.operator)]
            if not waiting:
                print(f"nothing waits for approval by {args.operator} in {store.path}")
            for p in waiting:
                print(
                    f"{p.run_id} {p.step_id}: {p.title} ({p.playbook}, {p.mode}; run by "
                    f"{p.run_operator}; {len(p.approvers)} of {p.needed} approved: "
                    f"{', '.join(p.approvers)})"
                )
            return ExitCode.OK
        run_id = store.resolve_run_id(args.run_id)
        event, request = approve(store, run_id, args.step, operator=args.operator)
    finally:
        store.close()
    more = f"; {request.missing} more needed" if request.missing else "; the run goes on"
    print(
        f"approved step {request.step_id!r} of run {run_id} as {args.operator} "
        f"({len(request.approvers)} of {request.needed}: {', '.join(request.approvers)}{more}; "
        f"recorded at {event.ts}, seq {event.seq})"
    )
    return ExitCode.OK
