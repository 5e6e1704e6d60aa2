"""Planned PostgreSQL drills on a real lab: plans, and two full failover/failback cycles.

Cycle 1 is the textbook one: pg-failover east -> west, then pg-failback (rebuild east as a
standby of west, switch back, rebuild west). Cycle 2 moves the primary with the same failover
playbook in both directions: pg-failover east -> west, pg-failback with switchback=no (only
reprotect east), pg-failover with the parameters west -> east, and pg-failback reprotecting
west. After both the lab must be exactly as it started (east primary, west streaming through
slot ``west``, no other slot anywhere), every run must have measured its RTO where it moved the
primary, no acknowledged canary of any run may be missing (read from the audit log, checked in
the final primary's table), and every run's audit chain must verify.
"""

from __future__ import annotations

import pytest

from tests.drills_pg.drill import Drill, RunOutcome, assert_original_topology
from tests.support.lab import requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]


def _problems(plan: dict[str, object]) -> dict[str, str]:
    steps = plan["steps"]
    assert isinstance(steps, list)
    return {s["id"]: s["problem"] for s in steps if s["problem"]}


@pytest.mark.timeout(900)
def test_plans_render_on_a_healthy_lab(drill: Drill) -> None:
    for playbook in ("pg-failover.yaml", "pg-failover-unplanned.yaml", "pg-restore-verify.yaml"):
        code, plan = drill.plan(playbook)
        assert _problems(plan) == {}, (playbook, plan)
        assert all(g["ok"] is not False for g in plan["gates"]), (playbook, plan["gates"])
        assert code == 0, playbook
    code, plan = drill.plan("pg-failover.yaml", "from_site=west", "to_site=east")
    assert code == 1 and "fence" in _problems(plan), "west is not the primary: nothing to fence"
    # A failback applies once a failover happened (planned again in the cycle test below); on
    # the healthy lab its mirror image renders every step, and only the gate that wants the
    # old primary stopped fails.
    code, plan = drill.plan("pg-failback.yaml", "home_site=west", "away_site=east")
    assert _problems(plan) == {}, plan
    failed = [g["title"] for g in plan["gates"] if g["ok"] is False]
    assert failed == ["the old primary at home_site is stopped"], plan["gates"]
    assert code == 1


def _check_run(drill: Drill, run: RunOutcome, *, moves_primary: bool) -> None:
    assert run.proc.returncode == 0, run.explain()
    done = run.finished
    assert done["outcome"] == "succeeded", run.explain()
    acked = run.acked()
    assert len(acked) >= 1, run.explain()
    check = run.last("canary_check")
    assert check["error"] is None, check
    assert check["missing"] == [] and check["rpo_writes"] == 0, check
    assert check["acknowledged"] == len(acked), (check, acked)
    assert done["rpo_writes"] == 0 and done["rpo_seconds"] == 0.0, done
    if moves_primary:
        marks = {e.data["mark"]: e for e in run.of("rto_mark")}
        assert set(marks) == {"start", "end"}, run.explain()
        assert done["rto_seconds"] is not None and 0 < done["rto_seconds"] < 300, done
        assert done["rto_met"] is True and done["rpo_met"] is True, done
        # several acknowledged canaries before the outage began, so RPO 0 means something
        before = [e for e in run.of("canary_write") if e.data["ok"] and e.seq < marks["start"].seq]
        assert len(before) >= 3, run.explain()
        # and the canary followed the primary: every ack after the fence is on the new primary
        hosts_after = {
            e.host for e in run.of("canary_write") if e.data["ok"] and e.seq > marks["end"].seq
        }
        assert len(hosts_after) <= 1, hosts_after
    else:
        assert done["rto_seconds"] is None, done
    drill.verify_chain(run.run_id)


@pytest.mark.timeout(3600)
def test_two_full_cycles_end_in_the_original_topology(drill: Drill) -> None:
    assert_original_topology(drill)

    # cycle 1: fail over to west, then the whole failback
    failover = drill.run("pg-failover.yaml")
    _check_run(drill, failover, moves_primary=True)
    assert "caught up" in failover.output("catch-up"), failover.output("catch-up")
    assert drill.sql("west", "SELECT pg_is_in_recovery()") == "f"
    marker = drill.shell("east", f"cat {drill.pgdata('east')}/drconsole.REBUILD")
    assert failover.run_id in marker and "pg-failback" in marker
    assert (
        drill.shell("east", f"test -f {drill.pgdata('east')}/standby.signal && echo yes").strip()
        == "yes"
    )

    code, plan = drill.plan("pg-failback.yaml")  # where a failback applies: everything renders
    assert code == 0 and _problems(plan) == {}, plan
    assert all(g["ok"] is not False for g in plan["gates"]), plan["gates"]

    failback = drill.run("pg-failback.yaml")
    _check_run(drill, failback, moves_primary=True)
    rebuild = failback.output("rebuild-home")
    assert "rebuilt with pg_rewind" in rebuild and "rebuilt with pg_basebackup" not in rebuild
    assert "slot east created" in failback.output("slot-for-home")
    assert "ok: primary writable" in failback.output("verify-topology")
    assert_original_topology(drill)

    # cycle 2: east -> west, reprotect east, west -> east with the same playbook, reprotect west
    runs = [drill.run("pg-failover.yaml")]
    _check_run(drill, runs[-1], moves_primary=True)
    runs.append(drill.run("pg-failback.yaml", "switchback=no"))
    _check_run(drill, runs[-1], moves_primary=False)
    assert drill.sql("east", "SELECT pg_is_in_recovery()") == "t"
    assert drill.sql("west", "SELECT pg_is_in_recovery()") == "f"
    runs.append(drill.run("pg-failover.yaml", "from_site=west", "to_site=east"))
    _check_run(drill, runs[-1], moves_primary=True)
    assert runs[-1].finished["rto_seconds"] is not None
    runs.append(drill.run("pg-failback.yaml", "home_site=west", "away_site=east", "switchback=no"))
    _check_run(drill, runs[-1], moves_primary=False)
    assert "ok: primary writable, standby streaming via slot west" in runs[-1].output(
        "verify-topology"
    )
    assert_original_topology(drill)

    # No acknowledged canary of any run is missing on the final primary (the database's word,
    # not the engine's), and each run's canaries are all there.
    for run in [failover, failback, *runs]:
        present = drill.canaries("east", run.run_id)
        missing = set(run.acked()) - present
        assert not missing, (run.run_id, missing)
