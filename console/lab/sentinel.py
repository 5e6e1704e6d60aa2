"""Redis under Sentinel in the managed lab: primary east, replicas west and dr, one Sentinel
per site.

Quorum 2 of 3: a dark site leaves two Sentinels, enough to agree that the master is down and
to elect the one that fails it over. Every server and Sentinel binds its site's address and
uses it as its source address too (``bind-source-addr``): on loopback every connection would
otherwise come from 127.0.0.1, and Sentinel would take the replica and its peers for
``127.0.0.1`` (lab-notes-wave2, trap 0). That in turn trips Redis 7's protected mode, which
counts only 127.0.0.1 as local, hence ``protected-mode no`` (safe here: loopback only).

``down-after-milliseconds`` is 3000 (the published default is 30 s): short enough for a drill
to measure an unplanned failover in seconds, long enough that a loaded 2-core test machine
does not trigger one by accident. Sentinel rewrites its configuration file with what it
learns, so every ``up`` writes it afresh.

Every server has ``min-replicas-to-write 1`` and ``min-replicas-max-lag 2``: a master with no
replica that acknowledged within 2 s refuses writes (``NOREPLICAS``). Without it, a master whose
site went dark and came back before Sentinel turned it into a replica acknowledged a write that
the resync then dropped (the lab measured it: RPO 12 s against a 5 s objective). The lag is
below ``down-after-milliseconds`` so that a cut-off master stops acknowledging before Sentinel
promotes another (Redis's example is 10 s, with the 30 s default). The guard needs a second
replica, else the promoted one, alone while the old site is dark, would refuse every write:
hence the replica at dr, with ``replica-priority 0`` (Sentinel never promotes it, as Patroni
never promotes its ``nofailover`` dr member).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import REDIS_PORT, LabLayout, SiteLayout
from console.lab.osuser import chown_tree
from console.lab.procs import require_server, running_record, wait_until
from console.lab.redis import RedisMember, start_member
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

SENTINEL_PORT = 16479
"""Every site's Sentinel listens on the site's address, this port."""
MASTER_NAME = "lab-sessions"
"""The name the Sentinels monitor the master under (``SENTINEL MASTERS``)."""
QUORUM = 2
"""Sentinels that must agree the master is down."""
DOWN_AFTER_MS = 3000
"""``down-after-milliseconds`` (see the module docstring)."""
FAILOVER_TIMEOUT_MS = 10000
"""``failover-timeout``."""
MIN_REPLICAS_TO_WRITE = 1
"""``min-replicas-to-write`` of every server (see the module docstring)."""
MIN_REPLICAS_MAX_LAG = 2
"""``min-replicas-max-lag`` in seconds (below ``DOWN_AFTER_MS``)."""


def redis_members(
    layout: LabLayout, bins: Binaries
) -> tuple[RedisMember, RedisMember, RedisMember]:
    """The primary (east), the replica Sentinel promotes (west) and the one it never
    promotes (dr), with the options Sentinel and the write guard need."""

    def member(site: SiteLayout, *more: str) -> RedisMember:
        extra = (
            "--bind-source-addr",
            site.address,
            "--protected-mode",
            "no",
            "--min-replicas-to-write",
            str(MIN_REPLICAS_TO_WRITE),
            "--min-replicas-max-lag",
            str(MIN_REPLICAS_MAX_LAG),
            *more,
        )
        return RedisMember(site, bins, extra)

    return (
        member(layout.site("east")),
        member(layout.site("west")),
        member(layout.site("dr"), "--replica-priority", "0"),
    )


@dataclass(frozen=True, slots=True)
class SentinelMember:
    """One Sentinel of the lab."""

    site: SiteLayout
    """Where it runs."""
    bins: Binaries
    """Where redis-server and redis-cli are."""

    @property
    def directory(self) -> Path:
        """Its directory: config (rewritten by Sentinel), pid file, log."""
        return self.site.root / "sentinel"

    @property
    def config(self) -> Path:
        """``sentinel.conf``."""
        return self.directory / "sentinel.conf"

    @property
    def pidfile(self) -> Path:
        """Its pid file."""
        return self.directory / "sentinel.pid"

    @property
    def log(self) -> Path:
        """Its log."""
        return self.directory / "sentinel.log"

    def conf_text(self, master: str) -> str:
        """The configuration Sentinel starts from (``master`` is the primary's address)."""
        a = self.site.address
        return "\n".join(
            [
                f"port {SENTINEL_PORT}",
                f"bind {a}",
                f"bind-source-addr {a}",
                "protected-mode no",
                "daemonize yes",
                f"pidfile {self.pidfile}",
                f"logfile {self.log}",
                f"dir {self.directory}",
                f"sentinel announce-ip {a}",
                f"sentinel monitor {MASTER_NAME} {master} {REDIS_PORT} {QUORUM}",
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER_NAME} 1",
                "",
            ]
        )

    def cli(self, *args: str) -> list[str]:
        """argv of ``redis-cli`` against this Sentinel."""
        return [
            str(self.bins.redis_cli),
            "-h",
            self.site.address,
            "-p",
            str(SENTINEL_PORT),
            *args,
        ]


def sentinels(layout: LabLayout, bins: Binaries) -> list[SentinelMember]:
    """One Sentinel per site, east first."""
    return [SentinelMember(site, bins) for site in layout.sites]


def start_sentinel(runner: Runner, member: SentinelMember, master: str) -> ProcessRecord:
    """Write a fresh config and start one Sentinel; waits until it listens."""
    member.directory.mkdir(parents=True, exist_ok=True)
    member.config.write_text(member.conf_text(master))
    chown_tree(member.directory, runner.user)
    runner.run(
        [str(member.bins.redis_server), str(member.config), "--sentinel"],
        what=f"start Sentinel on {member.site.name}",
        timeout=30,
    )
    s = member.site
    require_server(
        what="Sentinel",
        site=s.name,
        address=s.address,
        port=SENTINEL_PORT,
        pidfile=member.pidfile,
        log=member.log,
        timeout=60 * runner.timeout_scale,
    )
    return running_record(
        site=s.name,
        name="sentinel",
        what="Sentinel",
        address=s.address,
        port=SENTINEL_PORT,
        pidfile=member.pidfile,
        log=member.log,
    )


def setup(
    runner: Runner, layout: LabLayout, bins: Binaries, record: Callable[[ProcessRecord], None]
) -> None:
    """Start the primary and both replicas, then the three Sentinels; wait until every
    Sentinel sees both replicas and its two peers.

    Raises:
        LabError: A server did not come up, or the Sentinels did not find each other in time.
    """
    primary, *replicas = redis_members(layout, bins)
    record(start_member(runner, primary, None))
    for replica in replicas:
        record(start_member(runner, replica, primary.site.address))
    group = sentinels(layout, bins)
    for s in group:
        record(start_sentinel(runner, s, primary.site.address))

    def discovered(s: SentinelMember) -> bool:
        out = runner.run(
            s.cli("SENTINEL", "MASTER", MASTER_NAME), what="ask Sentinel", timeout=30
        ).split("\n")
        fields = dict(zip(out[0::2], out[1::2], strict=False))
        return fields.get("num-slaves") == "2" and fields.get("num-other-sentinels") == "2"

    timeout = 60 * runner.timeout_scale
    for s in group:
        if not wait_until(lambda s=s: discovered(s), timeout, interval=0.2):  # type: ignore[misc]
            raise LabError(
                f"Sentinel on {s.site.name} did not see both replicas and both peers within "
                f"{timeout:.0f} s; see {s.log}"
            )
