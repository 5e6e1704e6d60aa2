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
from console.cli import main
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.pgserver import PgServer
from tests.support.scripted import Call, Reply, use_in_cli
from tests.support.store_lost import PLAYBOOK


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


@pytest.mark.timeout(300)
def test_the_fallback_takes_over_without_losing_an_event(
    estate: ScriptedEstate, pg_server: PgServer, tmp_path: Path
) -> None:
    """With --audit-fallback the run goes on into the local file; the file holds the whole
    run and verifies; pushed later, the team store holds the whole run, and verifies."""

    def stop_the_store(_call: Call) -> Reply:
        pg_server.stop("fast")
        return Reply(stdout="the store is down now")

    estate.transport.on("first-cmd", Reply(stdout="done"))
    estate.transport.on("store-goes-away", stop_the_store)
    estate.transport.on("never-cmd", Reply(stdout="runs after all"))
    pb = estate.playbook("store-lost", PLAYBOOK)
    fallback = tmp_path / "fallback.db"
    team = str(estate.audit)

    proc = estate.run(
        "--audit-fallback", str(fallback), "run", str(pb), "-i", str(estate.inventory), "--yes"
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"the record continues in the local fallback {fallback}" in proc.stderr
    assert f"drconsole audit push {fallback} --to {team}" in proc.stderr
    assert len(estate.transport.calls_to("never-cmd")) == 1
    with AuditStore(fallback, create=False) as local:
        assert local.verify().ok
        run_id = local.latest_run_id()
        assert run_id is not None
        offline = local.events(run_id)
        run = local.get_run(run_id)
    assert run is not None and run.outcome == "succeeded"
    kinds = [(e.kind, e.step_id) for e in offline]
    assert [e.seq for e in offline] == list(range(1, len(offline) + 1))
    assert kinds[0] == ("run_started", None) and kinds[-1][0] == "run_finished"
    for step in ("first", "outage", "never"):
        assert ("command_intent", step) in kinds and ("step_finished", step) in kinds
    switched = [e for e in offline if e.kind == "notice" and "local fallback" in e.data["message"]]
    assert len(switched) == 1 and switched[0].data["level"] == "warning"

    pg_server.start()
    with AuditStore(team, create=False) as store:
        before = store.events(run_id)
        assert store.verify().ok
    assert 0 < len(before) < len(offline)
    # What the team store has of the run is exactly the file's beginning: nothing was lost.
    keep = ("seq", "ts", "kind", "operator", "host", "step_id", "data")
    assert [[getattr(e, k) for k in keep] for e in before] == [
        [getattr(e, k) for k in keep] for e in offline[: len(before)]
    ]
    assert main(["audit", "push", str(fallback), "--to", team]) == 0
    with AuditStore(team, create=False) as store:
        assert store.verify().ok
        after = store.events(run_id)
        whole = store.get_run(run_id)
    assert [[getattr(e, k) for k in keep] for e in after[:-1]] == [
        [getattr(e, k) for k in keep] for e in offline
    ]
    assert after[-1].kind == "run_imported"
    assert whole is not None and whole.outcome == "succeeded"
