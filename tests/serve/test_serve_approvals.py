"""The two-person rule from a browser: ``drconsole serve``'s approvals screen (key 5).

A real server with real console processes behind websockets (the keys sent as the page sends
them) on a store where alice's runs wait for approval. The observer's console lists them and
its approval is refused as read-only (nothing recorded); the operator's approves one (an
``approval`` by the operator, from this machine), and an approval that another console of the
same person gave first while the dialog was open is refused as ``drconsole approve`` refuses
it, and the refusal recorded (``approval_refused``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from console.audit.approvals import approve
from console.audit.model import Event
from console.audit.store import AuditStore
from console.events import ApprovalRequested
from tests.audit.conftest import run_start
from tests.serve.served import OPERATOR, TOKEN, browser_console, serving

pytestmark = [pytest.mark.timeout(400), pytest.mark.slow]

WAIT = 60.0
"""Seconds for a console process to draw what the test waits for (10x a loaded machine)."""


def _waiting(store: AuditStore, step: str, needed: int) -> str:
    """A run of alice's, alive (this process), waiting at ``step`` for ``needed`` approvals."""
    run = run_start(operator="alice@laptop1", pid=os.getpid(), hostname=socket.gethostname())
    store.create_run(run)
    request = ApprovalRequested(
        title=f"Open {step}", needed=needed, approvers=(run.operator,), mode="drill", step_id=step
    )
    store.record(run.run_id, request, operator=run.operator)
    return run.run_id


def _kinds(audit: Path, run_id: str, kind: str) -> list[Event]:
    with AuditStore(audit, create=False) as store:
        return [e for e in store.events(run_id) if e.kind == kind]


async def test_approvals_from_a_browser_observer_refused_operator_approves(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.db"
    with AuditStore(audit) as store:
        first = _waiting(store, "go-ahead", 2)
        second = _waiting(store, "promote", 3)
    with serving(tmp_path) as served:
        assert served.audit == audit
        async with browser_console(served) as observer:
            await observer.drawn()
            await observer.keys("5")
            await observer.wait_text("go-ahead", WAIT)
            await observer.keys("a")
            await observer.wait_text("Two-person rule", WAIT)
            await observer.keys("y")
            await observer.wait_text("read-only: an observer cannot approve a step", WAIT)
        assert _kinds(audit, first, "approval") == []

        async with browser_console(served, cookie=TOKEN, origin=served.url) as console:
            await console.drawn()
            await console.keys("5")
            await console.wait_text("go-ahead", WAIT)
            await console.keys("a")
            await console.wait_text("Two-person rule", WAIT)
            await console.keys("y")
            await console.wait_text(f"approved go-ahead of run {first}", WAIT)
            (given,) = _kinds(audit, first, "approval")
            assert given.operator == OPERATOR and given.data["hostname"] == socket.gethostname()
            assert given.data["count"] == 2 and given.data["needed"] == 2

            # the second run is what waits now; the operator approves it from another console
            # while this one's dialog is open: this one's approval is then refused
            await console.wait_text("promote", WAIT)
            await console.keys("a")
            await console.wait_text("Approve step promote", WAIT)
            with AuditStore(audit, create=False) as other:
                approve(other, second, "promote", operator=OPERATOR, hostname="laptop9")
            await console.keys("y")
            await console.wait_text("not approved:", WAIT)
            await asyncio.sleep(1)
    approvals = _kinds(audit, second, "approval")
    assert [(e.operator, e.data["hostname"]) for e in approvals] == [(OPERATOR, "laptop9")]
    (refused,) = _kinds(audit, second, "approval_refused")
    assert refused.operator == OPERATOR and refused.data["hostname"] == socket.gethostname()
    assert "the same person counts once" in refused.data["reason"]
    with AuditStore(audit, create=False) as store:
        assert store.verify().ok
