"""The two engine hooks the TUI needs, proven on a real run over the lab's sshd.

* ``Engine.request_skip``: the operator paused before a step and skips it with a reason;
  the skip is a ``decision`` by the operator, the step is ``skipped``.
* ``Engine.request_abort`` records the operator's abort (or rollback) as a ``decision`` with
  the operator's name before the rollback runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.engine.decider import Answer, Decider, Question
from console.engine.prepare import prepare
from console.engine.runner import Engine, RunConfig
from console.ssh.pool import SshPool
from tests.support.lab import RunningLab, requires_lab
from tests.tui.waiting import until

pytestmark = [requires_lab, pytest.mark.lab]

PLAYBOOKS = Path(__file__).parent / "playbooks"


class ScriptedDecider(Decider):
    """A real Decider that answers from a script, and can hold a question open."""

    def __init__(self, operator: str, answers: dict[str, Answer], hold: set[str]) -> None:
        self.operator = operator
        self.answers = answers
        self.hold = hold
        self.asked: list[Question] = []
        self.holding = asyncio.Event()

    async def decide(self, question: Question) -> Answer:
        self.asked.append(question)
        if question.step_id in self.hold:
            self.holding.set()
            await asyncio.sleep(3600)
        return self.answers[f"{question.kind}:{question.step_id}"]


@pytest.mark.timeout(240)
async def test_request_skip_skips_the_step_a_paused_run_holds_before(
    tui_lab: RunningLab, audit: AuditStore
) -> None:
    prepared = prepare(PLAYBOOKS / "marker.yaml", tui_lab.inventory, ["tag=skiphook"])
    decider = ScriptedDecider(
        "alice@console",
        {
            "confirm:check": Answer("confirm"),
            "failure:check": Answer("skip", "nothing to read: the marker was skipped"),
            "manual:finish": Answer("done"),
        },
        hold=set(),
    )
    async with SshPool() as pool:
        engine = Engine(
            RunConfig(
                inventory=prepared.inventory,
                playbook=prepared.playbook,
                params=prepared.params,
                mode="drill",
                operator="alice@console",
                audit=audit,
                transport=pool,
                decider=decider,
            )
        )
        engine.set_paused(True)
        task = asyncio.ensure_future(engine.run())
        await until(lambda: engine.run_id is not None, 60, "the run to start")
        with pytest.raises(ValueError, match="reason"):
            engine.request_skip("mark", "  ")
        with pytest.raises(KeyError):
            engine.request_skip("unmark", "a rollback step is not a main step")
        engine.request_skip("mark", "the marker is not needed today")
        engine.set_paused(False)
        result = await asyncio.wait_for(task, 120)
    assert result.outcome == "succeeded", result.summary
    assert engine.states["mark"].status == "skipped"
    events = audit.events(result.run_id)
    skips = [e for e in events if e.kind == "decision" and e.step_id == "mark"]
    assert [(e.data["action"], e.data["reason"], e.data["by"], e.data["auto"]) for e in skips] == [
        ("skip", "the marker is not needed today", "alice@console", False)
    ]
    finished = [e for e in events if e.kind == "step_finished" and e.step_id == "mark"]
    assert finished[0].data["outcome"] == "skipped"
    assert not [e for e in events if e.kind == "command_intent" and e.step_id == "mark"]
    assert audit.verify(result.run_id).ok


@pytest.mark.timeout(240)
async def test_request_abort_records_the_operators_rollback_decision(
    tui_lab: RunningLab, audit: AuditStore
) -> None:
    prepared = prepare(PLAYBOOKS / "marker.yaml", tui_lab.inventory, ["tag=aborthook"])
    decider = ScriptedDecider("bob@console", {}, hold={"check"})
    marker = f"{tui_lab.root}/lab/east/tui/marker-aborthook"
    async with SshPool() as pool:
        engine = Engine(
            RunConfig(
                inventory=prepared.inventory,
                playbook=prepared.playbook,
                params=prepared.params,
                mode="drill",
                operator="bob@console",
                audit=audit,
                transport=pool,
                decider=decider,
            )
        )
        task = asyncio.ensure_future(engine.run())
        await asyncio.wait_for(decider.holding.wait(), 120)
        assert tui_lab.ssh("east", f"cat {marker}").stdout.strip() == "aborthook"
        engine.request_abort("wrong marker, take it back", rollback=True)
        result = await asyncio.wait_for(task, 120)
    assert result.outcome == "aborted"
    assert result.exit_code == 3
    events = audit.events(result.run_id)
    decisions = [e for e in events if e.kind == "decision"]
    assert [(e.data["action"], e.data["by"], e.data["auto"]) for e in decisions] == [
        ("rollback", "bob@console", False)
    ]
    kinds = [e.kind for e in events]
    assert kinds.index("decision") < kinds.index("rollback_started")
    assert engine.states["unmark"].status == "ok"
    assert tui_lab.ssh("east", f"test -e {marker}", check=False).returncode == 1
