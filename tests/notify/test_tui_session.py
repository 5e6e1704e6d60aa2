"""The TUI's run session notifies like a headless run, and says so before a person is asked.

The session (``console.tui.session.RunSession``) is driven without the screens, on the scripted
transport; the notifications are real HTTP posts to a local receiver.
"""

from __future__ import annotations

import asyncio

import pytest

from console import events as ev
from console.audit.store import AuditStore
from console.engine.decider import Answer
from console.engine.prepare import prepare
from console.notify.targets import command_line_targets
from console.tui.session import RunSession
from tests.engine.scripted_env import ScriptedEstate
from tests.support.scripted import Reply
from tests.support.webhook import Receiver, Silent

pytestmark = pytest.mark.timeout(120)

CONFIRM = """
version: 1
name: confirm-me
kind: custom
steps:
  - id: fence
    title: Fence the old primary
    on: h-east
    run: fence-cmd
    confirm: true
"""


async def _until(check: object, what: str, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_session_announces_the_question_and_the_end(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("fence-cmd", Reply(stdout="fenced"))
    pb = est.playbook("confirm", CONFIRM)
    with Receiver() as hook, Silent() as hang:
        audit = AuditStore(est.audit)
        try:
            session = RunSession(
                prepared=prepare(pb, est.inventory, []),
                mode="incident",
                operator="alice@console",
                audit=audit,
                transport=est.transport,
                changed=lambda: None,
                notify=command_line_targets([hook.url("tui"), hang.url()]),
                notify_timeout=0.5,
            )
            task = asyncio.ensure_future(session.run())
            await _until(lambda: session.pending is not None, "the confirm question")
            await _until(lambda: len(hook.received) >= 2, "the waiting notification")
            assert hook.titles() == [
                "[incident] confirm-me: run started by alice@console",
                "[incident] confirm-me: step fence waits for a confirmation",
            ]
            session.answer(Answer(ev.DecisionAction.CONFIRM, None))
            result = await task
            run_id = session.run_id
        finally:
            audit.close()
        titles = hook.titles()
    assert result is not None and result.exit_code == 0
    assert titles[-1] == "[incident] confirm-me: run SUCCEEDED (exit 0)"
    evs = est.events(run_id)
    failed = [e["subject"] for e in evs if e["kind"] == "notification_failed"]
    assert failed == ["run started", "step fence waiting (confirm)", "run finished"]
    assert evs[-1]["kind"] == "run_finished"
    assert any("notification to json://127.0.0.1:" in line for line in session.lines)
