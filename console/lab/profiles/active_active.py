"""The ``active-active`` profile: active-active units, and mutual backup between two sites.

MariaDB (``users-db``): two primaries, east and west, replicating both ways. Each site writes
in its own GTID domain (``--gtid-domain-id``: east 1, west 2) and draws its keys from its own
half of the ``AUTO_INCREMENT`` space (``auto_increment_increment=2``, offsets 1 and 2), so
their keys never collide. Two units of a small demo schema: ``unit-east`` is written at east
by the account ``unit_east``, ``unit-west`` at west by ``unit_west`` (each may write
``app.*``); ``app.unit_writes`` holds the units' rows (:mod:`console.lab.unitload` writes
them), ``app.unit_probe`` the playbooks' proof writes. Where a unit's writers connect is a
file per unit, ``<lab>/units/<unit>.endpoint`` (``address:port``), that the load generator
re-reads before every write; each member's ``route_cmd`` var rewrites it, so a playbook
switches the unit's writers by running it.

Mutual backup: ``orders-db`` (PostgreSQL) is primary in east with its standby in west, as in
the default lab; ``sessions`` (Redis) is primary in **west** with its replica in east. Each
site is primary for something. dr keeps its backups (the PostgreSQL WAL archive).

The inventory declares ``users-db`` ``topology: multi-primary`` with each member's ``unit:``
and ``gtid_domain:``, so ``status`` and the board check that both directions replicate, that
no unit's domain holds another server's writes and that no conflict stands; healthy, the
board calls it "active-active".
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from console.lab import inventory as inventory_file
from console.lab import mariadb, redis
from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import MARIADB_PORT, REDIS_PORT, REDIS_SERVICE, LabLayout
from console.lab.procs import wait_until
from console.lab.profiles.base import StartContext
from console.lab.profiles.default import DefaultProfile, _postgres_with_archive
from console.lab.runner import Runner

SERVICE = "users-db"
"""The inventory service of the active-active MariaDB pair."""
UNITS: dict[str, str] = {"east": "unit-east", "west": "unit-west"}
"""The unit each site writes."""
DOMAINS: dict[str, int] = {"east": 1, "west": 2}
"""The GTID domain each site writes in (``gtid_domain_id``)."""
OFFSETS: dict[str, int] = {"east": 1, "west": 2}
"""``auto_increment_offset`` per site (``auto_increment_increment`` is 2)."""
UNITS_DIR = "units"
"""The lab-directory entry with one ``<unit>.endpoint`` file per unit."""

SCHEMA_SQL = """
CREATE TABLE app.unit_writes (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    unit VARCHAR(32) NOT NULL,
    writer VARCHAR(64) NOT NULL,
    seq BIGINT NOT NULL,
    server_id INT UNSIGNED NOT NULL,
    at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY writer_seq (writer, seq),
    KEY unit_server (unit, server_id)
) ENGINE=InnoDB;
CREATE TABLE app.unit_probe (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    unit VARCHAR(32) NOT NULL,
    run_id VARCHAR(64) NOT NULL,
    server_id INT UNSIGNED NOT NULL,
    at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;
"""
"""The demo schema of the two units (created on east; west receives it)."""


def unit_user(unit: str) -> str:
    """The account a unit's writers log in as (``unit-west`` -> ``unit_west``)."""
    return unit.replace("-", "_")


def units_dir(layout: LabLayout) -> Path:
    """``<lab>/units``: one endpoint file per unit."""
    return layout.directory / UNITS_DIR


def endpoint_file(layout: LabLayout, unit: str) -> Path:
    """The file naming where ``unit``'s writers connect (``address:port``)."""
    return units_dir(layout) / f"{unit}.endpoint"


def route_cmd(layout: LabLayout, site: str) -> str:
    """A shell command; followed by a unit's name, it points that unit's writers at ``site``
    (rewrites the unit's endpoint file atomically)."""
    address = layout.site(site).address
    script = (
        'f="$0/$1.endpoint"; printf "%s\\n" '
        f"{address}:{MARIADB_PORT}"
        ' > "$f.tmp" && mv "$f.tmp" "$f" && echo "$1 writers now go to '
        f"{site} ({address}:{MARIADB_PORT})"
        '"'
    )
    return f"sh -c {shlex.quote(script)} {shlex.quote(str(units_dir(layout)))}"


class UnitMariaMember(mariadb.MariaMember):
    """A MariaDB writer of one unit: its own GTID domain and half of the key space."""

    __slots__ = ()

    def server_argv(self, read_only: bool) -> list[str]:
        """The lab's server command line plus the site's domain and auto-increment half."""
        name = self.site.name
        return [
            *mariadb.MariaMember.server_argv(self, read_only),
            f"--gtid-domain-id={DOMAINS[name]}",
            "--auto-increment-increment=2",
            f"--auto-increment-offset={OFFSETS[name]}",
        ]


def maria_members(layout: LabLayout, bins: Binaries) -> tuple[UnitMariaMember, UnitMariaMember]:
    """The two writers, east then west."""
    return UnitMariaMember(layout.site("east"), bins), UnitMariaMember(layout.site("west"), bins)


class ActiveActiveProfile(DefaultProfile):
    """MariaDB east <-> west (a unit each); PostgreSQL primary east, Redis primary west."""

    name = "active-active"
    summary = (
        "active-active units and mutual backup: MariaDB primaries east and west replicating "
        "both ways (GTID domain per site, unit-east and unit-west), PostgreSQL primary east, "
        "Redis primary west"
    )
    inventory_name = "lab-active-active.yaml"
    latency_sites: ClassVar[tuple[str, ...]] = ()
    owned_entries: ClassVar[frozenset[str]] = DefaultProfile.owned_entries | {UNITS_DIR}

    def directories(self, layout: LabLayout) -> list[Path]:
        """The default's, plus the units' endpoint directory."""
        return [*super().directories(layout), units_dir(layout)]

    def start_tasks(self, ctx: StartContext) -> dict[str, Callable[[], None]]:
        """PostgreSQL as the default lab; MariaDB both ways; Redis primary in west."""
        return {
            "postgres": lambda: _postgres_with_archive(ctx),
            "mariadb": lambda: setup_active_active(ctx.runner, ctx.layout, ctx.bins, ctx.record),
            "redis": lambda: setup_redis_west(ctx.runner, ctx.layout, ctx.bins, ctx.record),
        }

    def write_inventory(
        self, ctx: StartContext, inventory: Path, known_hosts_lines: list[str]
    ) -> tuple[Path, Path]:
        """The default inventory with ``users-db`` multi-primary and ``sessions`` from west."""
        inv, kh = inventory_file.write(
            ctx.layout, ctx.bins, ctx.runner.user.name, inventory, known_hosts_lines
        )
        text = declare_active_active(
            inv.read_text(encoding="utf-8"), ctx.layout, ctx.bins, ctx.runner.user.name
        )
        inventory_file.atomic_write(inv, text)
        return inv, kh

    def health(self, layout: LabLayout, bins: Binaries, runner: Runner) -> list[str]:
        """Both MariaDB writers replicate from each other with no error; west is Redis's
        primary."""
        problems = []
        east, west = maria_members(layout, bins)
        try:
            for me, other in ((east, west), (west, east)):
                problems += _replication_problems(runner, me, other)
            role = runner.run(
                redis.RedisMember(layout.site("west"), bins).cli("ROLE"),
                what="Redis role on west",
                timeout=30,
            ).split()
            if not role or role[0] != "master":
                problems.append("Redis on west is not the primary")
        except Exception as exc:  # a server that does not answer is a problem to report
            problems.append(f"a server did not answer: {exc}")
        return problems


def _slave_status(runner: Runner, member: mariadb.MariaMember) -> dict[str, str]:
    out = runner.run(
        member.client("SHOW SLAVE STATUS\\G", names=True),
        what=f"slave status on {member.site.name}",
        timeout=30,
    )
    fields: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep:
            fields.setdefault(key, value)
    return fields


def _replication_problems(
    runner: Runner, me: mariadb.MariaMember, other: mariadb.MariaMember
) -> list[str]:
    st = _slave_status(runner, me)
    where = f"MariaDB on {me.site.name}"
    if not st:
        return [f"{where} does not replicate from {other.site.name}"]
    problems = []
    if st.get("Master_Host") != other.site.address:
        problems.append(f"{where} replicates from {st.get('Master_Host')}, not {other.site.name}")
    if st.get("Slave_IO_Running") != "Yes" or st.get("Slave_SQL_Running") != "Yes":
        error = st.get("Last_SQL_Error") or st.get("Last_IO_Error") or "no error recorded"
        problems.append(f"{where} is not replicating from {other.site.name}: {error}")
    return problems


def setup_active_active(
    runner: Runner, layout: LabLayout, bins: Binaries, record: Callable[..., None]
) -> None:
    """The default MariaDB pair (east seeds, west replicates), but west writable and each in
    its own GTID domain; then the units' schema and accounts, and east replicating from west.

    Raises:
        LabCommandFailed: A step failed.
        LabError: The two did not converge in time.
    """
    east, west = maria_members(layout, bins)
    mariadb.setup(runner, layout, bins, record, pair=(east, west), replica_read_only=False)
    grants = "".join(
        f"CREATE USER '{unit_user(u)}'@'127.%';"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON app.* TO '{unit_user(u)}'@'127.%';"
        for u in UNITS.values()
    )
    runner.run(east.client(SCHEMA_SQL + grants), what="create the units' schema", timeout=60)
    # current_pos first: east's own domain-1 writes are then not asked of west. Once west has
    # written in its domain, east follows west's slave_pos (current_pos would ask west for
    # east's own newest GTIDs after a write made while the link was down: error 1236).
    runner.run(
        east.client(
            mariadb.change_master_sql(west.site.address).replace(
                "MASTER_USE_GTID=slave_pos", "MASTER_USE_GTID=current_pos"
            )
        ),
        what="start MariaDB replication on east from west",
        timeout=60,
    )
    runner.run(
        west.client(
            "INSERT INTO app.unit_probe (unit, run_id, server_id) "
            "VALUES ('unit-west', 'lab-up', @@server_id)"
        ),
        what="first write of unit-west on west",
        timeout=30,
    )
    converge(runner, east, west)
    runner.run(
        east.client("STOP SLAVE; CHANGE MASTER TO MASTER_USE_GTID = slave_pos; START SLAVE"),
        what="east follows west by slave_pos",
        timeout=60,
    )
    for site, unit in UNITS.items():
        runner.sh(
            f"{route_cmd(layout, site)} {shlex.quote(unit)} >/dev/null",
            what=f"point {unit}'s writers at {site}",
            timeout=30,
        )


def converge(runner: Runner, a: mariadb.MariaMember, b: mariadb.MariaMember) -> None:
    """Wait until both servers hold the same ``gtid_current_pos`` (every write of either
    applied on both).

    Raises:
        LabError: Not within 120 s (times the scale).
    """
    q = "SELECT @@gtid_current_pos"

    def same() -> bool:
        pos = [
            set(runner.run(m.client(q), what="read GTID", timeout=30).strip().split(","))
            for m in (a, b)
        ]
        return pos[0] == pos[1]

    timeout = 120 * runner.timeout_scale
    if not wait_until(same, timeout, interval=0.2):
        raise LabError(f"MariaDB on east and west did not converge within {timeout:.0f} s")


def setup_redis_west(
    runner: Runner, layout: LabLayout, bins: Binaries, record: Callable[..., None]
) -> None:
    """Redis primary in west (seeded), its replica in east, acknowledged.

    Raises:
        LabError: A server did not come up or the replica did not acknowledge in time.
    """
    east, west = redis.members(layout, bins)
    record(redis.start_member(runner, west, None))
    record(redis.start_member(runner, east, west.site.address))
    runner.run(
        west.cli("EVAL", redis.SEED_LUA, "0", str(redis.SEED_KEYS)),
        what="seed Redis on west",
        timeout=60,
    )
    wait_ms = int(60_000 * runner.timeout_scale)
    acked = runner.run(
        west.cli("WAIT", "1", str(wait_ms)),
        what="wait for the Redis replica on east",
        timeout=wait_ms / 1000 + 30,
    ).strip()
    if acked != "1":
        raise LabError(f"Redis replica on east did not acknowledge the seed ({acked!r})")


def declare_active_active(text: str, layout: LabLayout, bins: Binaries, user: str) -> str:
    """The default inventory's text with its MariaDB and Redis services replaced: ``users-db``
    multi-primary (a unit and a GTID domain per member) and ``sessions`` primary in west."""
    blocks = _split_services(text)
    blocks["catalog-db"] = _users_db(layout, bins, user)
    blocks[REDIS_SERVICE] = _sessions(layout, bins)
    head, _, _ = text.partition("\nservices:\n")
    head = head.replace("\nname: lab\n", "\nname: lab-active-active\n", 1)
    body = "".join(blocks.values())
    return f"{head}\nservices:\n{body}"


def _split_services(text: str) -> dict[str, str]:
    """The ``services:`` section's blocks by service name, in order (each with its lines)."""
    _, _, services = text.partition("\nservices:\n")
    blocks: dict[str, str] = {}
    name = ""
    for line in services.splitlines(keepends=True):
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            name = line.strip()[:-1]
        blocks[name] = blocks.get(name, "") + line
    return blocks


def _users_db(layout: LabLayout, bins: Binaries, user: str) -> str:
    w = inventory_file.Writer()
    w.line(1, f"{SERVICE}:")
    w.line(2, "kind: mysql")
    w.line(
        2,
        "description: "
        + inventory_file.yaml_value(
            "MariaDB active-active: both primaries, replicating both ways, a GTID domain per site"
        ),
    )
    w.line(2, "topology: multi-primary")
    w.line(2, "members:")
    documented: set[str] = set()
    for m in maria_members(layout, bins):
        site = m.site.name
        w.line(3, f"{m.site.host}:")
        w.line(4, f"port: {MARIADB_PORT}")
        w.line(4, "role: primary")
        w.line(4, f"unit: {UNITS[site]}")
        w.line(4, f"gtid_domain: {DOMAINS[site]}")
        member_vars = [
            *inventory_file._maria_vars(m, False),
            inventory_file.Var(
                "unit_user",
                unit_user(UNITS[site]),
                "the account this member's unit writes as (write grants on app.*)",
            ),
            inventory_file.Var(
                "route_cmd",
                route_cmd(layout, site),
                "followed by a unit's name, points that unit's writers at this member "
                "(rewrites the lab load generator's endpoint file)",
            ),
        ]
        w.vars(4, member_vars, documented)
    w.line(2, f"probe: {{user: {inventory_file.yaml_value(user)}}}")
    w.line(2, "thresholds: {lag_warn: 5s, lag_crit: 30s}")
    return w.text()


def _sessions(layout: LabLayout, bins: Binaries) -> str:
    east, west = redis.members(layout, bins)
    w = inventory_file.Writer()
    w.line(1, f"{REDIS_SERVICE}:")
    w.line(2, "kind: redis")
    w.line(
        2,
        "description: "
        + inventory_file.yaml_value("Redis primary in west, replica in east (mutual backup)"),
    )
    w.line(2, "members:")
    documented: set[str] = set()
    for rm, role, upstream in ((east, "replica", west.site.address), (west, "primary", None)):
        w.line(3, f"{rm.site.host}:")
        w.line(4, f"port: {REDIS_PORT}")
        w.line(4, f"role: {role}")
        w.vars(4, inventory_file._redis_vars(rm, upstream), documented)
    w.line(2, "thresholds: {lag_warn: 5s, lag_crit: 30s}")
    return w.text()


__all__ = [
    "DOMAINS",
    "SERVICE",
    "UNITS",
    "ActiveActiveProfile",
    "UnitMariaMember",
    "declare_active_active",
    "endpoint_file",
    "route_cmd",
    "setup_active_active",
    "unit_user",
]
