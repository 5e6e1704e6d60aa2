"""Who runs what now: the runs in progress on the store, from any console.

For each running run (``runs`` row without an outcome whose process is not known dead): who
runs it from which machine, the step it is in, what it waits for (approvals, a commit), and the
leases it holds (with their tokens and the time left on the database's clock). ``audit list``
prints it above the runs; the TUI's audit screen shows it and reads it again every two seconds
(never more often than once a second). One read of the store per call, plus one small query
per running run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from console.audit import approvals, commits
from console.audit.errors import AuditError
from console.audit.leases import Lease
from console.audit.model import Event, RunRecord
from console.audit.store import AuditStore

KINDS = tuple(dict.fromkeys(("step_started", "step_finished", *approvals.KINDS, *commits.KINDS)))
"""The events that say where a run is."""


@dataclass(frozen=True)
class LiveRun:
    """A run in progress, as another console sees it."""

    run: RunRecord
    step: str | None
    """The step it is in (None: between steps, in preflight, or awaiting a commit)."""
    waiting: tuple[approvals.PendingApproval, ...]
    commit: commits.PendingCommit | None
    leases: tuple[Lease, ...]
    clock: float
    """The database's clock when the leases were read."""

    def describe(self) -> str:
        """One line: who, what, where, waiting for what, holding what."""
        r = self.run
        text = f"{r.run_id} {r.playbook_name} ({r.mode}) by {r.operator} on {r.hostname}"
        if self.commit is not None:
            text += (
                f": awaiting commit, {self.commit.left(self.clock):.0f}s left "
                f"(otherwise {self.commit.otherwise})"
            )
        elif self.waiting:
            w = self.waiting[0]
            text += f": at {w.step_id}, waiting for approval ({len(w.approvers)} of {w.needed})"
        elif self.step is not None:
            text += f": at step {self.step}"
        else:
            text += ": between steps"
        if self.leases:
            held = ", ".join(
                f"{lease.service} (token {lease.token}, {lease.expires_at - self.clock:.0f}s)"
                for lease in self.leases
            )
            text += f"; leases {held}"
        return text


def current_step(events: Iterable[Event]) -> str | None:
    """The step started last and not finished since (pure)."""
    step = None
    for e in events:
        if e.kind == "step_started":
            step = e.step_id
        elif e.kind == "step_finished" and e.step_id == step:
            step = None
    return step


def in_progress(store: AuditStore) -> list[LiveRun]:
    """The runs in progress on the store, oldest first."""
    running = [r for r in store.runs(limit=200) if r.status == "running"]
    if not running:
        return []
    try:
        clock, live = store.live_leases()
    except AuditError:  # a store an older drconsole made has no leases table yet
        clock, live = time.time(), []
    out = []
    for run in reversed(running):
        events = store.events(run.run_id, kinds=KINDS)
        out.append(
            LiveRun(
                run=run,
                step=current_step(events),
                waiting=tuple(approvals.pending_in(run, events)),
                commit=commits.pending_in(run, events),
                leases=tuple(lease for lease in live if lease.run_id == run.run_id),
                clock=clock,
            )
        )
    return out
