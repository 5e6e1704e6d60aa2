"""The recoverable window's questions ride in the sweep's probe execs on the real lab.

Each service's primary is asked its archiver (pg_stat_archiver), its binlogs (SHOW BINARY
LOGS) and its AOF's annotations in the same SSH exec as its replication probe: the primaries'
host gets no exec beyond the probes, and the PostgreSQL and MariaDB questions run in the
probe's own client session (no second psql or mariadb, no second connection).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from console.model.inventory import load_inventory
from console.probes.redis import cli_args as redis_cli_args
from console.probes.window import RecoveryWindow, WindowHealth
from console.ssh import SshPool
from console.ssh.result import CommandResult
from console.ssh.target import SshTarget
from console.status.collector import StatusCollector
from console.status.window import WindowCollector
from console.targets import probe_target, ssh_target
from tests.support.lab import RunningLab, lab, requires_lab  # noqa: F401

pytestmark = [requires_lab, pytest.mark.lab]


class _Counting(SshPool):
    """The real pool, counting each exec per host and keeping its command."""

    def __init__(self) -> None:
        super().__init__()
        self.execs: Counter[str] = Counter()
        self.commands: list[tuple[str, str]] = []

    async def run(self, target: SshTarget, command: str, **kw: Any) -> CommandResult:
        self.execs[target.name] += 1
        self.commands.append((target.name, command))
        return await super().run(target, command, **kw)


def test_the_window_rides_on_the_probes_of_the_primaries(lab: RunningLab) -> None:  # noqa: F811
    inventory = load_inventory(lab.inventory)

    async def go() -> tuple[dict[str, Any], _Counting, dict[str, Any], list[str]]:
        async with _Counting() as pool:
            collector = StatusCollector(inventory, pool)
            windows = WindowCollector(inventory, pool)
            await collector.sweep()  # warm: every connection open
            pool.execs.clear()
            pool.commands.clear()
            asked = windows.start(collector)
            snapshot = await asyncio.wait_for(collector.sweep(), 120)
            answers = {k[0]: f.result() for k, f in asked.riding.items()}
            found = await asyncio.wait_for(windows.finish(asked, snapshot), 120)
            health = {n: w.health.value for n, w in found.items()}
            states = [m.health.health.value for m in snapshot.members]
            await collector.close()
            return answers, pool, health, states

    answers, pool, health, members = asyncio.run(go())
    assert members == ["ok"] * 6, members  # the riding probes' samples are the usual ones
    assert health == {"orders-db": "ok", "catalog-db": "ok", "sessions": "ok"}, health
    # every answer came with the probe (status 0), none by an exec of its own
    assert answers["orders-db"][0] == 0 and '"archive_mode" : "on"' in answers["orders-db"][1]
    assert answers["catalog-db"][0] == 0 and "binlog.0000" in answers["catalog-db"][1]
    assert answers["sessions"][0] == 0 and answers["sessions"][1].startswith(
        "aof yes\ntsconf yes\naofdir /"
    )
    east = next(h for h in inventory.hosts.values() if h.site == "east").name
    assert pool.execs[east] == 3, pool.commands  # its three probes, nothing else
    on_east = [c for h, c in pool.commands if h == east]
    # one psql, asked the probe's query and the archiver; one mariadb, the probe's and the binlogs
    assert sum(c.count("psql ") for c in on_east) == 1, on_east
    assert any("pg_stat_archiver" in c and "pg_is_in_recovery" in c for c in on_east), on_east
    assert any("SHOW BINARY LOGS" in c and "drconsole_section" in c for c in on_east), on_east
    assert sum(c.count("--no-defaults") for c in on_east) == 1, on_east


def test_a_redis_aof_once_read_is_asked_info_in_the_probe_and_rescanned_after_a_write(
    lab: RunningLab,  # noqa: F811
) -> None:
    """After the first sweep has read the AOF, the Redis primary's probe asks ``INFO
    replication persistence server`` in its one redis-cli call: a quiet AOF costs no command
    beyond the probe; after a write, INFO says the AOF grew and one exec reads the bytes
    appended since, whose annotation is the window's new newest point."""
    inventory = load_inventory(lab.inventory)
    service = inventory.services["sessions"]
    primary = service.expected_primary
    assert primary is not None
    cli = redis_cli_args(probe_target(inventory, service, service.members[primary]))
    where = ssh_target(inventory, inventory.hosts[primary])

    async def sweep(
        pool: _Counting, collector: StatusCollector, windows: WindowCollector
    ) -> tuple[RecoveryWindow, list[str]]:
        pool.commands.clear()
        asked = windows.start(collector)
        snapshot = await asyncio.wait_for(collector.sweep(), 120)
        found = await asyncio.wait_for(windows.finish(asked, snapshot), 120)
        return found["sessions"], [c for h, c in pool.commands if h == primary]

    async def go() -> tuple[list[tuple[RecoveryWindow, list[str]]], float]:
        async with _Counting() as pool:
            collector = StatusCollector(inventory, pool)
            windows = WindowCollector(inventory, pool)
            await collector.sweep()
            seen = [await sweep(pool, collector, windows) for _ in range(3)]
            written = time.time()
            result = await pool.run(where, f"{cli} SET drconsole-rider-test {written}", timeout=60)
            assert result.exit_status == 0 and list(result.stdout) == ["OK"], result
            seen.append(await sweep(pool, collector, windows))
            seen.append(await sweep(pool, collector, windows))
            await collector.close()
            return seen, written

    seen, written = asyncio.run(go())
    (cold, cold_cmds), (_, first_info), (quiet, quiet_cmds), (wrote, wrote_cmds), after = seen
    assert cold.health is WindowHealth.OK, cold.reason
    assert any("CONFIG GET dir" in c for c in cold_cmds), cold_cmds  # the first read: all of it
    # the first INFO sweep has no INFO to compare with: it reads the annotations once more
    assert any("appendonly.aof.manifest" in c for c in first_info), first_info
    # quiet: the three probes, one redis-cli, no file read
    assert len(quiet_cmds) == 3, quiet_cmds
    redis = [c for c in quiet_cmds if "redis-cli" in c]
    assert len(redis) == 1 and redis[0].count("redis-cli ") == 1, redis
    assert "INFO replication persistence server" in redis[0], redis
    assert quiet.health is WindowHealth.OK
    assert (quiet.oldest, quiet.newest) == (cold.oldest, cold.newest)
    # a write: the probe's INFO shows the AOF grew; one exec reads the tail of the increment
    assert len(wrote_cmds) == 4, wrote_cmds
    assert any("tail -c +" in c for c in wrote_cmds), wrote_cmds
    assert wrote.health is WindowHealth.OK, wrote.reason
    assert wrote.oldest == cold.oldest and wrote.newest is not None
    assert int(written) <= wrote.newest <= written + 2, (wrote.newest, written)
    # and quiet again: nothing read
    assert len(after[1]) == 3 and after[0].newest == wrote.newest, after
