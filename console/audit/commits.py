"""Commit or roll back, in the store: which runs await a commit, and committing one.

A run whose playbook has ``commit: {within, otherwise}`` records ``commit_awaited`` after its
last step and waits; any console on the store (or the run's own TUI) commits it by recording
``commit`` in the run, checked and appended in one write transaction: the run must be running
and awaiting a commit (its last ``commit_awaited`` not followed by ``commit``,
``commit_expired`` or a resume), and the window must not have ended by the committer's clock.
Anyone may commit (the two-person rule is for steps, ``console.audit.approvals``).
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from console.audit.model import Event, EventDraft, RunRecord
from console.audit.schema import EVENT_SELECT, row_to_event
from console.audit.sql import Conn
from console.audit.store import AuditStore
from console.errors import ExitCode, Stopped
from console.events import CommitAwaited, CommitDenied, Committed

KINDS = ("commit_awaited", "commit", "commit_expired", "run_resumed")
"""The events that say whether a run awaits a commit."""


class CommitRefused(Stopped):
    """A commit that cannot be made (exit 3): the run awaits none, or its window ended."""


@dataclass(frozen=True)
class PendingCommit:
    """A run that awaits a commit."""

    run_id: str
    playbook: str
    run_operator: str
    mode: str
    within: float
    deadline: float
    """When the window ends (epoch seconds, the run's console's clock)."""
    otherwise: str
    awaited_at: str

    def left(self, now: float) -> float:
        """Seconds left at ``now`` (0 once it ended)."""
        return max(0.0, self.deadline - now)


def pending_in(run: RunRecord, events: Iterable[Event]) -> PendingCommit | None:
    """Whether ``run`` awaits a commit, from its events in order (pure)."""
    pending: PendingCommit | None = None
    for event in events:
        payload = event.payload
        if event.kind == "commit_awaited" and isinstance(payload, CommitAwaited):
            pending = PendingCommit(
                run_id=run.run_id,
                playbook=run.playbook_name,
                run_operator=run.operator,
                mode=run.mode,
                within=payload.within,
                deadline=payload.deadline,
                otherwise=payload.otherwise,
                awaited_at=event.ts,
            )
        elif event.kind in ("commit", "commit_expired", "run_resumed"):
            pending = None
    return pending if run.status == "running" else None


def pending_commits(store: AuditStore) -> list[PendingCommit]:
    """The runs on the store that await a commit, the nearest deadline first."""
    out = []
    for run in store.runs():
        if run.status != "running":
            continue
        found = pending_in(run, store.events(run.run_id, kinds=KINDS))
        if found is not None:
            out.append(found)
    return sorted(out, key=lambda p: p.deadline)


def _run_events(conn: Conn, run_id: str) -> list[Event]:
    marks = ", ".join("?" for _ in KINDS)
    rows = conn.execute(
        EVENT_SELECT + f" WHERE run_id = ? AND kind IN ({marks}) ORDER BY gid",
        (run_id, *KINDS),
    ).fetchall()
    return [row_to_event(r) for r in rows]


def commit(
    store: AuditStore,
    run_id: str,
    *,
    operator: str,
    hostname: str | None = None,
    now: float | None = None,
) -> tuple[Event, PendingCommit]:
    """Commit the run's new state as ``operator``.

    Returns:
        The ``commit`` event as stored, and what it committed.

    Raises:
        CommitRefused: The run awaits no commit, or its window has ended. The refusal is
            recorded in the run first (``commit_refused``: who, where, why).
        UnknownRun: No such run (nothing recorded: there is no run to record it in).
    """
    machine = hostname or socket.gethostname()
    chosen: list[PendingCommit] = []

    def decide(conn: Conn, run: RunRecord) -> EventDraft:
        pending = pending_in(run, _run_events(conn, run.run_id))
        if pending is None:
            raise CommitRefused(f"run {run.run_id} ({run.status}) awaits no commit")
        at = time.time() if now is None else now
        if at > pending.deadline:
            raise CommitRefused(
                f"run {run.run_id}: its commit window of {pending.within:g}s ended "
                f"{at - pending.deadline:.0f}s ago (otherwise: {pending.otherwise})"
            )
        chosen.append(pending)
        payload = Committed(by=operator, hostname=machine)
        return EventDraft(kind=payload.kind, data=payload.data(), operator=operator)

    try:
        event = store.append_checked(run_id, decide)
    except CommitRefused as refused:
        denied = CommitDenied(by=operator, hostname=machine, reason=str(refused))
        store.record(run_id, denied, operator=operator)
        raise
    return event, chosen[0]


def committed_after(events: Iterable[Event]) -> Committed | None:
    """The first ``commit`` among ``events``, typed (the engine's poll)."""
    for e in events:
        payload = e.payload
        if isinstance(payload, Committed):
            return replace(payload, by=payload.by or e.operator)
    return None


def commit_command(args: argparse.Namespace) -> int:
    """``drconsole commit [RUN_ID]``: commit a run that awaits it; without a run id, list the
    runs that do, with the time left. Exit 0, or 3 when the commit is refused."""
    store = AuditStore(args.audit, create=False)
    try:
        if args.run_id is None:
            waiting = pending_commits(store)
            if not waiting:
                print(f"no run awaits a commit in {store.path}")
            now = time.time()
            for p in waiting:
                print(
                    f"{p.run_id} {p.playbook} ({p.mode}; run by {p.run_operator}): "
                    f"{p.left(now):.0f}s left of {p.within:g}s, otherwise {p.otherwise}"
                )
            return ExitCode.OK
        run_id = store.resolve_run_id(args.run_id)
        event, pending = commit(store, run_id, operator=args.operator)
    finally:
        store.close()
    print(
        f"committed run {run_id} ({pending.playbook}) as {args.operator} with "
        f"{pending.left(time.time()):.0f}s of the window left; recorded at {event.ts}, "
        f"seq {event.seq}"
    )
    return ExitCode.OK
