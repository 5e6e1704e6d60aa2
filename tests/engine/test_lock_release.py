"""The end of a run on a dark host: its remote lock cannot be removed there, and the run does
not wait for that host's connect timeout once more to find out (the sweep after the run has
just seen it not answer); every service's remote locks are released at once. On the scripted
transport (milliseconds)."""

from __future__ import annotations

import time

from tests.engine.scripted_env import ScriptedEstate
from tests.support.scripted import Call, Fail, Reply, Rule, dark

PLAYBOOK = """
version: 1
name: dark-at-the-end
kind: custom
service: svc
steps:
  - id: go
    on: h-east
    run: take-west-dark
"""


def test_a_host_dark_after_the_run_is_not_asked_to_release_its_lock(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    gone = {"west": False}

    def probe(call: Call) -> Reply | Fail:
        if call.host == "h-west" and gone["west"]:
            return Fail(dark("h-west"))
        return est.roles.reply(call)

    def go_dark(call: Call) -> Reply:
        gone["west"] = True
        return Reply(stdout="west is dark now")

    # first match wins: these go before the estate's own rules
    est.transport.rules[:0] = [
        Rule("probe-svc", [probe]),
        # were it asked, the dark host would keep the release waiting 30 s
        Rule("echo RELEASED", [Fail(dark("h-west"), delay=30.0)], host="h-west"),
    ]
    est.transport.on("take-west-dark", go_dark)
    pb = est.playbook("dark", PLAYBOOK)
    started = time.monotonic()
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--yes")
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert took < 20, took  # not the 30 s a release on the dark host would have waited
    assert est.transport.calls_to("echo TAKEN", host="h-west")  # the run took it there
    assert not est.transport.calls_to("echo RELEASED", host="h-west")
    assert est.transport.calls_to("echo RELEASED", host="h-east")
    evs = est.events()
    notices = [str(e["message"]) for e in evs if e["kind"] == "notice"]
    assert (
        "the remote lock on svc stays on h-west (dark in the sweep after the run): "
        "the next run there needs --break-lock"
    ) in notices, notices
    released = [(e["scope"], e["host"]) for e in evs if e["kind"] == "lock_released"]
    assert ("remote", "h-east") in released and ("remote", "h-west") not in released


def test_a_host_that_answers_after_the_run_has_its_lock_removed(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("take-west-dark", Reply(stdout="nothing happens"))
    pb = est.playbook("dark", PLAYBOOK)
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert est.transport.calls_to("echo RELEASED", host="h-west")
    released = [(e["scope"], e["host"]) for e in est.events() if e["kind"] == "lock_released"]
    assert ("remote", "h-east") in released and ("remote", "h-west") in released
