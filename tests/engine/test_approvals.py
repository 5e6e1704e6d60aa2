"""The two-person rule: ``approve: N`` on a step, ``approvals: {drill: N, incident: N}``.

On both stores (a SQLite file, a database on a real PostgreSQL server started once for the
module), the real engine waits at the step until N distinct operators approved it; the
approvals come from another connection to the same store, as another console's would. The
step's command is not sent before; the run's own operator (here answering with ``--yes``)
counts once; the same person twice is refused; nobody approving stops the run (exit 3).
SSH is the scripted transport. ``test_approval_cli.py`` does the same with real processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console import events as ev
from console.audit.approvals import ApprovalRefused, approve, pending_approvals
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from console.engine.runner import RunResult
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.pgserver import PgServer, pg_missing, pg_server_fixture
from tests.support.scripted import Reply

WAIT = 60.0
"""Seconds a test waits for the run to reach the approval (10x a loaded machine)."""

PLAYBOOK = """
version: 1
name: two-person
kind: switchover
service: svc
steps:
  - id: look
    on: h-east
    run: look-east
  - id: promote
    title: Promote west
    on: h-west
    run: promote-west
    confirm: true
    approve: {n}
"""

BY_MODE = """
version: 1
name: by-mode
kind: switchover
service: svc
approvals: {drill: 1, incident: 2}
steps:
  - id: promote
    on: h-west
    run: promote-west
    confirm: true
"""

pg_server = pg_server_fixture("module")


@pytest.fixture(params=["sqlite", "postgresql"])
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScriptedEstate]:
    est = make_estate(tmp_path)
    if request.param == "postgresql":
        if pg_missing() is not None:
            pytest.skip(str(pg_missing()))
        server: PgServer = request.getfixturevalue("pg_server")
        est.audit = server.new_database()  # type: ignore[assignment]
    est.transport.on("look-east", Reply(stdout="fine"))
    est.transport.on("promote-west", Reply(stdout="promoted"))
    yield est


def _other_console(est: ScriptedEstate) -> AuditStore:
    """Another console's connection to the same store."""
    return AuditStore(est.audit, create=False)


async def _waiting(est: ScriptedEstate, step: str = "promote") -> str:
    """The run id once its step waits for approval (polled on another connection)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            with _other_console(est) as other:
                found = [p for p in pending_approvals(other) if p.step_id == step]
        except Exception:  # the store may not exist yet
            found = []
        if found:
            return found[0].run_id
        await asyncio.sleep(0.05)
    raise AssertionError("the run never waited for approval")


def _start(
    est: ScriptedEstate, n: int, **config: object
) -> tuple[asyncio.Task[RunResult], AuditStore]:
    pb = est.playbook("two-person", PLAYBOOK.format(n=n))
    engine, audit = est.engine(
        pb, HeadlessDecider("alice@laptop1", yes=True), approval_poll=0.05, **config
    )
    return asyncio.ensure_future(engine.run()), audit


async def test_a_step_waits_for_a_second_person_and_its_command_waits_too(
    estate: ScriptedEstate,
) -> None:
    task, audit = _start(estate, 2, approval_timeout=WAIT)
    try:
        run_id = await _waiting(estate)
        await asyncio.sleep(0.3)  # several polls: still waiting
        assert not task.done()
        assert estate.transport.calls_to("look-east"), "the steps before it ran"
        assert not estate.transport.calls_to("promote-west"), "sent before the approval"
        with _other_console(estate) as other:
            event, request = approve(other, run_id, None, operator="bob@laptop2", hostname="lap2")
        assert event.operator == "bob@laptop2" and event.kind == "approval"
        assert event.data["hostname"] == "lap2" and event.data["count"] == 2
        assert request.approvers == ("alice@laptop1", "bob@laptop2") and request.missing == 0
        result = await asyncio.wait_for(task, WAIT)
    finally:
        audit.close()
    assert result.exit_code == 0, result.summary
    assert estate.transport.calls_to("promote-west")
    events = estate.events(run_id)
    kinds = [e["kind"] for e in events if e["step"] == "promote"]
    # the operator's confirmation, the request, bob's approval, then the command
    assert kinds.index("decision") < kinds.index("approval_requested") < kinds.index("approval")
    assert kinds.index("approval") < kinds.index("command_intent")
    request_event = next(e for e in events if e["kind"] == "approval_requested")
    assert request_event["needed"] == 2 and request_event["approvers"] == ["alice@laptop1"]
    with _other_console(estate) as other:
        assert other.verify().ok
        assert pending_approvals(other) == []


async def test_self_approval_and_the_same_person_twice_are_refused(
    estate: ScriptedEstate,
) -> None:
    task, audit = _start(estate, 3, approval_timeout=WAIT)
    try:
        run_id = await _waiting(estate)
        with _other_console(estate) as other:
            with pytest.raises(ApprovalRefused, match="the run's own operator counts once"):
                approve(other, run_id, "promote", operator="alice@laptop1")
            approve(other, run_id, "promote", operator="bob@laptop2")
            with pytest.raises(ApprovalRefused, match=r"approved step 'promote' of run .* already"):
                approve(other, run_id, "promote", operator="bob@laptop2")
            with pytest.raises(ApprovalRefused, match="step 'look' waits for no approval"):
                approve(other, run_id, "look", operator="carol@laptop3")
            (waiting,) = pending_approvals(other)
            assert waiting.approvers == ("alice@laptop1", "bob@laptop2") and waiting.missing == 1
            assert waiting.waits_for("carol@laptop3")
            assert not waiting.waits_for("bob@laptop2") and not waiting.waits_for("alice@laptop1")
        await asyncio.sleep(0.3)
        assert not task.done() and not estate.transport.calls_to("promote-west")
        with _other_console(estate) as other:
            approve(other, run_id, "promote", operator="carol@laptop3")
        result = await asyncio.wait_for(task, WAIT)
    finally:
        audit.close()
    assert result.exit_code == 0, result.summary
    approvals = [e for e in estate.events(run_id) if e["kind"] == "approval"]
    assert [a["by"] for a in approvals] == ["bob@laptop2", "carol@laptop3"]
    # the refused attempts wrote nothing; a finished run waits for nothing
    with _other_console(estate) as other, pytest.raises(ApprovalRefused, match="waits for no"):
        approve(other, run_id, None, operator="dave@laptop4")


async def test_nobody_approving_stops_the_run_before_the_step_exit_3(
    estate: ScriptedEstate,
) -> None:
    task, audit = _start(estate, 2, approval_timeout=0.5)
    try:
        result = await asyncio.wait_for(task, WAIT)
    finally:
        audit.close()
    assert result.exit_code == 3
    assert "needs 2 approvals and has 1 (alice@laptop1)" in result.summary
    assert not estate.transport.calls_to("promote-west")
    events = estate.events()
    finished = [e for e in events if e["kind"] == "step_finished" and e["step"] == "promote"]
    assert finished[-1]["outcome"] == "stopped"
    with _other_console(estate) as other:
        assert pending_approvals(other) == []  # the run stopped: nothing waits
        latest = other.latest_run_id()
        assert latest is not None
        run = other.get_run(latest)
        assert run is not None and run.outcome == "stopped"


@pytest.mark.parametrize(("mode", "waits"), [("drill", False), ("incident", True)])
async def test_approvals_by_mode(estate: ScriptedEstate, mode: str, waits: bool) -> None:
    pb = estate.playbook("by-mode", BY_MODE)
    engine, audit = estate.engine(
        pb,
        HeadlessDecider("alice@laptop1", yes=True),
        mode=mode,
        approval_poll=0.05,
        approval_timeout=0.3,
    )
    seen: list[ev.Event] = []
    engine.listeners.append(seen.append)
    try:
        result = await asyncio.wait_for(engine.run(), WAIT)
    finally:
        audit.close()
    requested = [e for e in seen if isinstance(e, ev.ApprovalRequested)]
    if waits:
        assert result.exit_code == 3 and requested and requested[0].needed == 2
        assert requested[0].mode == "incident"
        assert not estate.transport.calls_to("promote-west")
    else:
        assert result.exit_code == 0 and not requested
        assert estate.transport.calls_to("promote-west")


async def test_a_run_stopped_for_want_of_approval_resumes_and_asks_again(
    estate: ScriptedEstate,
) -> None:
    task, audit = _start(estate, 2, approval_timeout=0.3)
    try:
        first = await asyncio.wait_for(task, WAIT)
    finally:
        audit.close()
    assert first.exit_code == 3
    pb = estate.playbook("two-person", PLAYBOOK.format(n=2))
    engine, audit = estate.engine(
        pb,
        HeadlessDecider("alice@laptop1", yes=True),
        resume=first.run_id,
        approval_poll=0.05,
        approval_timeout=WAIT,
    )
    task = asyncio.ensure_future(engine.run())
    try:
        run_id = await _waiting(estate)
        assert run_id == first.run_id
        with _other_console(estate) as other:
            (waiting,) = pending_approvals(other)
            assert waiting.approvers == ("alice@laptop1",)  # a new request, asked again
            approve(other, run_id, "promote", operator="bob@laptop2")
        result = await asyncio.wait_for(task, WAIT)
    finally:
        audit.close()
    assert result.exit_code == 0, result.summary
    assert len(estate.transport.calls_to("look-east")) == 1  # not run again on resume
    assert estate.transport.calls_to("promote-west")
    requests = [e for e in estate.events(run_id) if e["kind"] == "approval_requested"]
    assert len(requests) == 2
