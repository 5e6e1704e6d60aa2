"""A refused approval or commit leaves its trace: who tried, from which machine, and why.

``drconsole approve`` refused (the run's own operator, the same person twice, a step that
waits for none) and ``drconsole commit`` refused (the run awaits none, the window ended)
record an ``approval_refused`` / ``commit_refused`` event in the run before exit 3; the
refused approval or commit itself is not recorded. On both stores.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from console.audit import AuditStore
from console.audit.approvals import ApprovalRefused, approve, pending_approvals
from console.audit.commits import CommitRefused, commit
from console.audit.model import Event
from console.cli import main
from console.events import ApprovalRequested, CommitAwaited
from tests.audit.conftest import Location, location_arg


def _kinds(store: AuditStore, run_id: str, *kinds: str) -> list[Event]:
    return [e for e in store.events(run_id) if e.kind in kinds]


def _waiting_for_approval(store: AuditStore, start_run: Callable[..., str]) -> str:
    run_id = start_run(operator="alice@jump1")
    request = ApprovalRequested(
        title="Promote west", needed=3, approvers=("alice@jump1",), mode="drill", step_id="promote"
    )
    store.record(run_id, request, operator="alice@jump1")
    return run_id


def test_refused_approvals_are_recorded_with_operator_host_and_reason(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    run_id = _waiting_for_approval(store, start_run)
    with pytest.raises(ApprovalRefused, match="the run's own operator counts once"):
        approve(store, run_id, "promote", operator="alice@jump1", hostname="lap1")
    approve(store, run_id, "promote", operator="bob@jump2", hostname="lap2")
    with pytest.raises(ApprovalRefused, match=r"approved step 'promote' of run .* already"):
        approve(store, run_id, None, operator="bob@jump2", hostname="lap2")
    with pytest.raises(ApprovalRefused, match="step 'look' waits for no approval"):
        approve(store, run_id, "look", operator="carol@jump3", hostname="lap3")

    refused = _kinds(store, run_id, "approval_refused")
    assert [(e.operator, e.data["by"], e.data["hostname"], e.data["step"]) for e in refused] == [
        ("alice@jump1", "alice@jump1", "lap1", "promote"),
        ("bob@jump2", "bob@jump2", "lap2", None),
        ("carol@jump3", "carol@jump3", "lap3", "look"),
    ]
    assert "the run's own operator counts once" in refused[0].data["reason"]
    assert "the same person counts once" in refused[1].data["reason"]
    assert "step 'look' waits for no approval (waiting: promote)" in refused[2].data["reason"]
    # only bob's one approval counts; the request still waits for a third person
    assert [e.operator for e in _kinds(store, run_id, "approval")] == ["bob@jump2"]
    (waiting,) = pending_approvals(store)
    assert waiting.approvers == ("alice@jump1", "bob@jump2") and waiting.missing == 1
    assert store.verify().ok


def test_a_refused_approve_command_is_recorded_and_shown(
    db_path: Location,
    store: AuditStore,
    start_run: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = _waiting_for_approval(store, start_run)
    audit = ["--audit", location_arg(db_path)]
    assert main([*audit, "--operator", "alice@jump1", "approve", run_id]) == 3
    err = capsys.readouterr().err
    assert "the run's own operator counts once" in err and "Traceback" not in err
    (refused,) = _kinds(store, run_id, "approval_refused")
    assert refused.operator == "alice@jump1"
    assert refused.data["hostname"] == socket.gethostname()
    assert main([*audit, "audit", "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert f"approval by alice@jump1 on {socket.gethostname()} refused: alice@jump1 started" in (
        shown
    )
    assert main([*audit, "audit", "verify"]) == 0


def test_refused_commits_are_recorded_with_operator_host_and_reason(
    db_path: Location,
    store: AuditStore,
    start_run: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = start_run(operator="alice@jump1")
    with pytest.raises(CommitRefused, match=r"\(running\) awaits no commit"):
        commit(store, run_id, operator="bob@jump2", hostname="lap2")
    awaited = CommitAwaited(within=60.0, deadline=time.time() + 60.0, otherwise="rollback")
    store.record(run_id, awaited, operator="alice@jump1")
    with pytest.raises(CommitRefused, match="its commit window of 60s ended 940s ago"):
        commit(store, run_id, operator="carol@jump3", hostname="lap3", now=awaited.deadline + 940)
    assert main(["--audit", location_arg(db_path), "--operator", "dave@jump4", "commit"]) == 0
    assert f"{run_id} pg-failover" in capsys.readouterr().out  # still awaits one
    store.finish_run(run_id, "succeeded", {"exit_code": 0})
    argv = ["--audit", location_arg(db_path), "--operator", "dave@jump4", "commit", run_id]
    assert main(argv) == 3
    assert "awaits no commit" in capsys.readouterr().err

    refused = _kinds(store, run_id, "commit_refused")
    assert [(e.operator, e.data["by"], e.data["hostname"]) for e in refused] == [
        ("bob@jump2", "bob@jump2", "lap2"),
        ("carol@jump3", "carol@jump3", "lap3"),
        ("dave@jump4", "dave@jump4", socket.gethostname()),
    ]
    assert "(running) awaits no commit" in refused[0].data["reason"]
    assert "window of 60s ended 940s ago (otherwise: rollback)" in refused[1].data["reason"]
    assert "(succeeded) awaits no commit" in refused[2].data["reason"]
    assert _kinds(store, run_id, "commit") == []
    run = store.get_run(run_id)
    assert run is not None and run.outcome == "succeeded"  # a refusal changes no outcome
    assert store.verify().ok
