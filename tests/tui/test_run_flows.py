"""Guided runs through the TUI alone, on the real lab: every key an operator presses, every
dialog they answer, and what lands in the audit log with their name.

* a full failover (``playbooks/pg-failover.yaml``) and failback (the TUI test's own
  lab failback) — confirming, skipping a manual step with a reason, adding a note;
* abort with rollback; a failed step that stops, asks and is retried; pause, then skip the
  next step; a lock held by another run; resuming a stopped run from the audit screen.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.tui.screens.abort import AbortScreen
from console.tui.screens.audit import AuditScreen
from console.tui.screens.board import BoardScreen
from console.tui.screens.choice import ChoiceScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.message import MessageScreen
from console.tui.screens.reason import ReasonScreen
from console.tui.screens.run import RunScreen
from console.tui.widgets.output_log import OutputLog
from tests.support.lab import RunningLab, requires_lab
from tests.tui.flows import (
    open_from_palette,
    start_run,
    wait_finished,
    wait_question,
    wait_screen,
)
from tests.tui.support import (
    OPERATOR,
    PLAYBOOKS,
    REPO,
    log_text,
    make_app,
    press_keys,
    static_text,
    type_text,
    wait_members,
)
from tests.tui.waiting import until

pytestmark = [requires_lab, pytest.mark.lab]


def _decisions(audit: AuditStore, run_id: str) -> list[tuple[str | None, str, str, bool, str]]:
    return [
        (e.step_id, e.data["action"], e.data["by"], e.data["auto"], e.data.get("reason") or "")
        for e in audit.events(run_id)
        if e.kind == "decision"
    ]


async def _orders_db_healthy(app: object) -> None:
    def ok() -> bool:
        snap = app.snapshot  # type: ignore[attr-defined]
        if snap is None:
            return False
        members = snap.for_service("orders-db")
        return len(members) == 2 and all(m.health.health.value == "ok" for m in members)

    await until(ok, 90, "orders-db healthy on the board")


@pytest.mark.timeout(900)
async def test_guided_failover_and_failback_through_the_tui(
    tui_lab: RunningLab, audit_path: Path, tmp_path: Path
) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "pg-failover.yaml").symlink_to(REPO / "playbooks" / "pg-failover.yaml")
    (playbooks / "pg-failback-lab.yaml").symlink_to(PLAYBOOKS / "pg-failback-lab.yaml")
    app = make_app(tui_lab.inventory, audit_path, playbooks)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_members(app, 6)
        await _orders_db_healthy(app)

        # -- failover -------------------------------------------------------------------
        session = await open_from_palette(pilot, app, "pg-failover")
        await start_run(pilot, app)
        await wait_question(app, "confirm", "fence")
        await press_keys(pilot, "y")
        await until(lambda: session.status_of("fence") == "ok", 60, "fence ok")
        await wait_question(app, "confirm", "promote")
        # not yet: the dialog closes, the decision bar keeps asking, and a note goes in
        await press_keys(pilot, "n")
        await wait_screen(app, RunScreen)
        assert "promote waits for your confirmation" in static_text(app, "#decision")
        await press_keys(pilot, "n")
        await wait_screen(app, ReasonScreen)
        await type_text(pilot, "standby caught up, promoting on the drill lead's word")
        await press_keys(pilot, "enter")
        await wait_screen(app, RunScreen)
        await press_keys(pilot, "r")
        await wait_screen(app, ConfirmScreen)
        await press_keys(pilot, "y")
        await wait_question(app, "manual", "repoint-clients")
        await press_keys(pilot, "n")  # not yet
        await wait_screen(app, RunScreen)
        await press_keys(pilot, "s")
        await wait_screen(app, ReasonScreen)
        await type_text(pilot, "no DNS in the lab")
        await press_keys(pilot, "enter")
        failover = await wait_finished(app)
        assert failover.result is not None
        assert failover.result.outcome == "succeeded", "\n".join(failover.lines)
        assert failover.status_of("repoint-clients") == "skipped"
        assert failover.result.rto_met is True
        failover_id = failover.run_id
        assert failover_id is not None
        assert "RTO" in static_text(app, "#rto") and "✓ met" in static_text(app, "#rto")

        # the board says where the primary is now, as a fact
        await press_keys(pilot, "1")
        await wait_screen(app, BoardScreen)
        await until(
            lambda: "primary moved to west" in static_text(app, "#topology"),
            60,
            "the board to say the primary moved",
        )

        # -- failback -------------------------------------------------------------------
        session = await open_from_palette(pilot, app, "tui-pg-failback")
        await start_run(pilot, app)
        for step in ("rebuild-home", "fence-away", "promote-home"):
            await wait_question(app, "confirm", step, 300)
            await press_keys(pilot, "y")
        await wait_question(app, "manual", "repoint-clients")
        await press_keys(pilot, "y")  # done
        failback = await wait_finished(app, 300)
        assert failback.result is not None
        assert failback.result.outcome == "succeeded", "\n".join(failback.lines)
        failback_id = failback.run_id
        assert failback_id is not None

        await press_keys(pilot, "1")
        await until(
            lambda: (
                "primary moved" not in static_text(app, "#topology")
                and "★ east/lab-east ━▶ west/lab-west" in static_text(app, "#topology")
            ),
            90,
            "the board to show orders-db home again",
        )
        await _orders_db_healthy(app)

    audit = AuditStore(audit_path)
    try:
        decisions = _decisions(audit, failover_id)
        assert ("fence", "confirm", OPERATOR, False, "") in decisions
        assert ("promote", "confirm", OPERATOR, False, "") in decisions
        assert ("repoint-clients", "skip", OPERATOR, False, "no DNS in the lab") in decisions
        notes = [e for e in audit.events(failover_id) if e.kind == "note"]
        assert [(n.data["text"], n.data["by"]) for n in notes] == [
            ("standby caught up, promoting on the drill lead's word", OPERATOR)
        ]
        assert [d[:2] for d in _decisions(audit, failback_id) if not d[3]] == [
            ("rebuild-home", "confirm"),
            ("fence-away", "confirm"),
            ("promote-home", "confirm"),
            ("repoint-clients", "done"),
        ]
        for run_id in (failover_id, failback_id):
            assert audit.verify(run_id).ok
            record = audit.get_run(run_id)
            assert record is not None and record.operator == OPERATOR
    finally:
        audit.close()


@pytest.mark.timeout(300)
async def test_abort_with_rollback(tui_lab: RunningLab, audit_path: Path) -> None:
    marker = f"{tui_lab.root}/lab/east/tui/marker-abort1"
    app = make_app(tui_lab.inventory, audit_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_members(app, 6)
        await press_keys(pilot, "2")
        assert app.screen.select("tui-marker")  # type: ignore[attr-defined]
        await press_keys(pilot, "v")
        await until(lambda: app.screen.query("#param-tag"), 10, "the parameters dialog")
        await press_keys(pilot, *(["backspace"] * 4))
        await type_text(pilot, "abort1")
        await press_keys(pilot, "enter")
        await press_keys(pilot, "enter")
        await wait_screen(app, RunScreen)
        await start_run(pilot, app)
        await wait_question(app, "confirm", "check")
        assert tui_lab.ssh("east", f"cat {marker}").stdout.strip() == "abort1"
        await press_keys(pilot, "escape")  # Escape means No
        await wait_screen(app, RunScreen)
        assert app.session is not None and app.session.pending is not None
        await press_keys(pilot, "a")
        await wait_screen(app, AbortScreen)
        await type_text(pilot, "wrong marker")
        # Keep running (default), Abort, Abort and roll back
        await press_keys(pilot, "tab", "tab", "tab", "enter")
        session = await wait_finished(app)
        assert session.result is not None and session.result.outcome == "aborted"
        assert session.status_of("unmark") == "ok"
        assert "rollback finished" in log_text(app.screen.query_one("#output", OutputLog))
    assert tui_lab.ssh("east", f"test -e {marker}", check=False).returncode == 1
    audit = AuditStore(audit_path)
    try:
        run_id = session.run_id
        assert run_id is not None
        decisions = _decisions(audit, run_id)
        assert decisions[-1][:3] == ("check", "abort", OPERATOR)
        assert decisions[-1][4] == "wrong marker"
        kinds = [e.kind for e in audit.events(run_id)]
        assert "rollback_started" in kinds and "rollback_finished" in kinds
    finally:
        audit.close()


@pytest.mark.timeout(300)
async def test_a_failed_step_stops_and_asks_then_retry(
    tui_lab: RunningLab, audit_path: Path
) -> None:
    app = make_app(tui_lab.inventory, audit_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_members(app, 6)
        await open_from_palette(pilot, app, "tui-flaky")
        await start_run(pilot, app)
        await wait_question(app, "failure", "flaky")
        assert isinstance(app.screen, ChoiceScreen)
        assert app.screen.title_text == "Step flaky failed"
        await press_keys(pilot, "t")  # retry ...
        await wait_screen(app, ConfirmScreen)
        await press_keys(pilot, "y")  # ... asks first
        session = await wait_finished(app)
        assert session.result is not None and session.result.outcome == "succeeded"
        output = log_text(app.screen.query_one("#output", OutputLog))
        assert "lab-east │ to-stdout" in output
        assert "lab-east ! to-stderr" in output  # stderr is marked, not only coloured
        assert "lab-east ! first attempt fails" in output
        assert "second attempt passes" in output
        assert "decision retry on flaky by tester@tui" in output


@pytest.mark.timeout(300)
async def test_pause_then_skip_the_next_step(tui_lab: RunningLab, audit_path: Path) -> None:
    app = make_app(tui_lab.inventory, audit_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_members(app, 6)
        session = await open_from_palette(pilot, app, "tui-marker")
        await start_run(pilot, app)
        await wait_question(app, "confirm", "check")
        await press_keys(pilot, "n")
        await wait_screen(app, RunScreen)
        await press_keys(pilot, "p")  # pause before the next step
        assert session.engine.paused
        await press_keys(pilot, "r")
        await wait_screen(app, ConfirmScreen)
        await press_keys(pilot, "y")
        await until(lambda: session.status_of("check") == "ok", 60, "check ok")
        await until(lambda: "paused before finish" in static_text(app, "#decision"), 30, "paused")
        await press_keys(pilot, "s")
        await wait_screen(app, ReasonScreen)
        await press_keys(pilot, "enter")  # an empty reason is refused
        assert isinstance(app.screen, ReasonScreen)
        await type_text(pilot, "marker looked at over ssh already")
        await press_keys(pilot, "enter")
        await wait_screen(app, RunScreen)
        await press_keys(pilot, "p")  # go on
        await wait_finished(app)
        assert session.result is not None and session.result.outcome == "succeeded"
        assert session.status_of("finish") == "skipped"
    audit = AuditStore(audit_path)
    try:
        assert session.run_id is not None
        assert (
            "finish",
            "skip",
            OPERATOR,
            False,
            "marker looked at over ssh already",
        ) in _decisions(audit, session.run_id)
    finally:
        audit.close()


def _headless(
    audit_path: Path, inventory: Path, playbook: Path, *args: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "--audit",
            str(audit_path),
            "--operator",
            "other@shell",
            "run",
            str(playbook),
            "-i",
            str(inventory),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )


@pytest.mark.timeout(300)
async def test_a_lock_held_by_another_run_is_a_clear_dialog(
    tui_lab: RunningLab, audit_path: Path
) -> None:
    AuditStore(audit_path).close()
    other = _headless(
        audit_path, tui_lab.inventory, PLAYBOOKS / "slow.yaml", "--var", "seconds=120", "--yes"
    )
    try:
        watcher = AuditStore(audit_path)
        try:
            await until(
                lambda: watcher.lock_holder("sessions") is not None, 60, "the other run's lock"
            )
            holder = watcher.lock_holder("sessions")
            assert holder is not None
            runs_before = len(watcher.runs())
        finally:
            watcher.close()
        app = make_app(tui_lab.inventory, audit_path)
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_members(app, 6)
            session = await open_from_palette(pilot, app, "tui-marker")
            await start_run(pilot, app)
            await wait_screen(app, MessageScreen, 10)
            dialog = app.screen
            assert isinstance(dialog, MessageScreen)
            assert dialog.title_text == "Locked by another run"
            body = str(dialog.body)
            assert holder.run_id in body and "other@shell" in body
            assert not session.started  # nothing ran
            await press_keys(pilot, "enter")
            await wait_screen(app, RunScreen)
        audit = AuditStore(audit_path)
        try:
            assert len(audit.runs()) == runs_before
        finally:
            audit.close()
    finally:
        other.send_signal(signal.SIGTERM)
        try:
            other.wait(60)
        finally:
            if other.poll() is None:
                os.kill(other.pid, signal.SIGKILL)
                other.wait(30)


@pytest.mark.timeout(300)
async def test_resume_a_stopped_run_from_the_audit_screen(
    tui_lab: RunningLab, audit_path: Path
) -> None:
    headless = _headless(
        audit_path, tui_lab.inventory, PLAYBOOKS / "marker.yaml", "--var", "tag=resume1"
    )
    out, _ = headless.communicate(timeout=120)
    assert headless.returncode == 3, out  # stopped at the confirm step: nobody to confirm
    app = make_app(tui_lab.inventory, audit_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_members(app, 6)
        await press_keys(pilot, "4")
        await wait_screen(app, AuditScreen)
        audit_screen = app.screen
        assert isinstance(audit_screen, AuditScreen)
        stopped = audit_screen.records[0]
        assert stopped.status == "stopped" and stopped.playbook_name == "tui-marker"
        await until(lambda: stopped.run_id in audit_screen.verified, 30, "the chain check")
        assert audit_screen.verified[stopped.run_id].ok
        await press_keys(pilot, "u")
        await wait_screen(app, RunScreen)
        session = app.session
        assert session is not None and session.resume_of == stopped.run_id
        await press_keys(pilot, "r")
        await wait_screen(app, ConfirmScreen)
        assert app.screen.title_text == "Resume the run?"  # type: ignore[attr-defined]
        await press_keys(pilot, "y")
        await wait_question(app, "confirm", "check")
        assert session.status_of("mark") == "ok"  # finished before the stop: not run again
        await press_keys(pilot, "y")
        await wait_question(app, "manual", "finish")
        await press_keys(pilot, "y")
        await wait_finished(app)
        assert session.result is not None and session.result.outcome == "succeeded"
        assert session.run_id == stopped.run_id
    audit = AuditStore(audit_path)
    try:
        record = audit.get_run(stopped.run_id)
        assert record is not None and record.status == "succeeded"
        kinds = [e.kind for e in audit.events(stopped.run_id)]
        assert "run_resumed" in kinds
        marks = [e for e in audit.events(stopped.run_id) if e.kind == "command_intent"]
        assert [e.step_id for e in marks].count("mark") == 1
        assert audit.verify(stopped.run_id).ok
    finally:
        audit.close()


@pytest.mark.timeout(300)
async def test_quitting_during_a_run_asks_and_leaves_it_resumable(
    tui_lab: RunningLab, audit_path: Path
) -> None:
    app = make_app(tui_lab.inventory, audit_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_members(app, 6)
        await press_keys(pilot, "2")
        assert app.screen.select("tui-slow")  # type: ignore[attr-defined]
        await press_keys(pilot, "enter")
        await wait_screen(app, RunScreen)
        session = app.session
        assert session is not None
        await start_run(pilot, app)
        await until(lambda: "holding" in "\n".join(session.lines), 60, "the long step to run")
        await press_keys(pilot, "q")
        await wait_screen(app, ConfirmScreen)
        await press_keys(pilot, "enter")  # the default is to stay
        await wait_screen(app, RunScreen)
        assert session.running
        await press_keys(pilot, "q")
        await wait_screen(app, ConfirmScreen)
        await press_keys(pilot, "y")
        await until(lambda: not app.is_running, 60, "the app to exit")
    assert session.result is not None and session.result.outcome == "interrupted"
    audit = AuditStore(audit_path)
    try:
        run_id = session.run_id
        assert run_id is not None
        record = audit.get_run(run_id)
        assert record is not None and record.status == "interrupted"
        assert audit.lock_holder("sessions") is None  # released on the way out
        assert audit.verify(run_id).ok
    finally:
        audit.close()
