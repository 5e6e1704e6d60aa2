"""PostgreSQL 15 in the lab: a primary in east and a streaming standby in west.

Built so that the drill playbooks can fail over and back for real: data checksums and
``wal_log_hints`` make ``pg_rewind`` possible, and a physical replication slot named after the
standby's site keeps the WAL it needs. Everything specific to one instance (port, listen
address, socket directory, ``cluster_name``) is on the ``pg_ctl -o`` command line, never in
the configuration files, because ``pg_basebackup`` and ``pg_rewind`` copy those files from the
other site (lab-notes, pg_rewind gotcha 2). The exact commands go into the inventory's member
vars, so a playbook restarts a server the same way the lab started it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import PG_PORT, LabLayout, SiteLayout
from console.lab.procs import running_record, wait_until
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

SUPERUSER = "postgres"
"""The database superuser ``initdb -U`` creates; the inventory probes as this user."""
DATABASE = "app"
"""The seeded application database."""

SHARED_CONF = """
# --- drconsole lab: settings shared by every instance (copied by pg_basebackup/pg_rewind) ---
# Instance-specific settings (port, listen address, sockets, cluster_name) are on the
# pg_ctl -o command line instead; see the member var pg_ctl_opts in the inventory.
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_log_hints = on
hot_standby = on
hot_standby_feedback = on
wal_keep_size = '64MB'
shared_buffers = '32MB'
max_connections = 40
log_line_prefix = '%m [%p] %q%u@%d '
"""

LAB_HBA = """
# --- drconsole lab only: trust every loopback address (initdb's default covers 127.0.0.1) ---
host    all             all             127.0.0.0/8             trust
host    replication     all             127.0.0.0/8             trust
"""

SEED_SQL = """
CREATE TABLE app_events (
    id bigserial PRIMARY KEY,
    site text NOT NULL,
    kind text NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO app_events (site, kind, payload)
SELECT 'east', (ARRAY['order', 'login', 'refund'])[1 + i % 3], md5(i::text)
FROM generate_series(1, 1000) AS i;
"""


@dataclass(frozen=True, slots=True)
class PgMember:
    """One PostgreSQL instance of the lab and the commands that run it."""

    site: SiteLayout
    """Where it lives."""
    pgbin: Path
    """PostgreSQL's server bin directory."""

    @property
    def slot(self) -> str:
        """The physical slot this member streams from while it is a standby (its site name)."""
        return self.site.name

    @property
    def ctl_opts(self) -> str:
        """The ``pg_ctl -o`` options: everything specific to this instance."""
        return (
            f"-p {PG_PORT} -h {self.site.address} -k {shlex.quote(str(self.site.run_dir))} "
            f"-c cluster_name={self.site.name}"
        )

    def _pg(self, name: str) -> str:
        return str(self.pgbin / name)

    @property
    def start_cmd(self) -> str:
        """Starts the server (as a primary, or as a standby when ``standby.signal`` exists)."""
        return shlex.join(
            [
                self._pg("pg_ctl"),
                "-D",
                str(self.site.pgdata),
                "-l",
                str(self.site.pglog),
                "-o",
                self.ctl_opts,
                "-w",
                "-t",
                "120",
                "start",
            ]
        )

    @property
    def stop_cmd(self) -> str:
        """Stops the server with a fast shutdown and waits for it."""
        return shlex.join(
            [
                self._pg("pg_ctl"),
                "-D",
                str(self.site.pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                "120",
                "stop",
            ]
        )

    @property
    def conninfo(self) -> str:
        """libpq connection string to this member as the superuser over TCP."""
        return f"host={self.site.address} port={PG_PORT} user={SUPERUSER}"

    def psql(self, sql: str, database: str = "postgres") -> list[str]:
        """argv running one SQL string, unaligned output, stopping on the first error."""
        return [
            self._pg("psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-h",
            self.site.address,
            "-p",
            str(PG_PORT),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-c",
            sql,
        ]

    def record(self, name: str = "postgres") -> ProcessRecord:
        """The process record of the running postmaster (from ``postmaster.pid``).

        Raises:
            LabError: When the postmaster is not running.
        """
        return running_record(
            site=self.site.name,
            name=name,
            what="PostgreSQL",
            address=self.site.address,
            port=PG_PORT,
            pidfile=self.site.pgdata / "postmaster.pid",
            log=self.site.pglog,
        )


def members(layout: LabLayout, bins: Binaries) -> tuple[PgMember, PgMember]:
    """The primary (east) and the standby (west)."""
    return PgMember(layout.site("east"), bins.pgbin), PgMember(layout.site("west"), bins.pgbin)


def setup(
    runner: Runner,
    layout: LabLayout,
    bins: Binaries,
    record: Callable[[ProcessRecord], None],
    *,
    extra_conf: str = "",
    on_primary_started: Callable[[], None] | None = None,
    on_primary_seeded: Callable[[], None] | None = None,
) -> None:
    """Create, start and seed the primary, then clone and start the streaming standby.

    Args:
        runner: Runs commands as the lab user.
        layout: The lab's names.
        bins: Where the binaries are.
        record: Called with each started server's record as soon as it runs.
        extra_conf: Appended to the shared ``postgresql.conf`` (WAL archiving, say).
        on_primary_started: Called once the primary runs, before it is seeded.
        on_primary_seeded: Called once the primary is seeded, before the standby is cloned.

    Raises:
        LabCommandFailed: A step failed (the message carries its output).
        LabError: The standby did not start streaming in time.
    """
    primary, standby = members(layout, bins)
    p = primary.site
    runner.run(
        [
            bins.pg("initdb"),
            "-D",
            str(p.pgdata),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--data-checksums",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        what="initdb on east",
        timeout=180,
    )
    runner.sh(
        f"cat >> {shlex.quote(str(p.pgdata / 'postgresql.conf'))} <<'EOF'\n"
        f"{SHARED_CONF}{extra_conf}EOF\n"
        f"cat >> {shlex.quote(str(p.pgdata / 'pg_hba.conf'))} <<'EOF'\n{LAB_HBA}EOF\n",
        what="configure PostgreSQL on east",
        timeout=30,
    )
    runner.sh(primary.start_cmd, what="start PostgreSQL on east", timeout=180)
    record(primary.record())
    if on_primary_started is not None:
        on_primary_started()
    runner.run(primary.psql(f"CREATE DATABASE {DATABASE}"), what="create database app", timeout=60)
    runner.run(
        [
            bins.pg("pgbench"),
            "-i",
            "-s",
            "1",
            "-q",
            "-h",
            p.address,
            "-p",
            str(PG_PORT),
            "-U",
            SUPERUSER,
            DATABASE,
        ],
        what="pgbench -i -s 1 on east",
        timeout=180,
    )
    runner.run(primary.psql(SEED_SQL, DATABASE), what="seed app_events on east", timeout=60)
    if on_primary_seeded is not None:
        on_primary_seeded()

    s = standby.site
    runner.run(
        [
            bins.pg("pg_basebackup"),
            "-h",
            p.address,
            "-p",
            str(PG_PORT),
            "-U",
            SUPERUSER,
            "-D",
            str(s.pgdata),
            "-X",
            "stream",
            "-C",
            "-S",
            standby.slot,
            "-R",
            "-c",
            "fast",
            "--no-sync",
        ],
        what="pg_basebackup of east into west",
        timeout=300,
    )
    runner.sh(standby.start_cmd, what="start PostgreSQL standby on west", timeout=180)
    record(standby.record())
    wait_streaming(runner, primary, standby.site.name, timeout=60 * runner.timeout_scale)


def wait_streaming(runner: Runner, primary: PgMember, standby_site: str, timeout: float) -> None:
    """Wait until the primary reports the standby streaming on its slot.

    Raises:
        LabError: When it does not stream within ``timeout`` seconds.
    """
    sql = (
        "SELECT s.slot_name FROM pg_stat_replication r JOIN pg_replication_slots s "
        "ON s.active_pid = r.pid WHERE r.state = 'streaming'"
    )

    def streaming() -> bool:
        slots = runner.run(primary.psql(sql), what="check streaming", timeout=30).split()
        return standby_site in slots

    if not wait_until(streaming, timeout, interval=0.2):
        raise LabError(
            f"PostgreSQL standby {standby_site} did not start streaming within {timeout:.0f} s"
        )
