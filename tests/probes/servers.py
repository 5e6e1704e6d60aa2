"""Real PostgreSQL, MariaDB and Redis servers for the probe tests and the recording script.

The probes are proven on real servers, never on mocks, so the recording script
(``tests/probes/record.py``) and the integration tests both need a primary and a replica of
each kind, started by hand on loopback addresses in 127.0.60.0/24. This module is that one
piece of machinery: it starts plain processes (no systemd), records every pid it starts, and
stops exactly those pids. Every wait has a deadline. PostgreSQL runs as the ``postgres`` OS
user and MariaDB as ``mysql`` (both refuse or dislike root); Redis runs as the caller.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PGBIN = Path("/usr/lib/postgresql/15/bin")
"""Where Debian puts the PostgreSQL 15 server binaries."""

SLOW = float(os.environ.get("PROBE_TEST_SLOWNESS", "1"))
"""Multiplier for every deadline, for very busy machines."""


class ServerError(RuntimeError):
    """A test server could not be started or driven."""


def missing_binaries(kind: str) -> list[str]:
    """Names of the binaries a kind of test server needs that are not installed.

    Args:
        kind: ``postgres``, ``mysql`` or ``redis``.

    Returns:
        The missing names; empty when everything is there.
    """
    needed = {
        "postgres": [str(PGBIN / "initdb"), str(PGBIN / "pg_ctl"), "psql"],
        "mysql": ["mariadbd", "mariadb-install-db", "mariadb"],
        "redis": ["redis-server", "redis-cli"],
    }[kind]
    return [name for name in needed if shutil.which(name) is None]


def free_port(address: str) -> int:
    """A TCP port that is free on ``address`` right now.

    Args:
        address: A loopback address in our range.

    Returns:
        The port number the kernel chose.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def run(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    check: bool = True,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion with a deadline.

    Args:
        argv: The command.
        timeout: Seconds before it is killed (scaled by ``SLOW``).
        check: Raise ``ServerError`` on a non-zero exit.
        env: Extra environment variables.
        user: Run as this OS user (through ``runuser``).

    Returns:
        The finished process with text stdout and stderr.

    Raises:
        ServerError: The command failed and ``check`` is true.
    """
    full = ["runuser", "-u", user, "--", *argv] if user else list(argv)
    merged = {**os.environ, **(env or {})}
    proc = subprocess.run(
        full,
        capture_output=True,
        text=True,
        timeout=timeout * SLOW,
        env=merged,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise ServerError(
            f"{' '.join(full)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def wait_until(what: str, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``predicate`` until it is true.

    Args:
        what: What we wait for, for the error message.
        predicate: Returns true when done; exceptions count as "not yet".
        timeout: Seconds before giving up (scaled by ``SLOW``).

    Raises:
        ServerError: The deadline passed.
    """
    deadline = time.monotonic() + timeout * SLOW
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.1)
    raise ServerError(f"timed out waiting for {what}" + (f": {last}" if last else ""))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_pid(pid: int, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop one process we started, escalating to SIGKILL.

    Args:
        pid: The process id we recorded when we started it.
        sig: The first signal to send.
        timeout: Seconds to wait before SIGKILL.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ServerError):
        wait_until(f"pid {pid} to exit", lambda: not _pid_alive(pid), 10)


def make_base(path: Path) -> Path:
    """Create a fresh, world-traversable base directory for test servers.

    Args:
        path: The directory; anything there is removed first.

    Returns:
        The path.
    """
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    path.chmod(0o755)
    return path


def _owned_dir(path: Path, user: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, user, user)
    path.chmod(0o700)
    return path


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PgServer:
    """One PostgreSQL 15 instance run as the ``postgres`` OS user."""

    datadir: Path
    address: str
    port: int
    sockdir: Path
    log: Path

    def conf_lines(self) -> str:
        """Instance settings appended to postgresql.conf."""
        return (
            f"listen_addresses = '{self.address}'\n"
            f"unix_socket_directories = '{self.sockdir}'\n"
            "wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\n"
            "wal_log_hints = on\nhot_standby = on\nhot_standby_feedback = on\n"
            "wal_keep_size = '32MB'\nshared_buffers = '16MB'\nmax_connections = 20\n"
            "fsync = off\nwal_receiver_timeout = '60s'\nwal_retrieve_retry_interval = '1s'\n"
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        run(
            [
                str(PGBIN / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.log),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(int(90 * SLOW)),
                "start",
            ],
            user="postgres",
            timeout=120,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server with ``pg_ctl stop -m MODE`` (immediate = a crash)."""
        run(
            [str(PGBIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"],
            user="postgres",
            timeout=90,
            check=False,
        )
        pid = self.pid()
        if pid is not None:
            kill_pid(pid, signal.SIGQUIT)

    def pid(self) -> int | None:
        """The postmaster pid from postmaster.pid, or None when not running."""
        pidfile = self.datadir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def sql(self, query: str, *, check: bool = True) -> str:
        """Run one statement as the postgres superuser over TCP.

        Args:
            query: SQL text (one statement; ALTER SYSTEM needs its own call).
            check: Raise on failure.

        Returns:
            psql's unaligned, tuples-only output, stripped.
        """
        proc = run(
            [
                "psql",
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.address,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                query,
            ],
            timeout=60,
            check=check,
            env={"PGCONNECT_TIMEOUT": "10"},
        )
        return proc.stdout.strip()


PG_HBA = """\
local all all trust
host all postgres 127.0.0.0/8 trust
host replication all 127.0.0.0/8 trust
host all all 127.0.0.0/8 scram-sha-256
"""


def start_pg_primary(base: Path, address: str, port: int) -> PgServer:
    """initdb and start a primary with a ``prober`` role that must give a password.

    Args:
        base: A world-traversable directory; ``base/pg`` is created, owned by postgres.
        address: The loopback address to listen on.
        port: The TCP port.

    Returns:
        The running primary.
    """
    pgdir = _owned_dir(base / "pg", "postgres")
    server = PgServer(
        datadir=pgdir / "primary",
        address=address,
        port=port,
        sockdir=_owned_dir(pgdir / "sock-primary", "postgres"),
        log=pgdir / "primary.log",
    )
    run(
        [
            str(PGBIN / "initdb"),
            "-D",
            str(server.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--data-checksums",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        user="postgres",
        timeout=180,
    )
    with (server.datadir / "postgresql.conf").open("a") as conf:
        conf.write(server.conf_lines())
    (server.datadir / "pg_hba.conf").write_text(PG_HBA)
    server.start()
    server.sql("CREATE ROLE prober LOGIN PASSWORD 'probe-secret' IN ROLE pg_monitor")
    return server


def start_pg_standby(
    base: Path, primary: PgServer, address: str, port: int, slot: str = "standby1"
) -> PgServer:
    """pg_basebackup from ``primary`` with a slot and start a streaming standby.

    Args:
        base: The same base directory as the primary's.
        primary: The running primary.
        address: The standby's listen address.
        port: The standby's port.
        slot: The physical replication slot to create and use.

    Returns:
        The running standby (streaming before this returns).
    """
    pgdir = base / "pg"
    server = PgServer(
        datadir=pgdir / "standby",
        address=address,
        port=port,
        sockdir=_owned_dir(pgdir / "sock-standby", "postgres"),
        log=pgdir / "standby.log",
    )
    primary.sql(f"SELECT pg_create_physical_replication_slot('{slot}')")
    run(
        [
            str(PGBIN / "pg_basebackup"),
            "-h",
            primary.address,
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(server.datadir),
            "-X",
            "stream",
            "-S",
            slot,
            "-R",
            "-c",
            "fast",
            "--no-sync",
        ],
        user="postgres",
        timeout=180,
    )
    with (server.datadir / "postgresql.conf").open("a") as conf:
        conf.write(server.conf_lines())
    with (server.datadir / "postgresql.auto.conf").open("a") as auto:
        auto.write(
            f"primary_conninfo = 'host={primary.address} port={primary.port} "
            f"user=postgres application_name={slot}'\n"
        )
    server.start()
    wait_until(
        "the standby to stream",
        lambda: server.sql("SELECT status FROM pg_stat_wal_receiver") == "streaming",
        90,
    )
    return server


@dataclass
class PgPair:
    """A primary and its streaming standby under one base directory."""

    primary: PgServer
    standby: PgServer

    def stop(self) -> None:
        """Stop both servers (immediate: they are throwaway)."""
        for server in (self.standby, self.primary):
            server.stop("immediate")


def start_pg_pair(
    base: Path,
    primary_address: str,
    standby_address: str,
    ports: tuple[int, int] | None = None,
) -> PgPair:
    """Start a primary and a streaming standby.

    Args:
        base: A world-traversable directory for both.
        primary_address: The primary's loopback address.
        standby_address: The standby's loopback address.
        ports: Fixed ports (primary, standby); free ones when None.

    Returns:
        The running pair.
    """
    pport, sport = ports or (free_port(primary_address), free_port(standby_address))
    primary = start_pg_primary(base, primary_address, pport)
    try:
        standby = start_pg_standby(base, primary, standby_address, sport)
    except Exception:
        primary.stop("immediate")
        raise
    return PgPair(primary, standby)


# ------------------------------------------------------------------------------ MariaDB


@dataclass
class MariaServer:
    """One MariaDB 10.11 instance run as the ``mysql`` OS user."""

    name: str
    datadir: Path
    address: str
    port: int
    server_id: int
    socket_path: Path
    errlog: Path
    read_only: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start mariadbd and wait until root can connect over its socket."""
        logf = self.errlog.parent / f"{self.name}.stdout"
        with logf.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    "mariadbd",
                    "--no-defaults",
                    "--user=mysql",
                    f"--datadir={self.datadir}",
                    f"--port={self.port}",
                    f"--bind-address={self.address}",
                    f"--socket={self.socket_path}",
                    f"--pid-file={self.datadir.parent / (self.name + '.pid')}",
                    f"--log-error={self.errlog}",
                    "--skip-name-resolve",
                    f"--server-id={self.server_id}",
                    f"--log-bin={self.datadir}/binlog",
                    "--log-slave-updates=1",
                    "--binlog-format=ROW",
                    "--gtid-strict-mode=1",
                    "--innodb-buffer-pool-size=32M",
                    "--innodb-log-file-size=48M",
                    "--performance-schema=0",
                    "--innodb-flush-log-at-trx-commit=2",
                    "--sync-binlog=0",
                    f"--read-only={1 if self.read_only else 0}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self.proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise ServerError(f"mariadbd {self.name} exited: {self.errlog.read_text()}")
            return self.root_sql("SELECT 1", check=False) == "1"

        wait_until(f"mariadbd {self.name}", ready, 120)

    def root_sql(self, query: str, *, check: bool = True, names: bool = False) -> str:
        """Run SQL as root over the unix socket (socket auth as OS root).

        Args:
            query: One or more statements.
            check: Raise on failure.
            names: Keep column names (needed for ``\\G`` output).

        Returns:
            Batch output, stripped.
        """
        proc = run(
            [
                "mariadb",
                "--no-defaults",
                "-S",
                str(self.socket_path),
                "-u",
                "root",
                *([] if names else ["-N"]),
                "-B",
                "--connect-timeout=10",
                "-e",
                query,
            ],
            timeout=60,
            check=check,
        )
        return proc.stdout.strip()

    def kill(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the server by the pid we started (SIGKILL = a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            kill_pid(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)


PROBE_USER_SQL = """
CREATE USER IF NOT EXISTS 'drprobe'@'127.%' IDENTIFIED BY 'probe-secret';
GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO 'drprobe'@'127.%';
GRANT ALL ON drconsole.* TO 'drprobe'@'127.%';
CREATE USER IF NOT EXISTS 'repl'@'127.%' IDENTIFIED BY 'repl-secret';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.%';
CREATE DATABASE IF NOT EXISTS drill;
CREATE TABLE IF NOT EXISTS drill.t (id INT PRIMARY KEY, v VARCHAR(40));
"""


def install_maria(base: Path, name: str) -> Path:
    """Run mariadb-install-db into ``base/maria/NAME``.

    Args:
        base: A world-traversable directory.
        name: The instance name.

    Returns:
        The data directory.
    """
    mdir = base / "maria"
    mdir.mkdir(exist_ok=True)
    shutil.chown(mdir, "mysql", "mysql")
    mdir.chmod(0o755)
    datadir = mdir / name
    run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={datadir}",
            "--user=mysql",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            "--innodb-log-file-size=48M",
        ],
        timeout=240,
    )
    return datadir


@dataclass
class MariaPair:
    """A MariaDB primary and its GTID replica."""

    primary: MariaServer
    replica: MariaServer

    def connect_replica(self, delay: int = 0) -> None:
        """Point the replica at the primary with GTID (slave_pos) and start it."""
        self.replica.root_sql(
            "STOP SLAVE; "
            f"CHANGE MASTER TO MASTER_HOST='{self.primary.address}', "
            f"MASTER_PORT={self.primary.port}, MASTER_USER='repl', "
            "MASTER_PASSWORD='repl-secret', MASTER_USE_GTID=slave_pos, "
            f"MASTER_CONNECT_RETRY=1, MASTER_DELAY={delay}; START SLAVE;"
        )

    def wait_caught_up(self) -> None:
        """Wait until the replica executed every GTID of the primary."""
        pos = self.primary.root_sql("SELECT @@gtid_binlog_pos")
        got = self.replica.root_sql(f"SELECT MASTER_GTID_WAIT('{pos}', {int(60 * SLOW)})")
        if got != "0":
            raise ServerError(f"replica did not reach {pos}: {got}")

    def stop(self) -> None:
        """Stop both servers by pid."""
        self.replica.kill()
        self.primary.kill()


def start_maria_pair(
    base: Path,
    primary_address: str,
    replica_address: str,
    ports: tuple[int, int] | None = None,
) -> MariaPair:
    """Install once, copy the datadir, start both and connect GTID replication.

    Args:
        base: A world-traversable directory.
        primary_address: The primary's loopback address.
        replica_address: The replica's loopback address.
        ports: Fixed ports (primary, replica); free ones when None.

    Returns:
        The running pair, replica streaming and caught up.
    """
    pport, rport = ports or (free_port(primary_address), free_port(replica_address))
    first = install_maria(base, "primary")
    second = first.parent / "replica"
    run(["cp", "-a", str(first), str(second)], timeout=120)
    mdir = first.parent
    primary = MariaServer(
        "primary",
        first,
        primary_address,
        pport,
        1,
        mdir / "primary.sock",
        mdir / "primary.err",
    )
    replica = MariaServer(
        "replica",
        second,
        replica_address,
        rport,
        2,
        mdir / "replica.sock",
        mdir / "replica.err",
        read_only=True,
    )
    pair = MariaPair(primary, replica)
    try:
        primary.start()
        replica.start()
        primary.root_sql(PROBE_USER_SQL)
        pair.connect_replica()
        pair.wait_caught_up()
    except Exception:
        pair.stop()
        raise
    return pair


# -------------------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    """One redis-server process."""

    name: str
    directory: Path
    address: str
    port: int
    password: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, replicaof: RedisServer | None = None) -> None:
        """Start the server in the foreground (we keep its pid) and wait for PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            self.address,
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--repl-diskless-sync-delay",
            "0",
            "--logfile",
            str(self.directory / "redis.log"),
            "--daemonize",
            "no",
        ]
        if self.password:
            argv += ["--requirepass", self.password]
        if replicaof is not None:
            argv += ["--replicaof", replicaof.address, str(replicaof.port)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(f"redis {self.name}", lambda: self.cli("PING", check=False) == "PONG", 60)

    def cli(self, *args: str, check: bool = True) -> str:
        """Run one redis-cli command against this server.

        Args:
            args: The command and its arguments.
            check: Raise on a non-zero exit.

        Returns:
            redis-cli's output, stripped.
        """
        env = {"REDISCLI_AUTH": self.password} if self.password else None
        proc = run(
            ["timeout", "20", "redis-cli", "-h", self.address, "-p", str(self.port), *args],
            timeout=30,
            check=check,
            env=env,
        )
        return proc.stdout.strip()

    def info(self) -> dict[str, str]:
        """INFO replication as a dict."""
        out = self.cli("INFO", "replication")
        pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
        return {key.strip(): value.strip() for key, value in pairs}

    def kill(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the server by the pid we started."""
        if self.proc is not None and self.proc.poll() is None:
            kill_pid(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)


@dataclass
class RedisPair:
    """A Redis primary and its replica."""

    primary: RedisServer
    replica: RedisServer

    def wait_link_up(self) -> None:
        """Wait until the replica's link is up and its offset equals the primary's."""

        def synced() -> bool:
            rinfo = self.replica.info()
            pinfo = self.primary.info()
            return rinfo.get("master_link_status") == "up" and rinfo.get(
                "slave_repl_offset"
            ) == pinfo.get("master_repl_offset")

        wait_until("the redis replica to sync", synced, 60)

    def stop(self) -> None:
        """Stop both servers by pid."""
        self.replica.kill()
        self.primary.kill()


def start_redis_pair(
    base: Path,
    primary_address: str,
    replica_address: str,
    ports: tuple[int, int] | None = None,
) -> RedisPair:
    """Start a Redis primary and a replica of it.

    Args:
        base: A directory for both.
        primary_address: The primary's loopback address.
        replica_address: The replica's loopback address.
        ports: Fixed ports (primary, replica); free ones when None.

    Returns:
        The running pair, replica in sync.
    """
    pport, rport = ports or (free_port(primary_address), free_port(replica_address))
    primary = RedisServer("primary", base / "redis" / "primary", primary_address, pport)
    replica = RedisServer("replica", base / "redis" / "replica", replica_address, rport)
    pair = RedisPair(primary, replica)
    try:
        primary.start()
        replica.start(replicaof=primary)
        pair.wait_link_up()
    except Exception:
        pair.stop()
        raise
    return pair
