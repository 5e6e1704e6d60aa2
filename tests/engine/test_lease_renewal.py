"""A run renews its leases while it lives: a run longer than its lease acts to its end.

On both stores, the real engine (SSH scripted) holds a 0.6 s lease through a 2.5 s wait whose
every poll is a fenced intent, then sends its last command: had the lease not been renewed
(every third of its length), the intents after 0.6 s would have been refused (exit 3). The
lease's expiry moved forward on the database's clock, and it is released at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.pgserver import PgServer, pg_missing, pg_server_fixture
from tests.support.scripted import Reply

WAIT = 60.0

PLAYBOOK = """
version: 1
name: longer-than-its-lease
kind: switchover
service: svc
steps:
  - id: wait-west
    wait:
      on: h-west
      run: poll-west
      timeout: 30s
      interval: 250ms
  - id: promote
    on: h-west
    run: promote-west
"""

pg_server = pg_server_fixture("module")


@pytest.fixture(params=["sqlite", "postgresql"])
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScriptedEstate]:
    est = make_estate(tmp_path)
    if request.param == "postgresql":
        if pg_missing() is not None:
            pytest.skip(str(pg_missing()))
        server: PgServer = request.getfixturevalue("pg_server")
        est.audit = server.new_database()  # type: ignore[assignment]
    est.transport.on("poll-west", *([Reply(exit_status=1)] * 10), Reply(stdout="ready"))
    est.transport.on("promote-west", Reply(stdout="promoted"))
    yield est


async def test_a_run_longer_than_its_lease_keeps_acting(estate: ScriptedEstate) -> None:
    pb = estate.playbook("long", PLAYBOOK)
    engine, audit = estate.engine(pb, HeadlessDecider("alice", yes=True), lease_ttl=0.6)
    expiries: list[float] = []

    async def watch() -> None:
        while True:
            with AuditStore(estate.audit, create=False) as other:
                _clock, live = other.live_leases()
            expiries.extend(lease.expires_at for lease in live)
            await asyncio.sleep(0.2)

    watcher = asyncio.ensure_future(watch())
    try:
        result = await asyncio.wait_for(engine.run(), WAIT)
    finally:
        watcher.cancel()
        audit.close()
    assert result.exit_code == 0, result.summary
    assert len(estate.transport.calls_to("poll-west")) == 11
    assert estate.transport.calls_to("promote-west")
    assert len(set(expiries)) >= 3, "the expiry moved forward as the run renewed it"
    intents = [e for e in estate.events() if e["kind"] == "command_intent"]
    assert intents and all(e["fence"] == intents[0]["fence"] for e in intents)
    with AuditStore(estate.audit, create=False) as other:
        assert other.live_leases()[1] == []  # released at the end
