"""Record real probe outputs of the replication shapes the topology checks judge
(``console.status.topology``), into ``tests/status/data/``.

- MariaDB multi-primary (active-active): two servers replicating both ways, GTID domain 1 on
  ``db-east`` (server 1) and 2 on ``db-west`` (server 2): healthy; one way only (east's
  replica thread stopped); an errant write (west writes a transaction in east's domain); a
  conflict (the same key written on both while replication was stopped).
- PostgreSQL cascade: a primary, a standby fed by it, and a cascading standby fed by that
  standby: healthy; the middle link broken (the middle standby stopped).
- Synchronous pairs (``sync``): PostgreSQL with ``synchronous_standby_names`` naming its
  standby (sync, then the standby stopped); MariaDB semi-sync (ON, then fallen back to
  asynchronous after the replica's IO thread stopped and a commit timed out).

Run from the repository root, as root::

    /work/bin/heavy .venv/bin/python -m tests.status.record_shapes

It reuses the servers and the recording format of ``tests/probes/record.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from console.probes import ProbeTarget
from tests.probes import record as rec
from tests.probes import servers as srv

DATA = Path(__file__).parent / "data"
BASE = Path("/tmp/shape-rec")
MARIA = ("127.0.65.1", 23406, "127.0.65.2", 23407)
PG = ("127.0.65.3", 25532, "127.0.65.4", 25533, "127.0.65.5", 25534)
SYNC_PG = ("127.0.65.6", 25535, "127.0.65.7", 25536)
SYNC_MARIA = ("127.0.65.8", 23408, "127.0.65.9", 23409)


def _maria(host: str, site: str, address: str, port: int) -> ProbeTarget:
    return ProbeTarget(
        "users-db",
        site,
        host,
        "mysql",
        address,
        port,
        user="drprobe",
        password_env=rec.PASSWORD_ENV,
    )


def _converge(a: srv.MariaServer, b: srv.MariaServer) -> None:
    """Wait until both have applied everything either wrote (equal ``gtid_current_pos``)."""

    def same() -> bool:
        q = "SELECT @@gtid_current_pos"
        return set(a.root_sql(q).split(",")) == set(b.root_sql(q).split(","))

    srv.wait_until("both servers to converge", same, 60)
    time.sleep(0.5)


def _active_active(base: Path) -> srv.MariaPair:
    """Two MariaDB servers replicating both ways: east domain 1, west domain 2."""
    pair = srv.start_maria_pair(base, MARIA[0], MARIA[2], (MARIA[1], MARIA[3]))
    east, west = pair.primary, pair.replica
    try:
        east.root_sql(
            "SET GLOBAL gtid_domain_id = 1; SET GLOBAL auto_increment_increment = 2; "
            "SET GLOBAL auto_increment_offset = 1"
        )
        west.root_sql(
            "SET GLOBAL gtid_domain_id = 2; SET GLOBAL auto_increment_increment = 2; "
            "SET GLOBAL auto_increment_offset = 2; SET GLOBAL read_only = 0"
        )
        east.root_sql(
            f"CHANGE MASTER TO MASTER_HOST='{west.address}', MASTER_PORT={west.port}, "
            "MASTER_USER='repl', MASTER_PASSWORD='repl-secret', MASTER_USE_GTID=current_pos, "
            "MASTER_CONNECT_RETRY=1; START SLAVE;"
        )
        east.root_sql("INSERT INTO drill.t VALUES (11, 'unit-east')")
        west.root_sql("INSERT INTO drill.t VALUES (12, 'unit-west')")
        _converge(east, west)
        # current_pos would ask west for east's own newest GTIDs after a write made while
        # the link was stopped (error 1236): from now on east follows west's slave_pos.
        east.root_sql("STOP SLAVE; CHANGE MASTER TO MASTER_USE_GTID = slave_pos; START SLAVE")
    except Exception:
        pair.stop()
        raise
    return pair


TARGETS = (
    _maria("db-east", "east", MARIA[0], MARIA[1]),
    _maria("db-west", "west", MARIA[2], MARIA[3]),
)


def record_multi_primary(base: Path) -> None:
    """The MariaDB active-active scenarios: healthy, one way, errant."""
    print("mysql multi-primary")
    pair = _active_active(base)
    east, west = pair.primary, pair.replica
    teast, twest = TARGETS
    try:
        rec.probe_and_save("mp_east_healthy", "active-active: east, both ways up", teast)
        rec.probe_and_save("mp_west_healthy", "active-active: west, both ways up", twest)

        east.root_sql("STOP SLAVE")
        west.root_sql("INSERT INTO drill.t VALUES (14, 'unit-west, not at east')")
        time.sleep(0.5)
        rec.probe_and_save("mp_east_one_way", "east's replica thread stopped", teast)
        rec.probe_and_save("mp_west_one_way", "west while east does not replicate", twest)
        east.root_sql("START SLAVE")
        _converge(east, west)

        west.root_sql("SET SESSION gtid_domain_id = 1; INSERT INTO drill.t VALUES (13, 'errant')")
        _converge(east, west)
        rec.probe_and_save("mp_east_errant", "east after west wrote in east's domain", teast)
        rec.probe_and_save("mp_west_errant", "west after it wrote in east's domain", twest)
    finally:
        pair.stop()


def record_conflict(base: Path) -> None:
    """Both sides write key 50 while replication is stopped: both SQL threads fail."""
    print("mysql multi-primary conflict")
    pair = _active_active(base)
    east, west = pair.primary, pair.replica
    teast, twest = TARGETS
    try:
        east.root_sql("STOP SLAVE")
        west.root_sql("STOP SLAVE")
        east.root_sql("INSERT INTO drill.t VALUES (50, 'east wrote 50')")
        west.root_sql("INSERT INTO drill.t VALUES (50, 'west wrote 50')")
        east.root_sql("START SLAVE")
        west.root_sql("START SLAVE")
        for server in (east, west):
            srv.wait_until(
                f"{server.name}'s SQL thread to fail",
                lambda s=server: (
                    "Slave_SQL_Running: No"  # type: ignore[misc]
                    in s.root_sql("SHOW SLAVE STATUS\\G", names=True)
                ),
            )
        time.sleep(0.3)
        rec.probe_and_save("mp_east_conflict", "east after both wrote key 50", teast)
        rec.probe_and_save("mp_west_conflict", "west after both wrote key 50", twest)
    finally:
        pair.stop()


def _pg(host: str, site: str, address: str, port: int) -> ProbeTarget:
    return ProbeTarget("orders-db", site, host, "postgres", address, port, user="postgres")


def _cascading(base: Path, upstream: srv.PgServer, address: str, port: int) -> srv.PgServer:
    """A standby fed by ``upstream`` (itself a standby), under its own datadir."""
    pgdir = base / "pg"
    server = srv.PgServer(
        datadir=pgdir / "dr",
        address=address,
        port=port,
        sockdir=srv._owned_dir(pgdir / "sock-dr", "postgres"),
        log=pgdir / "dr.log",
    )
    srv.run(
        [
            str(srv.PGBIN / "pg_basebackup"),
            *("-h", upstream.address, "-p", str(upstream.port), "-U", "postgres"),
            *("-D", str(server.datadir), "-X", "stream", "-R", "-c", "fast", "--no-sync"),
        ],
        user="postgres",
        timeout=180,
    )
    with (server.datadir / "postgresql.conf").open("a") as conf:
        conf.write(server.conf_lines())
    with (server.datadir / "postgresql.auto.conf").open("a") as auto:
        auto.write(
            f"primary_conninfo = 'host={upstream.address} port={upstream.port} "
            "user=postgres application_name=dr'\n"
            "primary_slot_name = ''\n"  # the copy of west's settings names west's own slot
        )
    server.start()
    srv.wait_until(
        "the cascading standby to stream",
        lambda: server.sql("SELECT status FROM pg_stat_wal_receiver") == "streaming",
        90,
    )
    return server


def record_cascade(base: Path) -> None:
    """The PostgreSQL cascade scenarios."""
    print("postgres cascade")
    pair = srv.start_pg_pair(base, PG[0], PG[2], (PG[1], PG[3]))
    dr = None
    try:
        dr = _cascading(base, pair.standby, PG[4], PG[5])
        pair.primary.sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        time.sleep(1.5)
        teast = _pg("db-east", "east", PG[0], PG[1])
        twest = _pg("db-west", "west", PG[2], PG[3])
        tdr = _pg("db-dr", "dr", PG[4], PG[5])
        rec.probe_and_save("cascade_east", "primary of a cascade", teast)
        rec.probe_and_save("cascade_west", "standby feeding a cascading standby", twest)
        rec.probe_and_save("cascade_dr_healthy", "cascading standby fed by west", tdr)
        pair.standby.stop("immediate")
        srv.wait_until(
            "the cascading standby to lose its upstream",
            lambda: dr.sql("SELECT count(*) FROM pg_stat_wal_receiver") == "0",  # type: ignore[union-attr]
            90,
        )
        rec.probe_and_save("cascade_dr_broken", "cascading standby whose upstream stopped", tdr)
        rec.probe_and_save("cascade_east_alone", "primary after the middle stopped", teast)
    finally:
        if dr is not None:
            dr.stop("immediate")
        pair.stop()


def record_sync_pg(base: Path) -> None:
    """PostgreSQL: the standby synchronous, then stopped (commits would wait)."""
    print("postgres synchronous pair")
    pair = srv.start_pg_pair(base, SYNC_PG[0], SYNC_PG[2], (SYNC_PG[1], SYNC_PG[3]))
    primary, standby = pair.primary, pair.standby
    tp = _pg("db-east", "east", SYNC_PG[0], SYNC_PG[1])
    ts = _pg("db-west", "west", SYNC_PG[2], SYNC_PG[3])
    try:
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        primary.sql("SELECT pg_reload_conf()")
        srv.wait_until(
            "the standby to be synchronous",
            lambda: primary.sql("SELECT sync_state FROM pg_stat_replication") == "sync",
            60,
        )
        primary.sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        time.sleep(1.0)
        rec.probe_and_save("sync_primary", "primary with its synchronous standby", tp)
        rec.probe_and_save("sync_standby", "the synchronous standby", ts)
        standby.stop("immediate")
        srv.wait_until(
            "the primary to lose its standby",
            lambda: primary.sql("SELECT count(*) FROM pg_stat_replication") == "0",
            60,
        )
        rec.probe_and_save("sync_lost_primary", "primary whose synchronous standby stopped", tp)
    finally:
        pair.stop()


def _semi(server: srv.MariaServer) -> dict[str, str]:
    out = server.root_sql("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'")
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def record_semi_sync(base: Path) -> None:
    """MariaDB semi-sync: ON with the replica acknowledging, then fallen back to async."""
    print("mysql semi-sync")
    pair = srv.start_maria_pair(base, SYNC_MARIA[0], SYNC_MARIA[2], (SYNC_MARIA[1], SYNC_MARIA[3]))
    primary, replica = pair.primary, pair.replica
    tp = _maria("db-east", "east", SYNC_MARIA[0], SYNC_MARIA[1])
    tr = _maria("db-west", "west", SYNC_MARIA[2], SYNC_MARIA[3])
    try:
        primary.root_sql(
            "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC; "
            "SET GLOBAL rpl_semi_sync_master_timeout = 1000; "
            "SET GLOBAL rpl_semi_sync_master_enabled = ON"
        )
        replica.root_sql(
            "SET GLOBAL rpl_semi_sync_slave_enabled = ON; STOP SLAVE IO_THREAD; "
            "START SLAVE IO_THREAD"
        )
        srv.wait_until(
            "the replica to register as semi-sync",
            lambda: _semi(primary).get("Rpl_semi_sync_master_clients") == "1",
            60,
        )
        primary.root_sql("INSERT INTO drill.t VALUES (21, 'acknowledged')")
        pair.wait_caught_up()
        rec.probe_and_save("semi_sync_primary", "primary, semi-sync ON", tp)
        rec.probe_and_save("semi_sync_replica", "its semi-sync replica", tr)
        replica.root_sql("STOP SLAVE IO_THREAD")
        primary.root_sql("INSERT INTO drill.t VALUES (22, 'not acknowledged')")  # waits 1 s
        srv.wait_until(
            "semi-sync to fall back to asynchronous",
            lambda: _semi(primary).get("Rpl_semi_sync_master_status") == "OFF",
            60,
        )
        rec.probe_and_save(
            "semi_sync_fallback_primary", "primary after semi-sync fell back to async", tp
        )
    finally:
        pair.stop()


def main(argv: list[str]) -> int:
    """Record both families (or the one named: ``mysql``, ``postgres``, ``conflict``,
    ``sync``)."""
    rec.OUT[0] = DATA
    kinds = argv or ["mysql", "postgres"]
    started = time.monotonic()
    if "mysql" in kinds:
        record_multi_primary(srv.make_base(BASE / "mysql"))
    if "mysql" in kinds or "conflict" in kinds:
        record_conflict(srv.make_base(BASE / "conflict"))
    if "postgres" in kinds:
        record_cascade(srv.make_base(BASE / "postgres"))
    if "postgres" in kinds or "sync" in kinds:
        record_sync_pg(srv.make_base(BASE / "sync-pg"))
    if "mysql" in kinds or "sync" in kinds:
        record_semi_sync(srv.make_base(BASE / "sync-maria"))
    print(f"recorded in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
