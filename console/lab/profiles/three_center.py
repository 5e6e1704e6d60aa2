"""The ``three-center`` profile: two data centers in one city, a third in another.

East and west are in city A, dr in city B. PostgreSQL: east primary, west its synchronous
standby (``synchronous_standby_names = 'west'``: a commit on east waits for west), dr a
cascading asynchronous standby fed by west (its slot on west). The inventory declares it:
sites with their ``city:``, ``orders-db`` with ``topology: cascade`` and dr's ``upstream:``,
so ``status`` and the board check the chain east -> west -> dr.

Not yet in this profile (it is the default's pairs there): MariaDB and Redis are east -> west
as in the default lab, without a dr member; and no latency relay is set up (``lab chaos
latency`` can add one by hand).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from console.lab import inventory as inventory_file
from console.lab import postgres
from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import PG_PORT, PG_SERVICE, LabLayout, SiteLayout
from console.lab.procs import wait_until
from console.lab.profiles.base import StartContext
from console.lab.profiles.default import DefaultProfile
from console.lab.runner import Runner

CITIES = {"east": "city A", "west": "city A", "dr": "city B"}
"""Where each site is: east and west share a city; dr is remote."""


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

    def endpoints(self, layout: LabLayout) -> list[tuple[str, str, int]]:
        """The default's, plus PostgreSQL on dr."""
        dr = layout.site("dr")
        return [*layout.endpoints(), ("dr", dr.address, PG_PORT)]

    def spare_ports(self, layout: LabLayout) -> list[tuple[str, int]]:
        """The default's scratch ports (PostgreSQL's is not dr's own port)."""
        listening = {(a, p) for _s, a, p in self.endpoints(layout)}
        return [p for p in layout.all_ports() if p not in listening]

    def directories(self, layout: LabLayout) -> list[Path]:
        """The default's, plus dr's PostgreSQL directory."""
        return [*super().directories(layout), layout.site("dr").pg_dir]

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

        tasks["postgres"] = postgres_three
        return tasks

    def write_inventory(
        self, ctx: StartContext, inventory: Path, known_hosts_lines: list[str]
    ) -> tuple[Path, Path]:
        """The default's inventory with cities, dr's member and ``topology: cascade``."""
        inv, kh = inventory_file.write(
            ctx.layout, ctx.bins, ctx.runner.user.name, inventory, known_hosts_lines
        )
        text = declare_three_center(inv.read_text(encoding="utf-8"), ctx.layout, ctx.bins.pgbin)
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
        return problems


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


def declare_three_center(text: str, layout: LabLayout, pgbin: Path) -> str:
    """The default inventory's text with the sites' cities, ``orders-db``'s topology and dr's
    cascading member (every other line as the default writes it)."""
    lines = text.splitlines()
    out: list[str] = []
    site: str | None = None
    in_sites = in_orders = False
    dr = cascading_member(layout, pgbin)
    for line in lines:
        if line == "sites:":
            in_sites = True
        elif line == "services:":
            in_sites = False
        if in_sites and line.startswith("  ") and not line.startswith("   ") and line.endswith(":"):
            site = line.strip()[:-1]
        if line == f"  {PG_SERVICE}:":
            in_orders = True
        elif line.startswith("  ") and not line.startswith("   ") and line.endswith(":"):
            in_orders = in_orders and line == f"  {PG_SERVICE}:"
        if in_orders and line.startswith("    probe:"):
            out.extend(_dr_member(dr, layout.site("west").host))
        out.append(line)
        if in_sites and site in CITIES and line.startswith("    role: "):
            out.append(f"    city: {CITIES[site]}")
        if in_orders and line == "    kind: postgres":
            out.append("    topology: cascade")
    return "\n".join(out) + "\n"


def _dr_member(dr: postgres.PgMember, upstream: str) -> list[str]:
    w = inventory_file.Writer()
    w.line(3, f"{dr.site.host}:")
    w.line(4, f"port: {PG_PORT}")
    w.line(4, "role: replica")
    w.line(4, f"upstream: {upstream}")
    w.vars(4, inventory_file._pg_vars(dr), set())
    return w.text().rstrip("\n").splitlines()


__all__ = ["ThreeCenterProfile", "declare_three_center", "setup_cascade"]
