"""Write the lab's inventory and known_hosts: the only thing the rest of drconsole knows of it.

The drill playbooks only know what the inventory says, so every member carries in its ``vars``
what a playbook needs to stop, start, promote or rebuild that server over SSH: data directory,
log, socket, and the exact command lines the lab itself used. The file is written by hand
rather than by ``yaml.dump`` so that each var can carry a comment that documents it; every
string is emitted JSON-quoted, which is valid YAML and needs no escaping rules of our own.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from console.lab import mariadb, postgres, redis
from console.lab.binaries import Binaries
from console.lab.layout import (
    MARIADB_PORT,
    MARIADB_SCRATCH_PORT,
    MYSQL_SERVICE,
    PG_PORT,
    PG_SCRATCH_PORT,
    PG_SERVICE,
    REDIS_PORT,
    REDIS_SCRATCH_PORT,
    REDIS_SERVICE,
    SITE_ROLE,
    SSH_PORT,
    LabLayout,
)

Value = str | int


@dataclass(frozen=True, slots=True)
class Var:
    """One documented variable."""

    name: str
    """Its name in ``vars``."""
    value: Value
    """A string or a number."""
    doc: str
    """What it is, written as a comment above it."""


def known_hosts_path(inventory: Path) -> Path:
    """``<inventory dir>/<inventory stem>_known_hosts`` (``inventory/lab_known_hosts``)."""
    return inventory.with_name(f"{inventory.stem}_known_hosts")


def _q(value: Value) -> str:
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, indent: int, text: str) -> None:
        self.lines.append("  " * indent + text)

    def comment(self, indent: int, text: str) -> None:
        self.line(indent, f"# {text}")

    def vars(self, indent: int, items: list[Var], documented: set[str]) -> None:
        self.line(indent, "vars:")
        for var in items:
            if var.name not in documented:
                self.comment(indent + 1, f"{var.name}: {var.doc}")
                documented.add(var.name)
            self.line(indent + 1, f"{var.name}: {_q(var.value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _pg_vars(m: postgres.PgMember) -> list[Var]:
    s = m.site
    return [
        Var("pgdata", str(s.pgdata), "the PostgreSQL data directory"),
        Var("pglog", str(s.pglog), "the server log (pg_ctl -l)"),
        Var("socket_dir", str(s.run_dir), "unix socket directory (pg_ctl -o -k)"),
        Var(
            "slot",
            m.slot,
            "physical replication slot this member streams from while it is a standby "
            "(named after its site; create it on the primary before pointing it there)",
        ),
        Var(
            "pg_ctl_opts",
            m.ctl_opts,
            "instance settings for pg_ctl -o (port, listen address, sockets, cluster_name); "
            "kept off postgresql.conf because pg_basebackup and pg_rewind copy that file",
        ),
        Var(
            "start_cmd",
            m.start_cmd,
            "starts the server and waits (a standby when standby.signal exists)",
        ),
        Var("stop_cmd", m.stop_cmd, "fast shutdown, waits until stopped"),
        Var(
            "conninfo",
            m.conninfo,
            "libpq conninfo of this member (primary_conninfo / pg_rewind --source-server)",
        ),
    ]


def _maria_vars(m: mariadb.MariaMember, read_only: bool) -> list[Var]:
    s = m.site
    return [
        Var("datadir", str(s.maria_datadir), "the MariaDB data directory (binlogs in it too)"),
        Var("socket", str(s.maria_socket), "unix socket; the OS user logs in through it"),
        Var("server_id", m.server_id, "server_id (the middle part of the GTIDs it writes)"),
        Var("pid_file", str(s.maria_pidfile), "the server's pid file"),
        Var("log_error", str(s.maria_log), "the server's error log"),
        Var(
            "server_cmd",
            m.server_cmd(read_only=False),
            "the foreground server command, read-write (append options such as "
            "--read-only=1; always starts with --no-defaults)",
        ),
        Var(
            "start_cmd",
            m.start_cmd(read_only),
            "starts the server detached in its inventory role (the replica with "
            "--read-only=1); returns at once: wait for the socket afterwards",
        ),
        Var(
            "start_read_only_cmd",
            m.start_cmd(read_only=True),
            "starts the server detached with --read-only=1 (to rejoin as a replica)",
        ),
        Var("stop_cmd", m.stop_cmd, "stops the server (SIGTERM to its pid)"),
        Var(
            "client",
            f"{m.bins.mariadb} --no-defaults -S {s.maria_socket}",
            "the client over the socket as the OS user (append -e 'SQL')",
        ),
        Var("repl_user", mariadb.REPL_USER, "replication user for CHANGE MASTER TO (lab only)"),
        Var("repl_password", mariadb.REPL_PASSWORD, "its password (lab only)"),
    ]


def _redis_vars(m: redis.RedisMember, replica_of: str | None) -> list[Var]:
    s = m.site
    return [
        Var("dir", str(s.redis_dir), "the Redis working directory (BGSAVE writes dump.rdb here)"),
        Var("pidfile", str(s.redis_pidfile), "the server's pid file"),
        Var("logfile", str(s.redis_log), "the server's log"),
        Var(
            "server_cmd",
            m.server_cmd,
            "starts the server as a primary; it daemonizes (append --replicaof HOST PORT "
            "to start it as a replica)",
        ),
        Var("start_cmd", m.start_cmd(replica_of), "starts the server in its inventory role"),
        Var("stop_cmd", m.stop_cmd, "SHUTDOWN NOSAVE"),
    ]


def render(
    layout: LabLayout,
    bins: Binaries,
    user: str,
    inventory: Path,
    known_hosts: Path,
) -> str:
    """The inventory text for a lab.

    Args:
        layout: The lab's names.
        bins: Where the binaries are (their paths go into the command vars).
        user: The OS user that logs in over SSH.
        inventory: Where the file will be written (absolute), for the header.
        known_hosts: The known_hosts path written into ``ssh.known_hosts`` (absolute).

    Returns:
        YAML text.
    """
    east, dr = layout.site("east"), layout.site("dr")
    w = _Writer()
    w.comment(0, f"Generated by `drconsole lab up` at {time.strftime('%Y-%m-%d %H:%M:%S')}.")
    w.comment(
        0, f"Lab directory {layout.directory}, net {layout.net} (addresses 127.{layout.net}.S.1)."
    )
    w.comment(0, "Rewritten by every fresh `lab up`: edits are lost. Lab only: trust auth, no")
    w.comment(0, "database passwords except the replication user's, all on loopback.")
    w.line(0, "version: 1")
    w.line(0, "name: lab")
    w.line(
        0, f"description: {_q(f'drconsole DR lab on 127.{layout.net}.0.0/16 ({layout.directory})')}"
    )
    w.line(0, "ssh:")
    w.line(1, f"user: {_q(user)}")
    w.line(1, f"identity_file: {_q(str(layout.identity_file))}")
    w.line(1, f"known_hosts: {_q(str(known_hosts))}")
    w.line(1, "connect_timeout: 5s")
    documented: set[str] = set()
    w.vars(
        0,
        [
            Var("pgbin", str(bins.pgbin), "PostgreSQL 15 server programs (pg_ctl, pg_rewind ...)"),
            Var("lab_dir", str(layout.directory), "the lab directory: every data dir and log"),
            Var("lab_net", layout.net, "second octet of every lab address (127.N.S.1)"),
            Var(
                "mariadb_bin", str(bins.mariadb), "the MariaDB client (always --no-defaults first)"
            ),
            Var("mariadbd_bin", str(bins.mariadbd), "the MariaDB server"),
            Var("redis_cli", str(bins.redis_cli), "the Redis client"),
            Var("redis_server_bin", str(bins.redis_server), "the Redis server"),
        ],
        documented,
    )
    w.line(0, "sites:")
    for site in layout.sites:
        w.line(1, f"{site.name}:")
        w.line(2, f"role: {SITE_ROLE[site.name]}")
        w.line(2, f"description: {_q(f'Lab site {site.name} ({site.address})')}")
        w.line(2, "hosts:")
        w.line(3, f"{site.host}:")
        w.line(4, f"address: {site.address}")
        w.line(4, f"port: {SSH_PORT}")
        tags = "[backup]" if site.name == "dr" else "[postgres, mariadb, redis]"
        w.line(4, f"tags: {tags}")
        w.comment(4, "a lock directory per host, as if each site were its own machine")
        w.line(4, f"ssh: {{lock_dir: {_q(str(site.root / 'locks'))}}}")
        host_vars = [
            Var("site_dir", str(site.root), "this site's directory in the lab"),
            Var("run_dir", str(site.run_dir), "unix sockets of this site's servers"),
        ]
        if site.name == "dr":
            host_vars += [
                Var("backup_dir", str(dr.backup_dir), "where backups are kept for restore drills"),
                Var("scratch_dir", str(dr.scratch_dir), "where scratch restores may run"),
                Var("pg_scratch_port", PG_SCRATCH_PORT, "spare PostgreSQL port on this host"),
                Var("mysql_scratch_port", MARIADB_SCRATCH_PORT, "spare MariaDB port on this host"),
                Var("redis_scratch_port", REDIS_SCRATCH_PORT, "spare Redis port on this host"),
            ]
        w.vars(4, host_vars, documented)

    pg_east, pg_west = postgres.members(layout, bins)
    my_east, my_west = mariadb.members(layout, bins)
    rd_east, rd_west = redis.members(layout, bins)
    w.line(0, "services:")
    # Member vars are documented once per service: the same name means a different command.
    pg_documented: set[str] = set()
    my_documented: set[str] = set()
    rd_documented: set[str] = set()

    w.line(1, f"{PG_SERVICE}:")
    w.line(2, "kind: postgres")
    w.line(2, "description: " + _q("PostgreSQL 15 streaming replication, slot per standby site"))
    w.line(2, "members:")
    for member, role in ((pg_east, "primary"), (pg_west, "replica")):
        w.line(3, f"{member.site.host}:")
        w.line(4, f"port: {PG_PORT}")
        w.line(4, f"role: {role}")
        w.vars(4, _pg_vars(member), pg_documented)
    w.line(2, f"probe: {{user: {postgres.SUPERUSER}, database: postgres}}")
    w.line(2, "thresholds: {lag_warn: 5s, lag_crit: 30s}")

    w.line(1, f"{MYSQL_SERVICE}:")
    w.line(2, "kind: mysql")
    w.line(2, "description: " + _q("MariaDB GTID replication, replica read_only"))
    w.line(2, "members:")
    for mm, role, ro in ((my_east, "primary", False), (my_west, "replica", True)):
        w.line(3, f"{mm.site.host}:")
        w.line(4, f"port: {MARIADB_PORT}")
        w.line(4, f"role: {role}")
        w.vars(4, _maria_vars(mm, ro), my_documented)
    w.line(2, f"probe: {{user: {_q(user)}}}")
    w.line(2, "thresholds: {lag_warn: 5s, lag_crit: 30s}")

    w.line(1, f"{REDIS_SERVICE}:")
    w.line(2, "kind: redis")
    w.line(2, "description: " + _q("Redis primary and replica, no persistence (BGSAVE works)"))
    w.line(2, "members:")
    for rm, role, upstream in ((rd_east, "primary", None), (rd_west, "replica", east.address)):
        w.line(3, f"{rm.site.host}:")
        w.line(4, f"port: {REDIS_PORT}")
        w.line(4, f"role: {role}")
        w.vars(4, _redis_vars(rm, upstream), rd_documented)
    w.line(2, "thresholds: {lag_warn: 5s, lag_crit: 30s}")
    return w.text()


def write(
    layout: LabLayout,
    bins: Binaries,
    user: str,
    inventory: Path,
    known_hosts_lines: list[str],
) -> tuple[Path, Path]:
    """Write the inventory and its known_hosts next to it.

    Args:
        layout: The lab's names.
        bins: Where the binaries are.
        user: The OS user that logs in over SSH.
        inventory: Where to write it (made absolute; parent directories created).
        known_hosts_lines: One line per site's sshd.

    Returns:
        The absolute paths of the inventory and the known_hosts file.
    """
    inv = inventory.expanduser().absolute()
    kh = known_hosts_path(inv)
    inv.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(kh, "".join(line.rstrip("\n") + "\n" for line in known_hosts_lines))
    _atomic_write(inv, render(layout, bins, user, inv, kh))
    return inv, kh


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(path)
