"""The ``three-center`` profile: two data centers in one city, a third in another.

East and west are in city A, dr in city B. PostgreSQL: east primary, west its synchronous
standby (``synchronous_standby_names = 'west'``: a commit on east waits for west), dr a
cascading asynchronous standby fed by west (its slot on west). The inventory declares it:
sites with their ``city:``, ``orders-db`` with ``topology: cascade`` and dr's ``upstream:``,
so ``status`` and the board check the chain east -> west -> dr.

MariaDB: east primary, west its semi-synchronous replica (built into MariaDB 10.3+, no plugin:
``rpl_semi_sync_master_enabled`` on east with ``wait_point = AFTER_SYNC``, the slave side on
west), dr an asynchronous replica of west (``catalog-db`` declared ``topology: cascade``).
Semi-sync is set with ``SET GLOBAL`` (a restarted server forgets it: ``city-return`` sets it
again). Redis: east primary, replicas in west and dr.

Every replication link goes through a latency relay (:mod:`console.lab.relay`, a process of
the lab user on the replica's site address): links into west (same city) get 0.5 ms each way,
links into dr (the other city) 15 ms: round trips of ~3 ms (the relay's event loop sleeps in
whole milliseconds, so 0.5 ms is ~1 ms each way) and ~31 ms as measured. The inventory lists
each relay as an ``aliases:`` entry of the member it forwards to, so a replica following a
relay still follows its declared upstream; ``status`` measures each link's round trip through
it. ``lab chaos latency SITE MS`` changes a site's delay (0: direct links).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from console.lab import inventory as inventory_file
from console.lab import latency, mariadb, postgres, redis
from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import (
    MARIADB_PORT,
    MYSQL_SERVICE,
    PG_PORT,
    PG_SERVICE,
    REDIS_PORT,
    REDIS_SERVICE,
    SITES,
    LabLayout,
    SiteLayout,
)
from console.lab.procs import require_server, wait_until
from console.lab.profiles.base import StartContext
from console.lab.profiles.default import DefaultProfile
from console.lab.runner import Runner

CITIES = {"east": "city A", "west": "city A", "dr": "city B"}
"""Where each site is: east and west share a city; dr is remote."""

DELAY_MS = {"west": 0.5, "dr": 15.0}
"""Milliseconds each way the relays add to the links into a site (east holds no replica)."""

LINKS: dict[str, tuple[tuple[str, str], ...]] = {
    PG_SERVICE: (("east", "west"), ("west", "dr")),
    MYSQL_SERVICE: (("east", "west"), ("west", "dr")),
    REDIS_SERVICE: (("east", "west"), ("east", "dr")),
}
"""Each service's replication links as the profile builds them: (upstream site, replica site)."""

PORTS = {PG_SERVICE: PG_PORT, MYSQL_SERVICE: MARIADB_PORT, REDIS_SERVICE: REDIS_PORT}


class DrMariaMember(mariadb.MariaMember):
    """dr's MariaDB: a replica of west, server_id 3."""

    __slots__ = ()

    @property
    def server_id(self) -> int:
        """Its ``server_id`` (dr is not in the default lab's table)."""
        return 3


def cascading_member(layout: LabLayout, pgbin: Path) -> postgres.PgMember:
    """dr's PostgreSQL: a cascading standby of west."""
    return postgres.PgMember(layout.site("dr"), pgbin)


class ThreeCenterProfile(DefaultProfile):
    """Two sites in one city, a third remote: PostgreSQL east -> west (sync) -> dr (cascade)."""

    name = "three-center"
    summary = (
        "two-site-three-center: PostgreSQL east primary, west synchronous standby, dr cascading "
        "from west (east and west in city A, dr in city B); MariaDB and Redis pairs as default"
    )
    inventory_name = "lab-three-center.yaml"
    owned_entries: ClassVar[frozenset[str]] = DefaultProfile.owned_entries
    latency_sites: ClassVar[tuple[str, ...]] = SITES

    def endpoints(self, layout: LabLayout) -> list[tuple[str, str, int]]:
        """The default's, plus PostgreSQL on dr."""
        dr = layout.site("dr")
        return [
            *layout.endpoints(),
            *(("dr", dr.address, port) for port in (PG_PORT, MARIADB_PORT, REDIS_PORT)),
        ]

    def spare_ports(self, layout: LabLayout) -> list[tuple[str, int]]:
        """The default's scratch ports (PostgreSQL's is not dr's own port)."""
        listening = {(a, p) for _s, a, p in self.endpoints(layout)}
        return [p for p in layout.all_ports() if p not in listening]

    def directories(self, layout: LabLayout) -> list[Path]:
        """The default's, plus dr's PostgreSQL directory."""
        dr = layout.site("dr")
        return [*super().directories(layout), dr.pg_dir, dr.maria_dir, dr.redis_dir]

    def sshd_env(self, layout: LabLayout, site: SiteLayout, pgbin: Path) -> dict[str, str]:
        """The default's; dr gets the libpq defaults too."""
        env = super().sshd_env(layout, site, pgbin)
        if site.name == "dr":
            env.update(PGHOST=str(site.run_dir), PGPORT=str(PG_PORT), PGUSER=postgres.SUPERUSER)
        return env

    def start_tasks(self, ctx: StartContext) -> dict[str, Callable[[], None]]:
        """The default's tasks; PostgreSQL then gets west synchronous and dr cascading."""
        tasks = super().start_tasks(ctx)
        first = tasks["postgres"]

        def postgres_three() -> None:
            first()
            setup_cascade(ctx.runner, ctx.layout, ctx.bins.pgbin, ctx.record, ctx.bins.pg)
            relay_postgres(ctx)

        tasks["postgres"] = postgres_three
        first_maria, first_redis = tasks["mariadb"], tasks["redis"]

        def mariadb_three() -> None:
            first_maria()
            setup_maria_dr(ctx.runner, ctx.layout, ctx.bins, ctx.record)
            relay_mariadb(ctx)

        def redis_three() -> None:
            first_redis()
            setup_redis_dr(ctx.runner, ctx.layout, ctx.bins, ctx.record)
            relay_redis(ctx)

        tasks["mariadb"], tasks["redis"] = mariadb_three, redis_three
        return tasks

    def write_inventory(
        self, ctx: StartContext, inventory: Path, known_hosts_lines: list[str]
    ) -> tuple[Path, Path]:
        """The default's inventory with cities, dr's member and ``topology: cascade``."""
        inv, kh = inventory_file.write(
            ctx.layout, ctx.bins, ctx.runner.user.name, inventory, known_hosts_lines
        )
        text = declare_three_center(inv.read_text(encoding="utf-8"), ctx.layout, ctx.bins)
        inventory_file.atomic_write(inv, text)
        return inv, kh

    def health(self, layout: LabLayout, bins: Binaries, runner: Runner) -> list[str]:
        """West must be east's synchronous standby and dr must stream from west."""
        problems = []
        east, west = postgres.members(layout, bins)
        sync = "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'"
        try:
            if "west" not in runner.run(east.psql(sync), what="sync standby", timeout=30).split():
                problems.append("west is not east's synchronous standby")
            if "dr" not in _streaming(runner, west):
                problems.append("dr does not stream from west")
        except Exception as exc:  # a server that does not answer is a problem to report
            problems.append(f"PostgreSQL did not answer: {exc}")
        try:
            got = semi_sync_status(runner, mariadb.MariaMember(layout.site("east"), bins))
            if got.get("Rpl_semi_sync_master_status") != "ON":
                problems.append("MariaDB on east is not semi-synchronous (no semi-sync replica)")
        except Exception as exc:  # a server that does not answer is a problem to report
            problems.append(f"MariaDB did not answer: {exc}")
        return problems


def _relay(ctx: StartContext, service: str, upstream: str, replica: str) -> None:
    """Route one link of ``service`` through a relay with its site's delay."""
    port = PORTS[service]
    link = latency.Link(
        service,
        latency.Endpoint(ctx.layout.site(replica).address, port),
        latency.Endpoint(ctx.layout.site(upstream).address, port),
    )
    latency.relay_link(
        ctx.runner, ctx.layout, ctx.bins, replica, link, DELAY_MS[replica], ctx.record
    )


def relay_postgres(ctx: StartContext) -> None:
    """Route east -> west and west -> dr through relays; wait until west is synchronous
    again and dr streams again.

    Raises:
        LabError: They did not come back in time.
    """
    runner, timeout = ctx.runner, 60 * ctx.scale
    east, west = postgres.members(ctx.layout, ctx.bins)
    sync = "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'"
    for upstream, replica in LINKS[PG_SERVICE]:
        _relay(ctx, PG_SERVICE, upstream, replica)
    if not wait_until(
        lambda: "west" in runner.run(east.psql(sync), what="sync standby", timeout=30).split(),
        timeout,
        interval=0.2,
    ):
        raise LabError(f"west was not east's synchronous standby through its relay in {timeout} s")
    if not wait_until(lambda: "dr" in _streaming(runner, west), timeout, interval=0.2):
        raise LabError(f"dr did not stream from west through its relay within {timeout:.0f} s")


def relay_mariadb(ctx: StartContext) -> None:
    """Route east -> west and west -> dr through relays; wait until west is semi-sync again
    and dr has caught up with west.

    Raises:
        LabError: They did not come back in time.
    """
    for upstream, replica in LINKS[MYSQL_SERVICE]:
        _relay(ctx, MYSQL_SERVICE, upstream, replica)
    wait_semi_sync(ctx.runner, ctx.layout, ctx.bins)
    _maria_caught_up(
        ctx.runner,
        DrMariaMember(ctx.layout.site("dr"), ctx.bins),
        mariadb.MariaMember(ctx.layout.site("west"), ctx.bins),
    )


def relay_redis(ctx: StartContext) -> None:
    """Route east -> west and east -> dr through relays; wait until both acknowledge again.

    Raises:
        LabError: They did not acknowledge in time.
    """
    for upstream, replica in LINKS[REDIS_SERVICE]:
        _relay(ctx, REDIS_SERVICE, upstream, replica)
    _redis_acked(ctx.runner, redis.RedisMember(ctx.layout.site("east"), ctx.bins))


def _streaming(runner: Runner, upstream: postgres.PgMember) -> list[str]:
    sql = "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"
    return runner.run(upstream.psql(sql), what="check streaming", timeout=30).split()


def setup_cascade(
    runner: Runner,
    layout: LabLayout,
    pgbin: Path,
    record: Callable[..., None],
    pg: Callable[[str], str],
) -> None:
    """Make west east's synchronous standby; clone west into dr and stream dr from it.

    Raises:
        LabCommandFailed: A step failed.
        LabError: dr did not start streaming from west in time.
    """
    east, west = (
        postgres.PgMember(layout.site("east"), pgbin),
        postgres.PgMember(layout.site("west"), pgbin),
    )
    dr = cascading_member(layout, pgbin)
    runner.run(
        east.psql("ALTER SYSTEM SET synchronous_standby_names = 'west'"),
        what="make west the synchronous standby",
        timeout=60,
    )
    runner.run(east.psql("SELECT pg_reload_conf()"), what="reload east", timeout=60)
    runner.run(
        [
            pg("pg_basebackup"),
            *("-h", west.site.address, "-p", str(PG_PORT), "-U", postgres.SUPERUSER),
            *("-D", str(dr.site.pgdata), "-X", "stream", "-C", "-S", dr.slot),
            *("-R", "-c", "fast", "--no-sync"),
        ],
        what="pg_basebackup of west into dr",
        timeout=300,
    )
    auto = dr.site.pgdata / "postgresql.auto.conf"
    runner.sh(
        f"cat >> {shlex.quote(str(auto))} <<'EOF'\n"
        f"primary_conninfo = 'host={west.site.address} port={PG_PORT} "
        f"user={postgres.SUPERUSER} application_name=dr'\n"
        f"primary_slot_name = '{dr.slot}'\nEOF\n",
        what="point dr at west",
        timeout=30,
    )
    runner.sh(dr.start_cmd, what="start PostgreSQL cascading standby on dr", timeout=180)
    record(dr.record())
    timeout = 60 * runner.timeout_scale
    if not wait_until(lambda: "dr" in _streaming(runner, west), timeout, interval=0.2):
        raise LabError(f"PostgreSQL on dr did not start streaming from west within {timeout:.0f} s")


def setup_maria_dr(
    runner: Runner, layout: LabLayout, bins: Binaries, record: Callable[..., None]
) -> None:
    """A fresh MariaDB on dr, a read-only GTID replica of west (cascading), caught up.

    Raises:
        LabCommandFailed: A step failed.
        LabError: dr did not catch up with west in time.
    """
    dr = DrMariaMember(layout.site("dr"), bins)
    west = mariadb.MariaMember(layout.site("west"), bins)
    runner.run(
        [
            str(bins.mariadb_install_db),
            "--no-defaults",
            f"--datadir={dr.site.maria_datadir}",
            f"--tmpdir={dr.site.maria_dir}",  # not /tmp: see MariaMember.server_argv
            "--auth-root-authentication-method=socket",
            f"--auth-root-socket-user={runner.user.name}",
            "--skip-test-db",
            "--innodb-log-file-size=48M",
        ],
        what="mariadb-install-db on dr",
        timeout=240,
    )
    runner.sh(dr.start_cmd(read_only=True), what="start MariaDB on dr", timeout=30)
    s = dr.site
    require_server(
        what="MariaDB",
        site=s.name,
        address=s.address,
        port=MARIADB_PORT,
        pidfile=s.maria_pidfile,
        log=s.maria_log,
        timeout=120 * runner.timeout_scale,
    )
    record(dr.record())
    runner.run(
        dr.client(mariadb.change_master_sql(west.site.address)),
        what="start MariaDB replication on dr from west",
        timeout=60,
    )
    _maria_caught_up(runner, dr, west)
    enable_semi_sync(runner, layout, bins)


def _maria_caught_up(runner: Runner, dr: mariadb.MariaMember, west: mariadb.MariaMember) -> None:
    pos = runner.run(
        west.client("SELECT @@gtid_current_pos"), what="read GTID on west", timeout=30
    ).strip()
    wait = int(120 * runner.timeout_scale)
    got = runner.run(
        dr.client(f"SELECT MASTER_GTID_WAIT('{pos}', {wait})"),
        what="wait for the MariaDB replica on dr",
        timeout=wait + 30,
    ).strip()
    if got != "0":
        raise LabError(f"MariaDB on dr did not reach west's {pos} within {wait} s")


SEMI_SYNC_STATUS = (
    "SHOW GLOBAL STATUS WHERE Variable_name IN "
    "('Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients', "
    "'Rpl_semi_sync_slave_status')"
)
"""The semi-sync status variables (each server lists all three: built in since 10.3)."""


def semi_sync_status(runner: Runner, member: mariadb.MariaMember) -> dict[str, str]:
    """A member's semi-sync status variables, ``name -> value``."""
    out = runner.run(member.client(SEMI_SYNC_STATUS), what="semi-sync status", timeout=30)
    pairs = (line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def enable_semi_sync(runner: Runner, layout: LabLayout, bins: Binaries) -> None:
    """Make west east's semi-synchronous MariaDB replica: east's commits wait (lossless,
    AFTER_SYNC) until west has the transaction in its relay log, or fall back to asynchronous
    after ``rpl_semi_sync_master_timeout`` (10 s) without an answer.

    Raises:
        LabCommandFailed: A statement failed.
        LabError: West did not register as a semi-sync replica in time.
    """
    east = mariadb.MariaMember(layout.site("east"), bins)
    west = mariadb.MariaMember(layout.site("west"), bins)
    runner.run(
        east.client(
            "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC; "
            "SET GLOBAL rpl_semi_sync_master_enabled = ON"
        ),
        what="enable semi-sync on east",
        timeout=60,
    )
    runner.run(
        west.client(
            "SET GLOBAL rpl_semi_sync_slave_enabled = ON; "
            "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"
        ),
        what="make west a semi-sync replica",
        timeout=60,
    )
    wait_semi_sync(runner, layout, bins)


def wait_semi_sync(runner: Runner, layout: LabLayout, bins: Binaries) -> None:
    """Wait until east's semi-sync is ON with a registered replica.

    Raises:
        LabError: It was not within the timeout.
    """
    east = mariadb.MariaMember(layout.site("east"), bins)
    timeout = 60 * runner.timeout_scale

    def registered() -> bool:
        got = semi_sync_status(runner, east)
        return (
            got.get("Rpl_semi_sync_master_status") == "ON"
            and int(got.get("Rpl_semi_sync_master_clients", "0") or 0) >= 1
        )

    if not wait_until(registered, timeout, interval=0.2):
        raise LabError(f"west did not register as east's semi-sync replica within {timeout:.0f} s")


def setup_redis_dr(
    runner: Runner, layout: LabLayout, bins: Binaries, record: Callable[..., None]
) -> None:
    """A Redis replica of east on dr, acknowledged.

    Raises:
        LabError: It did not come up or acknowledge in time.
    """
    east = redis.RedisMember(layout.site("east"), bins)
    dr = redis.RedisMember(layout.site("dr"), bins)
    record(redis.start_member(runner, dr, east.site.address))
    _redis_acked(runner, east)


def _redis_acked(runner: Runner, east: redis.RedisMember) -> None:
    wait_ms = int(60_000 * runner.timeout_scale)
    acked = runner.run(
        east.cli("WAIT", "2", str(wait_ms)),
        what="wait for the Redis replicas",
        timeout=wait_ms / 1000 + 30,
    ).strip()
    if acked != "2":
        raise LabError(f"Redis replicas did not both acknowledge ({acked!r})")


def declare_three_center(text: str, layout: LabLayout, bins: Binaries) -> str:
    """The default inventory's text with the sites' cities, the cascades' topology and dr's
    members (every other line as the default writes it)."""
    west = layout.site("west").host
    east_address = layout.site("east").address
    dr_site = layout.site("dr")
    extra = {
        PG_SERVICE: ("postgres", True, _member(
            dr_site.host, PG_PORT, west,
            inventory_file._pg_vars(cascading_member(layout, bins.pgbin)),
        )),
        MYSQL_SERVICE: ("mysql", True, _member(
            dr_site.host, MARIADB_PORT, west,
            inventory_file._maria_vars(DrMariaMember(dr_site, bins), True),
        )),
        REDIS_SERVICE: ("redis", False, _member(
            dr_site.host, REDIS_PORT, None,
            inventory_file._redis_vars(redis.RedisMember(dr_site, bins), east_address),
        )),
    }  # fmt: skip
    aliases: dict[tuple[str, str], list[str]] = {}
    for svc, links in LINKS.items():
        for upstream, replica in links:
            relay_at = latency.relay_endpoint(layout, replica, PORTS[svc])
            aliases.setdefault((svc, layout.site(upstream).host), []).append(str(relay_at))
    out: list[str] = []
    site: str | None = None
    service: str | None = None
    member: str | None = None
    in_sites = False
    for line in text.splitlines():
        if line == "sites:":
            in_sites = True
        elif line == "services:":
            in_sites = False
        top = line.startswith("  ") and not line.startswith("   ") and line.endswith(":")
        if in_sites and top:
            site = line.strip()[:-1]
        if not in_sites and top:
            service = line.strip()[:-1]
        if not in_sites and line.startswith("      ") and line[6] != " " and line.endswith(":"):
            member = line.strip()[:-1]
        spec = extra.get(service or "")
        if spec is not None and (
            line.startswith("    probe:") or line.startswith("    thresholds:")
        ):
            out.extend(spec[2])
            extra.pop(service or "")
        out.append(line)
        if in_sites and site in CITIES and line.startswith("    role: "):
            out.append(f"    city: {CITIES[site]}")
        relayed = aliases.get((service or "", member or ""))
        if not in_sites and relayed and line.startswith("        role: "):
            out.append(f"        aliases: [{', '.join(relayed)}]")
        if spec is not None and spec[1] and line == f"    kind: {spec[0]}":
            out.append("    topology: cascade")
    return "\n".join(out) + "\n"


def _member(
    host: str, port: int, upstream: str | None, member_vars: list[inventory_file.Var]
) -> list[str]:
    w = inventory_file.Writer()
    w.line(3, f"{host}:")
    w.line(4, f"port: {port}")
    w.line(4, "role: replica")
    if upstream is not None:
        w.line(4, f"upstream: {upstream}")
    w.vars(4, member_vars, set())
    return w.text().rstrip("\n").splitlines()


__all__ = [
    "ThreeCenterProfile",
    "declare_three_center",
    "enable_semi_sync",
    "semi_sync_status",
    "setup_cascade",
    "setup_maria_dr",
    "setup_redis_dr",
]
