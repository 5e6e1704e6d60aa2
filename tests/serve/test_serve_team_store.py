"""``drconsole serve`` on a team store: the consoles it starts get ``--audit-fallback`` and
``--lease`` (a real server, real console processes behind websockets, a real PostgreSQL).

The store answers when the server starts (so the server itself keeps the store's URL) and is
stopped for real before the operator's browser connects: the operator's console, started
then, cannot reach it and records to the local fallback the server was given; the run it
starts there holds its service lease for the ``--lease`` the server was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from tests.serve.served import OPERATOR, TOKEN, browser_console, serving
from tests.support.pgserver import PgServer, pg_server_fixture

pytestmark = [pytest.mark.timeout(400), pytest.mark.slow]

WAIT = 120.0
"""Seconds for the console to record the run (10x a loaded machine)."""

LEASED = """\
version: 1
name: served-drill
kind: custom
service: svc
steps:
  - id: only
    on: h-east
    run: "true"
"""
"""The served playbook, on a service (so the run takes a lease on it)."""

START_A_RUN = ("2", "\r", "r", "y")

pg_server = pg_server_fixture("module")


@pytest.fixture
def server(pg_server: PgServer) -> Iterator[PgServer]:
    yield pg_server
    if not pg_server.running():
        pg_server.start()


async def test_a_console_started_after_the_store_went_away_records_to_the_fallback(
    tmp_path: Path, server: PgServer
) -> None:
    url = server.new_database()
    fallback = tmp_path / "fallback.db"
    with serving(
        tmp_path,
        store=url,
        options=["--audit-fallback", str(fallback)],
        serve_options=["--lease", "90s"],
    ) as served:
        (tmp_path / "playbooks" / "served-drill.yaml").write_text(LEASED)
        server.stop("fast")
        async with browser_console(served, cookie=TOKEN, origin=served.url) as console:
            await console.drawn()
            await console.keys(*START_A_RUN)
            for _ in range(int(WAIT / 0.5)):
                if fallback.exists() and _runs(fallback):
                    break
                await asyncio.sleep(0.5)
            for _ in range(int(WAIT / 0.5)):
                if _acquired(fallback):
                    break
                await asyncio.sleep(0.5)
    assert _runs(fallback) == [("served-drill", OPERATOR)]
    assert _acquired(fallback) == [90.0]
    assert not (tmp_path / "audit.db").exists()


def _runs(path: Path) -> list[tuple[str, str]]:
    with AuditStore(path, create=False) as store:
        return [(r.playbook_name, r.operator) for r in store.runs()]


def _acquired(path: Path) -> list[float]:
    with AuditStore(path, create=False) as store:
        return [
            float(e.data["lease_seconds"])
            for r in store.runs()
            for e in store.events(r.run_id)
            if e.kind == "lock_acquired" and "token" in e.data
        ]
