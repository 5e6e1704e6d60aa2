"""Playbook composition in a run: an ``include:``'s steps, gates, canary and RTO marks join
the parent's run (one run id, one audit chain, one RTO), each step rendered with its own
playbook's parameters, service and step ids.

On the scripted transport (``tests/support/scripted.py``): milliseconds each.
"""

from __future__ import annotations

import json

import pytest

from console.audit.store import AuditStore
from tests.engine.scripted_env import ScriptedEstate, run_id_of
from tests.report.checks import check_html, check_json
from tests.support.scripted import Reply

pytestmark = pytest.mark.timeout(60)

CHILD = """
version: 1
name: child
kind: failover
title: Move svc from {{ from_site }} to {{ to_site }}
service: svc
objectives: {rto: 1m, rpo: 0s}
params:
  from_site: {default: east, choices: [east, west]}
  to_site: {default: west, choices: [east, west]}
preflight:
  - title: the target is a replica
    role: {site: "{{ to_site }}", role: replica}
steps:
  - id: fence
    title: fence {{ from_site }}
    on: site:{{ from_site }}
    run: fence-cmd {{ from_site }} {{ playbook.name }} {{ target.member.host }}
    rto: start
  - id: promote
    on: site:{{ to_site }}
    run: promote-cmd {{ to_site }} after {{ steps['fence'].stdout }}
    rto: end
    on_failure: rollback
rollback:
  - id: unfence
    on: site:{{ from_site }}
    run: unfence-cmd {{ from_site }}
"""

PARENT = """
version: 1
name: parent
kind: custom
title: Move svc to west twice
params:
  dest: {default: west, choices: [east, west]}
steps:
  - id: hello
    on: h-east
    run: hello-cmd {{ dest }}
  - id: there
    title: svc to {{ dest }}
    include: child.yaml
    vars: {from_site: east, to_site: "{{ dest }}"}
  - id: again
    include: child.yaml
    vars: {from_site: east, to_site: west}
"""


def _write(est: ScriptedEstate, parent: str = PARENT, child: str = CHILD) -> str:
    est.playbook("child", child)
    return str(est.playbook("parent", parent))


def test_a_composed_run_is_one_run_with_each_step_in_its_own_scope(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("hello-cmd")
    est.transport.on("fence-cmd", Reply(stdout="fenced"))
    est.transport.on("promote-cmd")
    pb = _write(est)
    proc = est.run("run", pb, "-i", str(est.inventory), "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = run_id_of(proc.stdout)
    with AuditStore(est.audit, create=False) as store:
        assert [r.run_id for r in store.runs()] == [run_id]
    # Each included step rendered with the include's values, its playbook's name and service
    # (target.member), and its own step ids in steps['fence'].
    sent = [(c.host, c.command) for c in est.transport.calls if "-cmd" in c.command]
    assert [cmd.split()[0] for _h, cmd in sent] == [
        "hello-cmd",
        "fence-cmd",
        "promote-cmd",
        "fence-cmd",
        "promote-cmd",
    ]
    assert sent[1] == ("h-east", "fence-cmd east child h-east")
    assert sent[2] == ("h-west", "promote-cmd west after fenced")
    assert sent[3] == ("h-east", "fence-cmd east child h-east")
    assert sent[4] == ("h-west", "promote-cmd west after fenced")
    evs = est.events()
    finished = [e["step"] for e in evs if e["kind"] == "step_finished"]
    assert finished == ["hello", "there/fence", "there/promote", "again/fence", "again/promote"]
    titles = {e["step"]: e["title"] for e in evs if e["kind"] == "step_started"}
    assert titles["there/fence"] == "fence east" and titles["hello"] == "hello"
    # The included gates joined the preflight.
    gates = [(e["gate"], e["ok"]) for e in evs if e["kind"] == "gate_result"]
    assert gates == [("the target is a replica", True)] * 2
    # One RTO: from the first include's start to the last include's end.
    marks = [(e["step"], e["mark"]) for e in evs if e["kind"] == "rto_mark"]
    assert marks == [("there/fence", "start"), ("again/promote", "end")]
    finished_run = next(e for e in evs if e["kind"] == "run_finished")
    assert finished_run["rto_seconds"] is not None and finished_run["rto_met"] is True
    plan = next(e for e in evs if e["kind"] == "run_plan")
    assert [s["id"] for s in plan["steps"]] == finished
    # The included playbook's service is locked by the composed run.
    assert any(e["kind"] == "lock_acquired" for e in evs)


def test_gates_of_an_include_are_judged_with_its_values(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = _write(est)
    # dest=east: the first include's gate asks east to be a replica (east is the primary);
    # the second's asks west (a replica). Every gate is judged before step 1.
    proc = est.run("run", pb, "-i", str(est.inventory), "--yes", "--var", "dest=east")
    assert proc.returncode == 3, proc.stdout
    gates = [(e["gate"], e["ok"]) for e in est.events() if e["kind"] == "gate_result"]
    assert gates == [("the target is a replica", False), ("the target is a replica", True)]
    assert not [c for c in est.transport.calls if "-cmd" in c.command]


def test_a_failed_included_step_rolls_back_only_what_started(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("hello-cmd")
    est.transport.on("fence-cmd", Reply(stdout="fenced"))
    est.transport.on("promote-cmd", Reply(exit_status=1))
    est.transport.on("unfence-cmd")
    pb = _write(est)
    proc = est.run("run", pb, "-i", str(est.inventory), "--yes")
    assert proc.returncode == 1, proc.stdout
    evs = est.events()
    outcomes = [(e["step"], e["outcome"]) for e in evs if e["kind"] == "step_finished"]
    assert outcomes == [
        ("hello", "ok"),
        ("there/fence", "ok"),
        ("there/promote", "failed"),
        ("there/unfence", "ok"),
    ]
    assert [c.command for c in est.transport.calls_to("unfence-cmd")] == ["unfence-cmd east"]
    skipped = [e["message"] for e in evs if e["kind"] == "notice" and e["step"] == "again/unfence"]
    assert skipped == ["rollback step again/unfence not run: include 'again' never started"]


def test_plan_renders_included_steps_in_their_scope(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = _write(est)
    proc = est.run("plan", pb, "-i", str(est.inventory), "--var", "dest=west", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["there/fence"]["commands"] == [["h-east", "fence-cmd east child h-east"]]
    assert steps["there/promote"]["commands"] == [
        ["h-west", "promote-cmd west after '<output of there/fence>'"]
    ]
    assert steps["again/fence"]["commands"] == [["h-east", "fence-cmd east child h-east"]]
    assert steps["there/fence"]["rto"] == "start" and steps["again/promote"]["rto"] == "end"
    assert steps["there/promote"]["rto"] is None


def test_a_vars_value_the_included_parameter_refuses_is_refused_by_validate_and_run(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    parent = PARENT.replace("choices: [east, west]}", "}")
    pb = _write(est, parent)
    validate = est.run("validate", "-i", str(est.inventory), pb, "--var", "dest=north")
    run = est.run("run", pb, "-i", str(est.inventory), "--yes", "--var", "dest=north")
    assert validate.returncode == run.returncode == 2
    line = [
        ln for ln in validate.stdout.splitlines() + validate.stderr.splitlines() if "vars." in ln
    ]
    assert line, validate.stdout + validate.stderr
    expected = f"{pb}:14:38: vars.to_site of include 'there': to_site must be one of east, west"
    assert line[0].startswith(expected), line
    assert expected in run.stdout + run.stderr
    with AuditStore(est.audit) as store:
        assert list(store.runs()) == []


def test_the_report_of_a_composed_run_has_a_section_per_included_playbook(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("hello-cmd")
    est.transport.on("fence-cmd", Reply(stdout="fenced"))
    est.transport.on("promote-cmd", Reply(), Reply(exit_status=1))
    est.transport.on("unfence-cmd")
    pb = _write(est)
    proc = est.run("run", pb, "-i", str(est.inventory), "--yes")
    assert proc.returncode == 1, proc.stdout
    doc = check_json(est.run("report", "--latest", "--format", "json").stdout)
    parts = {p["id"]: p for p in doc["parts"]}
    assert list(parts) == ["there", "again"]
    assert parts["there"]["playbook"] == "child" and parts["there"]["title"] == "svc to west"
    assert parts["there"]["path"].endswith("child.yaml")
    assert parts["there"]["digest"].startswith("sha256:")
    assert parts["there"]["outcome"] == "done"
    assert parts["there"]["steps"] == [["there/fence", "ok"], ["there/promote", "ok"]]
    assert parts["there"]["duration"] is not None
    assert parts["again"]["outcome"] == "failed"
    assert parts["again"]["steps"] == [["again/fence", "ok"], ["again/promote", "failed"]]
    md = est.run("report", "--latest", "--format", "md").stdout
    assert "## Included playbooks (2)" in md
    assert "### `there`: svc to west (child) — done" in md
    assert "### `again`: Move svc from {{ from_site }} to {{ to_site }} (child) — failed" in md
    assert "| `again/promote` | failed |" in md
    html = est.run("report", "--latest", "--format", "html").stdout
    check_html(html)
    assert '<section id="parts">' in html and "<code>again</code>" in html
    # The audit log says it in one line too.
    show = est.run("audit", "show", run_id_of(proc.stdout)).stdout
    assert "includes there (child), again (child)" in show


def test_a_run_of_a_playbook_without_includes_records_no_parts(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("fence-cmd")
    est.transport.on("promote-cmd")
    pb = est.playbook("child", CHILD)
    assert est.run("run", str(pb), "-i", str(est.inventory), "--yes").returncode == 0
    plan = next(e for e in est.events() if e["kind"] == "run_plan")
    assert "parts" not in plan
    doc = check_json(est.run("report", "--latest", "--format", "json").stdout)
    assert "parts" not in doc
    assert "Included playbooks" not in est.run("report", "--latest", "--format", "md").stdout


SECRET_CHILD = """
version: 1
name: vault
kind: custom
params:
  token: {secret: true}
  pin: {secret: true, default: pin-0042}
steps:
  - id: use
    title: use the token {{ token }} and {{ pin }}
    on: h-east
    run: use-token {{ token }} {{ pin }}
"""

SECRET_PARENT = """
version: 1
name: vaulted
kind: custom
params:
  password: {secret: true}
steps:
  - id: from-parent
    include: vault.yaml
    vars: {token: "{{ password }}"}
  - id: written-here
    include: vault.yaml
    vars: {token: literal-sekrit-77}
"""


def test_secrets_of_included_playbooks_are_masked_everywhere(scripted: ScriptedEstate) -> None:
    est = scripted
    est.transport.on("use-token")
    est.playbook("vault", SECRET_CHILD)
    pb = est.playbook("vaulted", SECRET_PARENT)
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--yes", "--var", "password=pw-9911")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sent = [c.command for c in est.transport.calls_to("use-token")]
    assert sent == ["use-token pw-9911 pin-0042", "use-token literal-sekrit-77 pin-0042"]
    recorded = json.dumps(est.events())
    md = est.run("report", "--latest", "--format", "md").stdout
    for secret in ("pw-9911", "pin-0042", "literal-sekrit-77"):
        assert secret not in recorded and secret not in proc.stdout and secret not in md
    assert "use-token **** ****" in recorded
