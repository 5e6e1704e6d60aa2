"""The team store lost in the middle of a run: the PostgreSQL server is stopped for real.

The run goes through the real CLI and engine; SSH is the scripted transport (the subject here
is the audit store, not the hosts). A step's command stops the PostgreSQL server while it
"runs"; what the engine must record next cannot be recorded, so the run stops there, exit 3,
and the next step's command is never sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit import AuditStore
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.pgserver import PgServer
from tests.support.scripted import Call, Reply, use_in_cli

PLAYBOOK = """
version: 1
name: store-lost
kind: custom
steps:
  - id: first
    on: h-east
    run: first-cmd
  - id: outage
    on: h-east
    run: store-goes-away
  - id: never
    on: h-west
    run: never-cmd
"""


@pytest.fixture
def estate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_server: PgServer
) -> Iterator[ScriptedEstate]:
    est = make_estate(tmp_path)
    est.audit = pg_server.new_database()  # type: ignore[assignment]
    with use_in_cli(monkeypatch, est.transport):
        yield est
    if not pg_server.running():
        pg_server.start()


@pytest.mark.timeout(300)
def test_the_run_stops_before_the_next_command_with_exit_3(
    estate: ScriptedEstate, pg_server: PgServer
) -> None:
    def stop_the_store(_call: Call) -> Reply:
        pg_server.stop("fast")  # the DBA's shutdown: every session is ended
        return Reply(stdout="the store is down now")

    estate.transport.on("first-cmd", Reply(stdout="done"))
    estate.transport.on("store-goes-away", stop_the_store)
    estate.transport.on("never-cmd", Reply(stdout="must not run"))
    pb = estate.playbook("store-lost", PLAYBOOK)

    proc = estate.run("run", str(pb), "-i", str(estate.inventory), "--yes")

    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert not estate.transport.calls_to("never-cmd")
    assert len(estate.transport.calls_to("store-goes-away")) == 1
    said = proc.stdout + proc.stderr
    assert "the audit store was lost" in said
    assert "Traceback" not in said

    pg_server.start()
    with AuditStore(str(estate.audit), create=False) as store:
        result = store.verify()
        assert result.ok, result.reason
        run_id = store.latest_run_id()
        assert run_id is not None
        events = store.events(run_id)
    kinds = [(e.kind, e.step_id) for e in events]
    # Everything up to the outage's intent is on record; nothing of "never" is.
    assert ("command_intent", "first") in kinds
    assert ("command_intent", "outage") in kinds
    assert all(step != "never" for _kind, step in kinds)
    assert "run_finished" not in {k for k, _ in kinds}  # it could not be written
    # The next console to open the store carries on the same chain.
    with AuditStore(str(estate.audit)) as store:
        store.append(run_id, "note", {"text": "store back"}, operator="carol")
        assert store.verify().ok


def test_a_store_unreachable_at_start_is_exit_2_before_anything_runs(
    estate: ScriptedEstate, pg_server: PgServer
) -> None:
    estate.transport.on("first-cmd", Reply(stdout="done"))
    pb = estate.playbook("store-lost", PLAYBOOK)
    estate.audit = pg_server.url("no_such_db")  # type: ignore[assignment]
    proc = estate.run("run", str(pb), "-i", str(estate.inventory), "--yes")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().endswith('database "no_such_db" does not exist')
    assert "cannot reach the audit store" in proc.stderr
    assert not estate.transport.calls
