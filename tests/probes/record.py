"""Regenerate the recorded probe outputs in ``tests/probes/data/`` from real servers.

The parser tests must read what real servers print, including when things break, so this
script starts a PostgreSQL, a MariaDB and a Redis primary + replica under ``/tmp/probe-rec/``
on 127.0.60.1-7, breaks them in the ways operators meet (replica stopped, lagging, link
down, replication error, server down, wrong password, client missing, server hung), and in
each state runs the probe's real command through ``/bin/bash -c``, exactly as it will run on
a member's host, saving the command, exit status, stdout and stderr as JSON.

Run from the repository root, as root (PostgreSQL runs as ``postgres``, MariaDB as
``mysql``)::

    .venv/bin/python -m tests.probes.record            # all kinds
    .venv/bin/python -m tests.probes.record redis      # one kind
    .venv/bin/python -m tests.probes.record --out /tmp/probe-rec/out   # elsewhere

Recorded numbers (LSNs, offsets, lags) change on every run; the tests assert the values in
the files, so after re-recording, update the expected values in ``test_parsers.py``.
MySQL 8 cannot run here: its inputs are transcribed by hand (``mysql/*_transcribed.json``)
and this script leaves them alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from console.probes import ProbeTarget, probe_for
from console.probes import canary as canary_mod
from console.probes.base import Probe
from tests.probes import servers as srv

DATA = Path(__file__).parent / "data"
"""Where recordings go; ``--out DIR`` changes it (to re-record without overwriting)."""
BASE = Path("/tmp/probe-rec")
PASSWORD_ENV = "DRPROBE_PW"
PASSWORD = "probe-secret"
NO_CLIENTS_PATH = BASE / "bin-without-clients"
OUT = [DATA]

PG = ("127.0.60.1", 25432, "127.0.60.2", 25433)
MARIA = ("127.0.60.3", 23306, "127.0.60.4", 23307)
REDIS = ("127.0.60.5", 26379, "127.0.60.6", 26380)
REDIS_AUTH = ("127.0.60.7", 26381)
DEAD_PORT = 1  # nothing listens on port 1 of our addresses


def _no_clients_path() -> str:
    """A PATH holding ``timeout`` and ``sh`` but no database client, for "tool missing"."""
    NO_CLIENTS_PATH.mkdir(parents=True, exist_ok=True)
    for tool in ("timeout", "sh"):
        link = NO_CLIENTS_PATH / tool
        if not link.exists():
            link.symlink_to(f"/usr/bin/{tool}" if tool == "timeout" else "/bin/sh")
    return str(NO_CLIENTS_PATH)


def run_shell(command: str, path: str | None = None) -> tuple[int, str, str, float]:
    """Run a command the way the SSH pool will: one ``bash -c`` string.

    Returns:
        Exit status, stdout, stderr, and the time it finished.
    """
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    if path is not None:
        env["PATH"] = path
    proc = subprocess.run(
        ["/bin/bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, proc.stdout, proc.stderr, time.time()


def save(
    kind: str,
    scenario: str,
    description: str,
    target: ProbeTarget,
    command: str,
    result: tuple[int, str, str, float],
    probe: Probe | None = None,
    extra: dict[str, object] | None = None,
) -> None:
    """Write one recording as ``data/KIND/SCENARIO.json``."""
    status, stdout, stderr, finished = result
    record: dict[str, object] = {
        "kind": kind,
        "scenario": scenario,
        "description": description,
        "recorded": True,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
        "target": dataclasses.asdict(target),
        "command": command,
        "exit_status": status,
        "stdout": stdout,
        "stderr": stderr,
        "sampled_at": finished,
    }
    if probe is not None:
        record["probe"] = {"timeout": probe.timeout, "connect_timeout": probe.connect_timeout}
    if extra:
        record.update(extra)
    out = OUT[0] / kind / f"{scenario}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    print(f"  {kind}/{scenario}: exit {status}")


def probe_and_save(
    scenario: str,
    description: str,
    target: ProbeTarget,
    *,
    path: str | None = None,
    probe: Probe | None = None,
) -> None:
    """Build the probe command for ``target``, run it, save the recording."""
    probe = probe or probe_for(target.kind)
    command = probe.command(target)
    save(target.kind, scenario, description, target, command, run_shell(command, path), probe)


def canary_and_save(
    scenario: str, description: str, target: ProbeTarget, build: Callable[[], str]
) -> None:
    """Run one canary command and save it under ``data/canary/KIND_SCENARIO.json``."""
    command = build()
    save(
        "canary",
        f"{target.kind}_{scenario}",
        description,
        target,
        command,
        run_shell(command),
        extra={"canary_kind": target.kind},
    )


def pg_target(host: str, site: str, address: str, port: int, **kw: object) -> ProbeTarget:
    """A postgres target for the recording servers."""
    args: dict[str, object] = {"user": "prober", "password_env": PASSWORD_ENV}
    args.update(kw)
    return ProbeTarget("orders-db", site, host, "postgres", address, port, **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- PostgreSQL


def record_postgres(base: Path) -> None:
    """Record the PostgreSQL scenarios."""
    print("postgres")
    pair = srv.start_pg_pair(base, PG[0], PG[2], (PG[1], PG[3]))
    primary, standby = pair.primary, pair.standby
    ptarget = pg_target("db-east-1", "east", PG[0], PG[1])
    starget = pg_target("db-west-1", "west", PG[2], PG[3])
    try:
        primary.sql("CREATE TABLE drill (id bigint PRIMARY KEY, payload text)")
        primary.sql("INSERT INTO drill SELECT g, md5(g::text) FROM generate_series(1, 100) g")
        _pg_wait_replayed(primary.sql("SELECT pg_current_wal_lsn()"), standby)
        time.sleep(1.5)  # let replay_lag turn NULL and the standby go idle
        probe_and_save("primary_healthy", "primary with one streaming standby", ptarget)
        probe_and_save("replica_healthy", "streaming standby, caught up and idle", starget)

        # Lagging: pause replay, write a burst, wait until it is received but not replayed.
        standby.sql("SELECT pg_wal_replay_pause()")
        srv.wait_until(
            "replay to pause",
            lambda: standby.sql("SELECT pg_get_wal_replay_pause_state()") == "paused",
        )
        primary.sql("INSERT INTO drill SELECT g, md5(g::text) FROM generate_series(101, 20100) g")
        lsn = primary.sql("SELECT pg_current_wal_lsn()")
        srv.wait_until(
            "the burst to be received",
            lambda: standby.sql(f"SELECT pg_last_wal_receive_lsn() >= '{lsn}'") == "t",
        )
        time.sleep(1.0)
        probe_and_save(
            "replica_lagging",
            "standby with replay paused after a 20000-row burst (received, not replayed)",
            starget,
        )
        probe_and_save(
            "primary_replica_lagging", "the primary's view of the paused standby", ptarget
        )
        standby.sql("SELECT pg_wal_replay_resume()")
        _pg_wait_replayed(primary.sql("SELECT pg_current_wal_lsn()"), standby)

        # Stopped: empty primary_conninfo, reload (ALTER SYSTEM must be its own call).
        conninfo = standby.sql("SHOW primary_conninfo")
        standby.sql("ALTER SYSTEM SET primary_conninfo = ''")
        standby.sql("SELECT pg_reload_conf()")
        srv.wait_until(
            "the WAL receiver to stop",
            lambda: standby.sql("SELECT count(*) FROM pg_stat_wal_receiver") == "0",
        )
        probe_and_save(
            "replica_stopped", "standby with primary_conninfo = '' (replication cut)", starget
        )
        probe_and_save(
            "primary_no_replica",
            "primary whose only standby stopped replicating (slot inactive)",
            ptarget,
        )
        escaped = conninfo.replace("'", "''")
        standby.sql(f"ALTER SYSTEM SET primary_conninfo = '{escaped}'")
        standby.sql("SELECT pg_reload_conf()")
        srv.wait_until(
            "the standby to stream again",
            lambda: standby.sql("SELECT status FROM pg_stat_wal_receiver") == "streaming",
        )

        os.environ[PASSWORD_ENV + "_WRONG"] = "not-the-password"
        probe_and_save(
            "auth_failed",
            "probe user with a wrong password",
            pg_target("db-east-1", "east", PG[0], PG[1], password_env=PASSWORD_ENV + "_WRONG"),
        )
        probe_and_save(
            "tool_missing",
            "psql not on the PATH of the member's host",
            ptarget,
            path=_no_clients_path(),
        )

        record_pg_canary(ptarget, starget)

        # Hung: the postmaster is stopped with SIGSTOP, connections hang.
        pid = primary.pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            probe_and_save(
                "hung_server",
                "primary postmaster frozen with SIGSTOP (a dark site); probe timeout 3 s",
                ptarget,
                probe=probe_for("postgres", timeout=3, connect_timeout=10),
            )
        finally:
            os.kill(pid, signal.SIGCONT)

        # Link down: the primary crashes.
        primary.stop("immediate")
        srv.wait_until(
            "the WAL receiver to lose its primary",
            lambda: (
                standby.sql("SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')")
                != "streaming"
            ),
            90,
        )
        probe_and_save("replica_link_down", "standby whose primary crashed", starget)
        probe_and_save("down_refused", "primary stopped: connection refused", ptarget)

        standby.sql("SELECT pg_promote(true, 60)")
        standby.sql("CHECKPOINT")
        standby.sql("INSERT INTO drill VALUES (900001, 'first write on the new primary')")
        probe_and_save(
            "promoted_primary", "the former standby after pg_promote (timeline 2)", starget
        )
    finally:
        pair.stop()


def _pg_wait_replayed(lsn: str, standby: srv.PgServer) -> None:
    srv.wait_until(
        f"the standby to replay {lsn}",
        lambda: standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") == "t",
    )


def record_pg_canary(ptarget: ProbeTarget, starget: ProbeTarget) -> None:
    """Record the postgres canary commands (as the postgres superuser)."""
    writer = canary_mod.writer_for("postgres")
    p = dataclasses.replace(ptarget, user="postgres", password_env=None)
    s = dataclasses.replace(starget, user="postgres", password_env=None)
    run_id = "01JREC0000000000000000PG01"
    canary_and_save(
        "read_absent", "read before setup: no table", p, lambda: writer.read_command(p, run_id)
    )
    canary_and_save("setup", "create schema and table", p, lambda: writer.setup_command(p))
    for n in (1, 2, 3):
        canary_and_save(
            f"write_{n}",
            f"write canary {n} on the primary",
            p,
            lambda n=n: writer.write_command(p, run_id, n),  # type: ignore[misc]
        )
    canary_and_save(
        "write_refused",
        "write on the standby: read-only",
        s,
        lambda: writer.write_command(s, run_id, 4),
    )
    canary_and_save("read", "read the run's canaries", p, lambda: writer.read_command(p, run_id))


# ------------------------------------------------------------------------------- MariaDB


def maria_target(host: str, site: str, address: str, port: int, **kw: object) -> ProbeTarget:
    """A mysql target for the recording servers."""
    args: dict[str, object] = {"user": "drprobe", "password_env": PASSWORD_ENV}
    args.update(kw)
    return ProbeTarget("billing-db", site, host, "mysql", address, port, **args)  # type: ignore[arg-type]


def record_mysql(base: Path) -> None:
    """Record the MariaDB scenarios."""
    print("mysql (MariaDB)")
    pair = srv.start_maria_pair(base, MARIA[0], MARIA[2], (MARIA[1], MARIA[3]))
    primary, replica = pair.primary, pair.replica
    ptarget = maria_target("db-east-1", "east", MARIA[0], MARIA[1])
    rtarget = maria_target("db-west-1", "west", MARIA[2], MARIA[3])
    try:
        primary.root_sql("INSERT INTO drill.t VALUES (1, 'one'), (2, 'two')")
        pair.wait_caught_up()
        time.sleep(0.5)
        probe_and_save("primary_healthy", "primary with one GTID replica", ptarget)
        probe_and_save("replica_healthy", "GTID replica, both threads running", rtarget)

        replica.root_sql("STOP SLAVE")
        probe_and_save("replica_stopped", "replica after STOP SLAVE", rtarget)
        replica.root_sql("START SLAVE")
        pair.wait_caught_up()

        # A replication error: the row exists on the replica (written without binlog).
        replica.root_sql("SET sql_log_bin = 0; INSERT INTO drill.t VALUES (100, 'replica only')")
        primary.root_sql("INSERT INTO drill.t VALUES (100, 'primary')")
        srv.wait_until(
            "the SQL thread to fail",
            lambda: "Slave_SQL_Running: No" in replica.root_sql("SHOW SLAVE STATUS\\G", names=True),
        )
        time.sleep(0.3)
        probe_and_save(
            "replica_sql_error", "replica whose SQL thread stopped on a duplicate key", rtarget
        )
        replica.root_sql(
            "SET sql_log_bin = 0; DELETE FROM drill.t WHERE id = 100; START SLAVE SQL_THREAD"
        )
        pair.wait_caught_up()

        # A deliberately delayed replica (MASTER_DELAY): lag is corrected by SQL_Delay.
        pair.connect_replica(delay=3600)
        primary.root_sql("INSERT INTO drill.t VALUES (3, 'three')")
        time.sleep(2.5)
        probe_and_save(
            "replica_delayed",
            "replica with MASTER_DELAY=3600 holding back a write made 2.5 s earlier",
            rtarget,
        )
        pair.connect_replica(delay=0)
        pair.wait_caught_up()

        primary.root_sql("SET GLOBAL read_only = 1")
        probe_and_save("primary_read_only", "primary fenced with read_only = 1", ptarget)
        primary.root_sql("SET GLOBAL read_only = 0")

        os.environ[PASSWORD_ENV + "_WRONG"] = "not-the-password"
        probe_and_save(
            "auth_failed",
            "probe user with a wrong password",
            maria_target(
                "db-east-1", "east", MARIA[0], MARIA[1], password_env=PASSWORD_ENV + "_WRONG"
            ),
        )
        probe_and_save(
            "tool_missing",
            "neither mariadb nor mysql on the PATH of the member's host",
            ptarget,
            path=_no_clients_path(),
        )

        record_mysql_canary(ptarget, rtarget)

        primary.kill(signal.SIGKILL)
        srv.wait_until(
            "the IO thread to lose its primary",
            lambda: (
                "Slave_IO_Running: Yes" not in replica.root_sql("SHOW SLAVE STATUS\\G", names=True)
            ),
        )
        time.sleep(0.3)
        probe_and_save("replica_link_down", "replica whose primary was killed (-9)", rtarget)
        probe_and_save("down_refused", "primary killed: connection refused", ptarget)

        replica.root_sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0")
        replica.root_sql("INSERT INTO drill.t VALUES (900001, 'first write on new primary')")
        probe_and_save(
            "promoted_primary", "the former replica after RESET SLAVE ALL, writable", rtarget
        )
    finally:
        pair.stop()


def record_mysql_canary(ptarget: ProbeTarget, rtarget: ProbeTarget) -> None:
    """Record the mysql canary commands (as the drprobe user, which owns drconsole.*)."""
    writer = canary_mod.writer_for("mysql")
    run_id = "01JREC0000000000000000MY01"
    canary_and_save(
        "read_absent",
        "read before setup: no table",
        ptarget,
        lambda: writer.read_command(ptarget, run_id),
    )
    canary_and_save(
        "setup", "create database and table", ptarget, lambda: writer.setup_command(ptarget)
    )
    for n in (1, 2, 3):
        canary_and_save(
            f"write_{n}",
            f"write canary {n} on the primary",
            ptarget,
            lambda n=n: writer.write_command(ptarget, run_id, n),  # type: ignore[misc]
        )
    canary_and_save(
        "write_refused",
        "write on the read-only replica",
        rtarget,
        lambda: writer.write_command(rtarget, run_id, 4),
    )
    canary_and_save(
        "read", "read the run's canaries", ptarget, lambda: writer.read_command(ptarget, run_id)
    )


# --------------------------------------------------------------------------------- Redis


def redis_target(host: str, site: str, address: str, port: int, **kw: object) -> ProbeTarget:
    """A redis target for the recording servers."""
    return ProbeTarget("sessions", site, host, "redis", address, port, **kw)  # type: ignore[arg-type]


def record_redis(base: Path) -> None:
    """Record the Redis scenarios."""
    print("redis")
    pair = srv.start_redis_pair(base, REDIS[0], REDIS[2], (REDIS[1], REDIS[3]))
    primary, replica = pair.primary, pair.replica
    secured = srv.RedisServer(
        "secured", base / "redis" / "secured", REDIS_AUTH[0], REDIS_AUTH[1], password=PASSWORD
    )
    ptarget = redis_target("db-east-1", "east", REDIS[0], REDIS[1])
    rtarget = redis_target("db-west-1", "west", REDIS[2], REDIS[3])
    try:
        primary.cli("SET", "greeting", "hello")
        pair.wait_link_up()
        time.sleep(1.2)
        probe_and_save("primary_healthy", "primary with one replica online", ptarget)
        probe_and_save("replica_healthy", "replica with its link up", rtarget)

        assert replica.proc is not None
        os.kill(replica.proc.pid, signal.SIGSTOP)
        try:
            primary.cli(
                "EVAL",
                "for i = 1, 5000 do redis.call('SET', 'k' .. i, 'v' .. i) end return 1",
                "0",
            )
            time.sleep(3)
            probe_and_save(
                "primary_replica_lagging",
                "primary after 5000 writes while its replica is frozen (SIGSTOP) for 3 s",
                ptarget,
            )
        finally:
            os.kill(replica.proc.pid, signal.SIGCONT)
        pair.wait_link_up()

        replica.cli("REPLICAOF", REDIS[0], str(DEAD_PORT))
        srv.wait_until(
            "the link to go down", lambda: replica.info().get("master_link_status") == "down"
        )
        time.sleep(1.2)
        probe_and_save(
            "replica_stopped", "replica pointed at a dead port (REPLICAOF ... 1)", rtarget
        )
        replica.cli("REPLICAOF", REDIS[0], str(REDIS[1]))
        pair.wait_link_up()

        secured.start()
        os.environ[PASSWORD_ENV + "_WRONG"] = "not-the-password"
        probe_and_save(
            "auth_failed",
            "server with requirepass, probe with a wrong password",
            redis_target(
                "db-east-2",
                "east",
                REDIS_AUTH[0],
                REDIS_AUTH[1],
                password_env=PASSWORD_ENV + "_WRONG",
            ),
        )
        probe_and_save(
            "auth_missing",
            "server with requirepass, probe without a password",
            redis_target("db-east-2", "east", REDIS_AUTH[0], REDIS_AUTH[1]),
        )
        probe_and_save(
            "auth_ok",
            "server with requirepass, probe with the right password (a lone primary)",
            redis_target(
                "db-east-2", "east", REDIS_AUTH[0], REDIS_AUTH[1], password_env=PASSWORD_ENV
            ),
        )
        probe_and_save(
            "tool_missing",
            "redis-cli not on the PATH of the member's host",
            ptarget,
            path=_no_clients_path(),
        )

        record_redis_canary(ptarget, rtarget)

        assert primary.proc is not None
        os.kill(primary.proc.pid, signal.SIGSTOP)
        try:
            probe_and_save(
                "hung_server",
                "primary frozen with SIGSTOP (a dark site); probe timeout 3 s",
                ptarget,
                probe=probe_for("redis", timeout=3),
            )
        finally:
            os.kill(primary.proc.pid, signal.SIGCONT)

        primary.kill(signal.SIGKILL)
        srv.wait_until(
            "the link to go down", lambda: replica.info().get("master_link_status") == "down"
        )
        time.sleep(1.2)
        probe_and_save("replica_link_down", "replica whose primary was killed (-9)", rtarget)
        probe_and_save("down_refused", "primary killed: connection refused", ptarget)

        replica.cli("REPLICAOF", "NO", "ONE")
        replica.cli("SET", "after-failover", "1")
        probe_and_save("promoted_primary", "the former replica after REPLICAOF NO ONE", rtarget)
    finally:
        secured.kill()
        pair.stop()


def record_redis_canary(ptarget: ProbeTarget, rtarget: ProbeTarget) -> None:
    """Record the redis canary commands."""
    writer = canary_mod.writer_for("redis")
    run_id = "01JREC0000000000000000RD01"
    canary_and_save(
        "read_absent",
        "read before any write: no key",
        ptarget,
        lambda: writer.read_command(ptarget, run_id),
    )
    canary_and_save("setup", "PING", ptarget, lambda: writer.setup_command(ptarget))
    for n in (1, 2, 3):
        canary_and_save(
            f"write_{n}",
            f"write canary {n} on the primary",
            ptarget,
            lambda n=n: writer.write_command(ptarget, run_id, n),  # type: ignore[misc]
        )
    canary_and_save(
        "write_duplicate",
        "write canary 3 again: refused",
        ptarget,
        lambda: writer.write_command(ptarget, run_id, 3),
    )
    canary_and_save(
        "write_refused",
        "write on the replica: READONLY",
        rtarget,
        lambda: writer.write_command(rtarget, run_id, 4),
    )
    canary_and_save(
        "read", "read the run's canaries", ptarget, lambda: writer.read_command(ptarget, run_id)
    )


# -------------------------------------------------------------------------------- custom


def record_custom() -> None:
    """Record custom probe commands (real commands, printing what an operator's would)."""
    print("custom")

    def target(host: str, command: str) -> ProbeTarget:
        return ProbeTarget("queue", "east", host, "custom", "127.0.60.8", 5672, command=command)

    probe_and_save(
        "replica_healthy",
        "a command printing a replica's JSON",
        target(
            "mq-west-1",
            'printf \'%s\\n\' \'{"role": "replica", "upstream": "mq-east-1:5672", '
            '"link": "up", "lag_seconds": 1.5, "lag_bytes": 2048, "position": "seq-991", '
            '"read_only": true, "cluster": "blue"}\'',
        ),
    )
    probe_and_save(
        "primary_minimal",
        "a command printing only the role, after a log line",
        target("mq-east-1", 'echo "checking..."; echo \'{"role": "primary"}\''),
    )
    probe_and_save(
        "bad_json",
        "a command printing something that is not JSON",
        target("mq-east-1", "echo 'role=primary'"),
    )
    probe_and_save(
        "bad_field",
        "a command printing a lag of the wrong type",
        target("mq-east-1", 'echo \'{"role": "replica", "link": "up", "lag_seconds": "0"}\''),
    )
    probe_and_save(
        "tool_missing",
        "the command's program is not installed",
        target("mq-east-1", "mq-replication-status --json"),
    )
    probe_and_save(
        "failed",
        "the command fails",
        target("mq-east-1", "echo 'cannot reach broker' >&2; exit 3"),
    )


def main(argv: list[str]) -> int:
    """Record the kinds named in ``argv`` (all when empty); ``--out DIR`` first, optionally."""
    if argv[:1] == ["--out"]:
        OUT[0] = Path(argv[1])
        argv = argv[2:]
    kinds = argv or ["postgres", "mysql", "redis", "custom"]
    for kind in kinds:
        if kind != "custom":
            missing = srv.missing_binaries(kind)
            if missing:
                print(f"cannot record {kind}: missing {', '.join(missing)}", file=sys.stderr)
                return 2
    started = time.monotonic()
    recorders = {"postgres": record_postgres, "mysql": record_mysql, "redis": record_redis}
    for kind in kinds:
        if kind == "custom":
            record_custom()
        else:
            recorders[kind](srv.make_base(BASE / kind))
    print(f"recorded in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
