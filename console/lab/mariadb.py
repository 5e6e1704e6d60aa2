"""MariaDB in the lab: a primary in east and a GTID replica in west (``read_only=1``).

One ``mariadb-install-db`` makes a template data directory that both sites copy (cheaper
than two installs, and two identical fresh directories let the replica start from an empty GTID
position and replay everything, users included). ``--no-defaults`` always comes first, to the
server and the clients, because Debian's ``/etc/mysql/my.cnf`` would otherwise redirect them to
the packaged server's socket. The server command line goes into the inventory's member vars,
so a playbook restarts a server exactly as the lab started it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import MARIADB_PORT, LabLayout, SiteLayout
from console.lab.procs import require_server, running_record
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

REPL_USER = "repl"
"""The replication user (``'repl'@'127.%'``)."""
REPL_PASSWORD = "replpw"  # noqa: S105 - lab only, written into the lab inventory on purpose
"""Its password (lab only)."""
DATABASE = "app"
"""The seeded application database."""
SERVER_IDS: dict[str, int] = {"east": 1, "west": 2}
"""``server_id`` per site."""

SEED_SQL = """
CREATE DATABASE app;
CREATE TABLE app.customers (
    id INT PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    email VARCHAR(128) NOT NULL,
    site VARCHAR(16) NOT NULL,
    balance DECIMAL(12, 2) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;
INSERT INTO app.customers (id, name, email, site, balance)
SELECT seq, CONCAT('customer-', seq), CONCAT('c', seq, '@example.test'), 'east',
       (seq * 7919) % 100000 / 100
FROM app.seq_1_to_10000;
"""


@dataclass(frozen=True, slots=True)
class MariaMember:
    """One MariaDB instance of the lab and the commands that run it."""

    site: SiteLayout
    """Where it lives."""
    bins: Binaries
    """Where the binaries are."""

    @property
    def server_id(self) -> int:
        """Its ``server_id`` (also the middle part of the GTIDs it writes)."""
        return SERVER_IDS[self.site.name]

    def server_argv(self, read_only: bool) -> list[str]:
        """The foreground server command line (append flags to it freely)."""
        s = self.site
        argv = [
            str(self.bins.mariadbd),
            "--no-defaults",
            f"--datadir={s.maria_datadir}",
            # its own tmpdir: a mariadbd starting removes every #sql* file in its tmpdir,
            # so with /tmp shared a server starting would break another's bootstrap
            f"--tmpdir={s.maria_dir}",
            f"--port={MARIADB_PORT}",
            f"--bind-address={s.address}",
            f"--socket={s.maria_socket}",
            f"--pid-file={s.maria_pidfile}",
            f"--log-error={s.maria_log}",
            "--skip-name-resolve",
            f"--server-id={self.server_id}",
            "--log-bin=binlog",
            "--relay-log=relay",
            "--log-slave-updates=1",
            "--binlog-format=ROW",
            "--gtid-strict-mode=1",
            f"--report-host={s.address}",
            f"--report-port={MARIADB_PORT}",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=48M",
            "--performance-schema=0",
        ]
        if read_only:
            argv.append("--read-only=1")
        return argv

    def server_cmd(self, read_only: bool) -> str:
        """:meth:`server_argv` as one shell-quoted line."""
        return shlex.join(self.server_argv(read_only))

    def start_cmd(self, read_only: bool) -> str:
        """Starts the server detached (returns at once; wait for the socket afterwards)."""
        return f"setsid {self.server_cmd(read_only)} </dev/null >/dev/null 2>&1 &"

    @property
    def stop_cmd(self) -> str:
        """Stops the server (SIGTERM to the pid in its pid file)."""
        return f"kill $(cat {shlex.quote(str(self.site.maria_pidfile))})"

    def client(self, sql: str, *, socket: bool = True, names: bool = False) -> list[str]:
        """argv running SQL through the client: over the socket (as the OS user) or TCP.

        Batch output without column names unless ``names`` (``\\G`` output needs them).
        """
        argv = [str(self.bins.mariadb), "--no-defaults", "-B"]
        if not names:
            argv.append("-N")
        if socket:
            argv += ["-S", str(self.site.maria_socket)]
        else:
            argv += ["-h", self.site.address, "-P", str(MARIADB_PORT)]
        return [*argv, "-e", sql]

    def record(self) -> ProcessRecord:
        """The process record of the running server (from its pid file).

        Raises:
            LabError: When it is not running.
        """
        return running_record(
            site=self.site.name,
            name="mariadb",
            what="MariaDB",
            address=self.site.address,
            port=MARIADB_PORT,
            pidfile=self.site.maria_pidfile,
            log=self.site.maria_log,
        )


def members(layout: LabLayout, bins: Binaries) -> tuple[MariaMember, MariaMember]:
    """The primary (east) and the replica (west)."""
    return MariaMember(layout.site("east"), bins), MariaMember(layout.site("west"), bins)


def _start(runner: Runner, member: MariaMember, read_only: bool) -> ProcessRecord:
    runner.sh(member.start_cmd(read_only), what=f"start MariaDB on {member.site.name}", timeout=30)
    timeout = 120 * runner.timeout_scale
    s = member.site
    require_server(
        what="MariaDB",
        site=s.name,
        address=s.address,
        port=MARIADB_PORT,
        pidfile=s.maria_pidfile,
        log=s.maria_log,
        timeout=timeout,
    )
    return member.record()


def setup(
    runner: Runner,
    layout: LabLayout,
    bins: Binaries,
    record: Callable[[ProcessRecord], None],
    *,
    pair: tuple[MariaMember, MariaMember] | None = None,
    replica_read_only: bool = True,
) -> None:
    """Install one template, start primary and replica from it, replicate, seed, wait.

    Args:
        pair: The primary and the replica (default :func:`members`; a profile passes its own
            subclasses, e.g. with a GTID domain per site).
        replica_read_only: Start the replica with ``--read-only=1`` (the active-active
            profile's second writer starts writable).

    Raises:
        LabCommandFailed: A step failed (the message carries its output).
        LabError: A server did not come up or the replica did not catch up in time.
    """
    primary, replica = pair if pair is not None else members(layout, bins)
    user = runner.user.name
    runner.run(
        [
            str(bins.mariadb_install_db),
            "--no-defaults",
            f"--datadir={layout.maria_template}",
            f"--tmpdir={layout.directory}",  # not /tmp: see MariaMember.server_argv
            "--auth-root-authentication-method=socket",
            f"--auth-root-socket-user={user}",
            "--skip-test-db",
            "--innodb-log-file-size=48M",
        ],
        what="mariadb-install-db",
        timeout=240,
    )
    for m in (primary, replica):
        runner.run(
            ["cp", "-a", str(layout.maria_template), str(m.site.maria_datadir)],
            what=f"copy the MariaDB template to {m.site.name}",
            timeout=60,
        )
    runner.run(["rm", "-rf", str(layout.maria_template)], what="remove the template", timeout=60)
    record(_start(runner, primary, read_only=False))
    record(_start(runner, replica, read_only=replica_read_only))

    runner.run(
        primary.client(
            f"CREATE USER '{REPL_USER}'@'127.%' IDENTIFIED BY '{REPL_PASSWORD}';"
            f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'127.%';"
            f"CREATE USER '{user}'@'127.%';"
            f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'127.%' WITH GRANT OPTION;"
        ),
        what="create MariaDB users on east",
        timeout=60,
    )
    runner.run(
        replica.client(change_master_sql(primary.site.address)),
        what="start MariaDB replication on west",
        timeout=60,
    )
    runner.run(primary.client(SEED_SQL), what="seed MariaDB app.customers on east", timeout=120)
    pos = runner.run(
        primary.client("SELECT @@gtid_binlog_pos"), what="read GTID on east", timeout=30
    ).strip()
    wait = int(120 * runner.timeout_scale)
    got = runner.run(
        replica.client(f"SELECT MASTER_GTID_WAIT('{pos}', {wait})"),
        what="wait for the MariaDB replica",
        timeout=wait + 30,
    ).strip()
    if got != "0":
        status = runner.run(
            replica.client("SHOW SLAVE STATUS\\G", names=True), what="slave status", timeout=30
        )
        raise LabError(
            f"MariaDB replica on west did not reach {pos} within {wait} s: {status[-1500:]}"
        )


def change_master_sql(primary_address: str, port: int = MARIADB_PORT) -> str:
    """The statements that make a server a GTID replica of ``primary_address:port``."""
    return (
        f"CHANGE MASTER TO MASTER_HOST='{primary_address}', MASTER_PORT={port}, "
        f"MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', "
        "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;"
    )


def quoted(argv: list[str]) -> str:
    """``argv`` as one shell line."""
    return shlex.join(argv)
