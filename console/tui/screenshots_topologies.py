"""The board on the other estates' labs, for the README.

``python -m console.tui.screenshots_topologies DIR``:

Brings up the ``active-active`` lab profile (a free net of 55-59, a temporary directory), opens the
console on it headless and saves the board healthy (``board-active-active``: users-db's two
writers read "active-active", orders-db primary in east, sessions primary in west), then runs
``playbooks/active-active/evacuate-site.yaml`` for real (headless, through the CLI) and saves the
board in the middle of that drill, before the return (``board-active-active-evacuated``:
orders-db's primary in west, its old primary at east stopped and marked for rebuild, unit-east
writing at west). Then the same for the ``three-center`` profile, healthy
(``board-three-center``: the cascades east -> west -> dr, cities A and B). Then the ``managed``
profile: healthy (``board-managed``: Patroni's, Sentinel's and the Redis
Cluster's views under the topology), and with Patroni paused through its REST API
(``board-managed-paused``: the WARN and its reason, as a run killed during maintenance leaves
it), resumed after. Each is saved as SVG and PNG (as :mod:`console.tui.screenshots` does); the
labs are taken down at the end, also on failure. Every value on the pictures is real.
``--only PROFILE`` makes one profile's pictures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

from console.audit.store import AuditStore
from console.lab import patroni
from console.model.inventory import load_inventory
from console.status.freshness import shown_health
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.screenshots import SIZE, ShotError, _board_ok, _until, shot_lab, svg_to_png

REPO = Path(__file__).resolve().parents[2]
PROFILES = ("active-active", "three-center", "managed")
"""What ``--only`` accepts."""


def _orders_moved(app: DrConsoleApp) -> bool:
    snap = app.snapshot
    if snap is None:
        return False
    west = snap.get("orders-db", "lab-west")
    return west is not None and west.role == "primary"


def _fresh_ok(app: DrConsoleApp) -> bool:
    snap = app.snapshot
    now = time.time()
    return (
        _board_ok(app)
        and snap is not None
        and all(
            shown_health(app.inventory, m, now) == "ok" and m.sample.age(now) < 1.5
            for m in snap.members
        )
    )


async def _board(
    app: DrConsoleApp,
    out: Path,
    name: str,
    log: Callable[[str], None],
    then: Callable[[], Awaitable[str | None]] | None = None,
    moved: Callable[[DrConsoleApp], bool] = _orders_moved,
) -> list[str]:
    made = []
    async with app.run_test(size=SIZE) as pilot:

        async def shot(file: str) -> None:
            await pilot.pause(0.3)
            app.save_screenshot(filename=f"{file}.svg", path=str(out))
            made.append(file)
            log(f"  {file}.svg")

        await _until(lambda: _board_ok(app), 120, "every member healthy")
        await asyncio.sleep(6)  # a few samples, so the sparklines have a past
        # healthy and fresh: on a loaded machine a slow sweep leaves every row stale for a
        # moment, and that is not the picture of a healthy estate
        await _until(lambda: _fresh_ok(app), 60, "every member healthy, every sample fresh")
        await shot(name)
        if then is not None:
            second = await then()
            if second is not None:
                await _until(lambda: moved(app), 90, "the drill's change on the board")
                await asyncio.sleep(4)
                await shot(second)
    return made


def _app(inventory: Path, root: Path, playbooks: Path) -> DrConsoleApp:
    config = TuiConfig(
        inventory_path=inventory,
        playbooks_dir=playbooks,
        audit_path=root / "audit.db",
        operator="operator@jumpbox",
        refresh=1.0,
    )
    return DrConsoleApp(config, load_inventory(inventory), audit=AuditStore(root / "audit.db"))


def _one_profile(
    profile: str, out: Path, log: Callable[[str], None], *, evacuate: bool
) -> list[str]:
    with shot_lab("drshots-topo-", profile, log) as (root, lab):
        result = lab.up(root / "inventory" / f"lab-{profile}.yaml")
        playbooks = REPO / "playbooks" / profile

        async def drill() -> str | None:
            argv = [sys.executable, "-m", "console", "--audit", str(root / "drill.db"), "run"]
            argv += [str(playbooks / "evacuate-site.yaml"), "-i", str(result.inventory), "--yes"]
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            text, _ = await asyncio.wait_for(proc.communicate(), 600)
            if proc.returncode != 0:
                raise ShotError(f"evacuate-site failed: {text.decode()[-2000:]}")
            return f"board-{profile}-evacuated"

        app = _app(result.inventory, root, playbooks)
        return asyncio.run(_board(app, out, f"board-{profile}", log, drill if evacuate else None))


def _set_pause(api: str, pause: bool) -> None:
    body = json.dumps({"pause": pause}).encode()
    req = urllib.request.Request(f"{api}/config", data=body, method="PATCH")  # noqa: S310 - the lab's http:// API
    with urllib.request.urlopen(req, timeout=30):  # noqa: S310 - the lab's http:// API
        pass


def _topology_text(app: DrConsoleApp) -> str:
    from textual.widgets import Static  # noqa: PLC0415 (only the managed board reads it)

    content = app.screen.query_one("#topology", Static).content
    return str(getattr(content, "plain", content))


def _managed(out: Path, log: Callable[[str], None]) -> list[str]:
    with shot_lab("drshots-managed-", "managed", log) as (root, lab):
        result = lab.up(root / "inventory" / "lab-managed.yaml")
        api = patroni.members(lab.layout, lab.bins().pgbin)[0].api

        async def paused() -> str | None:
            _set_pause(api, True)
            await _until(
                lambda: "the cluster is paused" in _topology_text(app), 60, "Patroni paused"
            )
            await asyncio.sleep(2)
            return "board-managed-paused"

        app = _app(result.inventory, root, REPO / "playbooks")
        try:
            return asyncio.run(
                _board(app, out, "board-managed", log, paused, moved=lambda _app: True)
            )
        finally:
            _set_pause(api, False)


def make_screenshots(
    out: Path, *, log: Callable[[str], None] = print, only: str | None = None
) -> None:
    """The profiles' boards into ``out`` (SVG and PNG); ``only`` one profile's.

    Raises:
        ShotError: a step did not happen in time, or the drill failed.
        console.lab.errors.LabError: a lab could not start.
    """
    out.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    if only in (None, "active-active"):
        made += _one_profile("active-active", out, log, evacuate=True)
    if only in (None, "three-center"):
        made += _one_profile("three-center", out, log, evacuate=False)
    if only in (None, "managed"):
        made += _managed(out, log)
    for name in made:
        svg_to_png(out / f"{name}.svg")
        log(f"  {name}.png")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m console.tui.screenshots_topologies [DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m console.tui.screenshots_topologies")
    parser.add_argument("out", nargs="?", type=Path, default=Path("screenshots"))
    parser.add_argument("--only", choices=PROFILES, help="one profile's pictures")
    args = parser.parse_args(argv)
    try:
        make_screenshots(args.out, only=args.only)
    except ShotError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
