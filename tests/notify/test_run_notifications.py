"""A run's notifications, delivered to a real local HTTP receiver through apprise's json://.

The run itself is on the scripted transport (no SSH); the notifications are real HTTP posts
to 127.0.0.1, including a receiver that answers 500 and one that never answers.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from console import events as ev
from console.engine.decider import Answer, Decider, Question
from console.engine.runner import Engine
from console.notify.run import NotifyingDecider, RunNotifications
from console.notify.targets import command_line_targets
from tests.engine.scripted_env import ScriptedEstate, run_id_of
from tests.support.scripted import Reply
from tests.support.webhook import Receiver, Silent

pytestmark = pytest.mark.timeout(120)

FAILING = """
version: 1
name: notify-drill
kind: custom
title: Notify the watchers
objectives: {rto: 5m, rpo: 0s}
steps:
  - id: first
    on: h-east
    run: first-cmd
  - id: doomed
    on: h-west
    run: doomed-cmd
  - id: never
    on: h-east
    run: never-cmd
"""

OK = """
version: 1
name: notify-ok
kind: custom
steps:
  - id: only
    on: h-east
    run: first-cmd
"""


def _kinds(est: ScriptedEstate, run_id: str) -> list[str]:
    return [str(e["kind"]) for e in est.events(run_id)]


def test_a_failed_run_tells_started_failed_finished_with_the_secret_masked(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("first-cmd", Reply(stdout="ok"))
    est.transport.on("doomed-cmd", Reply(stdout="nope", exit_status=7))
    pb = est.playbook("notify-drill", FAILING)
    with Receiver() as hook:
        url = hook.url("drill", auth="bridge:s3cr3t-pw")
        proc = est.run("run", str(pb), "-i", str(est.inventory), "--notify", url)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        run_id = run_id_of(proc.stdout)
        titles = hook.titles()
        bodies = [str(r.body["message"]) for r in hook.received]
        types = [r.body["type"] for r in hook.received]
        paths = {r.path for r in hook.received}
        auth = {r.headers.get("Authorization") for r in hook.received}
    assert titles == [
        "[drill] notify-drill: run started by tester",
        "[drill] notify-drill: step doomed FAILED",
        "[drill] notify-drill: run FAILED (exit 1)",
    ]
    assert types == ["info", "failure", "failure"]
    assert paths == {"/drill"}
    # the receiver got the credentials it needs...
    assert auth == {"Basic " + base64.b64encode(b"bridge:s3cr3t-pw").decode()}
    # ...and every message names the run, the inventory and the operator
    assert all(f"run {run_id} · inventory engine-test · operator tester" in b for b in bodies)
    assert "3 step(s): first, doomed, never" in bodies[0]
    assert "objectives: RTO 5m00s, RPO 0s" in bodies[0]
    assert "exit status 7" in bodies[1]
    finished = bodies[2]
    assert "stopped at step doomed" in finished
    assert "RTO not measured" in finished and "RPO not measured" in finished
    assert f"report {run_id} --format html" in finished and str(est.audit) in finished
    # the password is in no output and nowhere in the audit database
    assert "s3cr3t" not in proc.stdout + proc.stderr
    assert b"s3cr3t" not in est.audit.read_bytes()
    assert "notification_failed" not in _kinds(est, run_id)


def test_the_inventory_notify_is_used_and_a_500_is_recorded_and_the_run_goes_on(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("first-cmd", Reply(stdout="ok"))
    pb = est.playbook("notify-ok", OK)
    with Receiver(status=500) as hook:
        text = est.inventory.read_text()
        est.inventory.write_text(text + f"notify:\n  - {hook.url('inv', auth='u:hunter2')}\n")
        proc = est.run("run", str(pb), "-i", str(est.inventory))
        got = len(hook.received)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert got == 2  # run started, run finished: both tried, both refused
    run_id = run_id_of(proc.stdout)
    evs = est.events(run_id)
    failed = [e for e in evs if e["kind"] == "notification_failed"]
    assert [e["subject"] for e in failed] == ["run started", "run finished"]
    assert {e["target"] for e in failed} == {f"json://u:****@127.0.0.1:{hook.port}/inv"}
    assert all("error=500" in str(e["reason"]) for e in failed)
    assert all(e["timed_out"] is False for e in failed)
    # recorded inside the run: run_finished stays the last event
    assert evs[-1]["kind"] == "run_finished" and evs[-1]["outcome"] == "succeeded"
    assert "notification to json://u:****@127.0.0.1" in proc.stdout
    assert "hunter2" not in proc.stdout + proc.stderr
    assert b"hunter2" not in est.audit.read_bytes()
    shown = est.run("audit", "show", run_id)
    assert "not delivered to json://u:****@" in shown.stdout


def test_a_receiver_that_never_answers_times_out_and_blocks_no_step(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("first-cmd", Reply(stdout="ok"))
    est.transport.on("doomed-cmd", Reply(stdout="nope", exit_status=7))
    pb = est.playbook("notify-drill", FAILING)
    with Silent() as hang, Receiver() as hook:
        proc = est.run(
            "run",
            str(pb),
            "-i",
            str(est.inventory),
            "--notify",
            hang.url(),
            "--notify",
            hook.url(),
            "--notify-timeout",
            "0.5",
        )
        delivered = hook.titles()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run_id = run_id_of(proc.stdout)
    evs = est.events(run_id)
    failed = [e for e in evs if e["kind"] == "notification_failed"]
    assert [e["subject"] for e in failed] == ["run started", "step doomed failed", "run finished"]
    assert all(e["timed_out"] is True for e in failed)
    assert all(e["reason"] == "no answer within 0.5s" for e in failed)
    # the other target got every message all the same
    assert [t.split(": ", 1)[1] for t in delivered] == [
        "run started by tester",
        "step doomed FAILED",
        "run FAILED (exit 1)",
    ]
    # the steps ran as without notifications: the failed one stopped the run as usual
    finished = {e["step"]: e["outcome"] for e in evs if e["kind"] == "step_finished"}
    assert finished == {"first": "ok", "doomed": "failed"}
    assert evs[-1]["kind"] == "run_finished"


class Person(Decider):
    """Confirms after the test has seen the "waiting" notification arrive."""

    def __init__(self, hook: Receiver) -> None:
        self.operator = "alice@console"
        self.hook = hook
        self.seen_before_answer: list[str] = []

    async def decide(self, question: Question) -> Answer:
        for _ in range(400):  # 20 s: the post is on its way in the notifier's thread
            if len(self.hook.received) >= 2:
                break
            await asyncio.sleep(0.05)
        self.seen_before_answer = self.hook.titles()
        return Answer(ev.DecisionAction.CONFIRM, None)


async def test_a_person_s_question_is_announced_before_it_waits(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("first-cmd", Reply(stdout="ok"))
    pb = est.playbook(
        "confirm",
        """
        version: 1
        name: confirm-me
        kind: custom
        steps:
          - id: fence
            title: Fence the old primary
            on: h-east
            run: first-cmd
            confirm: true
        """,
    )
    with Receiver() as hook:
        person = Person(hook)
        engine_ref: list[Engine] = []

        def record(event: ev.Event) -> None:
            engine_ref[0].emit(event)

        notes = RunNotifications(
            command_line_targets([hook.url()]), inventory="engine-test", emit=record
        )
        engine, audit = est.engine(pb, NotifyingDecider(person, notes), finishing=[notes.finishing])
        engine_ref.append(engine)
        engine.listeners.append(notes)
        try:
            result = await engine.run()
        finally:
            await notes.close()
            audit.close()
        titles = hook.titles()
    assert result.exit_code == 0
    assert person.seen_before_answer == [
        "[drill] confirm-me: run started by alice@console",
        "[drill] confirm-me: step fence waits for a confirmation",
    ]
    assert titles[-1] == "[drill] confirm-me: run SUCCEEDED (exit 0)"
    body = str(hook.received[1].body["message"])
    assert body.startswith("Fence the old primary\non h-east\n")


def test_a_long_queue_to_a_silent_receiver_is_given_up_when_the_run_ends(
    scripted: ScriptedEstate,
) -> None:
    """Twelve failed steps (on_failure: continue) queue twelve messages for a receiver that
    never answers (0.5 s each): the run does not wait for all of them; what was not delivered
    is recorded, in the run, before run_finished."""
    est = scripted
    est.transport.on("bad-cmd", Reply(stderr="no", exit_status=1))
    steps = "".join(
        f"  - id: s{i}\n    on: h-east\n    run: bad-cmd\n    on_failure: continue\n"
        for i in range(12)
    )
    pb = est.playbook("many", "version: 1\nname: many\nkind: custom\nsteps:\n" + steps)
    with Silent() as hang:
        proc = est.run(
            "run",
            str(pb),
            "-i",
            str(est.inventory),
            "--notify",
            hang.url(),
            "--notify-timeout",
            "0.5",
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # continue: the run succeeds
    run_id = run_id_of(proc.stdout)
    evs = est.events(run_id)
    failed = [e for e in evs if e["kind"] == "notification_failed"]
    # every message is accounted for: 1 started + 12 step failures + 1 finished
    assert len(failed) == 14
    reasons = [str(e["reason"]) for e in failed]
    assert reasons[0] == "no answer within 0.5s"
    assert any(r.startswith("not sent: given up") for r in reasons)
    assert evs[-1]["kind"] == "run_finished"
    kinds = [e["kind"] for e in evs]
    assert kinds.index("run_finished") > max(
        i for i, k in enumerate(kinds) if k == "notification_failed"
    )
