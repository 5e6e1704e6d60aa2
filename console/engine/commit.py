"""Commit or roll back: after its last step a run with ``commit: {within, otherwise}``
waits for an operator's commit, then ends; uncommitted at the window's end, it does what
``otherwise`` says.

While it waits, the new state serves and the old one is kept ready: the run keeps its locks
and renews its leases, so nobody else can act on the service. The wait reads the run's
``commit`` events from the store at most once per ``poll`` seconds: a commit from any console
(``drconsole commit``) or from the run's own TUI (``Engine.request_commit``, recorded by the
engine itself) ends it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from console import events as ev
from console.audit.commits import committed_after
from console.audit.store import AuditStore
from console.model.playbook import CommitWindow

DEFAULT_POLL = 1.0
"""Seconds between two reads of the store while the run awaits a commit."""


class CommitHost(Protocol):
    """What the wait needs from its run (``console.engine.runner.Engine``)."""

    audit: AuditStore
    run_id: str | None

    def emit(self, event: ev.Event) -> None:
        """Record and tell."""

    def tell(self, event: ev.Event) -> None:
        """Tell the listeners only."""


async def await_commit(
    host: CommitHost, window: CommitWindow, *, poll: float = DEFAULT_POLL
) -> ev.Committed | None:
    """Record ``commit_awaited`` and wait; the commit, or None when the window ended first
    (``commit_expired`` is then recorded)."""
    assert host.run_id is not None
    deadline = time.time() + window.within
    host.emit(ev.CommitAwaited(within=window.within, deadline=deadline, otherwise=window.otherwise))
    found = host.audit.events(host.run_id, kinds=("commit_awaited",))
    seen = found[-1].seq if found else 0
    while True:
        events = host.audit.events(host.run_id, kinds=("commit",), after_seq=seen)
        done = committed_after(events)
        if done is not None:
            host.tell(done)
            return done
        left = deadline - time.time()
        if left <= 0:
            host.emit(ev.CommitExpired(within=window.within, otherwise=window.otherwise))
            return None
        await asyncio.sleep(min(poll, left))
