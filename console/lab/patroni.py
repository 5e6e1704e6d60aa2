"""Patroni in the managed lab: a PostgreSQL 15 cluster that Patroni, not the lab, runs.

Three members, one per site, on etcd (:mod:`console.lab.etcd`): east bootstraps and leads,
west and dr are streaming replicas. dr carries the ``nofailover`` tag: it is a replica that
Patroni never promotes on its own (a DR copy, as most estates keep one), while a switchover to
it still works when asked for by name. We chose ``nofailover`` over a standby cluster because a
standby cluster is a second Patroni cluster with its own leader, which the drills would have
to manage separately; a tagged member keeps one cluster, one leader, one ``/cluster`` view.

Patroni comes from PyPI (4.x, installed into drconsole's own virtualenv by ``make setup``):
Debian's 3.0.2 lost committed rows when a frozen old leader came back (lab-notes-wave2,
Patroni trap). Timings: ``ttl`` 20 (Patroni 4's minimum), ``loop_wait`` 2, ``retry_timeout``
3; the published default is ttl 30. pg_hba is Patroni's whole file (``postgresql.pg_hba``),
trusting loopback like the default lab: on loopback every client comes from 127.0.0.1, so
rules by site address would never match anyway.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from console.lab import etcd
from console.lab.errors import LabError
from console.lab.layout import PG_PORT, LabLayout, SiteLayout
from console.lab.osuser import LabUser, chown_tree, popen_as
from console.lab.procs import proc_info, wait_until
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

REST_PORT = 18008
"""Patroni's REST API on every site's address."""
SCOPE = "drlab"
"""The Patroni cluster name (``scope``)."""
NOFAILOVER_SITES = frozenset({"dr"})
"""Members Patroni never promotes by itself (``tags: {nofailover: true}``)."""
TTL = 20
"""Leader key TTL in seconds (Patroni 4 refuses less than 20)."""
LOOP_WAIT = 2
"""Seconds between HA loops."""
RETRY_TIMEOUT = 3
"""DCS and PostgreSQL retry timeout in seconds (Patroni 4's minimum)."""
SUPERUSER = "postgres"
"""The database superuser (trusted on loopback in the lab)."""
DATABASE = "app"
"""The application database created on the leader after bootstrap."""


@dataclass(frozen=True, slots=True)
class PatroniMember:
    """One Patroni member of the lab."""

    site: SiteLayout
    """Where it runs."""
    pgbin: Path
    """PostgreSQL's server bin directory."""

    @property
    def name(self) -> str:
        """The Patroni member name (``pg-east``)."""
        return f"pg-{self.site.name}"

    @property
    def directory(self) -> Path:
        """Patroni's directory: config and log."""
        return self.site.root / "patroni"

    @property
    def config(self) -> Path:
        """The member's ``patroni.yml``."""
        return self.directory / "patroni.yml"

    @property
    def log(self) -> Path:
        """Patroni's output (its log lines and PostgreSQL's start-up messages)."""
        return self.directory / "patroni.log"

    @property
    def api(self) -> str:
        """The REST API base URL, ``http://ADDRESS:18008``."""
        return f"http://{self.site.address}:{REST_PORT}"

    def settings(self, layout: LabLayout) -> dict[str, Any]:
        """The member's configuration, as Patroni reads it."""
        s = self.site
        loopback_trust = [
            "local all all trust",
            "host all all 127.0.0.0/8 trust",
            "host replication all 127.0.0.0/8 trust",
        ]
        conf: dict[str, Any] = {
            "scope": SCOPE,
            "namespace": "/service/",
            "name": self.name,
            "restapi": {
                "listen": f"{s.address}:{REST_PORT}",
                "connect_address": f"{s.address}:{REST_PORT}",
            },
            "etcd3": {"hosts": etcd.endpoints(layout)},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "64MB",
                            "max_connections": 40,
                        },
                    },
                },
                "initdb": [
                    {"encoding": "UTF8"},
                    {"locale": "C.UTF-8"},
                    "data-checksums",
                    "no-sync",
                    {"auth-local": "trust"},
                    {"auth-host": "trust"},
                ],
            },
            "postgresql": {
                "listen": f"{s.address}:{PG_PORT}",
                "connect_address": f"{s.address}:{PG_PORT}",
                "data_dir": str(s.pgdata),
                "bin_dir": str(self.pgbin),
                "pgpass": str(s.pg_dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": SUPERUSER, "password": "drlab"},
                    "replication": {"username": "replicator", "password": "drlab"},
                    "rewind": {"username": "rewinder", "password": "drlab"},
                },
                "pg_hba": loopback_trust,
                # pg_basebackup's default spread checkpoint made each replica wait ~100 s
                "basebackup": [{"checkpoint": "fast"}, "no-sync"],
                "parameters": {
                    "unix_socket_directories": str(s.run_dir),
                    "shared_buffers": "32MB",
                    "log_line_prefix": "%m [%p] %q%u@%d ",
                },
            },
            "tags": {"nofailover": s.name in NOFAILOVER_SITES},
        }
        return conf

    def psql(self, sql: str, database: str = "postgres") -> list[str]:
        """argv running one SQL string against this member over TCP."""
        return [
            str(self.pgbin / "psql"),
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


def members(layout: LabLayout, pgbin: Path) -> list[PatroniMember]:
    """One member per site, east first."""
    return [PatroniMember(site, pgbin) for site in layout.sites]


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status of a GET (None when nothing answered)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - http:// URLs built here
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def get_json(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The JSON object a GET returns (None when nothing or no object answered)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - http:// URLs built here
            data = json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        try:
            data = json.loads(exc.read().decode())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_config(member: PatroniMember, layout: LabLayout, user: LabUser) -> None:
    member.directory.mkdir(parents=True, exist_ok=True)
    member.config.write_text(yaml.safe_dump(member.settings(layout), sort_keys=False))
    member.config.chmod(0o600)
    chown_tree(member.directory, user)


def start_member(
    runner: Runner, layout: LabLayout, member: PatroniMember, patroni: Path
) -> ProcessRecord:
    """Write the member's config and start its Patroni (which starts PostgreSQL)."""
    _write_config(member, layout, runner.user)
    proc = popen_as(
        runner.user, [str(patroni), str(member.config)], log=member.log, cwd=member.directory
    )
    info = proc_info(proc.pid)
    return ProcessRecord(
        site=member.site.name,
        name="patroni",
        pid=proc.pid,
        start_time=info.start_time if info else 0,
        address=member.site.address,
        port=REST_PORT,
    )


def streaming_replicas(api: str) -> set[str]:
    """Names of the members ``/cluster`` (asked at ``api``) shows as streaming replicas."""
    cluster = get_json(f"{api}/cluster") or {}
    out: set[str] = set()
    for m in cluster.get("members", []):
        if isinstance(m, dict) and m.get("role") == "replica" and m.get("state") == "streaming":
            out.add(str(m.get("name")))
    return out


def setup(
    runner: Runner,
    layout: LabLayout,
    pgbin: Path,
    patroni: Path,
    record: Callable[[ProcessRecord], None],
) -> None:
    """Start east's Patroni, wait for it to lead, then the replicas; seed ``app``.

    Args:
        runner: Runs commands as the lab user.
        layout: The lab's names.
        pgbin: PostgreSQL's bin directory.
        patroni: The ``patroni`` program.
        record: Records each started Patroni.

    etcd must be up (:func:`console.lab.etcd.setup` has returned).

    Raises:
        LabError: A member did not come up in time (naming its log).
    """
    timeout = 120 * runner.timeout_scale
    east, *others = members(layout, pgbin)
    record(start_member(runner, layout, east, patroni))
    if not wait_until(lambda: http_status(f"{east.api}/primary") == 200, timeout, 0.2):
        raise LabError(
            f"Patroni on east did not become the leader within {timeout:.0f} s; see {east.log}"
        )
    runner.run(east.psql(f"CREATE DATABASE {DATABASE}"), what="create database app", timeout=60)
    for m in others:
        record(start_member(runner, layout, m, patroni))
    names = {m.name for m in others}
    if not wait_until(lambda: names <= streaming_replicas(east.api), timeout, 0.3):
        raise LabError(
            f"Patroni replicas {', '.join(sorted(names))} were not streaming within "
            f"{timeout:.0f} s; see {', '.join(str(m.log) for m in others)}"
        )
