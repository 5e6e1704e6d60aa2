"""The default profile: the first-stage lab, unchanged (``inventory/lab.yaml``).

East holds a PostgreSQL primary, a MariaDB primary and a Redis primary; west their streaming,
GTID and Redis replicas; dr receives backups for restore verification and keeps spare ports
for scratch servers. The PostgreSQL primary archives its WAL to a pgBackRest repository at dr
(:mod:`console.lab.pgbackrest`) and ``up`` takes a first full backup, so point-in-time
recovery can be drilled at once. Every shipped raw playbook (``pg-failover``,
``redis-failover`` ...) runs against it.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from console.lab import inventory as inventory_file
from console.lab import mariabackup, mariadb, pgbackrest, postgres, redis
from console.lab.errors import MissingBinaries
from console.lab.layout import DB_SITES, PG_PORT, LabLayout, SiteLayout
from console.lab.profiles.base import Profile, StartContext


class DefaultProfile(Profile):
    """PostgreSQL, MariaDB and Redis pairs east -> west, a dr site for backups."""

    name = "default"
    summary = (
        "PostgreSQL primary + streaming standby, MariaDB primary + GTID replica, Redis primary "
        "+ replica (east -> west), dr site for backups (PostgreSQL WAL archived there by "
        "pgBackRest)"
    )
    inventory_name = "lab.yaml"
    owned_entries: ClassVar[frozenset[str]] = frozenset({"mariadb-template", "relays"})
    stop_signals: ClassVar[dict[str, int]] = {"postgres": signal.SIGINT}
    latency_sites: ClassVar[tuple[str, ...]] = DB_SITES

    def find_programs(self) -> dict[str, Path]:
        """pgBackRest (the PostgreSQL WAL archive and backups) and mariadb-backup.

        Raises:
            MissingBinaries: When either is not installed.
        """
        found = {p: shutil.which(p) for p in (pgbackrest.PROGRAM, mariabackup.PROGRAM)}
        missing = [p for p, path in found.items() if path is None]
        if missing:
            raise MissingBinaries(
                missing, f"install them with: apt-get install -y {' '.join(missing)}"
            )
        return {p: Path(path).absolute() for p, path in found.items() if path is not None}

    def endpoints(self, layout: LabLayout) -> list[tuple[str, str, int]]:
        """sshd on every site; PostgreSQL, MariaDB and Redis on east and west."""
        return layout.endpoints()

    def spare_ports(self, layout: LabLayout) -> list[tuple[str, int]]:
        """The dr site's scratch ports of the restore drills."""
        listening = {(a, p) for _s, a, p in layout.endpoints()}
        return [p for p in layout.all_ports() if p not in listening]

    def directories(self, layout: LabLayout) -> list[Path]:
        """Per site: run, sshd and lock dirs; data dirs on east and west; dr's backup areas."""
        dirs = [layout.ssh_dir, layout.relay_dir]
        for site in layout.sites:
            dirs += [site.root, site.run_dir, site.sshd_dir, site.root / "locks"]
            if site.name in DB_SITES:
                dirs += [site.pg_dir, site.maria_dir, site.redis_dir]
        dr = layout.site("dr")
        brest = pgbackrest.PgBackRest(dr, Path(pgbackrest.PROGRAM))
        return [*dirs, dr.backup_dir, dr.scratch_dir, *brest.directories()]

    def sshd_env(self, layout: LabLayout, site: SiteLayout, pgbin: Path) -> dict[str, str]:
        """The shared environment, plus libpq defaults on the database sites."""
        env = super().sshd_env(layout, site, pgbin)
        if site.name in DB_SITES:
            env.update(PGHOST=str(site.run_dir), PGPORT=str(PG_PORT), PGUSER=postgres.SUPERUSER)
        return env

    def start_tasks(self, ctx: StartContext) -> dict[str, Callable[[], None]]:
        """PostgreSQL, MariaDB and Redis, each pair set up by its own module."""
        return {
            "postgres": lambda: _postgres_with_archive(ctx),
            "mariadb": lambda: _mariadb_with_base_backup(ctx),
            "redis": lambda: redis.setup(ctx.runner, ctx.layout, ctx.bins, ctx.record),
        }

    def write_inventory(
        self, ctx: StartContext, inventory: Path, known_hosts_lines: list[str]
    ) -> tuple[Path, Path]:
        """``inventory/lab.yaml`` as the first stage wrote it."""
        return inventory_file.write(
            ctx.layout, ctx.bins, ctx.runner.user.name, inventory, known_hosts_lines
        )


def _postgres_with_archive(ctx: StartContext) -> None:
    """The PostgreSQL pair archiving to pgBackRest at dr, with its first full backup."""
    brest = pgbackrest.for_layout(ctx.layout, ctx.extra[pgbackrest.PROGRAM])
    pgbackrest.write_config(ctx.runner, brest, ctx.layout.site("east"))
    postgres.setup(
        ctx.runner,
        ctx.layout,
        ctx.bins,
        ctx.record,
        extra_conf=brest.postgres_conf(),
        on_primary_started=lambda: pgbackrest.create_stanza(ctx.runner, brest),
        # before the standby exists: the backup's checkpoint must not show up as its lag
        on_primary_seeded=lambda: pgbackrest.first_backup(ctx.runner, brest),
    )


def _mariadb_with_base_backup(ctx: StartContext) -> None:
    """The MariaDB pair, then a prepared base backup of the primary at dr (binlogs on top)."""
    mariadb.setup(ctx.runner, ctx.layout, ctx.bins, ctx.record)
    mariabackup.take(ctx.runner, ctx.layout, ctx.extra[mariabackup.PROGRAM])
