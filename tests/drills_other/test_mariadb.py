"""MariaDB drills on the real lab: failover and failback twice, errant GTIDs, restore verification.

The pair is ``catalog-db``: primary in east, GTID replica in west (read-only). Every run is
headless (``drconsole run --yes``) with the engine's canary writing as ``drlab@127.%``, an
account with ALL PRIVILEGES (READ_ONLY ADMIN included): so a fence that only set read_only
would let the canary write on and the test would see it. The assertions read the audit log
and then ask the servers themselves over SSH.
"""

from __future__ import annotations

import re

import pytest

from tests.drills_other.common import measured_without_loss, step_outcomes, succeeded
from tests.drills_other.support import DrillLab, requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]

PORT = 13306


def sql(lab: DrillLab, site: str, statement: str) -> str:
    """Run ``statement`` on the member at ``site`` as the local administrator (socket)."""
    sock = lab.running.root / "lab" / site / "run" / "mariadb.sock"
    return lab.sh(site, f'mariadb --no-defaults -S {sock} -N -B -e "{statement}"').strip()


def slave_status(lab: DrillLab, site: str) -> dict[str, str]:
    """``SHOW SLAVE STATUS`` of the member at ``site`` (empty when it replicates from none)."""
    sock = lab.running.root / "lab" / site / "run" / "mariadb.sock"
    text = lab.sh(site, f"mariadb --no-defaults -S {sock} -e 'SHOW SLAVE STATUS\\G'")
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^\s*(\w+): ?(.*)$", text, flags=re.MULTILINE)
    }


def assert_topology(lab: DrillLab, primary: str, replica: str) -> None:
    """``primary`` writable with no replication; ``replica`` read-only, replicating from it."""
    assert sql(lab, primary, "SELECT @@read_only") == "0"
    assert slave_status(lab, primary) == {}
    assert sql(lab, replica, "SELECT @@read_only") == "1"
    st = slave_status(lab, replica)
    assert st["Master_Host"] == lab.address(primary), st
    assert st["Slave_IO_Running"] == "Yes" and st["Slave_SQL_Running"] == "Yes", st
    assert st["Using_Gtid"] == "Slave_Pos", st
    assert st["Last_IO_Errno"] == "0" and st["Last_SQL_Errno"] == "0", st


def canaries_on(lab: DrillLab, site: str, run_id: str) -> set[int]:
    """Canary numbers of ``run_id`` stored on the member at ``site``."""
    out = sql(lab, site, f"SELECT n FROM drconsole.canary WHERE run_id = '{run_id}'")
    return {int(n) for n in out.split()}


@pytest.mark.timeout(3600)
def test_failover_then_failback_twice_loses_no_acknowledged_canary(drill_lab: DrillLab) -> None:
    lab = drill_lab
    assert_topology(lab, "east", "west")
    # The canary's account may bypass read_only on the primary: only a real fence stops it.
    assert "ALL PRIVILEGES" in sql(lab, "east", "SHOW GRANTS FOR 'drlab'@'127.%'")
    rtos = []
    for _ in range(2):
        run_id = succeeded(lab.run("mariadb-failover"))
        m = measured_without_loss(lab, run_id)
        rtos.append(("mariadb-failover", m.rto_seconds, len(m.acknowledged)))
        # Writes acknowledged by the old primary are the ones a failover can lose.
        assert m.acknowledged_by.get("lab-east", 0) >= 1, m.acknowledged_by
        assert set(m.acknowledged) <= canaries_on(lab, "west", run_id)
        # The old primary is left read-only, unreplicated, marked for rebuild, and fenced:
        # the canary's account cannot write there although it has ALL PRIVILEGES.
        assert sql(lab, "west", "SELECT @@read_only") == "0"
        assert sql(lab, "east", "SELECT @@read_only") == "1"
        assert slave_status(lab, "east") == {}
        mark = lab.running.root / "lab" / "east" / "mariadb" / "data" / "drconsole.REBUILD"
        final = sql(lab, "east", "SELECT @@gtid_binlog_pos")
        assert f"final_gtid={final}" in mark.read_text()
        outcomes = step_outcomes(lab, run_id)
        assert outcomes["prove-fence"] == "ok", outcomes
        refused = lab.running.ssh(
            "east",
            f"mariadb --no-defaults -h {lab.address('east')} -P {PORT} -u drlab "
            "-e 'CREATE DATABASE fence_test_must_fail'",
            check=False,
        )
        assert refused.returncode != 0 and "1290" in refused.stderr, refused

        run_id = succeeded(lab.run("mariadb-failback"))
        m = measured_without_loss(lab, run_id)
        rtos.append(("mariadb-failback", m.rto_seconds, len(m.acknowledged)))
        assert m.acknowledged_by.get("lab-west", 0) >= 1, m.acknowledged_by
        assert set(m.acknowledged) <= canaries_on(lab, "east", run_id)
        assert_topology(lab, "east", "west")
        assert not mark.exists()
        # The promoted primary got back the grant its fence took; the fenced replica did not.
        assert "ALL PRIVILEGES" in sql(lab, "east", "SHOW GRANTS FOR 'drlab'@'127.%'")
        assert "READ_ONLY ADMIN" not in sql(lab, "west", "SHOW GRANTS FOR 'drlab'@'127.%'")
        # Both servers hold the same data: nothing was lost or added on the way.
        checksum = "CHECKSUM TABLE drconsole.canary, app.customers EXTENDED"
        pos = sql(lab, "east", "SELECT @@gtid_binlog_pos")
        assert sql(lab, "west", f"SELECT MASTER_GTID_WAIT('{pos}', 120)") == "0"
        assert sql(lab, "east", checksum) == sql(lab, "west", checksum)
    print("\nmariadb drills (playbook, RTO s, acknowledged canaries):", rtos)


@pytest.mark.timeout(1800)
def test_restore_verification_passes_on_a_good_dump(drill_lab: DrillLab) -> None:
    lab = drill_lab
    run_id = succeeded(lab.run("mariadb-restore-verify"))
    outcomes = step_outcomes(lab, run_id)
    assert all(v == "ok" for v in outcomes.values()), outcomes
    lines = [
        line
        for e in lab.events(run_id, "output")
        if e.step_id == "compare"
        for line in e.data["lines"]
    ]
    assert "MATCH" in lines, lines
    assert any(re.fullmatch(r"app\.customers rows 10000 checksum \d+", x) for x in lines), lines
    measurement = lab.events(run_id, "measurement")[-1].data
    assert measurement["rto_seconds"] is not None and measurement["rto_seconds"] > 0
    assert not (lab.dr_var("scratch_dir") / "mariadb-scratch").exists()
    dump = lab.dr_var("backup_dir") / "catalog-db" / run_id / "dump.sql"
    assert "-- Dump completed" in dump.read_text().splitlines()[-1]


@pytest.mark.parametrize("damage", ["altered-row", "truncated"])
@pytest.mark.timeout(1800)
def test_restore_verification_fails_on_a_damaged_dump(drill_lab: DrillLab, damage: str) -> None:
    """Damage the dump between the backup and the restore, then let the run go on.

    Without ``--yes`` the run stops (exit 3) at the restore step, which needs confirmation,
    after the dump was taken and checked complete. The test changes one customer's name in
    the dump (the dump still loads: only the comparison can see it), or cuts the dump in
    half (the load fails); then it resumes the run with ``--yes``: it must exit 1 at the
    step that sees the damage, and the rollback must tear the scratch server down.
    """
    lab = drill_lab
    first = lab.run("mariadb-restore-verify", yes=False)
    assert first.returncode == 3, first.output[-4000:]
    run_id = first.run_id
    assert step_outcomes(lab, run_id).get("verify-dump") == "ok"
    dump = lab.dr_var("backup_dir") / "catalog-db" / run_id / "dump.sql"
    text = dump.read_text()
    if damage == "altered-row":
        assert text.count("'customer-5000'") == 1
        dump.write_text(text.replace("'customer-5000'", "'customer-5OOO'"))
        failing = "compare"
    else:
        dump.write_text(text[: len(text) // 2])
        failing = "restore"
    resumed = lab.run("mariadb-restore-verify", "--resume", run_id)
    assert resumed.returncode == 1, resumed.output[-4000:]
    outcomes = step_outcomes(lab, run_id)
    assert outcomes.get(failing) == "failed", outcomes
    assert outcomes.get("teardown-after-failure") == "ok", outcomes
    assert "MATCH" not in [
        line
        for e in lab.events(run_id, "output")
        if e.step_id == "compare"
        for line in e.data["lines"]
    ]
    assert not (lab.dr_var("scratch_dir") / "mariadb-scratch").exists()


@pytest.mark.timeout(1800)
def test_a_fence_that_cannot_be_proven_is_rolled_back(drill_lab: DrillLab) -> None:
    """With an account that cannot even log in, the fence proof sees ERROR 1045, not 1290:
    the run must not promote anything, and the rollback must reopen the old primary exactly
    as it was (writable, its network accounts' READ_ONLY ADMIN given back)."""
    lab = drill_lab
    assert_topology(lab, "east", "west")
    ran = lab.run("mariadb-failover", "--var", "net_user=nobody_here")
    assert ran.returncode == 1, ran.output[-4000:]
    outcomes = step_outcomes(lab, ran.run_id)
    assert outcomes["fence"] == "ok" and outcomes["prove-fence"] == "failed", outcomes
    assert "promote" not in outcomes, outcomes
    assert outcomes["unfence-old-primary"] == "ok", outcomes
    assert "FENCE BROKEN" in ran.output
    assert_topology(lab, "east", "west")
    assert "ALL PRIVILEGES" in sql(lab, "east", "SHOW GRANTS FOR 'drlab'@'127.%'")
    datadir = lab.running.root / "lab" / "east" / "mariadb" / "data"
    assert not (datadir / "drconsole.fenced").exists()


@pytest.mark.timeout(1800)
def test_failback_refuses_an_old_primary_with_errant_gtids(drill_lab: DrillLab) -> None:
    """A write on the fenced old primary (an administrator over the socket bypasses
    read_only) makes a GTID the new primary never had: failback must stop at its preflight,
    before it changes anything. Last in this module: the lab is left failed over."""
    lab = drill_lab
    assert_topology(lab, "east", "west")
    succeeded(lab.run("mariadb-failover"))
    sql(lab, "east", "CREATE DATABASE errant_write_after_the_fence")
    ran = lab.run("mariadb-failback")
    assert ran.returncode == 3, ran.output[-4000:]
    assert "errant GTIDs" in ran.output, ran.output[-4000:]
    run_id = ran.run_id
    assert lab.events(run_id, "step_started") == []
    assert slave_status(lab, "east") == {}
    assert sql(lab, "west", "SELECT @@read_only") == "0"
