"""Regenerate the README's screenshots from a real lab: ``python -m console.tui.screenshots DIR``.

Brings up its own lab (the first free net of 55-59, a temporary directory), opens the console on
it headless, and drives it the way an operator does: the healthy board, the board with the west
site dark (``lab chaos down west``), the plan preview of ``playbooks/pg-failover.yaml``, that
run waiting at its first confirmation, the finished run, the audit timeline; then another
operator's run (a second engine in this process, on the same store) waiting for this operator's
approval on the approvals screen, and, approved there, awaiting its commit on the board. Each is
saved as SVG and converted to PNG (headless Chromium, else ``rsvg-convert``). The lab is taken
down at the end, also on failure. Every value on the pictures is real.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Log, Static

from console.audit.commits import commit
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from console.engine.prepare import prepare
from console.engine.runner import Engine, RunConfig
from console.lab.lab import Lab
from console.lab.nets import reserve_net
from console.lab.profiles import DEFAULT_PROFILE
from console.model.inventory import load_inventory
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screens.approvals import ApprovalsScreen
from console.tui.screens.audit import AuditScreen
from console.tui.screens.board import BoardScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.playbooks import PlaybooksScreen
from console.tui.screens.run import RunScreen
from console.tui.widgets.site_panel import SitePanel

SHOT_NETS = range(55, 60)
"""The lab nets the screenshot tours take the first free one of (the TUI tests use 50-53, the
other tests 10-19): a net held by another lab, a person's by-hand one included, is skipped."""

SIZE = (120, 40)
"""Terminal size of every screenshot."""

SHOTS = (
    "board-healthy",
    "board-dark-site",
    "plan-preview",
    "run-confirm",
    "run-finished",
    "audit-timeline",
    "approvals",
    "board-awaiting-commit",
)
"""The files made (``.svg`` and ``.png`` each)."""


class ShotError(Exception):
    """A screenshot could not be made (the message says which and why)."""


async def _until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ShotError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.1)


def _board_ok(app: DrConsoleApp) -> bool:
    snap = app.snapshot
    total = sum(len(s.members) for s in app.inventory.services.values())
    return (
        snap is not None
        and len(snap.members) == total
        and all(m.health.health.value == "ok" for m in snap.members)
    )


async def _drive(app: DrConsoleApp, lab: Lab, out: Path, log: Callable[[str], None]) -> None:
    async with app.run_test(size=SIZE) as pilot:

        async def shot(name: str) -> None:
            await pilot.pause(0.3)
            app.save_screenshot(filename=f"{name}.svg", path=str(out))
            log(f"  {name}.svg")

        await _until(lambda: _board_ok(app), 120, "every member healthy")
        await asyncio.sleep(6)  # a few samples, so the sparklines have a past
        await _until(lambda: _board_ok(app), 60, "every member healthy")
        await shot("board-healthy")

        lab.chaos_down("west")
        try:
            board = app.screen
            assert isinstance(board, BoardScreen)
            west = board.query_one("#site-west", SitePanel)
            await _until(lambda: str(west.border_subtitle).startswith("DOWN"), 90, "west DOWN")
            await asyncio.sleep(4)  # "last seen" grows
            await shot("board-dark-site")
        finally:
            lab.chaos_up("west")
        await _until(lambda: _board_ok(app), 120, "west back")

        await pilot.press("2")
        await _until(lambda: isinstance(app.screen, PlaybooksScreen), 10, "the playbooks")
        playbooks = app.screen
        assert isinstance(playbooks, PlaybooksScreen)
        if not playbooks.select("pg-failover"):
            raise ShotError("playbooks/pg-failover.yaml is not in the playbooks directory")
        await _until(
            lambda: (
                playbooks.plan is not None and all(g.ok is not False for g in playbooks.plan.gates)
            ),
            60,
            "pg-failover's gates to pass",
        )
        await shot("plan-preview")

        await pilot.press("enter")
        await _until(lambda: isinstance(app.screen, RunScreen), 10, "the run screen")
        await pilot.press("r")
        await _until(lambda: isinstance(app.screen, ConfirmScreen), 10, "the start dialog")
        await pilot.press("y")
        session = app.session
        assert session is not None
        await _until(
            lambda: (
                session.finished
                or (session.pending is not None and isinstance(app.screen, ConfirmScreen))
            ),
            120,
            "the first confirmation",
        )
        if session.finished:
            raise ShotError(f"pg-failover ended before asking: {session.run_state()}")
        await asyncio.sleep(1.5)
        await shot("run-confirm")

        deadline = time.monotonic() + 300
        while not session.finished:
            if time.monotonic() > deadline:
                raise ShotError("pg-failover did not finish within 300s")
            pending = session.pending
            if pending is not None and not isinstance(app.screen, RunScreen):
                if pending.question.kind in ("confirm", "manual"):
                    await pilot.press("y")
                else:
                    raise ShotError(
                        f"pg-failover asks {pending.question.kind} at {pending.question.step_id}: "
                        f"{pending.question.reason}"
                    )
            await asyncio.sleep(0.2)
        app.clear_notifications()
        await asyncio.sleep(1.5)
        await shot("run-finished")

        await pilot.press("4")
        await _until(lambda: isinstance(app.screen, AuditScreen), 10, "the audit screen")
        audit_screen = app.screen
        assert isinstance(audit_screen, AuditScreen)
        run_id = session.run_id
        await _until(lambda: run_id in audit_screen.verified, 60, "the chain verified")
        await _until(
            lambda: audit_screen.query_one("#audit-timeline", Log).lines,
            30,
            "the timeline",
        )
        await shot("audit-timeline")
        await _second_person(app, pilot, shot)


GO_LIVE = """\
version: 1
name: go-live
kind: custom
title: Open the west site to traffic
commit: {within: 30m, otherwise: keep}
steps:
  - id: check
    manual: Check the change ticket.
  - id: go-ahead
    title: Open the west site to traffic
    manual: Flip the traffic switch.
    approve: 2
"""
"""Bo's playbook in the tour: a step that needs a second person, then a commit window."""


async def _second_person(
    app: DrConsoleApp, pilot: Pilot[int], shot: Callable[[str], Awaitable[None]]
) -> None:
    """Bo runs GO_LIVE on the same store; this console approves it, then it awaits a commit
    (committed at the end, so the tour leaves no run open)."""
    folder = Path(tempfile.mkdtemp(prefix="drshots-pb-", dir="/tmp"))
    playbook = folder / "go-live.yaml"
    playbook.write_text(GO_LIVE)
    store = AuditStore(app.config.audit_path)
    prepared = prepare(playbook, app.config.inventory_path, [], audit=store)
    bo = "bo@laptop2"
    engine = Engine(
        RunConfig(
            inventory=prepared.inventory,
            playbook=prepared.playbook,
            params=prepared.params,
            mode="drill",
            operator=bo,
            audit=store,
            transport=app.transport,
            decider=HeadlessDecider(bo, yes=True),
            approval_timeout=600,
        )
    )
    task = asyncio.ensure_future(engine.run())
    try:
        await pilot.press("5")
        await _until(lambda: isinstance(app.screen, ApprovalsScreen), 10, "the approvals screen")
        approvals = app.screen
        assert isinstance(approvals, ApprovalsScreen)
        await _until(lambda: approvals.waiting, 60, "bo's step waiting for approval")
        app.clear_notifications()
        await asyncio.sleep(1.5)
        await shot("approvals")
        await pilot.press("a")
        await _until(lambda: isinstance(app.screen, ConfirmScreen), 10, "the approve dialog")
        await pilot.press("y")
        await pilot.press("1")
        await _until(lambda: isinstance(app.screen, BoardScreen), 10, "the board")
        panel = app.screen.query_one("#commits", Static)
        await _until(lambda: panel.display, 60, "bo's run awaiting its commit")
        app.clear_notifications()
        await asyncio.sleep(1.5)
        await shot("board-awaiting-commit")
        run_id = engine.run_id
        assert run_id is not None
        commit(store, run_id, operator=str(app.config.operator))
        result = await asyncio.wait_for(asyncio.shield(task), 120)
        if result.exit_code != 0:
            raise ShotError(f"go-live ended {result.outcome}: {result.summary}")
    finally:
        if not task.done():
            task.cancel()
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def svg_to_png(svg: Path) -> Path:
    """Convert one SVG to PNG at its own size (headless Chromium, else rsvg-convert).

    Raises:
        ShotError: neither converter is installed, or the conversion failed.
    """
    png = svg.with_suffix(".png")
    match = re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', svg.read_text(encoding="utf-8"))
    width, height = (int(float(v)) + 2 for v in match.groups()) if match else (1240, 800)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                svg.resolve().as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if done.returncode == 0 and png.exists():
            return png
    converter = shutil.which("rsvg-convert")
    if converter:
        subprocess.run([converter, "-o", str(png), str(svg)], check=True, timeout=120)
        return png
    raise ShotError("no SVG converter: apt-get install chromium (or librsvg2-bin)")


@contextlib.contextmanager
def shot_lab(prefix: str, profile: str, log: Callable[[str], None]) -> Iterator[tuple[Path, Lab]]:
    """A temporary directory and a lab of ``profile`` on a reserved free net; the lab is taken
    down and the directory removed at the end, also on failure. The caller brings it up."""
    net, lock = reserve_net(SHOT_NETS)
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)
    lab = Lab(root / "lab", net, timeout_scale=3, profile=profile)
    log(f"lab ({profile}) on net {net} in {root}")
    try:
        yield root, lab
    finally:
        try:
            if lab.state() is not None:
                lab.down()
        finally:
            lock.close()
            shutil.rmtree(root, ignore_errors=True)


def make_screenshots(out: Path, *, playbooks: Path, log: Callable[[str], None] = print) -> None:
    """Bring a lab up, take every screenshot into ``out``, take the lab down.

    Raises:
        ShotError: a step of the tour did not happen in time.
        console.lab.errors.LabError: the lab could not start.
    """
    out.mkdir(parents=True, exist_ok=True)
    with shot_lab("drshots-", DEFAULT_PROFILE, log) as (root, lab):
        result = lab.up(root / "inventory" / "lab.yaml")
        inventory = load_inventory(result.inventory)
        audit = AuditStore(root / "audit.db")
        config = TuiConfig(
            inventory_path=result.inventory,
            playbooks_dir=playbooks,
            audit_path=root / "audit.db",
            operator="operator@jumpbox",
            refresh=1.0,
        )
        app = DrConsoleApp(config, inventory, audit=audit)
        asyncio.run(_drive(app, lab, out, log))
    for name in SHOTS:
        svg_to_png(out / f"{name}.svg")
        log(f"  {name}.png")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m console.tui.screenshots [DIR] [--playbooks DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m console.tui.screenshots")
    parser.add_argument("out", nargs="?", type=Path, default=Path("screenshots"))
    parser.add_argument("--playbooks", type=Path, default=Path("playbooks"))
    args = parser.parse_args(argv)
    try:
        make_screenshots(args.out, playbooks=args.playbooks)
    except ShotError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
