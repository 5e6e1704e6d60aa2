"""The replay screen through Pilot: keys move a recorded failed run, nothing reaches a host."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from textual.widgets import Static

from console import events as ev
from console.engine.decider import Answer, Decider, Question
from console.model.inventory import load_inventory
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.replay_app import ReplayApp, load_replay
from console.tui.screens.audit import AuditScreen
from console.tui.screens.replay import ReplayScreen
from console.tui.synthetic import FixedStatusSource
from console.tui.widgets.run_panels import DecisionBar
from console.tui.widgets.step_list import StepList
from tests.engine.scripted_env import ScriptedEstate
from tests.replay.recorded import failed_run, killed_run
from tests.support.scripted import Reply

pytestmark = pytest.mark.timeout(120)


def _text(screen: ReplayScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _state(screen: ReplayScreen, step: str) -> str:
    table = screen.query_one("#replay-steps", StepList)
    return str(table.get_cell(step, "state"))


@pytest.fixture
def no_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open SSH during a replay fails the test."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a replay opened an SSH pool")

    monkeypatch.setattr("console.ssh.pool.SshPool.__init__", refuse)


@pytest.fixture
def failed(scripted: ScriptedEstate) -> tuple[Path, str]:
    """A recorded failed run (made outside the test's event loop)."""
    return scripted.audit, failed_run(scripted)


@pytest.fixture
def killed(
    scripted: ScriptedEstate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    """A recorded run killed mid-step."""
    crashed = tmp_path / "crashed.db"
    return crashed, killed_run(scripted, crashed, monkeypatch)


async def test_step_by_step_then_to_the_end(failed: tuple[Path, str], no_ssh: None) -> None:
    audit, run_id = failed
    replay = load_replay(audit, run_id[:10])
    app = ReplayApp(replay)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert "REPLAY Replay me" in _text(screen, "#replay-title")
        assert "RUNNING" in _text(screen, "#replay-title")
        bar = str(screen.query_one("#replay-bar", DecisionBar).render())
        assert "replay paused · 00:00 of" in bar and "nothing is sent to any host" in bar
        assert _state(screen, "fence") == "· pending"
        await pilot.press("n")
        assert _state(screen, "fence").endswith("running")
        assert "Fence the primary" in _text(screen, "#replay-detail")
        assert "svc" in _text(screen, "#replay-samples")
        await pilot.press("n")
        assert _state(screen, "fence").endswith("ok")
        await pilot.press("f")
        assert "10x" in str(screen.query_one("#replay-bar", DecisionBar).render())
        await pilot.press("e")
        assert _state(screen, "promote").endswith("failed")
        assert _state(screen, "repoint").endswith("not run")
        assert "FAILED" in _text(screen, "#replay-title")
        assert "end of the log" in str(screen.query_one("#replay-bar", DecisionBar).render())
        await pilot.press("b")
        assert _state(screen, "fence") == "· pending"
        # play at 10x: the whole (sub-second) run plays out on the replay clock
        await pilot.press("space")
        for _ in range(200):  # 20 s
            if screen.replay.at_end:
                break
            await pilot.pause(0.1)
        assert screen.replay.at_end and not screen.playing
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_killed_run_replays(killed: tuple[Path, str], no_ssh: None) -> None:
    crashed, run_id = killed
    app = ReplayApp(load_replay(crashed, run_id), play=True, speed=10.0)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        for _ in range(200):
            if screen.replay.at_end:
                break
            await pilot.pause(0.1)
        await pilot.pause()
        assert _state(screen, "slow").endswith("unknown")
        assert "INTERRUPTED" in _text(screen, "#replay-title")


def test_replay_of_an_unknown_run_is_one_line(scripted: ScriptedEstate) -> None:
    failed_run(scripted)
    proc = scripted.run("replay", "01NOSUCHRUN")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "01NOSUCHRUN" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_the_audit_screen_opens_the_replay(
    scripted: ScriptedEstate, failed: tuple[Path, str], no_ssh: None
) -> None:
    audit, run_id = failed
    inventory = load_inventory(scripted.inventory)
    config = TuiConfig(
        inventory_path=scripted.inventory,
        playbooks_dir=scripted.base,
        audit_path=audit,
        operator="tester@tui",
    )
    app = DrConsoleApp(
        config,
        inventory,
        source_factory=lambda inv, _pool: FixedStatusSource(inv, []),
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("4")
        for _ in range(100):
            if isinstance(app.screen, AuditScreen) and app.screen.selected() is not None:
                break
            await pilot.pause(0.1)
        assert isinstance(app.screen, AuditScreen)
        await pilot.press("p")
        for _ in range(100):
            if isinstance(app.screen, ReplayScreen):
                break
            await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.replay.record.run_id == run_id
        await pilot.press("e")
        assert _state(screen, "promote").endswith("failed")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AuditScreen)


class Held(Decider):
    """Confirms once the test lets it."""

    def __init__(self) -> None:
        self.operator = "alice@console"
        self.go = asyncio.Event()

    async def decide(self, question: Question) -> Answer:
        await self.go.wait()
        return Answer(ev.DecisionAction.CONFIRM, None)


async def test_an_observer_follows_a_run_in_progress_live(
    scripted: ScriptedEstate, no_ssh: None
) -> None:
    est = scripted
    est.transport.on("fence-cmd", Reply(stdout="fenced"))
    pb = est.playbook(
        "live",
        """
        version: 1
        name: live-drill
        kind: custom
        steps:
          - id: fence
            title: Fence the old primary
            on: h-east
            run: fence-cmd
            confirm: true
        """,
    )
    person = Held()
    engine, audit = est.engine(pb, person)
    task = asyncio.ensure_future(engine.run())
    try:
        for _ in range(200):
            if engine.run_id is not None:
                break
            await asyncio.sleep(0.05)
        config = TuiConfig(
            inventory_path=est.inventory,
            playbooks_dir=est.base,
            audit_path=est.audit,
            operator="observer@tui",
            read_only=True,
        )
        app = DrConsoleApp(
            config,
            load_inventory(est.inventory),
            source_factory=lambda inv, _pool: FixedStatusSource(inv, []),
        )
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("4")
            for _ in range(100):
                if isinstance(app.screen, AuditScreen) and app.screen.selected() is not None:
                    break
                await pilot.pause(0.1)
            await pilot.press("p")
            for _ in range(100):
                if isinstance(app.screen, ReplayScreen):
                    break
                await pilot.pause(0.1)
            screen = app.screen
            assert isinstance(screen, ReplayScreen)
            assert screen.following and screen.replay.live
            for _ in range(100):
                if _state(screen, "fence").endswith("waiting"):
                    break
                await pilot.pause(0.1)
            assert _state(screen, "fence").endswith("waiting")
            bar = str(screen.query_one("#replay-bar", DecisionBar).render())
            assert "LIVE" in bar and "the run waits for confirmation" in bar
            person.go.set()  # the operator confirms, in the other console
            for _ in range(100):
                if "SUCCEEDED" in _text(screen, "#replay-title"):
                    break
                await pilot.pause(0.2)
            assert "SUCCEEDED" in _text(screen, "#replay-title")
            assert _state(screen, "fence").endswith("ok")
            assert not screen.replay.live
        result = await asyncio.wait_for(task, 30)
        assert result.exit_code == 0
    finally:
        person.go.set()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        audit.close()
