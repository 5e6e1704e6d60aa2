"""The two-person rule in a run: after its operator confirmed a step that needs N approvals,
the run waits until N distinct operators approved it, or stops.

The request is recorded (``approval_requested``, durable) before the wait, so every console on
the store sees what waits; each approval is written by the approver's console
(``console.audit.approvals.approve``), and this run reads them back from the store, at most
once per ``poll`` seconds, telling its listeners of each. The run's own operator counts once,
whoever answered for them (a person, or ``--yes``, which so never counts as the second person).
Without enough approvals within the timeout the step is not run: it ends ``stopped`` (exit 3,
resumable), and the request lapses with it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from console import events as ev
from console.audit.approvals import approved_after
from console.audit.store import AuditStore

DEFAULT_POLL = 1.0
"""Seconds between two reads of the store while a step waits for approvals."""


class ApprovalHost(Protocol):
    """What the wait needs from its run (``console.engine.runner.Engine``)."""

    audit: AuditStore
    operator: str
    run_id: str | None

    def emit(self, event: ev.Event) -> None:
        """Record and tell."""

    def tell(self, event: ev.Event) -> None:
        """Tell the listeners only."""


async def gather_approvals(
    host: ApprovalHost,
    step_id: str,
    title: str,
    needed: int,
    *,
    mode: str,
    timeout: float | None,
    poll: float = DEFAULT_POLL,
) -> str | None:
    """Wait for ``needed`` distinct approvals of ``step_id``; None once they are there, else
    why the step does not run (nobody approved in time)."""
    assert host.run_id is not None
    approvers = [host.operator]
    request = ev.ApprovalRequested(
        step_id=step_id,
        title=title,
        needed=needed,
        approvers=tuple(approvers),
        mode=mode,
        timeout=timeout,
    )
    host.emit(request)
    seen_seq = _seq_of(host, request)
    started = time.monotonic()
    while True:
        events = host.audit.events(host.run_id, kinds=("approval",), after_seq=seen_seq)
        for approval in approved_after(events, step_id):
            seen_seq = max(seen_seq, approval.seq or seen_seq)
            if approval.by in approvers:
                continue
            approvers.append(approval.by)
            host.tell(approval)
        if len(approvers) >= needed:
            host.emit(
                ev.Notice(
                    level=ev.NoticeLevel.INFO,
                    step_id=step_id,
                    message=f"approved by {len(approvers)} of {needed}: {', '.join(approvers)}",
                )
            )
            return None
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            return (
                f"step {step_id!r} needs {needed} approvals and has {len(approvers)} "
                f"({', '.join(approvers)}) after {timeout:g}s; another operator approves with "
                f"drconsole approve {host.run_id} {step_id}, then resume the run"
            )
        delay = poll if timeout is None else min(poll, max(0.0, timeout - waited))
        await asyncio.sleep(delay)


def _seq_of(host: ApprovalHost, request: ev.ApprovalRequested) -> int:
    """The seq the request was recorded at (approvals come after it)."""
    assert host.run_id is not None
    found = host.audit.events(host.run_id, kinds=("approval_requested",))
    return found[-1].seq if found else 0
