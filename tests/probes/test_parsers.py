"""Every probe parser on recorded real outputs (MySQL 8: transcribed from its manual).

The files under ``data/`` were produced by ``record.py`` from real servers on this machine;
the expected values below are the ones visible in those files. Re-recording changes LSNs,
offsets and lags, so the numbers here must then be updated by hand: that is deliberate, a
test that computed its expectation from the file would prove nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from console.probes import Health, Link, Role, Thresholds, assess, reconcile, topology
from tests.probes.recordings import all_recordings, load

THRESHOLDS = Thresholds(lag_warn=5.0, lag_crit=30.0)


@dataclass(frozen=True)
class Case:
    name: str
    role: Role
    link: Link
    lag_seconds: float | None
    lag_bytes: int | None
    position: str | None
    read_only: bool | None
    upstream: str | None
    error: str | None
    health: Health


MARIA_LINK_DOWN = (
    "IO thread error 2003: error reconnecting to master 'repl@127.0.60.3:23306' - "
    "retry-time: 1  maximum-retries: 100000  message: Can't connect to server on "
    "'127.0.60.3' (111 \"Connection refused\")"
)
MARIA_DUPLICATE = (
    "SQL thread error 1062: Could not execute Write_rows_v1 event on table drill.t; "
    "Duplicate entry '100' for key 'PRIMARY', Error_code: 1062; handler error "
    "HA_ERR_FOUND_DUPP_KEY; the event's master log binlog.000001, end_log_pos 1982"
)
MYSQL8_GTID = "73f86016-978b-11ee-ade5-8d2a2a562feb:1-3"
MYSQL8_IO_ERROR = (
    "IO thread error 2003: error connecting to source 'root@127.0.0.1:13000' - retry-time: 1 "
    "retries: 3 message: Can't connect to MySQL server on '127.0.0.1:13000' (111)"
)

CASES = [
    # --- PostgreSQL 15, recorded
    Case("postgres/primary_healthy", Role.PRIMARY, Link.NONE, None, None, "0/302D0C0",
         False, None, None, Health.OK),
    Case("postgres/replica_healthy", Role.REPLICA, Link.UP, 0.0, 0, "0/302D8F8", True,
         "127.0.60.1:25432", None, Health.OK),
    Case("postgres/replica_lagging", Role.REPLICA, Link.UP, 2.8995368480682373, 3258936,
         "0/302D8F8", True, "127.0.60.1:25432", None, Health.OK),
    Case("postgres/primary_replica_lagging", Role.PRIMARY, Link.NONE, None, None,
         "0/3349330", False, None, None, Health.OK),
    Case("postgres/replica_stopped", Role.REPLICA, Link.DOWN, None, None, "0/3349330", True,
         None, None, Health.CRIT),
    Case("postgres/primary_no_replica", Role.PRIMARY, Link.NONE, None, None, "0/3349330",
         False, None, None, Health.OK),
    Case("postgres/replica_link_down", Role.REPLICA, Link.DOWN, None, None, "0/3354B60",
         True, None, None, Health.CRIT),
    Case("postgres/down_refused", Role.DOWN, Link.UNKNOWN, None, None, None, None, None,
         "connection refused (127.0.60.1:25432)", Health.DOWN),
    Case("postgres/hung_server", Role.DOWN, Link.UNKNOWN, None, None, None, None, None,
         "no answer from 127.0.60.1:25432 within 3 s", Health.DOWN),
    Case("postgres/auth_failed", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "auth failed for user prober", Health.UNKNOWN),
    Case("postgres/tool_missing", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "psql: not installed on db-east-1", Health.UNKNOWN),
    Case("postgres/promoted_primary", Role.PRIMARY, Link.NONE, None, None, "0/335EA30",
         False, None, None, Health.OK),
    # --- MariaDB 10.11, recorded
    Case("mysql/primary_healthy", Role.PRIMARY, Link.NONE, None, None, "0-1-8", False, None,
         None, Health.OK),
    Case("mysql/replica_healthy", Role.REPLICA, Link.UP, 0.0, None, "0-1-8", True,
         "127.0.60.3:23306", None, Health.OK),
    Case("mysql/replica_stopped", Role.REPLICA, Link.DOWN, None, None, "0-1-8", True,
         "127.0.60.3:23306", None, Health.CRIT),
    Case("mysql/replica_sql_error", Role.REPLICA, Link.UP, None, None, "0-1-8", True,
         "127.0.60.3:23306", MARIA_DUPLICATE, Health.CRIT),
    Case("mysql/replica_delayed", Role.REPLICA, Link.UP, 0.0, None, "0-1-9", True,
         "127.0.60.3:23306", None, Health.OK),
    Case("mysql/primary_read_only", Role.PRIMARY, Link.NONE, None, None, "0-1-10", True,
         None, None, Health.WARN),
    Case("mysql/replica_link_down", Role.REPLICA, Link.DOWN, None, None, "0-1-15", True,
         "127.0.60.3:23306", MARIA_LINK_DOWN, Health.CRIT),
    Case("mysql/down_refused", Role.DOWN, Link.UNKNOWN, None, None, None, None, None,
         "cannot connect to 127.0.60.3:23306 (refused or no answer)", Health.DOWN),
    Case("mysql/auth_failed", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "auth failed for user drprobe", Health.UNKNOWN),
    Case("mysql/tool_missing", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "mysql: not installed on db-east-1", Health.UNKNOWN),
    Case("mysql/promoted_primary", Role.PRIMARY, Link.NONE, None, None, "0-2-16", False,
         None, None, Health.OK),
    # --- MySQL 8, transcribed from the reference manual (not recorded)
    Case("mysql/mysql8_replica_healthy_transcribed", Role.REPLICA, Link.UP, 0.0, None,
         MYSQL8_GTID, True, "127.0.0.1:13000", None, Health.OK),
    Case("mysql/mysql8_replica_io_error_transcribed", Role.REPLICA, Link.DOWN, None, None,
         MYSQL8_GTID, True, "127.0.0.1:13000", MYSQL8_IO_ERROR, Health.CRIT),
    Case("mysql/mysql8_replica_sql_error_transcribed", Role.REPLICA, Link.UP, None, None,
         MYSQL8_GTID, True, "127.0.0.1:13000",
         "SQL thread error 1062: Coordinator stopped because there were error(s) in the "
         "worker(s).", Health.CRIT),
    Case("mysql/mysql8_replica_delayed_transcribed", Role.REPLICA, Link.UP, 15.0, None,
         MYSQL8_GTID, True, "127.0.0.1:13000", None, Health.WARN),
    Case("mysql/mysql8_primary_transcribed", Role.PRIMARY, Link.NONE, None, None,
         MYSQL8_GTID + ",3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", False, None, None,
         Health.OK),
    # --- Redis 7.0, recorded
    Case("redis/primary_healthy", Role.PRIMARY, Link.NONE, None, None, "61", None, None,
         None, Health.OK),
    # a replica alone cannot know its lag: WARN until reconciled with its primary (below)
    Case("redis/replica_healthy", Role.REPLICA, Link.UP, None, None, "61", True,
         "127.0.60.5:26379", None, Health.WARN),
    Case("redis/primary_replica_lagging", Role.PRIMARY, Link.NONE, None, None, "172876",
         None, None, None, Health.OK),
    Case("redis/replica_stopped", Role.REPLICA, Link.DOWN, None, None, "172876", True,
         "127.0.60.5:1", None, Health.CRIT),
    Case("redis/replica_link_down", Role.REPLICA, Link.DOWN, None, None, "173167", True,
         "127.0.60.5:26379", None, Health.CRIT),
    Case("redis/down_refused", Role.DOWN, Link.UNKNOWN, None, None, None, None, None,
         "connection refused (127.0.60.5:26379)", Health.DOWN),
    Case("redis/hung_server", Role.DOWN, Link.UNKNOWN, None, None, None, None, None,
         "no answer from 127.0.60.5:26379 within 3 s", Health.DOWN),
    Case("redis/auth_failed", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "auth failed for user default", Health.UNKNOWN),
    Case("redis/auth_missing", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "auth failed for user default: no password given", Health.UNKNOWN),
    Case("redis/auth_ok", Role.PRIMARY, Link.NONE, None, None, "0", None, None, None,
         Health.OK),
    Case("redis/tool_missing", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "redis-cli: not installed on db-east-1", Health.UNKNOWN),
    Case("redis/promoted_primary", Role.PRIMARY, Link.NONE, None, None, "173231", None,
         None, None, Health.OK),
    # --- custom commands, recorded
    Case("custom/replica_healthy", Role.REPLICA, Link.UP, 1.5, 2048, "seq-991", True,
         "mq-east-1:5672", None, Health.OK),
    Case("custom/primary_minimal", Role.PRIMARY, Link.NONE, None, None, None, None, None,
         None, Health.OK),
    Case("custom/bad_json", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "could not read the custom probe command output: no JSON object in the output",
         Health.UNKNOWN),
    Case("custom/bad_field", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "could not read the custom probe command output: lag_seconds must be a number, "
         "got '0'", Health.UNKNOWN),
    Case("custom/tool_missing", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "mq-replication-status: not installed on mq-east-1", Health.UNKNOWN),
    Case("custom/failed", Role.UNKNOWN, Link.UNKNOWN, None, None, None, None, None,
         "custom probe command exited 3: cannot reach broker", Health.UNKNOWN),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_recorded_output(case: Case) -> None:
    rec = load(case.name)
    sample = rec.parse()
    assert sample.role is case.role
    assert sample.link is case.link
    if case.lag_seconds is None:
        assert sample.lag_seconds is None
    else:
        assert sample.lag_seconds == pytest.approx(case.lag_seconds, abs=1e-9)
    assert sample.lag_bytes == case.lag_bytes
    assert sample.position == case.position
    assert sample.read_only is case.read_only
    assert sample.upstream == case.upstream
    assert sample.error == case.error
    assert sample.sampled_at == rec.sampled_at
    assert sample.details["endpoint"] == rec.target.endpoint
    assert (sample.service, sample.site, sample.host, sample.kind) == (
        rec.target.service,
        rec.target.site,
        rec.target.host,
        rec.target.kind,
    )
    verdict = assess(sample, THRESHOLDS, None, now=rec.sampled_at, stale_after=60)
    assert verdict.health is case.health


def test_every_data_file_has_a_case() -> None:
    probe_files = [n for n in all_recordings() if not n.startswith("canary/")]
    assert sorted(probe_files) == sorted(c.name for c in CASES)


def test_recordings_are_real_except_the_mysql8_transcriptions() -> None:
    for name in all_recordings():
        raw = load(name).raw
        if "mysql8" in name:
            assert raw["recorded"] is False
            assert "transcribed" in name
            assert "Reference Manual" in raw["transcribed_from"]
        else:
            assert raw["recorded"] is True
            # the secret never appears in a recorded command, only the variable's name
            assert "probe-secret" not in raw["command"]


# ------------------------------------------------------------------ PostgreSQL details


def test_postgres_primary_lists_standby_and_slot() -> None:
    sample = load("postgres/primary_healthy").parse()
    assert sample.details["timeline"] == "1"
    assert sample.details["slots"] == "standby1 (active, reserved)"
    (replica,) = sample.replicas
    assert replica.name == "standby1"
    assert replica.address == "127.0.0.1"
    assert replica.state == "streaming"
    assert replica.lag_bytes == 0
    assert replica.lag_seconds == 0.0
    assert replica.position == "0/302D0C0"


def test_postgres_primary_view_of_lagging_standby_claims_no_seconds() -> None:
    # replay_lag froze at a few milliseconds while 3 MB were waiting: no seconds claimed
    (replica,) = load("postgres/primary_replica_lagging").parse().replicas
    assert replica.lag_bytes == 3258936
    assert replica.lag_seconds is None
    assert replica.position == "0/302D8F8"


def test_postgres_idle_standby_is_caught_up_not_lagging() -> None:
    sample = load("postgres/replica_healthy").parse()
    assert sample.details["idle"] == "no WAL activity: caught up"
    assert sample.details["wal_receiver_status"] == "streaming"
    assert sample.details["slot_name"] == "standby1"
    assert sample.details["timeline"] == "1"


def test_postgres_lagging_standby_details() -> None:
    sample = load("postgres/replica_lagging").parse()
    assert sample.details["replay_paused"] == "paused"
    assert sample.details["replay_backlog_bytes"] == "3258936"
    assert "idle" not in sample.details
    verdict = assess(
        sample, Thresholds(5.0, 30.0, lag_bytes_warn=1_000_000), None, sample.sampled_at, 60
    )
    assert verdict.health is Health.WARN
    assert verdict.reasons == ("lag 3258936 bytes is above the warning limit 1000000 bytes",)


def test_postgres_stopped_and_link_down_standby() -> None:
    for name in ("postgres/replica_stopped", "postgres/replica_link_down"):
        sample = load(name).parse()
        assert sample.details["wal_receiver_status"] == "none"
        verdict = assess(sample, THRESHOLDS, "replica", sample.sampled_at, 60)
        assert verdict.reasons == ("replication link is down",)


def test_postgres_primary_no_replica_has_inactive_slot() -> None:
    sample = load("postgres/primary_no_replica").parse()
    assert sample.replicas == ()
    assert sample.details["slots"] == "standby1 (inactive, reserved)"


def test_postgres_promoted_standby_is_on_timeline_2() -> None:
    sample = load("postgres/promoted_primary").parse()
    assert sample.details["timeline"] == "2"
    verdict = assess(sample, THRESHOLDS, "replica", sample.sampled_at, 60)
    assert verdict.health is Health.OK
    assert verdict.diverged
    assert verdict.divergence == "expected replica, observed primary"


# ----------------------------------------------------------------------- MySQL details


def test_mariadb_primary_lists_binlog_dump_thread() -> None:
    sample = load("mysql/primary_healthy").parse()
    (replica,) = sample.replicas
    assert replica.name == "repl@127.0.0.1"
    assert replica.address == "127.0.0.1"
    assert replica.lag_seconds is None
    assert replica.lag_bytes is None
    assert sample.details["gtid_binlog_pos"] == "0-1-8"


def test_mariadb_replica_details() -> None:
    sample = load("mysql/replica_healthy").parse()
    assert sample.details["io_running"] == "Yes"
    assert sample.details["sql_running"] == "Yes"
    assert sample.details["gtid_io_pos"] == "0-1-8"
    assert sample.details["gtid_slave_pos"] == "0-1-8"
    assert sample.details["using_gtid"] == "Slave_Pos"


def test_mariadb_stopped_replica_threads() -> None:
    sample = load("mysql/replica_stopped").parse()
    assert sample.details["io_running"] == "No"
    assert sample.details["sql_running"] == "No"


def test_mariadb_sql_error_keeps_io_link_up_but_is_critical() -> None:
    sample = load("mysql/replica_sql_error").parse()
    assert sample.details["io_running"] == "Yes"
    assert sample.details["sql_running"] == "No"
    verdict = assess(sample, THRESHOLDS, "replica", sample.sampled_at, 60)
    assert verdict.health is Health.CRIT
    assert verdict.reasons == (MARIA_DUPLICATE, "lag is unknown")


def test_mariadb_delay_is_subtracted() -> None:
    sample = load("mysql/replica_delayed").parse()
    assert sample.details["sql_delay"] == "3600"
    assert sample.details["seconds_behind_raw"] == "2"
    assert sample.details["gtid_io_pos"] == "0-1-10"  # received, held back by the delay
    assert sample.lag_seconds == 0.0


def test_mysql8_delay_is_subtracted() -> None:
    sample = load("mysql/mysql8_replica_delayed_transcribed").parse()
    assert sample.details["seconds_behind_raw"] == "75"
    assert sample.details["sql_delay"] == "60"
    assert sample.lag_seconds == 15.0


def test_mysql8_wording_details() -> None:
    sample = load("mysql/mysql8_replica_healthy_transcribed").parse()
    assert sample.details["retrieved_gtid_set"] == MYSQL8_GTID
    assert sample.details["executed_gtid_set"] == MYSQL8_GTID
    assert sample.details["auto_position"] == "1"
    assert sample.details["super_read_only"] == "ON"
    primary = load("mysql/mysql8_primary_transcribed").parse()
    (replica,) = primary.replicas
    assert replica.name == "repl@127.0.0.1"


# ----------------------------------------------------------------------- Redis details


def test_redis_primary_reports_replica_offset_and_lag() -> None:
    (replica,) = load("redis/primary_healthy").parse().replicas
    assert replica.name == "127.0.0.1:26380"
    assert replica.state == "online"
    assert replica.lag_bytes == 0
    assert replica.lag_seconds == 0.0
    (frozen,) = load("redis/primary_replica_lagging").parse().replicas
    assert frozen.lag_bytes == 172815
    assert frozen.lag_seconds == 3.0
    assert frozen.position == "61"


def test_redis_replica_lag_filled_from_its_primary() -> None:
    primary = load("redis/primary_healthy").parse()
    replica = load("redis/replica_healthy").parse()
    _, reconciled = reconcile([primary, replica])
    assert reconciled.lag_bytes == 0
    assert reconciled.lag_seconds == 0.0
    assert reconciled.details["lag_source"] == "as seen by db-east-1"
    verdict = assess(reconciled, THRESHOLDS, "replica", reconciled.sampled_at, 60)
    assert verdict.health is Health.OK
    (topo,) = topology([replica, primary])
    assert topo.primary_host == "db-east-1"
    assert topo.summary == (
        "sessions: primary db-east-1 (east); replicas db-west-1 (west) link up, lag 0 s / 0 B"
    )


def test_redis_replica_details() -> None:
    sample = load("redis/replica_stopped").parse()
    assert sample.details["link_status"] == "down"
    assert sample.details["last_io_seconds_ago"] == "-1"
    healthy = load("redis/replica_healthy").parse()
    assert healthy.details["last_io_seconds_ago"] == "1"
    assert healthy.details["sync_in_progress"] == "0"


# ---------------------------------------------------------------- a whole failed sweep


def test_topology_after_unplanned_failover() -> None:
    samples = [
        load("postgres/down_refused").parse(),
        load("postgres/promoted_primary").parse(),
    ]
    (topo,) = topology(samples)
    assert topo.primary_site == "west"
    assert not topo.split_brain
    assert topo.summary == ("orders-db: primary db-west-1 (west); not seen db-east-1 (east) down")
