"""The recoverable window's questions ride in the sweep's probe execs on the real lab.

Each service's primary is asked its archiver (pg_stat_archiver), its binlogs (SHOW BINARY
LOGS) and its AOF's annotations in the same SSH exec as its replication probe: the primaries'
host gets no exec beyond the probes, and the PostgreSQL and MariaDB questions run in the
probe's own client session (no second psql or mariadb, no second connection).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from console.model.inventory import load_inventory
from console.ssh import SshPool
from console.ssh.result import CommandResult
from console.ssh.target import SshTarget
from console.status.collector import StatusCollector
from console.status.window import WindowCollector
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
            await collector.close()
            health = {n: w.health.value for n, w in found.items()}
            return answers, pool, health, [m.health.health.value for m in snapshot.members]

    answers, pool, health, members = asyncio.run(go())
    assert members == ["ok"] * 6, members  # the riding probes' samples are the usual ones
    assert health == {"orders-db": "ok", "catalog-db": "ok", "sessions": "ok"}, health
    # every answer came with the probe (status 0), none by an exec of its own
    assert answers["orders-db"][0] == 0 and '"archive_mode" : "on"' in answers["orders-db"][1]
    assert answers["catalog-db"][0] == 0 and "binlog.0000" in answers["catalog-db"][1]
    assert answers["sessions"][0] == 0 and answers["sessions"][1].startswith(
        "aof yes\ntsconf yes\nts "
    )
    east = next(h for h in inventory.hosts.values() if h.site == "east").name
    assert pool.execs[east] == 3, pool.commands  # its three probes, nothing else
    on_east = [c for h, c in pool.commands if h == east]
    # one psql, asked the probe's query and the archiver; one mariadb, the probe's and the binlogs
    assert sum(c.count("psql ") for c in on_east) == 1, on_east
    assert any("pg_stat_archiver" in c and "pg_is_in_recovery" in c for c in on_east), on_east
    assert any("SHOW BINARY LOGS" in c and "drconsole_section" in c for c in on_east), on_east
    assert sum(c.count("--no-defaults") for c in on_east) == 1, on_east
