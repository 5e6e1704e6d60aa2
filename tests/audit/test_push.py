"""A run recorded offline (``--audit-fallback``) and pushed into the team store later.

Real PostgreSQL (one server for the module), the real CLI and engine; SSH is the scripted
transport. The team store is "unreachable" by naming a database that does not exist on the
running server, which PostgreSQL refuses for real at connect time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit import AuditStore, NoAuditDatabase
from console.audit.push import push
from console.cli import main
from console.events import ImportedOrigin, RunImported
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.pgserver import PgServer
from tests.support.scripted import Reply, use_in_cli

PLAYBOOK = """
version: 1
name: offline
kind: custom
steps:
  - id: one
    on: h-east
    run: one-cmd
  - id: two
    on: h-west
    run: two-cmd
"""


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedEstate]:
    est = make_estate(tmp_path)
    est.transport.on("one-cmd", Reply(stdout="one done"))
    est.transport.on("two-cmd", Reply(stdout="two done"))
    with use_in_cli(monkeypatch, est.transport):
        yield est


def _offline_run(est: ScriptedEstate, pg_server: PgServer, fallback: Path) -> str:
    """A run whose team store cannot be reached at start: it records to ``fallback``."""
    est.audit = pg_server.url("not_created_yet")  # type: ignore[assignment]
    pb = est.playbook("offline", PLAYBOOK)
    proc = est.run("--audit-fallback", str(fallback), "run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'database "not_created_yet" does not exist' in proc.stderr
    assert f"recording to the local fallback {fallback} instead" in proc.stderr
    assert f"drconsole audit push {fallback} --to {pg_server.url('not_created_yet')}" in (
        proc.stderr
    )
    with AuditStore(fallback, create=False) as local:
        run_id = local.latest_run_id()
        assert run_id is not None and local.verify().ok
    return run_id


def test_unreachable_at_start_without_fallback_is_exit_2(
    estate: ScriptedEstate, pg_server: PgServer
) -> None:
    estate.audit = pg_server.url("not_created_yet")  # type: ignore[assignment]
    pb = estate.playbook("offline", PLAYBOOK)
    proc = estate.run("run", str(pb), "-i", str(estate.inventory))
    assert proc.returncode == 2
    assert "cannot reach the audit store" in proc.stderr
    assert not estate.transport.calls


def test_a_fallback_run_is_pushed_once_with_its_provenance(
    estate: ScriptedEstate,
    pg_server: PgServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fallback = tmp_path / "offline.db"
    run_id = _offline_run(estate, pg_server, fallback)
    with AuditStore(fallback, create=False) as local:
        offline = local.events(run_id)
    team = pg_server.new_database()

    assert main(["--operator", "bob", "audit", "push", str(fallback), "--to", team]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        f"run {run_id}: pushed {len(offline)} events (seq 1–{len(offline)}) into {team}"
    )
    with AuditStore(team, create=False) as store:
        result = store.verify()
        assert result.ok, result.reason
        assert store.verify(run_id).ok
        pushed = store.events(run_id)
        run = store.get_run(run_id)
    assert run is not None and run.outcome == "succeeded" and run.operator == "tester"
    # Every event kept its run, seq, time, kind, operator, host, step and data.
    keep = ("seq", "ts", "kind", "operator", "host", "step_id", "data")
    assert [[getattr(e, k) for k in keep] for e in pushed[:-1]] == [
        [getattr(e, k) for k in keep] for e in offline
    ]
    last = pushed[-1]
    assert last.kind == "run_imported" and last.operator == "bob"
    assert isinstance(last.payload, RunImported)
    assert [(o.run_seq, o.gid, o.hash) for o in last.payload.origins] == [
        (e.seq, e.gid, e.hash) for e in offline
    ]
    assert main(["--audit", team, "audit", "show", run_id]) == 0
    assert f"{len(offline)} events pushed from {fallback}" in capsys.readouterr().out

    # Pushing the same file again pushes nothing.
    assert main(["audit", "push", str(fallback), "--to", team]) == 0
    assert capsys.readouterr().out.strip() == f"run {run_id}: already in {team}, nothing to push"
    with AuditStore(team, create=False) as store:
        assert len(store.events(run_id)) == len(offline) + 1


def test_a_broken_fallback_pushes_nothing(
    estate: ScriptedEstate, pg_server: PgServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fallback = tmp_path / "offline.db"
    _offline_run(estate, pg_server, fallback)
    conn = sqlite3.connect(fallback)
    with conn:
        conn.execute("UPDATE events SET operator = 'mallory' WHERE seq = 3")
    conn.close()
    team = pg_server.new_database()
    assert main(["audit", "push", str(fallback), "--to", team]) == 1
    err = capsys.readouterr().err
    assert "its chain does not verify, so nothing was pushed" in err
    assert "hash mismatch — the event was modified" in err
    with pytest.raises(NoAuditDatabase):  # the team store was not even opened for writing
        AuditStore(team, create=False)


def test_only_the_missing_tail_of_a_run_is_pushed_and_a_difference_refused(
    estate: ScriptedEstate, pg_server: PgServer, tmp_path: Path
) -> None:
    """The team store has the start of the run (it was lost in the middle of it)."""
    fallback = tmp_path / "offline.db"
    run_id = _offline_run(estate, pg_server, fallback)
    with AuditStore(fallback, create=False) as local:
        offline = local.events(run_id)
    team = pg_server.new_database()
    with AuditStore(team) as store:
        store.import_events(offline[:4])
    (done,) = push(fallback, team, operator="bob")
    assert (done.count, done.first_seq, done.last_seq) == (len(offline) - 4, 5, len(offline))
    with AuditStore(team, create=False) as store:
        assert store.verify().ok
        assert [e.seq for e in store.events(run_id)] == list(range(1, len(offline) + 2))

    other = pg_server.new_database()
    with AuditStore(other) as store:
        store.import_events(offline[:2])
        store.append(run_id, "note", {"text": "written elsewhere"}, operator="carol")
    with pytest.raises(Exception, match=f"run {run_id}: seq 3 differs between"):
        push(fallback, other, operator="bob")


def test_verify_rechecks_the_provenance_of_pushed_events(
    pg_server: PgServer, estate: ScriptedEstate, tmp_path: Path
) -> None:
    """A run_imported whose origins do not match the events it vouches for is reported,
    even though the team store's own chain over them is intact."""
    fallback = tmp_path / "offline.db"
    run_id = _offline_run(estate, pg_server, fallback)
    with AuditStore(fallback, create=False) as local:
        offline = local.events(run_id)
    team = pg_server.new_database()
    wrong = RunImported(
        source=str(fallback),
        source_host="laptop",
        source_final_hash="0" * 64,
        origins=(
            *(
                ImportedOrigin(run_seq=e.seq, gid=e.gid, prev_hash=e.prev_hash, hash=e.hash)
                for e in offline[:-1]
            ),
            ImportedOrigin(run_seq=offline[-1].seq, gid=99, prev_hash="f" * 64, hash="e" * 64),
        ),
    )
    with AuditStore(team) as store:
        store.push_run(offline, wrong, operator="bob")
        result = store.verify()
        one = store.verify(run_id)
    assert not result.ok and not one.ok
    assert "no longer hashes as it did in" in result.reason
    assert f"seq {offline[-1].seq}" in result.reason
