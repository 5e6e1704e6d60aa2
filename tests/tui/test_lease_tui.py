"""``drconsole tui --lease DURATION``: a run started from the TUI holds its service leases for
that long, renewed while it lives, as ``run --lease`` does.

The app runs a playbook (SSH scripted, a SQLite store of its own) whose one step takes longer
than a 3 s lease: while it runs, the store's lease on the service is the run's and ends at most
3 s ahead on the store's clock (the 1 min default would be 60 s ahead); the run still
succeeds, since the lease is renewed, and says no lease was lost. A bad ``--lease`` is one line
on stderr, exit 2, before the app starts (a real process).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.cli import build_parser
from console.model.inventory import load_inventory
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screens.run import RunScreen
from console.tui.synthetic import FixedStatusSource
from tests.engine.scripted_env import make_estate
from tests.support.scripted import Reply
from tests.tui.flows import start_run, wait_finished
from tests.tui.staging import NOW, healthy
from tests.tui.support import REPO
from tests.tui.waiting import until

WAIT = 120.0
"""Seconds for the run to reach its step and end (10x a loaded machine)."""
TTL = 3.0
"""The lease the console is given (the shortest ``--lease`` accepts)."""

PLAYBOOK = """
version: 1
name: outlast
kind: custom
service: svc
steps:
  - id: long
    on: h-west
    run: longer-than-the-lease
"""


@pytest.mark.timeout(300)
async def test_a_run_from_the_tui_holds_its_lease_for_the_given_length(tmp_path: Path) -> None:
    est = make_estate(tmp_path)
    est.transport.on("longer-than-the-lease", Reply(stdout="done", delay=3 * TTL))
    pb = est.playbook("outlast", PLAYBOOK)
    config = TuiConfig(
        inventory_path=est.inventory,
        playbooks_dir=pb.parent,
        audit_path=est.audit,
        operator="ana@jumpbox",
        lease_ttl=TTL,
    )
    app = DrConsoleApp(
        config,
        load_inventory(est.inventory),
        source_factory=lambda inv, _transport: FixedStatusSource(inv, [healthy(inv)]),
        clock=lambda: NOW,
    )
    app._transport = est.transport
    ahead: list[float] = []
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            assert app.open_run(pb, {}) is not None
            await until(
                lambda: isinstance(app.screen, RunScreen) and app.screen.ready, 30, "run screen"
            )
            await start_run(pilot, app)
            await until(
                lambda: bool(est.transport.calls_to("longer-than-the-lease")), WAIT, "the step"
            )
            session = app.session
            assert session is not None and session.run_id is not None
            with AuditStore(est.audit, create=False) as store:
                while not session.finished:
                    clock, live = store.live_leases()
                    mine = [lease for lease in live if lease.run_id == session.run_id]
                    if mine:
                        ahead.append(mine[0].expires_at - clock)
                    await pilot.pause(0.3)
            await wait_finished(app, WAIT)
    finally:
        app.audit.close()
    assert session.result is not None and session.result.exit_code == 0, session.result.summary
    assert ahead, "the run's lease was never seen live"
    assert max(ahead) <= TTL, ahead
    # the step outlasted the lease three times over: the lease was renewed all along
    assert len(ahead) >= 2 * TTL / 0.3 * 0.5, ahead
    with AuditStore(est.audit, create=False) as store:
        events = list(store.events(session.run_id))
    acquired = [e for e in events if e.kind == "lock_acquired" and "token" in e.data]
    assert [e.data["lease_seconds"] for e in acquired] == [TTL]
    notices = [str(e.data.get("message")) for e in events if e.kind == "notice"]
    assert not [n for n in notices if "lease" in n], notices


@pytest.mark.parametrize("value", ["soon", "2s", "2d"])
def test_a_bad_lease_is_one_line_exit_2(tmp_path: Path, value: str) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "console", "--audit", str(tmp_path / "audit.db"), "tui"),
            *("-i", str(REPO / "inventory" / "example.yaml"), f"--lease={value}"),
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TERM": "dumb"},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2, done
    assert done.stderr.startswith(f"--lease {value}: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "audit.db").exists()


def test_the_tui_parses_a_lease() -> None:
    args = build_parser().parse_args(["tui", "--lease", "5m"])
    assert args.lease == "5m"
