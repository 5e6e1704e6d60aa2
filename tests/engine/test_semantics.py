"""What the engine does with what hosts answer: retries, expectations, timeouts, continue,
rollback, waits, decisions, resume bookkeeping, error kinds, locks, masking.

All on the scripted transport (``tests/support/scripted.py``), through the real CLI and the
real engine and audit store in this process: each test takes milliseconds. What only real
servers and a real shell show is in ``test_end_to_end.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from console import events as ev
from console.audit.model import RunStart
from console.audit.store import AuditStore
from console.engine.commands import SCRIPT_ON_STDIN
from console.engine.decider import Answer, Decider, Question
from console.errors import ErrorKind
from tests.engine.scripted_env import ScriptedEstate, run_id_of
from tests.support.scripted import Drop, Fail, Reply, dark, refused, unknown_key

pytestmark = pytest.mark.timeout(60)


class Person(Decider):
    """Answers from a script keyed ``kind:step``; can hold a question open until told."""

    def __init__(self, answers: dict[str, Answer], operator: str = "alice@console") -> None:
        self.operator = operator
        self.answers = answers
        self.asked: list[Question] = []
        self.hold: asyncio.Event | None = None

    async def decide(self, question: Question) -> Answer:
        self.asked.append(question)
        if self.hold is not None:
            await self.hold.wait()
        return self.answers[f"{question.kind}:{question.step_id}"]


def finished_steps(est: ScriptedEstate, run_id: str | None = None) -> dict[object, dict]:  # type: ignore[type-arg]
    return {e["step"]: e for e in est.events(run_id) if e["kind"] == "step_finished"}


# -- expectations, retries, timeouts, continue, rollback --------------------------------------


def test_expect_retries_and_failure_exit_1(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on(
        "flaky-cmd", Reply(stdout="not yet"), Reply(stdout="no"), Reply(stdout="third-time-lucky")
    )
    est.transport.on("doomed-cmd", Reply(stdout="nope", exit_status=7))
    pb = est.playbook(
        "retry",
        """
        version: 1
        name: retry
        kind: custom
        steps:
          - id: flaky
            on: h-east
            run: flaky-cmd
            expect: {stdout_contains: third-time-lucky}
            retries: 3
            retry_delay: 10ms
          - id: doomed
            on: h-west
            run: doomed-cmd
            expect: {exit_code: [0, 1]}
          - id: never
            on: h-east
            run: never-cmd
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(est.transport.calls_to("flaky-cmd")) == 3
    assert not est.transport.calls_to("never-cmd")
    evs = est.events()
    finished = finished_steps(est)
    assert finished["flaky"]["outcome"] == "ok" and finished["flaky"]["attempts"] == 3
    assert finished["doomed"]["outcome"] == "failed"
    assert "exit status 7, expected 0 or 1" in str(finished["doomed"]["reason"])
    assert "never" not in finished
    assert evs[-1]["outcome"] == "failed" and evs[-1]["exit_code"] == 1
    retries = [e for e in evs if e["kind"] == "decision" and e["action"] == "retry"]
    assert [(e["auto"], str(e["reason"]).split(":")[0]) for e in retries] == [
        (True, "retry 1 of 3"),
        (True, "retry 2 of 3"),
    ]
    attempts = [e["attempt"] for e in evs if e["kind"] == "step_started" and e["step"] == "flaky"]
    assert attempts == [1, 2, 3]


def test_timeout_stops_the_command(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("slow-cmd", Reply(stdout="started", delay=30))
    pb = est.playbook(
        "slow",
        """
        version: 1
        name: slow
        kind: custom
        steps:
          - id: slow
            on: h-east
            run: slow-cmd
            timeout: 50ms
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 1
    assert "timed out after 0.05s" in proc.stdout
    (call,) = est.transport.calls_to("slow-cmd")
    assert call.ended == "timed out" and call.timeout == 0.05
    result = next(e for e in est.events() if e["kind"] == "command_result")
    assert result["timed_out"] is True and result["ok"] is False and "error" not in result


def test_continue_and_rollback(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("soft-cmd", Reply(exit_status=3))
    est.transport.on("hard-cmd", Reply(exit_status=4))
    est.transport.on("undo-cmd", Reply(stdout="undone on west"), host="h-west")
    pb = est.playbook(
        "rb",
        """
        version: 1
        name: rb
        kind: custom
        steps:
          - id: soft
            on: h-east
            run: soft-cmd
            on_failure: continue
          - id: hard
            on: h-east
            run: hard-cmd
            on_failure: rollback
          - id: after
            on: h-east
            run: after-cmd
        rollback:
          - id: undo
            on: h-west
            run: undo-cmd
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 1, proc.stdout
    evs = est.events()
    kinds = [e["kind"] for e in evs]
    assert "rollback_started" in kinds and "rollback_finished" in kinds
    assert "h-west | undone on west" in proc.stdout
    steps = [(e["step"], e["outcome"]) for e in evs if e["kind"] == "step_finished"]
    assert steps == [("soft", "failed"), ("hard", "failed"), ("undo", "ok")]
    decisions = [(e["step"], e["action"], e["auto"]) for e in evs if e["kind"] == "decision"]
    assert decisions == [("soft", "continue", True), ("hard", "abort", True)]
    assert not est.transport.calls_to("after-cmd")
    undo = next(e for e in evs if e["kind"] == "step_started" and e["step"] == "undo")
    assert undo["rollback"] is True
    assert next(e for e in evs if e["kind"] == "rollback_finished")["ok"] is True


def test_when_false_skips_without_sending_anything(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = est.playbook(
        "when",
        """
        version: 1
        name: when
        kind: custom
        steps:
          - id: sundays
            on: h-east
            run: sunday-cmd
            when: "{{ 'no' }}"
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 0, proc.stdout
    assert not est.transport.calls_to("sunday-cmd")
    finished = finished_steps(est)["sundays"]
    assert finished["outcome"] == "skipped"
    assert finished["reason"] == "when: {{ 'no' }} is false"


# -- decisions and resuming -------------------------------------------------------------------

CONFIRM = """
version: 1
name: confirm
kind: custom
steps:
  - id: first
    on: h-east
    run: first-cmd
  - id: careful
    on: h-east
    run: careful-cmd
    confirm: true
  - id: manual
    manual: Tell the on-call that we are done.
  - id: last
    on: h-west
    run: last-cmd
"""


def test_confirm_without_yes_stops_with_3_and_resumes(scripted: ScriptedEstate) -> None:
    est = scripted
    for name in ("first", "careful", "last"):
        est.transport.on(f"{name}-cmd", Reply(stdout=name))
    pb = est.playbook("confirm", CONFIRM)
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    run_id = run_id_of(proc.stdout)
    assert "needs confirmation" in proc.stdout
    assert [c.command for c in est.transport.calls if c.command.endswith("-cmd")] == ["first-cmd"]
    listing = est.run("audit", "list", "--json")
    assert [r["status"] for r in json.loads(listing.stdout) if r["run_id"] == run_id] == ["stopped"]
    careful = finished_steps(est, run_id)["careful"]
    assert careful["outcome"] == "stopped" and careful["attempts"] == 0
    again = est.run("run", str(pb), "-i", str(est.inventory), "--resume", run_id, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert run_id_of(again.stdout) == run_id
    sent = [c.command for c in est.transport.calls if c.command.endswith("-cmd")]
    assert sent == ["first-cmd", "careful-cmd", "last-cmd"]
    decisions = [e for e in est.events(run_id) if e["kind"] == "decision"]
    assert [(d["action"], d["auto"], d["by"]) for d in decisions] == [
        ("confirm", True, "tester"),
        ("done", True, "tester"),
    ]
    assert est.run("audit", "verify", run_id).returncode == 0


def test_report_of_a_stopped_run_names_the_steps_it_never_reached(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("first-cmd")
    pb = est.playbook("confirm", CONFIRM)
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 3
    doc = json.loads(est.run("report", "--latest", "--format", "json").stdout)
    assert [(s["id"], s["kind"]) for s in doc["not_run"]] == [("manual", "manual"), ("last", "run")]
    md = est.run("report", "--latest", "--format", "md").stdout
    assert "### Not run (2)" in md and "- `last` (run)" in md
    junit = est.run("report", "--latest", "--format", "junit").stdout
    assert 'name="last: last"' in junit and "not run: the run ended before this step" in junit


RESUMABLE = """
version: 1
name: resumable
kind: custom
service: svc
steps:
  - id: one
    on: h-east
    run: one-cmd
  - id: slow
    on: h-east
    run: slow-cmd
  - id: three
    on: h-west
    run: three-cmd {{ steps['one'].stdout }}
"""


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def _crash_mid_step(est: ScriptedEstate, playbook: Path, crashed: Path) -> None:
    """Run until the slow step's command is out, copy the log as a kill -9 would leave it,
    then end the run (its own log goes on; the copy is what survives)."""
    engine, audit = est.engine(playbook, Person({}))
    task = asyncio.ensure_future(engine.run())
    for _ in range(400):
        if est.transport.calls_to("slow-cmd"):
            break
        await asyncio.sleep(0.005)
    source, target = sqlite3.connect(est.audit), sqlite3.connect(crashed)
    source.backup(target)
    source.close()
    target.close()
    task.cancel()
    await asyncio.wait_for(task, 10)
    audit.close()


def test_a_run_killed_mid_step_resumes_with_its_bookkeeping(
    scripted: ScriptedEstate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log a kill -9 leaves (copied while the step runs, the run's process gone) resumes:
    the finished step is not run again, the one in flight is unknown (stop without --yes, a
    re-run with it), and a later step still reads the earlier step's output."""
    est = scripted
    est.transport.on("one-cmd", Reply(stdout="from-one"))
    est.transport.on("slow-cmd", Reply(delay=60), Reply(stdout="slow done"))
    est.transport.on("three-cmd from-one", Reply(stdout="three ok"))
    pb = est.playbook("resumable", RESUMABLE)
    crashed = tmp_path / "crashed.db"
    dead = _dead_pid()
    with monkeypatch.context() as patch:
        patch.setattr("console.engine.runner.os.getpid", lambda: dead)  # the process that dies
        asyncio.run(_crash_mid_step(est, pb, crashed))
    est.audit = crashed
    with AuditStore(crashed, create=False) as store:
        run_id = store.latest_run_id()
        assert run_id is not None
        record = store.get_run(run_id)
        assert record is not None and record.status == "interrupted"
        assert store.verify(run_id).ok
    again = est.run("run", str(pb), "-i", str(est.inventory), "--resume", run_id)
    assert again.returncode == 3, again.stdout + again.stderr
    assert "unknown outcome" in again.stdout
    done = est.run("run", str(pb), "-i", str(est.inventory), "--resume", run_id[:12], "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c.command for c in est.transport.calls if "-cmd" in c.command] == [
        "one-cmd",
        "slow-cmd",
        "slow-cmd",
        "three-cmd from-one",
    ]
    evs = est.events(run_id)
    assert [e["action"] for e in evs if e["kind"] == "decision"] == ["rerun"]
    assert [e["kind"] for e in evs].count("run_resumed") == 2
    assert evs[-1]["kind"] == "run_finished" and evs[-1]["outcome"] == "succeeded"


async def test_a_person_skips_aborts_and_rolls_back(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("check-cmd", Reply(stderr="not ready", exit_status=1))
    est.transport.on("undo-cmd", Reply(stdout="undone"))
    pb = est.playbook(
        "person",
        """
        version: 1
        name: person
        kind: custom
        steps:
          - id: check
            on: h-east
            run: check-cmd
          - id: careful
            on: h-east
            run: careful-cmd
            confirm: true
        rollback:
          - id: undo
            on: h-west
            run: undo-cmd
        """,
    )
    person = Person(
        {
            "failure:check": Answer(ev.DecisionAction.SKIP, "known issue"),
            "confirm:careful": Answer(ev.DecisionAction.ABORT, "window closed", rollback=True),
        }
    )
    engine, audit = est.engine(pb, person)
    result = await engine.run()
    audit.close()
    assert (result.outcome, result.exit_code) == ("aborted", 3)
    assert result.summary == "aborted by the operator: window closed"
    evs = est.events(result.run_id)
    decisions = [
        (e["step"], e["action"], e["auto"], e["by"]) for e in evs if e["kind"] == "decision"
    ]
    assert decisions == [
        ("check", "skip", False, "alice@console"),
        ("careful", "abort", False, "alice@console"),
    ]
    finished = finished_steps(est, result.run_id)
    assert finished["check"]["outcome"] == "skipped"
    assert finished["check"]["reason"].startswith("failed (h-east: exit status 1")  # type: ignore[union-attr]
    assert finished["careful"]["outcome"] == "aborted"
    assert finished["undo"]["outcome"] == "ok"
    assert not est.transport.calls_to("careful-cmd")
    kinds = [e["kind"] for e in evs]
    assert kinds.index("rollback_started") > kinds.index("decision")
    assert evs[-1]["kind"] == "run_finished" and evs[-1]["stopped_at"] == "careful"
    assert [q.kind for q in person.asked] == ["failure", "confirm"]
    assert person.asked[0].policy == "abort" and person.asked[0].error is None


async def test_request_skip_skips_the_step_a_paused_run_holds_before(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("mark-cmd")
    est.transport.on("check-cmd", Reply(stdout="checked"))
    pb = est.playbook(
        "marker",
        """
        version: 1
        name: marker
        kind: custom
        steps:
          - id: mark
            on: h-east
            run: mark-cmd
          - id: check
            on: h-east
            run: check-cmd
        rollback:
          - id: unmark
            on: h-east
            run: unmark-cmd
        """,
    )
    engine, audit = est.engine(pb, Person({}))
    engine.set_paused(True)
    task = asyncio.ensure_future(engine.run())
    for _ in range(400):
        if engine.run_id is not None:
            break
        await asyncio.sleep(0.005)
    with pytest.raises(ValueError, match="reason"):
        engine.request_skip("mark", "  ")
    with pytest.raises(KeyError):
        engine.request_skip("unmark", "a rollback step is not a main step")
    engine.request_skip("mark", "the marker is not needed today")
    engine.set_paused(False)
    result = await asyncio.wait_for(task, 10)
    audit.close()
    assert result.outcome == "succeeded", result.summary
    assert engine.states["mark"].status == "skipped"
    evs = est.events(result.run_id)
    skips = [e for e in evs if e["kind"] == "decision" and e["step"] == "mark"]
    assert [(e["action"], e["reason"], e["by"], e["auto"]) for e in skips] == [
        ("skip", "the marker is not needed today", "alice@console", False)
    ]
    assert not est.transport.calls_to("mark-cmd")
    assert est.transport.calls_to("check-cmd")
    notices = [e["message"] for e in evs if e["kind"] == "notice"]
    assert "resumed" in notices  # paused before the run existed: only going on is recorded


async def test_request_abort_stops_the_command_and_records_the_rollback_decision_first(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("hold-cmd", Reply(delay=60))
    est.transport.on("unmark-cmd")
    pb = est.playbook(
        "hold",
        """
        version: 1
        name: hold
        kind: custom
        steps:
          - id: hold
            on: h-east
            run: hold-cmd
          - id: after
            on: h-east
            run: after-cmd
        rollback:
          - id: unmark
            on: h-east
            run: unmark-cmd
        """,
    )
    engine, audit = est.engine(pb, Person({}, operator="bob@console"))
    task = asyncio.ensure_future(engine.run())
    for _ in range(400):
        if est.transport.calls_to("hold-cmd"):
            break
        await asyncio.sleep(0.005)
    engine.request_abort("wrong marker, take it back", rollback=True)
    result = await asyncio.wait_for(task, 10)
    audit.close()
    assert (result.outcome, result.exit_code) == ("aborted", 3)
    (hold,) = est.transport.calls_to("hold-cmd")
    assert hold.ended == "cancelled"
    evs = est.events(result.run_id)
    decisions = [e for e in evs if e["kind"] == "decision"]
    assert [(e["action"], e["by"], e["auto"]) for e in decisions] == [
        ("rollback", "bob@console", False)
    ]
    kinds = [e["kind"] for e in evs]
    assert kinds.index("decision") < kinds.index("rollback_started")
    result_event = next(e for e in evs if e["kind"] == "command_result")
    assert result_event["error"] == "interrupted"
    assert finished_steps(est, result.run_id)["hold"]["outcome"] == "aborted"
    assert engine.states["unmark"].status == "ok"
    assert not est.transport.calls_to("after-cmd")


async def test_cancelling_the_run_interrupts_it_and_records_where(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("hold-cmd", Reply(delay=60))
    pb = est.playbook(
        "hold",
        """
        version: 1
        name: hold
        kind: custom
        service: svc
        steps:
          - id: hold
            on: h-east
            run: hold-cmd
        """,
    )
    engine, audit = est.engine(pb, Person({}))
    task = asyncio.ensure_future(engine.run())
    for _ in range(400):
        if est.transport.calls_to("hold-cmd"):
            break
        await asyncio.sleep(0.005)
    task.cancel()
    result = await asyncio.wait_for(task, 10)
    audit.close()
    assert (result.outcome, result.exit_code) == ("interrupted", 130)
    evs = est.events(result.run_id)
    assert evs[-1]["kind"] == "run_finished" and evs[-1]["stopped_at"] == "hold"
    assert finished_steps(est, result.run_id)["hold"]["outcome"] == "unknown"
    released = [e for e in evs if e["kind"] == "lock_released"]
    assert released and all(evs.index(e) < len(evs) - 1 for e in released)


# -- waits ------------------------------------------------------------------------------------


def test_wait_until_condition_and_wait_timeout(scripted: ScriptedEstate) -> None:
    est = scripted
    polls = {"n": 0}

    def flip(_call: object) -> Reply:
        est.set_role("west", "primary")
        return Reply()

    def west_probe(call: object) -> Reply:
        polls["n"] += 1
        return est.roles.reply(call)  # type: ignore[arg-type]

    est.transport.on("flip-cmd", flip)
    est.transport.on("leads-cmd", Reply(stdout="west leads"), host="h-west")
    pb = est.playbook(
        "wait",
        """
        version: 1
        name: wait
        kind: custom
        service: svc
        steps:
          - id: flip-later
            on: h-west
            run: flip-cmd
          - id: wait-primary
            wait:
              until: {service: svc, site: west, role: primary}
              timeout: 10s
              interval: 10ms
          - id: on-new-primary
            on: role:primary and site:west
            run: leads-cmd
          - id: never
            wait:
              until: {site: east, role: replica}
              timeout: 100ms
              interval: 20ms
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "h-west | west leads" in proc.stdout
    assert "not met within 0.1s" in proc.stdout
    assert "h-east (east): primary" in proc.stdout
    notice = next(e for e in est.events() if e["kind"] == "notice" and e["step"] == "wait-primary")
    assert str(notice["message"]).startswith("condition met after")


def test_a_polled_command_that_is_not_yet_met_reads_not_yet(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("test -e flag", Reply(), Reply(), Reply(stdout="present"))
    pb = est.playbook(
        "poll",
        """
        version: 1
        name: poll
        kind: custom
        steps:
          - id: wait-flag
            wait:
              on: h-east
              run: test -e flag && echo present
              expect: {stdout_contains: present}
              timeout: 5s
              interval: 10ms
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("h-east: not yet (stdout does not contain 'present')") == 2
    results = [e for e in est.events() if e["kind"] == "command_result"]
    assert [(r["ok"], r["poll"]) for r in results] == [(False, True), (False, True), (True, True)]
    show = est.run("audit", "show", run_id_of(proc.stdout)).stdout
    assert show.count(": not yet — stdout does not contain 'present'") == 2


# -- errors keep their kind -------------------------------------------------------------------


async def test_a_refused_host_key_is_a_host_key_error_everywhere(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("reach-cmd", Fail(unknown_key("h-west")), host="h-west")
    pb = est.playbook(
        "w",
        "version: 1\nname: w\nkind: custom\nsteps:\n"
        "  - id: w\n    on: h-west\n    run: reach-cmd\n",
    )
    person = Person({"failure:w": Answer(ev.DecisionAction.ABORT, "check the key", auto=True)})
    seen: list[ev.Event] = []
    engine, audit = est.engine(pb, person)
    engine.listeners.append(seen.append)
    result = await engine.run()
    audit.close()
    assert result.exit_code == 1
    (question,) = person.asked
    assert question.error == ErrorKind.HOST_KEY
    assert question.reason is not None
    assert question.reason.startswith("h-west: SECURITY: h-west: host key refused (unknown)")
    finished = [e for e in seen if isinstance(e, ev.CommandFinished)]
    assert finished[0].error == ErrorKind.HOST_KEY and finished[0].host_key_refused
    with AuditStore(est.audit, create=False) as store:
        stored = next(e for e in store.events(result.run_id) if e.kind == "command_result")
    assert stored.data["error"] == "host_key"
    assert isinstance(stored.payload, ev.CommandFinished)
    assert stored.payload.error is ErrorKind.HOST_KEY


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (Fail(refused("h-west")), "connect_refused", "refused"),
        (Fail(dark("h-west")), "connect_timeout", "no ssh answer"),
        (Drop(stdout="half of it", after=0.01), "connection_lost", "lost while running"),
    ],
)
def test_an_unreachable_host_fails_clearly_with_its_error_kind(
    scripted: ScriptedEstate, answer: Fail | Drop, kind: str, words: str
) -> None:
    est = scripted
    est.transport.on("w-cmd", answer, host="h-west")
    pb = est.playbook(
        "w",
        "version: 1\nname: w\nkind: custom\nsteps:\n  - id: w\n    on: h-west\n    run: w-cmd\n",
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 1
    assert "h-west" in proc.stdout and words in proc.stdout.lower()
    result = next(e for e in est.events() if e["kind"] == "command_result")
    assert result["error"] == kind and result["exit_status"] is None


# -- locks, masking, output -------------------------------------------------------------------


def test_another_runs_lock_is_exit_4_and_nothing_runs(scripted: ScriptedEstate) -> None:
    est = scripted
    with AuditStore(est.audit) as store:
        store.create_run(
            RunStart(
                run_id="01HOLDERHOLDERHOLDERHOLDER",
                playbook_name="other",
                playbook_kind="custom",
                playbook_path="other.yaml",
                playbook_digest="sha256:0",
                inventory_name="engine-test",
                inventory_path=str(est.inventory),
                inventory_digest="sha256:0",
                mode="drill",
                operator="someone",
                services=("svc",),
                params={},
                objectives={},
                pid=os.getpid(),
                hostname=store.hostname,
            )
        )
        store.acquire_lock("svc", "01HOLDERHOLDERHOLDERHOLDER", "someone")
    pb = est.playbook(
        "quick",
        "version: 1\nname: quick\nkind: custom\nservice: svc\nsteps:\n"
        "  - id: q\n    on: h-east\n    run: quick-cmd\n",
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "01HOLDERHOLDERHOLDERHOLDER" in proc.stdout and "someone" in proc.stdout
    assert not est.transport.calls_to("quick-cmd")
    evs = est.events(run_id_of(proc.stdout))
    assert evs[-1]["kind"] == "run_finished"
    assert (evs[-1]["outcome"], evs[-1]["exit_code"]) == ("stopped", 4)
    assert any(e["kind"] == "notice" and e["level"] == "error" for e in evs)


def test_secret_is_masked_everywhere(scripted: ScriptedEstate) -> None:
    est = scripted
    secret = "s3cr3t-Pa55word"
    est.transport.on(f"test {secret}", Reply(stdout=f"matched {secret}", stderr=f"{secret}!"))
    pb = est.playbook(
        "secret",
        """
        version: 1
        name: secret
        kind: custom
        params:
          token: {secret: true}
        steps:
          - id: use
            title: Use the token {{ token }}
            on: h-east
            run: test {{ token }} = s3cr3t-Pa55word && echo "matched {{ token }}"
            expect: {stdout_contains: matched}
        """,
    )
    for json_flag in ([], ["--json"]):
        proc = est.run(
            "run", str(pb), "-i", str(est.inventory), "--var", f"token={secret}", *json_flag
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert secret not in proc.stdout + proc.stderr
        assert "****" in proc.stdout
    raw = sqlite3.connect(est.audit).execute("select group_concat(data, ' ') from events")
    assert secret not in raw.fetchone()[0]
    show = est.run("audit", "show", run_id_of(proc.stdout))
    assert show.returncode == 0 and secret not in show.stdout and "****" in show.stdout
    # the command holding it went on stdin: the exec's command line never names it
    calls = est.transport.calls_to(f"test {secret}")
    assert calls and all(c.sent == SCRIPT_ON_STDIN for c in calls), calls


def test_json_lines(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("hello-cmd", Reply(stdout="hello\nworld", stderr="to stderr"))
    pb = est.playbook(
        "j",
        "version: 1\nname: j\nkind: custom\nsteps:\n  - id: s\n    on: service:svc\n"
        "    run: hello-cmd\n",
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--json")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert records[0]["kind"] == "run_started" and records[-1]["kind"] == "run_finished"
    # no secret in them: every command is the exec's command line itself
    assert est.transport.calls and all(c.sent == c.command for c in est.transport.calls)
    assert len({r["run_id"] for r in records}) == 1
    for r in records:
        assert {"run_id", "seq", "ts", "kind"} <= set(r)
        assert r["ts"].endswith("Z")
    seqs = [r["seq"] for r in records if r["seq"] is not None]
    assert seqs == sorted(seqs) and seqs[0] == 1
    stored = {e["seq"]: e for e in est.events()}
    for r in records[1:]:
        if r["seq"] is not None:
            assert stored[r["seq"]]["kind"] == r["kind"]


async def test_output_beyond_the_cap_is_counted_not_recorded(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("chatty-cmd", Reply(stdout="\n".join(str(i) for i in range(500))))
    pb = est.playbook(
        "chatty",
        "version: 1\nname: chatty\nkind: custom\nsteps:\n  - id: c\n    on: h-east\n"
        "    run: chatty-cmd\n",
    )
    engine, audit = est.engine(pb, Person({}), audit_output_cap=120)
    result = await engine.run()
    audit.close()
    evs = est.events(result.run_id)
    lines = [line for e in evs if e["kind"] == "output" for line in e["lines"]]  # type: ignore[attr-defined]
    assert lines == [str(i) for i in range(120)]
    (done,) = [e for e in evs if e["kind"] == "command_result"]
    assert done["dropped_lines"] == 380
    assert all(len(e["lines"]) <= 200 for e in evs if e["kind"] == "output")  # type: ignore[arg-type]
