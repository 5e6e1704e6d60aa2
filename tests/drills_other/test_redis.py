"""Redis drills on the real lab: failover and failback twice, restore verification.

The pair is ``sessions``: primary in east, replica in west. Every run is headless
(``drconsole run --yes``) with the engine's canary writing on the observed primary; the
assertions read the audit log and then ask the servers themselves.
"""

from __future__ import annotations

import pytest

from tests.drills_other.common import measured_without_loss, step_outcomes, succeeded
from tests.drills_other.support import DrillLab, requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]

PORT = 16379


def info(lab: DrillLab, site: str) -> dict[str, str]:
    """``INFO replication`` of the member at ``site``, as asked over SSH on that site."""
    text = lab.sh(site, f"redis-cli -h {lab.address(site)} -p {PORT} INFO replication")
    return dict(
        line.strip().split(":", 1) for line in text.splitlines() if ":" in line and line[0] != "#"
    )


def assert_topology(lab: DrillLab, primary: str, replica: str) -> None:
    """``primary`` is a master with one replica online; ``replica`` follows it, link up."""
    p, r = info(lab, primary), info(lab, replica)
    assert p["role"] == "master", p
    assert p["connected_slaves"] == "1", p
    assert r["role"] == "slave", r
    assert r["master_host"] == lab.address(primary), r
    assert r["master_link_status"] == "up", r


def canaries_on(lab: DrillLab, site: str, run_id: str) -> set[int]:
    """Canary numbers of ``run_id`` stored on the member at ``site``."""
    out = lab.sh(
        site, f"redis-cli -h {lab.address(site)} -p {PORT} ZRANGE drconsole:canary:{run_id} 0 -1"
    )
    return {int(line.split(":", 1)[0]) for line in out.split()}


@pytest.mark.timeout(3600)
def test_failover_then_failback_twice_loses_no_acknowledged_canary(drill_lab: DrillLab) -> None:
    lab = drill_lab
    assert_topology(lab, "east", "west")
    rtos = []
    for _ in range(2):
        for playbook, primary, replica in (
            ("redis-failover", "west", "east"),
            ("redis-failback", "east", "west"),
        ):
            run_id = succeeded(lab.run(playbook))
            m = measured_without_loss(lab, run_id)
            rtos.append((playbook, m.rto_seconds, len(m.acknowledged)))
            # Writes acknowledged by the old primary are the ones a failover can lose.
            assert m.acknowledged_by.get(f"lab-{replica}", 0) >= 1, m.acknowledged_by
            # Independently of the engine's own check: every acknowledged canary is on the
            # new primary, and the old one now follows it.
            assert set(m.acknowledged) <= canaries_on(lab, primary, run_id)
            assert_topology(lab, primary, replica)
    assert_topology(lab, "east", "west")
    print("\nredis drills (playbook, RTO s, acknowledged canaries):", rtos)


def test_failover_fences_with_a_write_pause_before_promoting(drill_lab: DrillLab) -> None:
    """The recorded order is the contract: pause, offset caught up, promote, repoint, unpause."""
    lab = drill_lab
    assert_topology(lab, "east", "west")
    try:
        run_id = succeeded(lab.run("redis-failover"))
        started = [e.step_id for e in lab.events(run_id, "step_started")]
        assert started[:6] == [
            "fence",
            "final-offset",
            "catch-up",
            "promote",
            "repoint-old",
            "prove-writes",
        ], started
        intents = [e.data["command"] for e in lab.events(run_id, "command_intent")]
        fence = next(c for c in intents if "CLIENT PAUSE" in c)
        assert fence.endswith("WRITE"), fence
        repoint = next(c for c in intents if "REPLICAOF 127." in c)
        assert repoint.index("REPLICAOF") < repoint.index("CLIENT UNPAUSE"), repoint
        final = lab.events(run_id, "output")
        offsets = [e.data["lines"] for e in final if e.step_id == "final-offset"]
        assert offsets and offsets[0][0].isdigit(), offsets
    finally:
        back = lab.run("redis-failback")
        assert back.returncode == 0, back.output[-4000:]
    assert_topology(lab, "east", "west")


@pytest.mark.timeout(1800)
def test_restore_verification_passes_on_a_good_snapshot(drill_lab: DrillLab) -> None:
    lab = drill_lab
    ran = lab.run("redis-restore-verify")
    run_id = succeeded(ran)
    outcomes = step_outcomes(lab, run_id)
    assert all(v == "ok" for v in outcomes.values()), outcomes
    compare = [
        line
        for e in lab.events(run_id, "output")
        if e.step_id == "compare"
        for line in e.data["lines"]
    ]
    assert "MATCH" in compare, compare
    before = next(line for line in compare if line.startswith("primary before:"))
    restored = next(line for line in compare if line.startswith("restored:"))
    assert before.split(":", 1)[1].split() == restored.split(":", 1)[1].split()
    assert " keys 0 " not in f" {restored} ", "an empty restore proves nothing"
    measurement = lab.events(run_id, "measurement")[-1].data
    assert measurement["rto_seconds"] is not None and measurement["rto_seconds"] > 0
    # The scratch server is gone and its port is free again.
    dr = lab.address("dr")
    gone = lab.running.ssh("dr", f"redis-cli -h {dr} -p 16380 PING", check=False)
    assert "PONG" not in gone.stdout, gone.stdout


@pytest.mark.timeout(1800)
def test_restore_verification_fails_on_a_damaged_snapshot(drill_lab: DrillLab) -> None:
    """Damage the copied RDB between the backup and the restore, as a bad disk would.

    Without ``--yes`` the run stops (exit 3) at the restore step, which needs confirmation,
    after the copy and its check passed. The test overwrites bytes in the middle of the copy,
    then resumes the same run with ``--yes``: the load must fail and the run exit 1, and the
    scratch server must be torn down by the rollback.
    """
    lab = drill_lab
    first = lab.run("redis-restore-verify", yes=False)
    assert first.returncode == 3, first.output[-4000:]
    run_id = first.run_id
    assert step_outcomes(lab, run_id).get("check-rdb") == "ok"
    rdb = lab.dr_var("backup_dir") / "sessions" / run_id / "dump.rdb"
    size = rdb.stat().st_size
    assert size > 100_000, size
    with rdb.open("r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\xde\xad\xbe\xef" * 4)
    resumed = lab.run("redis-restore-verify", "--resume", run_id)
    assert resumed.returncode == 1, resumed.output[-4000:]
    outcomes = step_outcomes(lab, run_id)
    assert outcomes.get("restore") == "failed", outcomes
    assert "compare" not in outcomes, outcomes
    assert outcomes.get("teardown-after-failure") == "ok", outcomes
    assert lab.store().verify(run_id).ok
    dr = lab.address("dr")
    gone = lab.running.ssh("dr", f"redis-cli -h {dr} -p 16380 PING", check=False)
    assert "PONG" not in gone.stdout, gone.stdout
