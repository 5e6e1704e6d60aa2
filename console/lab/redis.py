"""Redis in the lab: a primary in east and a replica in west.

No RDB save points, but a ``dir``, so that a restore drill can ``BGSAVE`` and copy
``dump.rdb``; an append-only file with timestamp annotations (``aof-timestamp-enabled``), so
that ``redis-pitr`` can cut a copy of it at a point in time (``redis-check-aof
--truncate-to-timestamp``). ``repl-diskless-sync-delay 0`` because the default adds
5 s to every full sync, and ``--enable-debug-command local`` for ``DEBUG DIGEST`` in restore
verification. Each instance announces its own site address to its primary
(``replica-announce-ip``): on loopback every connection comes from 127.0.0.1, which would make
both members look alike in ``INFO replication`` and break ``FAILOVER TO``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from console.lab.binaries import Binaries
from console.lab.errors import LabError
from console.lab.layout import REDIS_PORT, LabLayout, SiteLayout
from console.lab.procs import require_server, running_record
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

SEED_KEYS = 10_000
"""How many keys the primary is seeded with."""

SEED_LUA = (
    "for i = 1, tonumber(ARGV[1]) do "
    "redis.call('HSET', 'user:' .. i, 'name', 'user-' .. i, 'email', 'u' .. i .. '@example.test',"
    " 'site', 'east', 'visits', i % 97) end "
    "return tonumber(ARGV[1])"
)


@dataclass(frozen=True, slots=True)
class RedisMember:
    """One Redis instance of the lab and the commands that run it."""

    site: SiteLayout
    """Where it lives."""
    bins: Binaries
    """Where the binaries are."""
    extra: tuple[str, ...] = ()
    """More server options (the managed profile adds ``--bind-source-addr`` and
    ``--protected-mode no`` for Sentinel)."""

    def server_argv(self) -> list[str]:
        """The server command line (daemonizes; append ``--replicaof HOST PORT`` freely)."""
        s = self.site
        return [
            str(self.bins.redis_server),
            "--port",
            str(REDIS_PORT),
            "--bind",
            s.address,
            "--dir",
            str(s.redis_dir),
            "--pidfile",
            str(s.redis_pidfile),
            "--logfile",
            str(s.redis_log),
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--aof-timestamp-enabled",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
            "--enable-debug-command",
            "local",
            "--replica-announce-ip",
            s.address,
            *self.extra,
        ]

    @property
    def server_cmd(self) -> str:
        """:meth:`server_argv` as one shell line: starts the server as a primary."""
        return shlex.join(self.server_argv())

    def start_cmd(self, replica_of: str | None) -> str:
        """Starts the server (as a replica of ``replica_of`` when given); returns at once."""
        cmd = self.server_cmd
        if replica_of is not None:
            cmd += f" --replicaof {replica_of} {REDIS_PORT}"
        return cmd + " </dev/null >/dev/null 2>&1"

    @property
    def stop_cmd(self) -> str:
        """Stops the server without saving."""
        return shlex.join(self.cli("SHUTDOWN", "NOSAVE"))

    def cli(self, *args: str) -> list[str]:
        """argv of ``redis-cli`` against this member."""
        return [str(self.bins.redis_cli), "-h", self.site.address, "-p", str(REDIS_PORT), *args]

    def record(self) -> ProcessRecord:
        """The process record of the running server (from its pid file).

        Raises:
            LabError: When it is not running.
        """
        return running_record(
            site=self.site.name,
            name="redis",
            what="Redis",
            address=self.site.address,
            port=REDIS_PORT,
            pidfile=self.site.redis_pidfile,
            log=self.site.redis_log,
        )


def members(layout: LabLayout, bins: Binaries) -> tuple[RedisMember, RedisMember]:
    """The primary (east) and the replica (west)."""
    return RedisMember(layout.site("east"), bins), RedisMember(layout.site("west"), bins)


def start_member(runner: Runner, member: RedisMember, replica_of: str | None) -> ProcessRecord:
    """Start one member (a replica of ``replica_of`` when given) and wait until it serves.

    Raises:
        LabError: It did not come up in time (the message names its log).
    """
    runner.sh(member.start_cmd(replica_of), what=f"start Redis on {member.site.name}", timeout=30)
    timeout = 60 * runner.timeout_scale
    s = member.site
    require_server(
        what="Redis",
        site=s.name,
        address=s.address,
        port=REDIS_PORT,
        pidfile=s.redis_pidfile,
        log=s.redis_log,
        timeout=timeout,
    )
    return member.record()


def setup(
    runner: Runner,
    layout: LabLayout,
    bins: Binaries,
    record: Callable[[ProcessRecord], None],
) -> None:
    """Start primary and replica, seed the primary, wait until the replica acknowledged it.

    Raises:
        LabCommandFailed: A step failed (the message carries its output).
        LabError: A server did not come up or the replica did not acknowledge in time.
    """
    primary, replica = members(layout, bins)
    record(start_member(runner, primary, None))
    record(start_member(runner, replica, primary.site.address))
    runner.run(
        primary.cli("EVAL", SEED_LUA, "0", str(SEED_KEYS)), what="seed Redis on east", timeout=60
    )
    wait_ms = int(60_000 * runner.timeout_scale)
    acked = runner.run(
        primary.cli("WAIT", "1", str(wait_ms)),
        what="wait for the Redis replica",
        timeout=wait_ms / 1000 + 30,
    ).strip()
    if acked != "1":
        raise LabError(f"Redis replica on west did not acknowledge the seed ({acked!r} replicas)")
