"""The probes and canary writers against real PostgreSQL, MariaDB and Redis servers.

Each kind gets a primary and a replica started here (``tests/probes/servers.py``) on
127.0.60.x with free ports, in a temporary directory under /tmp. Every probe command runs
locally through ``/bin/bash -c`` exactly as the SSH pool runs it on a member's host (SSH
itself is proven elsewhere), and the parsed sample is checked. The canary writers write ten
canaries and read them back; then, on a fresh pair, the replica's link is cut, more
canaries are acknowledged by the primary, the replica is promoted, and the acknowledged
canaries missing on it are detected: the measured data loss.

A kind is skipped only when its server binaries are not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.probes import (
    Health,
    Link,
    ProbeTarget,
    ReplicationSample,
    Role,
    Thresholds,
    assess,
    probe_for,
    reconcile,
    topology,
)
from console.probes import canary as c
from tests.probes import servers as srv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PW_ENV = "DRPROBE_IT_PW"
THRESHOLDS = Thresholds(lag_warn=5.0, lag_crit=30.0)
PROBE_TIMEOUT = 30.0


def need(kind: str) -> None:
    missing = srv.missing_binaries(kind)
    if missing:
        pytest.skip(f"{kind} server binaries not installed: {', '.join(missing)}")


def sh(command: str) -> tuple[int, str, str]:
    """Run one command string the way the SSH pool does (``bash -c``), with a deadline."""
    proc = subprocess.run(
        ["/bin/bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=120 * srv.SLOW,
        env={**os.environ, PW_ENV: "probe-secret"},
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, proc.stdout, proc.stderr


def probe(target: ProbeTarget) -> ReplicationSample:
    p = probe_for(target.kind, timeout=PROBE_TIMEOUT)
    status, out, err = sh(p.command(target))
    return p.parse(target, status, out, err, time.time())


def healthy(sample: ReplicationSample, expected: str) -> None:
    verdict = assess(sample, THRESHOLDS, expected, time.time(), stale_after=120)
    assert verdict.health is Health.OK, (verdict, sample)
    assert not verdict.diverged


def write_canaries(target: ProbeTarget, run_id: str, numbers: range) -> dict[int, float]:
    acked: dict[int, float] = {}
    for n in numbers:
        status, out, err = sh(c.write_command(target.kind, target, run_id, n))
        assert c.parse_write(target.kind, n, status, out, err), (n, status, out, err)
        acked[n] = time.time()
    return acked


def read_canaries(target: ProbeTarget, run_id: str) -> c.CanaryState:
    return c.parse_read(target.kind, *sh(c.read_command(target.kind, target, run_id)))


def setup_canaries(target: ProbeTarget) -> None:
    c.parse_setup(target.kind, *sh(c.setup_command(target.kind, target)))


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="probe-it-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def fresh(base: Path, name: str) -> Path:
    return srv.make_base(base / name)


# -------------------------------------------------------------------------- PostgreSQL


def pg_targets(pair: srv.PgPair, user: str = "prober") -> tuple[ProbeTarget, ProbeTarget]:
    extra: dict[str, Any] = {"user": user}
    if user == "prober":
        extra["password_env"] = PW_ENV
    p = ProbeTarget("orders-db", "east", "db-east-1", "postgres", pair.primary.address,
                    pair.primary.port, **extra)  # fmt: skip
    s = ProbeTarget("orders-db", "west", "db-west-1", "postgres", pair.standby.address,
                    pair.standby.port, **extra)  # fmt: skip
    return p, s


def pg_caught_up(pair: srv.PgPair) -> None:
    lsn = pair.primary.sql("SELECT pg_current_wal_lsn()")
    srv.wait_until(
        "the standby to replay",
        lambda: pair.standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") == "t",
    )


@pytest.fixture(scope="module")
def pg(base: Path) -> Iterator[srv.PgPair]:
    need("postgres")
    pair = srv.start_pg_pair(fresh(base, "pg"), "127.0.60.20", "127.0.60.21")
    yield pair
    pair.stop()


def test_postgres_probe_on_live_pair(pg: srv.PgPair) -> None:
    pg.primary.sql("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY)")
    pg.primary.sql("INSERT INTO t SELECT g FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING")
    pg_caught_up(pg)
    ptarget, starget = pg_targets(pg)
    primary, standby = probe(ptarget), probe(starget)

    assert primary.role is Role.PRIMARY
    assert primary.link is Link.NONE
    assert primary.error is None
    assert primary.details["timeline"] == "1"
    assert [r.state for r in primary.replicas] == ["streaming"]
    assert primary.details["slots"] == "standby1 (active, reserved)"
    healthy(primary, "primary")

    assert standby.role is Role.REPLICA
    assert standby.link is Link.UP
    assert standby.upstream == f"{pg.primary.address}:{pg.primary.port}"
    assert standby.lag_bytes is not None
    assert standby.lag_bytes < 1_000_000
    assert standby.lag_seconds is not None
    assert standby.read_only is True
    healthy(standby, "replica")

    (topo,) = topology([primary, standby])
    assert topo.primary_site == "east"
    assert not topo.split_brain


def test_postgres_paused_replay_shows_real_lag(pg: srv.PgPair) -> None:
    _, starget = pg_targets(pg)
    pg.standby.sql("SELECT pg_wal_replay_pause()")
    try:
        pg.primary.sql("INSERT INTO t SELECT g FROM generate_series(1001, 6000) g")
        lsn = pg.primary.sql("SELECT pg_current_wal_lsn()")
        srv.wait_until(
            "the burst to arrive",
            lambda: pg.standby.sql(f"SELECT pg_last_wal_receive_lsn() >= '{lsn}'") == "t",
        )
        sample = probe(starget)
        assert sample.link is Link.UP
        assert sample.lag_bytes is not None
        assert sample.lag_bytes > 100_000
        assert sample.lag_seconds is not None
        assert sample.details["replay_paused"] == "paused"
        assert "idle" not in sample.details
        verdict = assess(
            sample,
            Thresholds(5.0, 30.0, lag_bytes_warn=50_000),
            "replica",
            time.time(),
            120,
        )
        assert verdict.health in (Health.WARN, Health.CRIT)
    finally:
        pg.standby.sql("SELECT pg_wal_replay_resume()")
    pg_caught_up(pg)


def test_postgres_canary_round_trip(pg: srv.PgPair) -> None:
    ptarget, starget = pg_targets(pg, user="postgres")
    setup_canaries(ptarget)
    setup_canaries(ptarget)  # idempotent
    acked = write_canaries(ptarget, "itpg01", range(1, 11))
    state = read_canaries(ptarget, "itpg01")
    assert state.numbers == frozenset(range(1, 11))
    assert state.max_n == 10
    assert c.data_loss(acked, state).writes == 0
    pg_caught_up(pg)
    assert read_canaries(starget, "itpg01").numbers == frozenset(range(1, 11))
    # the standby refuses canary writes: never acknowledged
    status, out, err = sh(c.write_command("postgres", starget, "itpg01", 11))
    assert not c.parse_write("postgres", 11, status, out, err)


def test_postgres_failover_after_cut_link_detects_lost_canaries(base: Path) -> None:
    need("postgres")
    pair = srv.start_pg_pair(fresh(base, "pg-failover"), "127.0.60.30", "127.0.60.31")
    try:
        ptarget, starget = pg_targets(pair, user="postgres")
        setup_canaries(ptarget)
        acked = write_canaries(ptarget, "itpgfo", range(1, 6))
        pg_caught_up(pair)
        pair.standby.sql("ALTER SYSTEM SET primary_conninfo = ''")
        pair.standby.sql("SELECT pg_reload_conf()")
        srv.wait_until(
            "the WAL receiver to stop",
            lambda: pair.standby.sql("SELECT count(*) FROM pg_stat_wal_receiver") == "0",
        )
        acked |= write_canaries(ptarget, "itpgfo", range(6, 11))

        cut = probe(starget)
        assert (cut.role, cut.link, cut.lag_seconds, cut.lag_bytes) == (
            Role.REPLICA, Link.DOWN, None, None,
        )  # fmt: skip
        assert assess(cut, THRESHOLDS, "replica", time.time(), 120).health is Health.CRIT

        pair.primary.stop("immediate")
        pair.standby.sql("SELECT pg_promote(true, 60)")
        promoted = probe(starget)
        assert promoted.role is Role.PRIMARY
        assert promoted.details["timeline"] == "2"
        verdict = assess(promoted, THRESHOLDS, "replica", time.time(), 120)
        assert verdict.divergence == "expected replica, observed primary"

        state = read_canaries(starget, "itpgfo")
        assert state.numbers == frozenset(range(1, 6))
        loss = c.data_loss(acked, state)
        assert loss.missing == (6, 7, 8, 9, 10)
        assert loss.writes == 5
        assert loss.seconds > 0
    finally:
        pair.stop()


# ------------------------------------------------------------------------------ MariaDB


def maria_targets(pair: srv.MariaPair) -> tuple[ProbeTarget, ProbeTarget]:
    p = ProbeTarget("billing-db", "east", "db-east-1", "mysql", pair.primary.address,
                    pair.primary.port, user="drprobe", password_env=PW_ENV)  # fmt: skip
    r = ProbeTarget("billing-db", "west", "db-west-1", "mysql", pair.replica.address,
                    pair.replica.port, user="drprobe", password_env=PW_ENV)  # fmt: skip
    return p, r


@pytest.fixture(scope="module")
def maria(base: Path) -> Iterator[srv.MariaPair]:
    need("mysql")
    pair = srv.start_maria_pair(fresh(base, "maria"), "127.0.60.22", "127.0.60.23")
    yield pair
    pair.stop()


def test_mariadb_probe_on_live_pair(maria: srv.MariaPair) -> None:
    maria.primary.root_sql("INSERT INTO drill.t VALUES (1, 'one')")
    maria.wait_caught_up()
    ptarget, rtarget = maria_targets(maria)
    primary, replica = probe(ptarget), probe(rtarget)

    assert primary.role is Role.PRIMARY
    assert primary.read_only is False
    gtid = maria.primary.root_sql("SELECT @@gtid_binlog_pos")
    assert primary.position == gtid
    assert [r.name for r in primary.replicas] == ["repl@127.0.0.1"]
    healthy(primary, "primary")

    assert replica.role is Role.REPLICA
    assert replica.link is Link.UP
    assert replica.lag_seconds == 0.0
    assert replica.lag_bytes is None  # MySQL has no byte lag: unknown, not 0
    assert replica.position == gtid
    assert replica.details["io_running"] == "Yes"
    assert replica.details["sql_running"] == "Yes"
    assert replica.upstream == f"{maria.primary.address}:{maria.primary.port}"
    healthy(replica, "replica")


def test_mariadb_stopped_replica_is_critical(maria: srv.MariaPair) -> None:
    _, rtarget = maria_targets(maria)
    maria.replica.root_sql("STOP SLAVE")
    try:
        sample = probe(rtarget)
        assert (sample.role, sample.link, sample.lag_seconds) == (Role.REPLICA, Link.DOWN, None)
        assert assess(sample, THRESHOLDS, "replica", time.time(), 120).health is Health.CRIT
    finally:
        maria.replica.root_sql("START SLAVE")
    maria.wait_caught_up()


def test_mariadb_canary_round_trip(maria: srv.MariaPair) -> None:
    ptarget, rtarget = maria_targets(maria)
    setup_canaries(ptarget)
    setup_canaries(ptarget)
    acked = write_canaries(ptarget, "itmy01", range(1, 11))
    assert read_canaries(ptarget, "itmy01").numbers == frozenset(range(1, 11))
    assert c.data_loss(acked, read_canaries(ptarget, "itmy01")).writes == 0
    maria.wait_caught_up()
    assert read_canaries(rtarget, "itmy01").numbers == frozenset(range(1, 11))
    status, out, err = sh(c.write_command("mysql", rtarget, "itmy01", 11))
    assert not c.parse_write("mysql", 11, status, out, err)


def test_mariadb_failover_after_cut_link_detects_lost_canaries(base: Path) -> None:
    need("mysql")
    pair = srv.start_maria_pair(fresh(base, "maria-failover"), "127.0.60.32", "127.0.60.33")
    try:
        ptarget, rtarget = maria_targets(pair)
        setup_canaries(ptarget)
        acked = write_canaries(ptarget, "itmyfo", range(1, 6))
        pair.wait_caught_up()
        pair.replica.root_sql("STOP SLAVE")
        acked |= write_canaries(ptarget, "itmyfo", range(6, 11))
        cut = probe(rtarget)
        assert (cut.role, cut.link) == (Role.REPLICA, Link.DOWN)

        pair.primary.kill()
        pair.replica.root_sql("RESET SLAVE ALL; SET GLOBAL read_only = 0")
        promoted = probe(rtarget)
        assert promoted.role is Role.PRIMARY
        assert promoted.read_only is False

        state = read_canaries(rtarget, "itmyfo")
        assert state.numbers == frozenset(range(1, 6))
        assert c.data_loss(acked, state).missing == (6, 7, 8, 9, 10)
        # the new primary takes canaries again
        assert write_canaries(rtarget, "itmyfo2", range(1, 2)) != {}
    finally:
        pair.stop()


# -------------------------------------------------------------------------------- Redis


def redis_targets(pair: srv.RedisPair) -> tuple[ProbeTarget, ProbeTarget]:
    p = ProbeTarget("sessions", "east", "db-east-1", "redis", pair.primary.address,
                    pair.primary.port)  # fmt: skip
    r = ProbeTarget("sessions", "west", "db-west-1", "redis", pair.replica.address,
                    pair.replica.port)  # fmt: skip
    return p, r


@pytest.fixture(scope="module")
def redis(base: Path) -> Iterator[srv.RedisPair]:
    need("redis")
    pair = srv.start_redis_pair(fresh(base, "redis"), "127.0.60.24", "127.0.60.25")
    yield pair
    pair.stop()


def test_redis_probe_on_live_pair(redis: srv.RedisPair) -> None:
    redis.primary.cli("SET", "k", "v")
    redis.wait_link_up()
    ptarget, rtarget = redis_targets(redis)
    primary, replica = probe(ptarget), probe(rtarget)

    assert primary.role is Role.PRIMARY
    assert [r.state for r in primary.replicas] == ["online"]
    assert replica.role is Role.REPLICA
    assert replica.link is Link.UP
    assert replica.upstream == f"{redis.primary.address}:{redis.primary.port}"
    assert replica.lag_bytes is None  # alone, a replica cannot know
    merged = reconcile([primary, replica])
    assert merged[1].lag_bytes is not None
    assert merged[1].details["lag_source"] == "as seen by db-east-1"
    healthy(merged[0], "primary")
    healthy(merged[1], "replica")


def test_redis_canary_round_trip(redis: srv.RedisPair) -> None:
    ptarget, rtarget = redis_targets(redis)
    setup_canaries(ptarget)
    acked = write_canaries(ptarget, "itrd01", range(1, 11))
    state = read_canaries(ptarget, "itrd01")
    assert state.numbers == frozenset(range(1, 11))
    assert c.data_loss(acked, state).writes == 0
    redis.wait_link_up()
    assert read_canaries(rtarget, "itrd01").numbers == frozenset(range(1, 11))
    status, out, err = sh(c.write_command("redis", rtarget, "itrd01", 11))
    assert not c.parse_write("redis", 11, status, out, err)


def test_redis_failover_after_cut_link_detects_lost_canaries(base: Path) -> None:
    need("redis")
    pair = srv.start_redis_pair(fresh(base, "redis-failover"), "127.0.60.34", "127.0.60.35")
    try:
        ptarget, rtarget = redis_targets(pair)
        setup_canaries(ptarget)
        acked = write_canaries(ptarget, "itrdfo", range(1, 6))
        pair.wait_link_up()
        pair.replica.cli("REPLICAOF", pair.primary.address, "1")  # a dead port: link cut
        srv.wait_until(
            "the link to go down",
            lambda: pair.replica.info().get("master_link_status") == "down",
        )
        acked |= write_canaries(ptarget, "itrdfo", range(6, 11))
        cut = probe(rtarget)
        assert (cut.role, cut.link, cut.lag_bytes) == (Role.REPLICA, Link.DOWN, None)

        pair.primary.kill()
        pair.replica.cli("REPLICAOF", "NO", "ONE")
        assert probe(rtarget).role is Role.PRIMARY
        state = read_canaries(rtarget, "itrdfo")
        assert state.numbers == frozenset(range(1, 6))
        assert c.data_loss(acked, state).missing == (6, 7, 8, 9, 10)
    finally:
        pair.stop()


# ---------------------------------------------------------------------- nothing there


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("postgres", "connection refused (127.0.60.40:1)"),
        ("mysql", "cannot connect to 127.0.60.40:1 (refused or no answer)"),
        ("redis", "connection refused (127.0.60.40:1)"),
    ],
)
def test_nothing_listening_is_down(kind: str, expected: str) -> None:
    need(kind)
    sample = probe(ProbeTarget("svc", "east", "h", kind, "127.0.60.40", 1, user="x"))
    assert sample.role is Role.DOWN
    assert sample.error == expected
    assert assess(sample, THRESHOLDS, "primary", time.time(), 120).health is Health.DOWN


def test_client_missing_on_host(pg: srv.PgPair, tmp_path: Path) -> None:
    """A host whose PATH has ``timeout`` but no psql: UNKNOWN, saying so."""
    only_timeout = tmp_path / "bin"
    only_timeout.mkdir()
    (only_timeout / "timeout").symlink_to("/usr/bin/timeout")
    ptarget, _ = pg_targets(pg)
    p = probe_for("postgres")
    proc = subprocess.run(
        ["/bin/bash", "-c", p.command(ptarget)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(only_timeout), PW_ENV: "probe-secret"},
        check=False,
    )
    sample = p.parse(ptarget, proc.returncode, proc.stdout, proc.stderr, time.time())
    assert (sample.role, sample.error) == (Role.UNKNOWN, "psql: not installed on db-east-1")
