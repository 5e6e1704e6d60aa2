"""Where everything of a lab lives: addresses, ports and paths, computed and never stored twice.

The lab is three "data centres" on one machine. Each site owns one loopback address
(``127.N.S.1``, N from ``--net`` so that parallel labs never collide) and every server of a
site listens on that address with the same port as its peer in the other site, like real hosts
do. Everything a server writes lives under one lab directory, one sub-directory per site. This
module is pure (no IO): the lab, the inventory writer and the tests all derive the same names
from the same two inputs, the directory and the net number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from console.errors import InputError

SITES: tuple[str, ...] = ("east", "west", "dr")
"""Site names in start order; east holds the primaries, west the replicas, dr the backups."""

DB_SITES: tuple[str, ...] = ("east", "west")
"""The sites that run database servers."""

SITE_OCTET: dict[str, int] = {"east": 1, "west": 2, "dr": 3}
"""Third octet of each site's address: ``127.N.<octet>.1``."""

SITE_ROLE: dict[str, str] = {"east": "primary", "west": "standby", "dr": "dr"}
"""The role each site has in the inventory."""

PG_SERVICE = "orders-db"
"""The inventory service of the PostgreSQL pair (the playbooks and tests know it by this)."""
MYSQL_SERVICE = "catalog-db"
"""The inventory service of the MariaDB pair (kind ``mysql``)."""
REDIS_SERVICE = "sessions"
"""The inventory service of the Redis pair."""

SSH_PORT = 2222
"""Every site's sshd listens on its own address, this port."""
PG_PORT = 15432
"""PostgreSQL 15 on east and west (away from the packaged 5432)."""
MARIADB_PORT = 13306
"""MariaDB on east and west (away from the packaged 3306)."""
REDIS_PORT = 16379
"""Redis on east and west (away from the packaged 6379)."""
PG_SCRATCH_PORT = 15433
"""Spare port on the dr site for a scratch PostgreSQL during restore verification."""
MARIADB_SCRATCH_PORT = 13307
"""Spare port on the dr site for a scratch MariaDB during restore verification."""
REDIS_SCRATCH_PORT = 16380
"""Spare port on the dr site for a scratch Redis during restore verification."""

DEFAULT_PGBIN = "/usr/lib/postgresql/15/bin"
"""Debian's PostgreSQL 15 server binaries (initdb, pg_ctl, pg_rewind are not on PATH)."""

MAX_SOCKET_PATH = 100
"""Unix socket paths must fit ``sun_path`` (108 bytes); keep a margin for the file name."""


def site_address(net: int, site: str) -> str:
    """The loopback address of ``site`` in lab number ``net``.

    Args:
        net: The second octet (0..255).
        site: One of :data:`SITES`.

    Returns:
        ``127.<net>.<octet>.1``.
    """
    return f"127.{net}.{SITE_OCTET[site]}.1"


def check_net(net: int) -> int:
    """Validate a ``--net`` value.

    Raises:
        InputError: When ``net`` is not a valid second octet.
    """
    if not 0 <= net <= 255:
        raise InputError(f"--net must be between 0 and 255, got {net}")
    return net


@dataclass(frozen=True, slots=True)
class SiteLayout:
    """The paths and address of one site."""

    name: str
    """Site name (``east``, ``west``, ``dr``)."""
    address: str
    """The site's loopback address; every server of the site listens on it."""
    root: Path
    """The site's directory under the lab directory."""

    @property
    def host(self) -> str:
        """The inventory host name of the site's one host (``lab-east``)."""
        return f"lab-{self.name}"

    @property
    def run_dir(self) -> Path:
        """Unix sockets of the site's servers."""
        return self.root / "run"

    @property
    def sshd_dir(self) -> Path:
        """The sshd's config, host key, pid file and log."""
        return self.root / "sshd"

    @property
    def pg_dir(self) -> Path:
        """PostgreSQL's directory (data directory and log)."""
        return self.root / "pg"

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL data directory."""
        return self.pg_dir / "data"

    @property
    def pglog(self) -> Path:
        """The ``pg_ctl -l`` server log."""
        return self.pg_dir / "postgresql.log"

    @property
    def maria_dir(self) -> Path:
        """MariaDB's directory."""
        return self.root / "mariadb"

    @property
    def maria_datadir(self) -> Path:
        """The MariaDB data directory (binary and relay logs live in it too)."""
        return self.maria_dir / "data"

    @property
    def maria_socket(self) -> Path:
        """The MariaDB unix socket."""
        return self.run_dir / "mariadb.sock"

    @property
    def maria_pidfile(self) -> Path:
        """The MariaDB pid file."""
        return self.maria_dir / "mariadb.pid"

    @property
    def maria_log(self) -> Path:
        """The MariaDB error log."""
        return self.maria_dir / "mariadb.err"

    @property
    def redis_dir(self) -> Path:
        """Redis's working directory (``dir``: where BGSAVE writes ``dump.rdb``)."""
        return self.root / "redis"

    @property
    def redis_pidfile(self) -> Path:
        """The Redis pid file."""
        return self.redis_dir / "redis.pid"

    @property
    def redis_log(self) -> Path:
        """The Redis log file."""
        return self.redis_dir / "redis.log"

    @property
    def backup_dir(self) -> Path:
        """The dr site's backup area."""
        return self.root / "backups"

    @property
    def scratch_dir(self) -> Path:
        """The dr site's area for scratch restores."""
        return self.root / "scratch"


@dataclass(frozen=True, slots=True)
class LabLayout:
    """Every name of one lab, derived from its directory and net number."""

    directory: Path
    """The lab directory, absolute."""
    net: int
    """Second octet of every address of this lab."""

    @classmethod
    def create(cls, directory: Path, net: int) -> LabLayout:
        """Build a layout, making ``directory`` absolute and checking ``net``.

        Raises:
            InputError: For a bad ``net`` or a directory whose socket paths would be too long.
        """
        layout = cls(directory=Path(directory).expanduser().absolute(), net=check_net(net))
        longest = layout.site("east").run_dir / ".s.PGSQL.15432.lock"
        if len(str(longest)) > MAX_SOCKET_PATH:
            raise InputError(
                f"lab directory {layout.directory} is too deep: unix socket paths such as "
                f"{longest} must stay under {MAX_SOCKET_PATH} characters; use a shorter --dir"
            )
        return layout

    def site(self, name: str) -> SiteLayout:
        """The layout of one site."""
        return SiteLayout(
            name=name, address=site_address(self.net, name), root=self.directory / name
        )

    @property
    def sites(self) -> tuple[SiteLayout, ...]:
        """All three sites, east first."""
        return tuple(self.site(n) for n in SITES)

    @property
    def state_file(self) -> Path:
        """``state.json``: every pid the lab started, with its site and purpose."""
        return self.directory / "state.json"

    @property
    def lock_file(self) -> Path:
        """Serialises ``up``, ``down`` and ``chaos`` on one lab directory."""
        return self.directory / ".lock"

    @property
    def ssh_dir(self) -> Path:
        """The generated user key and ``authorized_keys``."""
        return self.directory / "ssh"

    @property
    def identity_file(self) -> Path:
        """The generated ed25519 user key the inventory logs in with."""
        return self.ssh_dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        """The ``authorized_keys`` every site's sshd reads."""
        return self.ssh_dir / "authorized_keys"

    @property
    def maria_template(self) -> Path:
        """One ``mariadb-install-db`` result, copied to both sites (cheaper than two)."""
        return self.directory / "mariadb-template"

    @property
    def relay_dir(self) -> Path:
        """Logs of latency relays (``lab chaos latency``)."""
        return self.directory / "relays"

    def endpoints(self) -> list[tuple[str, str, int]]:
        """Every ``(site, address, port)`` the lab listens on once up (not the scratch ports)."""
        out: list[tuple[str, str, int]] = []
        for site in self.sites:
            out.append((site.name, site.address, SSH_PORT))
            if site.name in DB_SITES:
                out.extend(
                    (site.name, site.address, port) for port in (PG_PORT, MARIADB_PORT, REDIS_PORT)
                )
        return out

    def all_ports(self) -> list[tuple[str, int]]:
        """Every ``(address, port)`` that must be free before ``up`` and after ``down``.

        Includes the dr site's scratch ports, which a restore drill may have left running.
        """
        out = [(addr, port) for _site, addr, port in self.endpoints()]
        dr = self.site("dr").address
        out.extend((dr, p) for p in (PG_SCRATCH_PORT, MARIADB_SCRATCH_PORT, REDIS_SCRATCH_PORT))
        return out
