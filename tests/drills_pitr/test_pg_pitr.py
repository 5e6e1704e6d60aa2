"""pg-pitr, pg-cold-backup, redis-pitr and mariadb-pitr on a real lab: recover, prove, refuse.

The lab's primary archives WAL to pgBackRest at dr and ``lab up`` took a full backup. Each
test writes markers into ``app.coupons`` on the primary around the point it recovers to, runs
the shipped playbook headless, and reads what the recovered server held from the audit log
(the ``check_sql`` step's recorded output), so "A present, B absent" is what the restored
server itself said. Every run must leave no scratch server: nothing on the scratch port, an
empty scratch directory.

Marker writes ride the primary's clock (``clock_timestamp()``), so the target and the commit
times come from the same clock as the WAL records.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.lab.layout import MARIADB_SCRATCH_PORT, REDIS_PORT, REDIS_SCRATCH_PORT
from console.lab.mariadb import REPL_PASSWORD
from tests.drills_pg.drill import SCALE, Drill, RunOutcome
from tests.drills_pitr.lab import mark, pause, recovery_report, scratch_left, utc_now
from tests.support.lab import requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]

CHECK = "SELECT 'markers: ' || string_agg(m, ',' ORDER BY m) AS seen FROM coupons"


def _markers(run: RunOutcome) -> set[str]:
    out = run.output("check-sql")
    line = next((x for x in out.splitlines() if "markers: " in x), None)
    assert line is not None, run.explain()
    return set(line.split("markers: ", 1)[1].strip().split(","))


def _shown(run: RunOutcome, step_id: str) -> str:
    """A step's output without its ``report:`` figure lines (what check_cmd itself printed)."""
    return "\n".join(
        x for x in run.output(step_id).splitlines() if not x.strip().startswith("report:")
    )


def _before(recovered: str, target: str) -> bool:
    """The recovered point (ISO 8601) is before the target."""
    return datetime.fromisoformat(recovered) < datetime.fromisoformat(target)


def _succeeded(drill: Drill, run: RunOutcome) -> None:
    assert run.proc.returncode == 0, run.explain()
    assert run.finished["outcome"] == "succeeded", run.explain()
    assert "PROVEN: " in run.output("prove"), run.output("prove")
    assert "no corruption found" in run.output("amcheck")
    assert scratch_left(drill) == ["2"], "a scratch server or its files were left behind"
    drill.verify_chain(run.run_id)


@pytest.mark.timeout(1800)
def test_pitr_to_a_time_between_two_writes_keeps_the_first_and_not_the_second(
    pitr: Drill,
) -> None:
    mark(pitr, "A")
    pause()
    target = utc_now(pitr)
    pause()
    mark(pitr, "B")  # the bad write
    run = pitr.run("pg-pitr.yaml", f"target_time={target}", f"check_sql={CHECK}")
    _succeeded(pitr, run)
    assert _markers(run) == {"A"}, run.output("check-sql")
    prove = run.output("prove")
    assert "recovery stopping before commit of transaction" in prove, prove
    assert "WAL replayed: " in prove and "gap: " in prove, prove
    preflight = run.output("preflight")
    assert "recoverable window: " in preflight and f"target {target} is inside" in preflight
    assert "restore backup set" in run.output("restore"), run.output("restore")
    # the report's PITR section, folded from this run's audit log
    section = recovery_report(pitr, run.run_id).pitr
    assert section is not None and section.target == f"time {target}"
    assert section.backup is not None and section.backup in run.output("restore")
    assert section.recovered is not None and _before(section.recovered, target)
    assert section.gap_seconds is not None and 0 < section.gap_seconds < 10, section
    assert not section.gap_bound
    assert section.replayed_what == "WAL segments" and section.replayed_count
    assert section.replayed_bytes and section.replayed_bytes > 0
    assert section.fetch_seconds and section.replay_seconds and section.checks_seconds
    assert section.proof is not None and section.proof.startswith("PROVEN: ")
    checks = {v.step_id: v.lines for v in section.verification}
    assert list(checks) == ["check-sql", "amcheck"]
    assert any("markers: A" in line for line in checks["check-sql"]), checks


@pytest.mark.timeout(1800)
def test_pitr_to_the_newest_point_has_both_writes(pitr: Drill) -> None:
    mark(pitr, "C")
    pause()
    mark(pitr, "D")
    pause()
    target = utc_now(pitr)
    run = pitr.run("pg-pitr.yaml", f"target_time={target}", f"check_sql={CHECK}")
    _succeeded(pitr, run)
    assert {"C", "D"} <= _markers(run), run.output("check-sql")


@pytest.mark.timeout(1800)
def test_pitr_to_a_restore_point(pitr: Drill) -> None:
    mark(pitr, "E")
    pitr.sql("east", "SELECT pg_create_restore_point('before-f')")
    mark(pitr, "F")
    run = pitr.run("pg-pitr.yaml", "target_name=before-f", f"check_sql={CHECK}")
    _succeeded(pitr, run)
    seen = _markers(run)
    assert "E" in seen and "F" not in seen, seen
    assert 'recovery stopping at restore point "before-f"' in run.output("prove")


@pytest.mark.timeout(1800)
def test_pitr_to_a_transaction_id(pitr: Drill) -> None:
    xid = mark(pitr, "G")
    mark(pitr, "H")
    run = pitr.run("pg-pitr.yaml", f"target_xid={xid}", f"check_sql={CHECK}")
    _succeeded(pitr, run)
    seen = _markers(run)
    assert "G" in seen and "H" not in seen, seen
    assert f"after commit of transaction {xid}," in run.output("prove")
    section = recovery_report(pitr, run.run_id).pitr
    assert section is not None and section.target == f"xid {xid}" and section.gap_seconds == 0


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(
    ("when", "why"),
    [
        ("past", "is before the oldest backup's end"),
        ("future", "is in the future"),
    ],
)
def test_a_target_outside_the_window_is_refused_naming_it(pitr: Drill, when: str, why: str) -> None:
    now = datetime.now(UTC)
    target = now - timedelta(days=3650) if when == "past" else now + timedelta(hours=1)
    text = target.strftime("%Y-%m-%dT%H:%M:%SZ")
    run = pitr.run("pg-pitr.yaml", f"target_time={text}")
    assert run.proc.returncode == 3, run.explain()
    preflight = run.output("preflight")
    refusal = next((x for x in preflight.splitlines() if x.startswith(f"target {text} {why}")), "")
    assert "; recoverable window: " in refusal, preflight
    assert not run.of("step_started"), "nothing may be restored after a refused preflight"
    assert scratch_left(pitr) == ["2"]


def test_malformed_two_or_no_targets_are_exit_2_before_anything(pitr: Drill) -> None:
    for variables in (
        ("target_time=2026-12-02 14:01",),
        ("target_time=yesterday",),
        ("target_xid=12", "target_name=x"),
        (),
    ):
        args = ["run", "playbooks/pg-pitr.yaml", "-i", str(pitr.inventory), "--yes"]
        for v in variables:
            args += ["--var", v]
        proc = pitr.cli(*args)
        assert proc.returncode == 2, (variables, proc.stdout, proc.stderr)
        assert "pg-pitr.yaml:" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert not proc.stdout.startswith("run "), proc.stdout


@pytest.mark.timeout(1800)
def test_a_failed_recovery_tears_the_scratch_server_down(pitr: Drill) -> None:
    # check_sql fails on the recovered server while it runs: the rollback must stop it and
    # leave no process, no port and no directory.
    run = pitr.run("pg-pitr.yaml", f"target_time={utc_now(pitr)}", "check_sql=SELECT nope")
    assert run.proc.returncode == 1, run.explain()
    outcomes = run.step_outcomes()
    assert outcomes["promote"] == "ok" and outcomes["check-sql"] == "failed", outcomes
    assert outcomes["teardown-after-failure"] == "ok", outcomes
    assert "amcheck" not in outcomes, outcomes
    assert scratch_left(pitr) == ["2"]


@pytest.mark.timeout(1800)
def test_an_unknown_restore_point_or_xid_is_refused_at_preflight_naming_what_exists(
    pitr: Drill,
) -> None:
    pitr.sql("east", "SELECT pg_create_restore_point('known-point')")
    aborted = pitr.sql("east", "BEGIN; SELECT txid_current(); ROLLBACK;").split()[0]
    refusals = {
        "target_name=never-created": "restore point never-created is not in the archive after "
        "backup ",
        "target_xid=3": "transaction 3 ended before backup ",
        "target_xid=4000000000": "transaction 4000000000 is after the newest sealed commit; ",
        f"target_xid={aborted}": f"transaction {aborted} did not commit (its status on the "
        "primary: aborted)",
    }
    for variable, why in refusals.items():
        run = pitr.run("pg-pitr.yaml", variable)
        assert run.proc.returncode == 3, run.explain()
        preflight = run.output("preflight")
        refusal = next((x for x in preflight.splitlines() if x.startswith(why)), "")
        assert refusal, (variable, preflight)
        if variable.startswith("target_name"):
            assert "restore points there: " in refusal and "known-point (at " in refusal, refusal
        else:
            assert "; recoverable transactions: " in refusal, refusal
        assert not run.of("step_started"), "nothing may be restored after a refused preflight"
    assert scratch_left(pitr) == ["2"]


def _switch(drill: Drill) -> str:
    """Switch WAL on the primary; returns the segment it completed."""
    return drill.sql("east", "SELECT pg_walfile_name(pg_switch_wal())")


def _orders(status: dict[str, Any]) -> dict[str, Any]:
    """The orders-db window of a ``status --json`` document."""
    return next(w for w in status["windows"] if w["service"] == "orders-db")


def _status(drill: Drill) -> tuple[int, dict[str, Any]]:
    proc = drill.cli("status", "-i", str(drill.inventory), "--json", timeout=120 * SCALE)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.timeout(1800)
def test_a_wal_gap_shows_in_the_window_and_a_pitr_past_it_is_refused(pitr: Drill) -> None:
    code, before = _status(pitr)
    assert code == 0, before
    window = _orders(before)
    assert window["health"] == "ok" and window["gap"] is None, window
    assert window["last_verified"]["kind"] == "point-in-time-restore", window
    segments = []
    for marker in ("X", "Y", "Z"):
        mark(pitr, marker)
        segments.append(_switch(pitr))
    pitr.wait_until(
        "the last segment to be archived",
        lambda: (
            pitr.sql("east", "SELECT substr(last_archived_wal, 1, 24) FROM pg_stat_archiver")
            >= segments[-1]
        ),
        120 * SCALE,
    )
    target = utc_now(pitr)
    repo = pitr.lab.lab.layout.site("dr").root / "pgbackrest" / "repo" / "archive" / "orders-db"
    (victim,) = list(repo.glob(f"*/*/{segments[1]}-*"))
    aside = pitr.lab.root / victim.name
    victim.rename(aside)  # a WAL segment removed from the repository, for real
    try:
        code, broken = _status(pitr)
        assert code == 1, broken
        window = _orders(broken)
        assert window["health"] == "crit" and window["gap"] == segments[1], window
        assert f"segment {segments[1]} is missing" in window["reason"], window
        assert broken["healthy"] is False and "recovery window crit" in broken["verdict"]
        run = pitr.run("pg-pitr.yaml", f"target_time={target}")
        assert run.proc.returncode == 3, run.explain()
        preflight = run.output("preflight")
        assert f"is past the WAL gap (segment {segments[1]} is missing" in preflight, preflight
        assert not run.of("step_started") and scratch_left(pitr) == ["2"]
        # A newer backup recovers past the gap: a target after its end is accepted and recovered.
        conf = pitr.lab.lab.layout.site("dr").root / "pgbackrest" / "pgbackrest.conf"
        pitr.shell("dr", f"pgbackrest --config={conf} --stanza=orders-db --type=incr backup")
        code, warned = _status(pitr)
        window = _orders(warned)
        assert code == 1 and window["health"] == "warn", window  # older points only are cut
        assert window["gap"] == segments[1] and window["backups"] == 2, window
        mark(pitr, "after-gap")
        pause()
        late = utc_now(pitr)
        run = pitr.run("pg-pitr.yaml", f"target_time={late}", f"check_sql={CHECK}")
        _succeeded(pitr, run)
        assert "after-gap" in _markers(run), run.output("check-sql")
        preflight = run.output("preflight")
        assert "recovers past it" in preflight and "I will be restored" in preflight, preflight
        # and the target before the newer backup is still refused, past the gap
        run = pitr.run("pg-pitr.yaml", f"target_time={target}")
        assert run.proc.returncode == 3, run.explain()
        assert f"is past the WAL gap (segment {segments[1]}" in run.output("preflight")
    finally:
        aside.rename(victim)
    code, after = _status(pitr)
    assert code == 0 and _orders(after)["health"] == "ok", after


# -- pg-cold-backup on the same lab: the replica stopped, copied, started; the copy restored ----


def _in_sync(drill: Drill, marker: str) -> None:
    mark(drill, marker)
    drill.wait_until(
        f"marker {marker} to reach west",
        lambda: (
            drill.sql("west", f"SELECT count(*) FROM coupons WHERE m = '{marker}'", db="app") == "1"
        ),
        60 * SCALE,
    )


@pytest.mark.timeout(1800)
def test_cold_backup_of_the_replica_measures_downtime_and_restores_by_mv(pitr: Drill) -> None:
    _in_sync(pitr, "cold-before")
    run = pitr.run("pg-cold-backup.yaml", f"check_sql={CHECK}")
    assert run.proc.returncode == 0, run.explain()
    downtime = run.finished["rto_seconds"]
    assert downtime is not None and downtime > 0, run.finished
    copy = run.output("copy")
    assert " bytes (" in copy and " ms to " in copy, copy
    verify = run.output("verify")
    assert "MATCH: the copy is the replica as it stopped" in verify, verify
    assert "cold-before" in _markers_of(verify), verify
    assert "shut down in recovery" in run.output("stop-replica")
    assert "no corruption found" in run.output("amcheck")
    cold = recovery_report(pitr, run.run_id).cold_backup
    assert cold is not None and cold.downtime_seconds == downtime
    assert cold.copy_bytes and cold.copy_bytes > 10_000_000 and cold.copy_seconds is not None
    assert cold.restore_seconds is not None and cold.restore_seconds > 0
    assert cold.proof is not None and cold.proof.startswith("MATCH: ")
    assert [v.step_id for v in cold.verification] == ["verify", "amcheck"]
    _in_sync(pitr, "cold-after")  # the replica is back and replicating
    assert scratch_left(pitr) == ["2"]
    backups = pitr.lab.lab.layout.site("dr").backup_dir / "orders-db-cold"
    assert not any(backups.iterdir()), "keep_copy=no must remove the copy"
    pitr.verify_chain(run.run_id)


@pytest.mark.timeout(1800)
def test_a_failed_cold_copy_starts_the_replica_again(pitr: Drill) -> None:
    backups = pitr.lab.lab.layout.site("dr").backup_dir / "orders-db-cold"
    backups.mkdir(exist_ok=True)
    backups.chmod(0o500)  # the lab user cannot write the copy: a full or read-only vault
    try:
        run = pitr.run("pg-cold-backup.yaml")
    finally:
        backups.chmod(0o755)
    assert run.proc.returncode == 1, run.explain()
    outcomes = run.step_outcomes()
    assert outcomes["copy"] == "failed", outcomes
    assert outcomes["restart-replica-after-failure"] == "ok", outcomes
    assert "server started" in run.output("restart-replica-after-failure")
    _in_sync(pitr, "cold-failed")
    assert scratch_left(pitr) == ["2"]


def _markers_of(text: str) -> set[str]:
    """The markers a check_sql printed (psql's aligned output or mariadb's -t table)."""
    found = re.search(r"markers: ([^\s|]+)", text)
    return set(found.group(1).split(",")) if found else set()


# -- redis-pitr on the same lab: a copy of the primary's timestamped AOF, cut at the target ----

REDIS_CHECK = "GET coupon\nEXISTS bad"


def _redis(drill: Drill, *args: str) -> str:
    cli = f"redis-cli -h {drill.address('east')} -p {REDIS_PORT} "
    return drill.shell("east", cli + " ".join(shlex.quote(a) for a in args)).strip()


@pytest.mark.timeout(1800)
def test_redis_pitr_to_a_time_between_two_writes(pitr: Drill) -> None:
    _redis(pitr, "DEL", "bad")
    _redis(pitr, "SET", "coupon", "A")
    time.sleep(2.2)  # the AOF's granularity is a second: A is in an earlier one than T
    target = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(1.2)
    _redis(pitr, "SET", "coupon", "B")  # the bad writes
    _redis(pitr, "SET", "bad", "1")
    time.sleep(1.1)  # appendfsync everysec
    run = pitr.run("redis-pitr.yaml", f"target_time={target}", f"check_cmd={REDIS_CHECK}")
    assert run.proc.returncode == 0, run.explain()
    assert _shown(run, "check-cmd").split() == ["A", "0"], run.output("check-cmd")
    code, status = _status(pitr)
    assert code == 0, status
    sessions = next(w for w in status["windows"] if w["service"] == "sessions")
    assert sessions["health"] == "ok" and sessions["oldest"] < sessions["newest"], sessions
    assert "PROVEN: every write kept was made before the target's second" in run.output("prove")
    assert "All AOF files and manifest are valid" in run.output("check-aof")
    assert "recoverable window: " in run.output("preflight")
    section = recovery_report(pitr, run.run_id).pitr
    assert section is not None and section.gap_bound and section.gap_seconds is not None
    assert section.recovered is not None and _before(section.recovered, target), section
    assert section.replayed_what == "AOF timestamp annotations" and section.replayed_bytes
    assert section.backup is not None and "the AOF of " in section.backup
    assert [v.step_id for v in section.verification] == ["check-cmd", "check-aof"]
    assert section.verification[0].lines == ("A", "0"), section.verification
    left = pitr.shell(
        "dr", f"redis-cli -h {pitr.address('dr')} -p {REDIS_SCRATCH_PORT} PING; echo rc=$?"
    )
    assert "PONG" not in left, left
    time.sleep(1.1)
    newest = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    run = pitr.run("redis-pitr.yaml", f"target_time={newest}", f"check_cmd={REDIS_CHECK}")
    assert run.proc.returncode == 0, run.explain()
    assert _shown(run, "check-cmd").split() == ["B", "1"], run.output("check-cmd")


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(
    ("when", "why"),
    [("past", "is before the last AOF rewrite"), ("future", "is in the future")],
)
def test_redis_pitr_refuses_a_target_outside_the_aof_window(
    pitr: Drill, when: str, why: str
) -> None:
    now = datetime.now(UTC)
    target = now - timedelta(days=1) if when == "past" else now + timedelta(hours=1)
    text = target.strftime("%Y-%m-%dT%H:%M:%SZ")
    run = pitr.run("redis-pitr.yaml", f"target_time={text}")
    assert run.proc.returncode == 3, run.explain()
    refusal = next(
        (x for x in run.output("preflight").splitlines() if x.startswith(f"target {text} {why}")),
        "",
    )
    assert "; recoverable window: " in refusal, run.output("preflight")
    assert not run.of("step_started")


# -- mariadb-pitr on the same lab: the prepared base backup plus the binlog, replayed ----------

MARIA_CHECK = "SELECT concat('markers: ', group_concat(m ORDER BY m)) AS seen FROM app.coupons"


def _maria(drill: Drill, sql: str) -> str:
    sock = drill.lab.lab.layout.site("east").maria_socket
    return drill.shell(
        "east", f"mariadb --no-defaults -S {sock} -N -B -e {shlex.quote(sql)}"
    ).strip()


def _maria_mark(drill: Drill, marker: str) -> str:
    """Insert ``marker`` on the MariaDB primary; returns the GTID of that transaction."""
    _maria(drill, "CREATE TABLE IF NOT EXISTS app.coupons (m VARCHAR(40) PRIMARY KEY)")
    _maria(drill, f"INSERT INTO app.coupons VALUES ('{marker}')")
    return _maria(drill, "SELECT @@gtid_binlog_pos")


@pytest.mark.timeout(1800)
def test_mariadb_pitr_to_a_time_and_to_a_gtid(pitr: Drill) -> None:
    # One big transaction (about 20 MB of row events, one BINLOG statement larger than the
    # client's default 16 MB packet) before the target: the replay must take it.
    _maria(pitr, "CREATE TABLE IF NOT EXISTS app.big (n INT PRIMARY KEY, pad VARCHAR(1000))")
    _maria(pitr, "INSERT INTO app.big SELECT seq, REPEAT('x', 1000) FROM app.seq_1_to_20000")
    _maria_mark(pitr, "A")
    time.sleep(2.2)  # binlog events carry whole seconds: A is in an earlier one than T
    target = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(1.2)
    _maria_mark(pitr, "B")
    run = pitr.run("mariadb-pitr.yaml", f"target_time={target}", f"check_sql={MARIA_CHECK}")
    assert run.proc.returncode == 0, run.explain()
    assert _markers_of(run.output("check-sql")) == {"A"}, run.output("check-sql")
    prove = run.output("prove")
    assert "PROVEN: nothing replayed is after the target" in prove, prove
    assert "replaying " in run.output("replay") and "every table OK" in run.output("check-tables")
    section = recovery_report(pitr, run.run_id).pitr
    assert section is not None and section.gap_bound and section.gap_seconds is not None
    assert section.replayed_what == "binlog transactions" and section.replayed_count
    assert section.replayed_bytes and section.replayed_bytes > 0, section
    assert section.recovered is not None and _before(section.recovered, target), section
    assert section.backup is not None and " at binlog." in section.backup
    assert section.replayed_bytes > 20_000_000, section  # the big transaction was replayed
    # the replication account is never on a command line, and its option file is gone
    sent = " ".join(e.data.get("command", "") for e in run.of("command_intent"))
    assert "--password" not in sent and "--defaults-extra-file=" in sent
    assert REPL_PASSWORD not in sent and "****" in sent  # masked in the recorded intent
    scratch = pitr.lab.lab.layout.site("dr").scratch_dir
    assert not (scratch / "catalog.cnf").exists()
    gtid = _maria_mark(pitr, "C")
    _maria_mark(pitr, "D")
    run = pitr.run("mariadb-pitr.yaml", f"target_gtid={gtid}", f"check_sql={MARIA_CHECK}")
    assert run.proc.returncode == 0, run.explain()
    assert _markers_of(run.output("check-sql")) == {"A", "B", "C"}, run.output("check-sql")
    assert f"PROVEN: the replay stopped after GTID {gtid}" in run.output("prove")
    left = pitr.shell(
        "dr", f"ss -ltn | grep -c ' {pitr.address('dr')}:{MARIADB_SCRATCH_PORT} ' || true"
    )
    assert left.strip() == "0", left


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(
    ("when", "why"),
    [("past", "is before the base backup's end"), ("future", "is in the future")],
)
def test_mariadb_pitr_refuses_a_target_outside_the_window(pitr: Drill, when: str, why: str) -> None:
    now = datetime.now(UTC)
    target = now - timedelta(days=1) if when == "past" else now + timedelta(hours=1)
    text = target.strftime("%Y-%m-%dT%H:%M:%SZ")
    run = pitr.run("mariadb-pitr.yaml", f"target_time={text}")
    assert run.proc.returncode == 3, run.explain()
    refusal = next(
        (x for x in run.output("preflight").splitlines() if x.startswith(f"target {text} {why}")),
        "",
    )
    assert "; recoverable window: " in refusal, run.output("preflight")
    assert not run.of("step_started")


@pytest.mark.timeout(1800)
def test_mariadb_cold_backup_of_the_replica(pitr: Drill) -> None:
    gtid = _maria_mark(pitr, "cold-maria")
    run = pitr.run("mariadb-cold-backup.yaml", f"check_sql={MARIA_CHECK}")
    assert run.proc.returncode == 0, run.explain()
    assert run.finished["rto_seconds"] is not None and run.finished["rto_seconds"] > 0
    assert " bytes (" in run.output("copy"), run.output("copy")
    verify = run.output("verify")
    assert "MATCH: the copy holds the replica's data as it stopped" in verify, verify
    assert "cold-maria" in _markers_of(verify), verify
    assert "every table OK" in run.output("check-tables")
    cold = recovery_report(pitr, run.run_id).cold_backup
    assert cold is not None and cold.copy_bytes and cold.restore_seconds is not None
    assert cold.downtime_seconds == run.finished["rto_seconds"]
    after = _maria_mark(pitr, "cold-maria-after")  # the replica is back and replicating
    west = pitr.lab.lab.layout.site("west").maria_socket
    pitr.wait_until(
        "west to replicate the write after the cold backup",
        lambda: (
            pitr.shell(
                "west", f"mariadb --no-defaults -S {west} -N -e 'SELECT @@gtid_slave_pos'"
            ).strip()
            == after
        ),
        60 * SCALE,
    )
    assert gtid != after
    listening = f"ss -ltn | grep -c ' {pitr.address('dr')}:{MARIADB_SCRATCH_PORT} ' || true"
    assert pitr.shell("dr", listening).strip() == "0"


@pytest.mark.timeout(1800)
def test_zz_mariadb_binlogs_purged_past_the_backup_refuse_a_pitr(pitr: Drill) -> None:
    # Last in the module: it purges, for real, the binlog the base backup starts in.
    base = pitr.lab.lab.layout.site("dr").backup_dir / "catalog-db-base"
    first = (base / "xtrabackup_binlog_info").read_text().split()[0]
    _maria(pitr, "FLUSH BINARY LOGS")
    newest = _maria(pitr, "SHOW BINARY LOGS").splitlines()[-1].split()[0]

    def purged() -> bool:  # a binlog the replica's dump thread still reads is kept: retry
        _maria(pitr, f"PURGE BINARY LOGS TO '{newest}'")
        return first not in _maria(pitr, "SHOW BINARY LOGS")

    pitr.wait_until(f"{first} to be purged", purged, 60 * SCALE)
    code, status = _status(pitr)
    assert code == 1, status
    catalog = next(w for w in status["windows"] if w["service"] == "catalog-db")
    assert catalog["health"] == "crit", catalog
    assert f"binlogs purged past the base backup: {first}" in catalog["reason"], catalog
    target = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = pitr.run("mariadb-pitr.yaml", f"target_time={target}")
    assert run.proc.returncode == 3, run.explain()
    assert "the binlog is broken: " in run.output("preflight"), run.output("preflight")
    assert not run.of("step_started")
