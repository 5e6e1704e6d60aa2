"""``lab chaos latency SITE MS``: route the replication links into a site through delay relays.

A replication link "into" a site is one whose replica lives there. Which member is the replica
is asked of the servers themselves (a drill may have swapped the roles), and so is its upstream
(``primary_conninfo``, ``SHOW SLAVE STATUS``, ``INFO replication``). For each link a relay
(:mod:`console.lab.relay`) is started on the site's own address, the replica is repointed at
it, and the relay forwards to the real upstream with the delay. ``MS = 0`` repoints every
replica back to its real upstream and stops the relays. Each relay is recorded in
``state.json`` under the site, so ``chaos down`` freezes it with the site and ``down`` stops it.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from console.lab import mariadb, postgres, redis
from console.lab import relay as relay_module
from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import (
    DB_SITES,
    MARIADB_PORT,
    MYSQL_SERVICE,
    PG_PORT,
    PG_SERVICE,
    REDIS_PORT,
    REDIS_SERVICE,
    LabLayout,
)
from console.lab.osuser import popen_as
from console.lab.procs import proc_info, wait_listening
from console.lab.relay import Endpoint
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

RELAY_PORT_OFFSET = 10_000
"""A relay listens on the replica's site address, at the service port plus this."""

RELAY_PREFIX = "relay:"
"""Process names of relays in ``state.json`` start with this, then the service name."""


@dataclass(frozen=True, slots=True)
class Link:
    """One replication link whose replica lives in the site."""

    service: str
    """The inventory service (``orders-db``, ``catalog-db``, ``sessions``)."""
    replica: Endpoint
    """The replica's own address and port."""
    upstream: Endpoint
    """Where the replica replicates from now."""


def _pg_conninfo(runner: Runner, member: postgres.PgMember) -> str:
    return runner.run(
        member.psql("SHOW primary_conninfo"), what="read primary_conninfo", timeout=30
    ).strip()


def _conninfo_endpoint(conninfo: str) -> Endpoint | None:
    host = re.search(r"(?:^|\s)host=(\S+)", conninfo)
    port = re.search(r"(?:^|\s)port=(\d+)", conninfo)
    if host is None:
        return None
    return Endpoint(host.group(1), int(port.group(1)) if port else 5432)


def _with_endpoint(conninfo: str, to: Endpoint) -> str:
    out = re.sub(r"(^|\s)host=\S+", lambda m: f"{m.group(1)}host={to.address}", conninfo)
    if re.search(r"(?:^|\s)port=\d+", out):
        return re.sub(r"(^|\s)port=\d+", lambda m: f"{m.group(1)}port={to.port}", out)
    return f"{out} port={to.port}"


def _maria_upstream(runner: Runner, member: mariadb.MariaMember) -> Endpoint | None:
    text = runner.run(
        member.client("SHOW SLAVE STATUS\\G", names=True),
        what="read MariaDB slave status",
        timeout=30,
    )
    host = re.search(r"^\s*Master_Host:\s*(\S+)", text, re.MULTILINE)
    port = re.search(r"^\s*Master_Port:\s*(\d+)", text, re.MULTILINE)
    if host is None or port is None:
        return None
    return Endpoint(host.group(1), int(port.group(1)))


def _redis_upstream(runner: Runner, member: redis.RedisMember) -> Endpoint | None:
    text = runner.run(member.cli("INFO", "replication"), what="read Redis role", timeout=30)
    fields = dict(
        line.strip().split(":", 1) for line in text.splitlines() if ":" in line and line[0] != "#"
    )
    if fields.get("role") != "slave":
        return None
    return Endpoint(fields["master_host"], int(fields["master_port"]))


def find_links(
    runner: Runner,
    layout: LabLayout,
    bins: Binaries,
    site: str,
    sites: Sequence[str] = DB_SITES,
) -> list[Link]:
    """The replication links whose replica is in ``site`` (one of the profile's database
    ``sites``), as the servers report them now."""
    if site not in sites:
        return []
    s = layout.site(site)
    links: list[Link] = []
    pg = postgres.PgMember(s, bins.pgbin)
    in_recovery = runner.run(
        pg.psql("SELECT pg_is_in_recovery()"), what="ask PostgreSQL its role", timeout=30
    ).strip()
    if in_recovery == "t":
        up = _conninfo_endpoint(_pg_conninfo(runner, pg))
        if up is not None:
            links.append(Link(PG_SERVICE, Endpoint(s.address, PG_PORT), up))
    my_up = _maria_upstream(runner, mariadb.MariaMember(s, bins))
    if my_up is not None:
        links.append(Link(MYSQL_SERVICE, Endpoint(s.address, MARIADB_PORT), my_up))
    rd_up = _redis_upstream(runner, redis.RedisMember(s, bins))
    if rd_up is not None:
        links.append(Link(REDIS_SERVICE, Endpoint(s.address, REDIS_PORT), rd_up))
    return links


def repoint(
    runner: Runner, layout: LabLayout, bins: Binaries, site: str, *, service: str, to: Endpoint
) -> None:
    """Make the replica of ``service`` in ``site`` replicate from ``to``."""
    s = layout.site(site)
    if service == PG_SERVICE:
        pg = postgres.PgMember(s, bins.pgbin)
        conninfo = _with_endpoint(_pg_conninfo(runner, pg), to).replace("'", "''")
        runner.run(
            pg.psql(f"ALTER SYSTEM SET primary_conninfo = '{conninfo}'"),
            what="repoint the PostgreSQL standby",
            timeout=30,
        )
        runner.run(pg.psql("SELECT pg_reload_conf()"), what="reload PostgreSQL", timeout=30)
    elif service == MYSQL_SERVICE:
        runner.run(
            mariadb.MariaMember(s, bins).client(
                "STOP SLAVE; "
                f"CHANGE MASTER TO MASTER_HOST='{to.address}', MASTER_PORT={to.port}, "
                "MASTER_USE_GTID=slave_pos; START SLAVE;"
            ),
            what="repoint the MariaDB replica",
            timeout=60,
        )
    elif service == REDIS_SERVICE:
        runner.run(
            redis.RedisMember(s, bins).cli("REPLICAOF", to.address, str(to.port)),
            what="repoint the Redis replica",
            timeout=30,
        )
    else:
        raise LabError(f"unknown service {service!r}")


def start_relay(
    runner: Runner, layout: LabLayout, site: str, link: Link, delay_ms: float
) -> ProcessRecord:
    """Start a relay process for ``link`` on the site's address and wait until it listens.

    Raises:
        LabError: When the relay does not listen in time.
    """
    listen = relay_endpoint(layout, site, link.replica.port)
    log = layout.relay_dir / f"{site}-{link.service}.log"
    script = layout.relay_dir / "relay.py"
    # relays start in parallel: each copies to its own name and renames over the script, so
    # no relay reads a half-written file
    part = layout.relay_dir / f".relay-{site}-{link.service}.py"
    shutil.copyfile(relay_module.__file__, part)
    part.chmod(0o644)
    os.replace(part, script)
    proc = popen_as(
        runner.user,
        [
            lab_python(runner),
            str(script),
            "--listen",
            str(listen),
            "--target",
            str(link.upstream),
            "--delay-ms",
            f"{delay_ms:g}",
        ],
        log=log,
        cwd=layout.relay_dir,
    )
    timeout = 30 * runner.timeout_scale
    if not wait_listening(listen.address, listen.port, timeout, alive=lambda: proc.poll() is None):
        proc.kill()
        proc.wait(timeout=10)
        raise LabError(f"relay {listen} -> {link.upstream} did not start; see {log}")
    info = proc_info(proc.pid)
    return ProcessRecord(
        site=site,
        name=RELAY_PREFIX + link.service,
        pid=proc.pid,
        start_time=info.start_time if info else 0,
        address=listen.address,
        port=listen.port,
        target=str(link.upstream),
        delay_ms=delay_ms,
    )


def relay_link(
    runner: Runner,
    layout: LabLayout,
    bins: Binaries,
    site: str,
    link: Link,
    delay_ms: float,
    record: Callable[[ProcessRecord], None],
) -> ProcessRecord:
    """Start a relay for ``link``, record it, and repoint the replica at it.

    Returns:
        The relay's record.
    """
    rec = start_relay(runner, layout, site, link, delay_ms)
    record(rec)
    repoint(runner, layout, bins, site, service=link.service, to=Endpoint(rec.address, rec.port))
    return rec


def relay_endpoint(layout: LabLayout, site: str, port: int) -> Endpoint:
    """Where the relay of a replica in ``site`` on ``port`` listens."""
    return Endpoint(layout.site(site).address, port + RELAY_PORT_OFFSET)


def lab_python(runner: Runner) -> str:
    """A Python 3 the lab user can run (ours may live under root's private home).

    The relay needs only the standard library, so any Python 3.11+ will do.

    Raises:
        LabError: When the lab user can run none.
    """
    candidates = [sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]
    for candidate in candidates:
        try:
            runner.run(
                [candidate, "-c", "import asyncio, sys; assert sys.version_info >= (3, 11)"],
                what="find a Python for the relay",
                timeout=30,
            )
        except LabError:
            continue
        return candidate
    raise LabError(
        f"the lab user {runner.user.name} can run none of {', '.join(candidates)} "
        "(Python 3.11+ is needed for the latency relay)"
    )


def relays_of(processes: tuple[ProcessRecord, ...], site: str) -> list[ProcessRecord]:
    """The relay records of ``site``."""
    return [p for p in processes if p.site == site and p.name.startswith(RELAY_PREFIX)]


def remove_relays(
    runner: Runner,
    layout: LabLayout,
    bins: Binaries,
    relays: list[ProcessRecord],
    stop: Callable[[ProcessRecord], None],
) -> None:
    """Repoint each relayed replica at its real upstream, then stop the relay."""
    for rec in relays:
        service = rec.name.removeprefix(RELAY_PREFIX)
        if rec.target is not None:
            repoint(runner, layout, bins, rec.site, service=service, to=Endpoint.parse(rec.target))
        stop(rec)
