"""The replay's fold: a recorded failed run and a killed one, played to any point."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.tui.replay import Replay
from tests.engine.scripted_env import ScriptedEstate
from tests.replay.recorded import failed_run, killed_run
from tests.support.scripted import Reply

pytestmark = pytest.mark.timeout(120)


def _load(audit: Path, run_id: str) -> Replay:
    with AuditStore(audit, create=False) as store:
        return Replay.load(store, run_id)


def test_a_failed_run_replays_step_by_step(scripted: ScriptedEstate) -> None:
    est = scripted
    run_id = failed_run(est)
    sent = len(est.transport.calls)
    r = _load(est.audit, run_id)
    assert r.steps == [("fence", False), ("promote", False), ("repoint", False)]
    assert r.position == 0 and r.clock == 0.0
    assert {sid: r.status_of(sid) for sid, _ in r.steps} == dict.fromkeys(
        ("fence", "promote", "repoint"), "pending"
    )
    # step by step: each stop is a step boundary
    r.next_step()
    assert r.status_of("fence") == "running" and r.current_step == "fence"
    assert any("step 1/3 fence: Fence the primary on h-east" in line for line in r.lines)
    assert r.samples, "the samples taken before the first step are on the panel"
    assert {k[0] for k in r.samples} == {"svc"}
    r.next_step()
    assert r.status_of("fence") == "ok"
    assert r.rto_start is not None and r.rto_elapsed() is not None
    assert any(line.endswith("│ primary stopped") for line in r.lines)
    r.next_step()
    assert r.status_of("promote") == "running"
    r.next_step()  # the policy's decision (on_failure: abort), recorded before the step ends
    assert r.status_of("promote") == "running"
    assert r.waiting is None
    r.next_step()
    assert r.status_of("promote") == "failed"
    assert any(line.endswith("! promote: refused") for line in r.lines)
    while not r.at_end:
        r.next_step()
    assert r.status_of("repoint") == "not run"
    assert r.finished is not None and r.run_word() == "failed"
    assert r.clock == r.duration
    # restart: the same events fold to the same state again
    lines = list(r.lines)
    r.restart()
    assert r.lines_total == 0 and r.status_of("fence") == "pending"
    r.advance(r.duration)
    assert list(r.lines) == lines
    assert len(est.transport.calls) == sent  # replaying sent nothing anywhere


def test_advance_applies_only_what_is_due(scripted: ScriptedEstate) -> None:
    r = _load(scripted.audit, failed_run(scripted))
    assert r.duration > 0
    half = r.duration / 2
    r.advance(half)
    assert 0 < r.position < len(r.events)
    assert all(e.offset <= half for e in r.events[: r.position])
    assert r.events[r.position].offset > half
    r.seek(0.0)
    assert r.position == sum(1 for e in r.events if e.offset <= 0.0)
    r.advance(10 * r.duration)  # past the end: stops at the end
    assert r.at_end and r.clock == r.duration


def test_a_killed_run_replays_to_where_the_log_ends(
    scripted: ScriptedEstate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed = tmp_path / "crashed.db"
    run_id = killed_run(scripted, crashed, monkeypatch)
    r = _load(crashed, run_id)
    r.advance(r.duration)
    assert r.at_end and r.finished is None
    assert r.run_word() == "interrupted"
    assert r.status_of("one") == "ok"
    assert r.status_of("slow") == "unknown"  # in flight when the log stops
    assert r.status_of("three") == "not run"
    assert r.lines[-1] == "» the log ends here: the run is interrupted"


def test_a_killed_then_resumed_run_replays_both_halves(
    scripted: ScriptedEstate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    est = scripted
    crashed = tmp_path / "crashed.db"
    run_id = killed_run(est, crashed, monkeypatch)
    est.audit = crashed
    est.transport.on("three-cmd", Reply(stdout="three ok"))
    pb = est.base / "replay-slow.yaml"
    done = est.run("run", str(pb), "-i", str(est.inventory), "--resume", run_id, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    r = _load(crashed, run_id)
    r.advance(r.duration)
    assert r.at_end and r.run_word() == "succeeded"
    assert [r.status_of(s) for s in ("one", "slow", "three")] == ["ok", "ok", "ok"]
    assert any(line.startswith("» run resumed (it was interrupted) by ") for line in r.lines)
