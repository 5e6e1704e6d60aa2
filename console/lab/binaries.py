"""Find the real server binaries before anything starts, so a missing one is one clear message.

A lab that dies half-way because ``mariadbd`` is missing leaves processes behind and a
confusing error; checking every binary first turns it into one line that names the Debian
packages to install. The search path is configurable (``DRCONSOLE_LAB_PATH``,
``DRCONSOLE_LAB_PGBIN``) so that tests can simulate a machine without the packages.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from console.lab.errors import MissingBinaries
from console.lab.layout import DEFAULT_PGBIN

ENV_PATH = "DRCONSOLE_LAB_PATH"
"""Overrides where the lab looks for mariadbd, redis-server, sshd and friends."""
ENV_PGBIN = "DRCONSOLE_LAB_PGBIN"
"""Overrides the PostgreSQL server bin directory (default ``/usr/lib/postgresql/15/bin``)."""

_SYSTEM_DIRS = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Binaries:
    """Absolute paths of every program the lab runs."""

    pgbin: Path
    """The PostgreSQL server bin directory."""
    mariadbd: Path
    """The MariaDB server."""
    mariadb_install_db: Path
    """Creates a MariaDB data directory."""
    mariadb: Path
    """The MariaDB client."""
    redis_server: Path
    """The Redis server."""
    redis_cli: Path
    """The Redis client."""
    sshd: Path
    """OpenSSH's server (must be run by absolute path)."""

    def pg(self, name: str) -> str:
        """The absolute path of a PostgreSQL program, e.g. ``pg("pg_ctl")``."""
        return str(self.pgbin / name)


_PG_PROGRAMS = ("initdb", "pg_ctl", "pg_basebackup", "psql", "pgbench", "postgres")


def default_search_path() -> str:
    """Where non-PostgreSQL binaries are looked up: ``$DRCONSOLE_LAB_PATH`` or PATH + sbin."""
    env = os.environ.get(ENV_PATH)
    if env is not None:
        return env
    return os.environ.get("PATH", "") + os.pathsep + _SYSTEM_DIRS


def default_pgbin() -> Path:
    """``$DRCONSOLE_LAB_PGBIN`` or Debian's PostgreSQL 15 bin directory."""
    return Path(os.environ.get(ENV_PGBIN) or DEFAULT_PGBIN)


def find_binaries(pgbin: Path | None = None, search_path: str | None = None) -> Binaries:
    """Locate every server binary, or name all the missing ones at once.

    Args:
        pgbin: PostgreSQL's bin directory (default :func:`default_pgbin`).
        search_path: ``os.pathsep``-separated directories for the other programs
            (default :func:`default_search_path`).

    Returns:
        The absolute paths.

    Raises:
        MissingBinaries: Listing every program that was not found (exit code 2).
    """
    pgdir = pgbin if pgbin is not None else default_pgbin()
    path = search_path if search_path is not None else default_search_path()
    missing: list[str] = []
    for prog in _PG_PROGRAMS:
        candidate = pgdir / prog
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            missing.append(str(candidate))

    found: dict[str, Path] = {}
    for prog in ("mariadbd", "mariadb-install-db", "mariadb", "redis-server", "redis-cli", "sshd"):
        hit = shutil.which(prog, path=path)
        if hit is None:
            missing.append(prog)
        else:
            found[prog] = Path(hit).absolute()
    if missing:
        raise MissingBinaries(missing)
    return Binaries(
        pgbin=pgdir.absolute(),
        mariadbd=found["mariadbd"],
        mariadb_install_db=found["mariadb-install-db"],
        mariadb=found["mariadb"],
        redis_server=found["redis-server"],
        redis_cli=found["redis-cli"],
        sshd=found["sshd"],
    )
