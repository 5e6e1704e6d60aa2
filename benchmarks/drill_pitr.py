"""Measure pg-pitr: the console's restore time next to the same pgBackRest commands by hand.

Why: issue 13 asks how long a point-in-time recovery takes and what the console costs on top
of the tools. This brings up a throwaway lab, grows a database with ``pgbench -i`` (``--scale``;
scale 34 is about 500 MB), takes a full backup, writes ``--wal-mb`` of WAL after it with
pgbench, notes a target time, writes one more row and archives it. Then, ``--rounds`` times,
alternately:

- the console: ``drconsole run playbooks/pg-pitr.yaml --var target_time=T --yes``; its split
  comes from the audit log's step durations: fetch (``restore``), replay (``replay`` and
  ``prove``), promote, checks (``check-sql`` and ``amcheck``);
- by hand, on the dr host as the lab user: the same ``pgbackrest restore --type=time
  --target-action=pause``, ``pg_ctl start``, wait until paused, ``pg_wal_replay_resume()``, wait
  until promoted, stop, remove.

It prints each round and the medians, and the ratio console / by hand for fetch + replay +
promote (the restore itself; the console's checks have no by-hand counterpart here).

``--service mariadb`` measures mariadb-pitr the same way: the benchmark grows ``app.bench`` on
the MariaDB primary to ``--data-mb`` of table data, takes a fresh prepared mariadb-backup base
backup into the inventory's path, writes ``--wal-mb`` of binlog after it (row updates), notes a
target time between a "before" and an "after" row; the console runs mariadb-pitr (fetch:
``restore``; replay: ``start``, ``replay``, ``prove``; checks: ``check-sql``, ``check-tables``),
by hand the same ``mariadb-backup --copy-back``, ``mariadbd`` start and ``mariadb-binlog
--stop-datetime | mariadb`` on the dr host.

``--service redis`` measures redis-pitr: ``redis-benchmark`` fills the primary with
``--data-mb`` of 1 kB values, ``BGREWRITEAOF`` makes that the AOF's base, then ``--wal-mb`` more
of writes go to the timestamped increment; the target lies between a "before" and an "after"
value. The console runs redis-pitr (fetch: ``copy``; replay: ``cut``, ``start``, ``prove``;
checks: ``check-cmd``, ``check-aof``), by hand the same ``cp -a``, ``redis-check-aof
--truncate-to-timestamp`` and ``redis-server`` on the AOF copy.

Usage (as root, the lab needs it)::

    .venv/bin/python benchmarks/drill_pitr.py --net 24 --rounds 3 --scale 8 --wal-mb 100
    .venv/bin/python benchmarks/drill_pitr.py --service mariadb --net 24 --data-mb 500
    .venv/bin/python benchmarks/drill_pitr.py --service redis --net 24 --data-mb 500
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.audit.store import AuditStore  # noqa: E402
from console.lab import mariabackup  # noqa: E402
from console.lab.lab import Lab  # noqa: E402
from console.lab.layout import (  # noqa: E402
    MARIADB_PORT,
    MARIADB_SCRATCH_PORT,
    PG_PORT,
    PG_SCRATCH_PORT,
    REDIS_PORT,
    REDIS_SCRATCH_PORT,
)
from console.lab.mariadb import REPL_PASSWORD, REPL_USER  # noqa: E402
from console.lab.pgbackrest import for_layout  # noqa: E402

PGBIN = "/usr/lib/postgresql/15/bin"


class Bench:
    """A lab with a grown database, and the rounds measured on it."""

    def __init__(self, net: int, scale: float) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="drpitr-bench-", dir="/tmp"))
        self.root.chmod(0o755)
        self.lab = Lab(self.root / "lab", net, timeout_scale=scale)
        self.audit = self.root / "audit.db"
        self.inventory = self.root / "lab.yaml"
        self.rows: list[dict[str, Any]] = []

    def sh(self, command: str, timeout: float = 3600) -> str:
        """A shell command as the lab user."""
        return self.lab.runner().sh(command, what=command[:60], timeout=timeout)

    def psql(
        self, sql: str, address: str | None = None, port: int = PG_PORT, db: str = "app"
    ) -> str:
        host = address or self.lab.address("east")
        return self.sh(
            f"{PGBIN}/psql -X -q -A -t -v ON_ERROR_STOP=1 -h {host} -p {port} -U postgres "
            f"-d {db} -c {shlex.quote(sql)}"
        ).strip()

    def prepare(self, scale: int, wal_mb: int) -> str:
        """Grow the database, back it up, write WAL after it; returns the target time."""
        began = time.monotonic()
        east = self.lab.address("east")
        self.sh(f"{PGBIN}/pgbench -i -q -s {scale} -h {east} -p {PG_PORT} -U postgres app")
        size = self.psql("SELECT pg_size_pretty(pg_database_size('app'))")
        print(f"pgbench -i -s {scale}: app is {size} ({time.monotonic() - began:.0f}s)", flush=True)
        brest = for_layout(self.lab.layout, Path(shutil.which("pgbackrest") or "pgbackrest"))
        t0 = time.monotonic()
        self.sh(shlex.join([*brest.base_argv(), "--type=full", "backup"]))
        print(f"full backup in {time.monotonic() - t0:.1f}s", flush=True)
        start = self.psql("SELECT pg_current_wal_lsn()")
        while True:
            done = int(self.psql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{start}')"))
            if done >= wal_mb * 1024 * 1024:
                break
            self.sh(f"{PGBIN}/pgbench -n -t 2000 -h {east} -p {PG_PORT} -U postgres app")
        print(f"WAL after the backup: {done / 1048576:.0f} MB", flush=True)
        self.psql("CREATE TABLE IF NOT EXISTS coupons (m text)")
        self.psql("INSERT INTO coupons VALUES ('before')")
        time.sleep(1.1)
        target = self.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'utc', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
        )
        time.sleep(1.1)
        self.psql("INSERT INTO coupons VALUES ('after')")
        seg = self.psql("SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + 600
        while self.psql("SELECT substr(last_archived_wal, 1, 24) FROM pg_stat_archiver") < seg:
            if time.monotonic() > deadline:
                raise SystemExit(f"WAL segment {seg} not archived within 600 s")
            time.sleep(0.5)
        return target

    def console_round(self, target: str) -> dict[str, Any]:
        """One pg-pitr run; its split from the audit log."""
        began = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable, "-m", "console", "--audit", str(self.audit), "run",
                "playbooks/pg-pitr.yaml", "-i", str(self.inventory), "--yes",
                "--var", f"target_time={target}",
                "--var", "check_sql=SELECT string_agg(m, ',') FROM coupons",
            ],
            cwd=ROOT, capture_output=True, text=True, timeout=7200, check=False,
        )  # fmt: skip
        wall = time.monotonic() - began
        if proc.returncode != 0:
            raise SystemExit(f"pg-pitr failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
        run_id = proc.stdout.split()[1]
        with AuditStore(self.audit, create=False) as store:
            events = store.events(run_id)
        steps = {e.step_id: e.data["duration"] for e in events if e.kind == "step_finished"}
        seen = " ".join(
            line for e in events if e.kind == "output" and e.step_id == "check-sql"
            for line in e.data["lines"]
        )  # fmt: skip
        assert "before" in seen and "after" not in seen, seen
        row = {
            "who": "console",
            "fetch_s": steps["restore"],
            "replay_s": steps["replay"] + steps["prove"],
            "promote_s": steps["promote"],
            "checks_s": steps["check-sql"] + steps["amcheck"],
            "wall_s": round(wall, 2),
        }
        row["restore_s"] = round(row["fetch_s"] + row["replay_s"] + row["promote_s"], 3)
        return row

    def hand_round(self, target: str) -> dict[str, Any]:
        """The same recovery by hand with the same tools, timed the same way."""
        dr = self.lab.layout.site("dr")
        brest = for_layout(self.lab.layout, Path(shutil.which("pgbackrest") or "pgbackrest"))
        scratch = dr.scratch_dir / "by-hand"
        log = dr.scratch_dir / "by-hand.log"
        pgtime = self.sh(f"date -u -d {shlex.quote(target)} '+%Y-%m-%d %H:%M:%S.%6N+00'").strip()
        addr = dr.address
        t0 = time.monotonic()
        self.sh(f"rm -rf {scratch} && mkdir -p {scratch} && chmod 700 {scratch}")
        restore = [
            *brest.base_argv(), f"--pg1-path={scratch}", "--type=time", f"--target={pgtime}",
            "--target-action=pause", "--archive-mode=off", "restore",
        ]  # fmt: skip
        self.sh(shlex.join(restore))
        t1 = time.monotonic()
        opts = (
            f"-p {PG_SCRATCH_PORT} -h {addr} -k {dr.scratch_dir} -c archive_mode=off "
            f"-c hba_file={scratch}/pg_hba.conf -c ident_file={scratch}/pg_ident.conf"
        )
        self.sh(f"{PGBIN}/pg_ctl -D {scratch} -l {log} -w -t 3600 -o {shlex.quote(opts)} start")
        q = "SELECT pg_is_in_recovery() AND pg_get_wal_replay_pause_state() = 'paused'"
        while self.psql(q, addr, PG_SCRATCH_PORT, "postgres") != "t":
            time.sleep(0.2)
        t2 = time.monotonic()
        self.psql("SELECT pg_wal_replay_resume()", addr, PG_SCRATCH_PORT, "postgres")
        while self.psql("SELECT pg_is_in_recovery()", addr, PG_SCRATCH_PORT, "postgres") != "f":
            time.sleep(0.2)
        t3 = time.monotonic()
        seen = self.psql("SELECT string_agg(m, ',') FROM coupons", addr, PG_SCRATCH_PORT)
        assert seen == "before", seen
        self.sh(f"{PGBIN}/pg_ctl -D {scratch} -m immediate -w stop; rm -rf {scratch} {log}")
        return {
            "who": "by hand",
            "fetch_s": round(t1 - t0, 3),
            "replay_s": round(t2 - t1, 3),
            "promote_s": round(t3 - t2, 3),
            "restore_s": round(t3 - t0, 3),
        }


class MariaBench(Bench):
    """mariadb-pitr on a grown MariaDB primary, next to the same commands by hand."""

    def maria(self, sql: str, site: str = "east") -> str:
        sock = self.lab.layout.site(site).maria_socket
        return self.sh(
            f"mariadb --no-defaults -S {sock} -D app -N -B -e {shlex.quote(sql)}"
        ).strip()

    def prepare_maria(self, data_mb: int, binlog_mb: int) -> str:
        """Grow app.bench, take a prepared base backup, write binlog after it; the target."""
        began = time.monotonic()
        self.maria(
            "CREATE TABLE IF NOT EXISTS app.bench (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
            "n INT NOT NULL, pad VARCHAR(1000) NOT NULL) ENGINE=InnoDB"
        )
        self.maria("INSERT INTO app.bench (n, pad) SELECT seq, REPEAT('x', 900) FROM seq_1_to_1000")
        size = "SELECT data_length FROM information_schema.tables WHERE table_name = 'bench'"

        def grown() -> int:
            self.maria("ANALYZE TABLE app.bench")  # data_length is an estimate until then
            return int(self.maria(size))

        while grown() < data_mb << 20:
            self.maria("INSERT INTO app.bench (n, pad) SELECT n, pad FROM app.bench LIMIT 200000")
        mb = int(self.maria(size)) >> 20
        print(f"app.bench: {mb} MB of table data ({time.monotonic() - began:.0f}s)", flush=True)
        target_dir = mariabackup.base_dir(self.lab.layout)
        east = self.lab.layout.site("east")
        t0 = time.monotonic()
        self.sh(
            f"rm -rf {target_dir} && mariadb-backup --backup --socket={east.maria_socket} "
            f"--target-dir={target_dir} 2>/dev/null && "
            f"mariadb-backup --prepare --target-dir={target_dir} 2>/dev/null"
        )
        print(f"base backup + prepare in {time.monotonic() - t0:.1f}s", flush=True)
        start = self.maria("SHOW MASTER STATUS").split()
        written, step = 0, 0
        while written < binlog_mb << 20:
            step += 1
            self.maria(f"UPDATE app.bench SET n = n + 1 WHERE id % 50 = {step % 50}")
            logs = self.maria("SHOW BINARY LOGS").split()
            sizes = dict(zip(logs[0::2], (int(x) for x in logs[1::2]), strict=False))
            written = sum(v for k, v in sizes.items() if k >= start[0]) - int(start[1])
        print(f"binlog after the backup: {written >> 20} MB", flush=True)
        self.maria("CREATE TABLE IF NOT EXISTS app.coupons (m VARCHAR(40) PRIMARY KEY)")
        self.maria("INSERT INTO app.coupons VALUES ('before')")
        time.sleep(2.2)  # binlog events carry whole seconds
        target = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        time.sleep(1.2)
        self.maria("INSERT INTO app.coupons VALUES ('after')")
        return target

    def console_round(self, target: str) -> dict[str, Any]:
        """One mariadb-pitr run; its split from the audit log."""
        began = time.monotonic()
        check = "SELECT group_concat(m ORDER BY m) FROM app.coupons"
        proc = subprocess.run(
            [
                sys.executable, "-m", "console", "--audit", str(self.audit), "run",
                "playbooks/mariadb-pitr.yaml", "-i", str(self.inventory), "--yes",
                "--var", f"target_time={target}", "--var", f"check_sql={check}",
            ],
            cwd=ROOT, capture_output=True, text=True, timeout=7200, check=False,
        )  # fmt: skip
        wall = time.monotonic() - began
        if proc.returncode != 0:
            raise SystemExit(
                f"mariadb-pitr failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}"
            )
        run_id = proc.stdout.split()[1]
        with AuditStore(self.audit, create=False) as store:
            events = store.events(run_id)
        steps = {e.step_id: e.data["duration"] for e in events if e.kind == "step_finished"}
        seen = " ".join(
            line for e in events if e.kind == "output" and e.step_id == "check-sql"
            for line in e.data["lines"]
        )  # fmt: skip
        assert "before" in seen and "after" not in seen, seen
        row = {
            "who": "console",
            "fetch_s": steps["restore"],
            "replay_s": round(steps["start"] + steps["replay"] + steps["prove"], 3),
            "checks_s": round(steps["check-sql"] + steps["check-tables"], 3),
            "wall_s": round(wall, 2),
        }
        row["restore_s"] = round(row["fetch_s"] + row["replay_s"], 3)
        return row

    def hand_round(self, target: str) -> dict[str, Any]:
        """The same recovery by hand with the same tools, timed the same way."""
        dr = self.lab.layout.site("dr")
        east = self.lab.layout.site("east")
        base = mariabackup.base_dir(self.lab.layout)
        d = dr.scratch_dir
        data = d / "by-hand-maria"
        stop = self.sh(f"date -u -d {shlex.quote(target)} '+%Y-%m-%d %H:%M:%S'").strip()
        t0 = time.monotonic()
        self.sh(f"rm -rf {data} && mariadb-backup --copy-back --target-dir={base} "
                f"--datadir={data} 2>/dev/null")  # fmt: skip
        t1 = time.monotonic()
        self.sh(
            f"setsid /usr/sbin/mariadbd --no-defaults --datadir={data} --tmpdir={d} "
            f"--port={MARIADB_SCRATCH_PORT} --bind-address={dr.address} --socket={d}/bh.sock "
            f"--pid-file={d}/bh.pid --log-error={d}/bh.err --skip-log-bin --skip-slave-start "
            "--skip-name-resolve --server-id=98 --innodb-buffer-pool-size=64M "
            "--innodb-log-file-size=48M --performance-schema=0 --max-allowed-packet=1G "
            "</dev/null >/dev/null 2>&1 & "
            f"until mariadb --no-defaults -S {d}/bh.sock -e 'SELECT 1' >/dev/null 2>&1; "
            "do sleep 0.2; done"
        )
        file, pos = self.sh(f"cut -f1,2 {base}/xtrabackup_binlog_info").split()[:2]
        cnf = d / "bh.cnf"
        self.sh(
            f"(umask 077 && printf '[client]\\nuser=%s\\npassword=%s\\n' {REPL_USER} "
            f"{REPL_PASSWORD} > {cnf})"
        )
        self.sh(
            f"TZ=UTC mariadb-binlog --defaults-extra-file={cnf} --read-from-remote-server "
            f"--host={east.address} --port={MARIADB_PORT} --start-position={pos} "
            f"{shlex.quote('--stop-datetime=' + stop)} --to-last-log {file} | "
            f"mariadb --no-defaults --max-allowed-packet=1G -S {d}/bh.sock"
        )
        t2 = time.monotonic()
        seen = self.sh(
            f"mariadb --no-defaults -S {d}/bh.sock -N -B -e "
            "'SELECT group_concat(m ORDER BY m) FROM app.coupons'"
        ).strip()
        assert seen == "before", seen
        self.sh(f"kill $(cat {d}/bh.pid); while [ -e {d}/bh.pid ]; do sleep 0.2; done; "
                f"rm -rf {data} {d}/bh.*")  # fmt: skip
        return {
            "who": "by hand",
            "fetch_s": round(t1 - t0, 3),
            "replay_s": round(t2 - t1, 3),
            "restore_s": round(t2 - t0, 3),
        }


class RedisBench(Bench):
    """redis-pitr on a filled Redis primary, next to the same commands by hand."""

    def cli(self, *args: str, site: str = "east", port: int = REDIS_PORT) -> str:
        host = self.lab.address(site)
        return self.sh(f"redis-cli -h {host} -p {port} " + shlex.join(args)).strip()

    def info(self, key: str, section: str = "persistence") -> str:
        for line in self.cli("INFO", section).splitlines():
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
        return ""

    def prepare_redis(self, data_mb: int, aof_mb: int) -> str:
        """Fill the primary, rewrite the AOF (its base), write more after it; the target."""
        east = self.lab.address("east")
        bench = f"redis-benchmark -h {east} -p {REDIS_PORT} -t set -d 1000 -q -P 16"
        began = time.monotonic()
        n = data_mb * 1024
        self.sh(f"{bench} -n {n} -r {n * 10} >/dev/null")
        used = int(self.info("used_memory", "memory"))
        print(f"redis: {used >> 20} MB of data ({time.monotonic() - began:.0f}s)", flush=True)
        t0 = time.monotonic()
        self.cli("BGREWRITEAOF")
        time.sleep(0.5)
        while (
            self.info("aof_rewrite_in_progress") != "0" or self.info("aof_rewrite_scheduled") != "0"
        ):
            time.sleep(0.5)
        print(f"AOF rewritten (the base) in {time.monotonic() - t0:.1f}s", flush=True)
        self.sh(f"{bench} -n {aof_mb * 1024} -r {n * 10} >/dev/null")
        self.cli("SET", "coupon", "before")
        time.sleep(2.2)  # the AOF's timestamps carry whole seconds
        target = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        time.sleep(1.2)
        self.cli("SET", "coupon", "after")
        time.sleep(1.1)  # appendfsync everysec
        d = self.lab.layout.site("east").redis_dir / "appendonlydir"
        size = self.sh(f"du -sb {d} | cut -f1").strip()
        print(f"AOF: {int(size) >> 20} MB (base and increment)", flush=True)
        return target

    def console_round(self, target: str) -> dict[str, Any]:
        """One redis-pitr run; its split from the audit log."""
        began = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable, "-m", "console", "--audit", str(self.audit), "run",
                "playbooks/redis-pitr.yaml", "-i", str(self.inventory), "--yes",
                "--var", f"target_time={target}", "--var", "check_cmd=GET coupon",
            ],
            cwd=ROOT, capture_output=True, text=True, timeout=7200, check=False,
        )  # fmt: skip
        wall = time.monotonic() - began
        if proc.returncode != 0:
            raise SystemExit(f"redis-pitr failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
        run_id = proc.stdout.split()[1]
        with AuditStore(self.audit, create=False) as store:
            events = store.events(run_id)
        steps = {e.step_id: e.data["duration"] for e in events if e.kind == "step_finished"}
        seen = [
            line for e in events if e.kind == "output" and e.step_id == "check-cmd"
            for line in e.data["lines"]
        ]  # fmt: skip
        assert "before" in seen, seen
        row = {
            "who": "console",
            "fetch_s": steps["copy"],
            "replay_s": round(steps["cut"] + steps["start"] + steps["prove"], 3),
            "checks_s": round(steps["check-cmd"] + steps["check-aof"], 3),
            "wall_s": round(wall, 2),
        }
        row["restore_s"] = round(row["fetch_s"] + row["replay_s"], 3)
        return row

    def hand_round(self, target: str) -> dict[str, Any]:
        """The same recovery by hand with the same tools, timed the same way."""
        dr = self.lab.layout.site("dr")
        src = self.lab.layout.site("east").redis_dir / "appendonlydir"
        d = dr.scratch_dir / "by-hand-redis"
        ts = int(self.sh(f"date -u -d {shlex.quote(target)} +%s").strip()) - 1
        t0 = time.monotonic()
        self.sh(f"rm -rf {d} && mkdir -p {d} && cp -a {src} {d}/appendonlydir")
        t1 = time.monotonic()
        self.sh(
            f"echo y | redis-check-aof --truncate-to-timestamp {ts} "
            f"{d}/appendonlydir/appendonly.aof.manifest >/dev/null"
        )
        self.sh(
            f"redis-server --port {REDIS_SCRATCH_PORT} --bind {dr.address} --dir {d} "
            "--appendonly yes --appenddirname appendonlydir --save '' "
            f"--pidfile {d}/redis.pid --logfile {d}/redis.log --daemonize yes"
        )
        while self.cli("PING", site="dr", port=REDIS_SCRATCH_PORT) != "PONG":
            time.sleep(0.2)
        t2 = time.monotonic()
        seen = self.cli("GET", "coupon", site="dr", port=REDIS_SCRATCH_PORT)
        assert seen == "before", seen
        self.cli("SHUTDOWN", "NOSAVE", site="dr", port=REDIS_SCRATCH_PORT)
        self.sh(f"while [ -e {d}/redis.pid ]; do sleep 0.2; done; rm -rf {d}")
        return {
            "who": "by hand",
            "fetch_s": round(t1 - t0, 3),
            "replay_s": round(t2 - t1, 3),
            "restore_s": round(t2 - t0, 3),
        }


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    """Prepare the volume, run the rounds, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", type=int, default=24, help="lab net (second octet)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=34, help="pgbench scale (34: ~500 MB)")
    parser.add_argument("--wal-mb", type=int, default=100, help="WAL to write after the backup")
    parser.add_argument("--timeout-scale", type=float, default=3.0, help="lab timeout scale")
    parser.add_argument("--keep", action="store_true", help="keep the lab directory and audit")
    parser.add_argument("--service", choices=("pg", "mariadb", "redis"), default="pg")
    parser.add_argument("--data-mb", type=int, default=500, help="MariaDB / Redis data to grow")
    args = parser.parse_args()
    kinds: dict[str, type[Bench]] = {"mariadb": MariaBench, "redis": RedisBench}
    bench = kinds.get(args.service, Bench)(args.net, args.timeout_scale)
    try:
        up = bench.lab.up(bench.inventory)
        print(f"lab up in {up.seconds:.1f}s on net {args.net}", flush=True)
        if isinstance(bench, MariaBench):
            target = bench.prepare_maria(args.data_mb, args.wal_mb)
        elif isinstance(bench, RedisBench):
            target = bench.prepare_redis(args.data_mb, args.wal_mb)
        else:
            target = bench.prepare(args.scale, args.wal_mb)
        for _ in range(args.rounds):
            for row in (bench.console_round(target), bench.hand_round(target)):
                bench.rows.append(row)
                print(json.dumps(row), flush=True)
        console = [r for r in bench.rows if r["who"] == "console"]
        hand = [r for r in bench.rows if r["who"] == "by hand"]
        volume = {
            "mariadb": f"{args.data_mb} MB of data, {args.wal_mb} MB of binlog",
            "redis": f"{args.data_mb} MB of data, {args.wal_mb} MB of AOF after the rewrite",
        }.get(args.service, f"scale {args.scale}, {args.wal_mb} MB WAL")
        print(f"\nmedians of {args.rounds} ({args.service}, {volume}):")
        for who, rows in (("console", console), ("by hand", hand)):
            parts = ", ".join(
                f"{k[:-2]} {_median(rows, k):.2f}s"
                for k in ("fetch_s", "replay_s", "promote_s", "checks_s", "restore_s")
                if k in rows[0]
            )
            print(f"  {who:8} {parts}")
        ratio = _median(console, "restore_s") / _median(hand, "restore_s")
        what = "fetch + replay" if args.service != "pg" else "fetch + replay + promote"
        print(f"  restore ({what}) console / by hand: {ratio:.2f}x")
    finally:
        if bench.lab.state() is not None:
            bench.lab.down()
        if not args.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
