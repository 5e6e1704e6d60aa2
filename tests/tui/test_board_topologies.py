"""The board on the real ``three-center`` and ``active-active`` labs (``app.run_test``, the
live status source polling the labs' servers over their real sshd).

Three-center: a declared cascade reads as a chain (east ━▶ west ━▶ dr, ✓ cascade) while a star
(sessions: west and dr both replicas of east) says whom each replica follows, and dr's panel
names its city. Active-active: the two writers of users-db are rows that say "writer" and
which unit each writes, never "replica"; the topology line says active-active.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.tui.screens.board import BoardScreen
from console.tui.widgets.site_panel import SitePanel
from tests.support.lab import RunningLab, profile_lab, requires_lab
from tests.tui.support import make_app, static_text, table_cell, wait_members
from tests.tui.waiting import until

pytestmark = [requires_lab, pytest.mark.lab]

three = profile_lab("three-center")
units = profile_lab("active-active")


def _line(topology: str, service: str) -> str:
    return next(line for line in topology.splitlines() if line.startswith(service + " "))


@pytest.mark.timeout(300)
async def test_three_center_board_shows_the_chain_and_the_star(
    three: RunningLab, audit_path: Path
) -> None:
    app = make_app(three.inventory, audit_path)
    async with app.run_test(size=(160, 48)):
        await wait_members(app, 9)
        board = app.screen
        assert isinstance(board, BoardScreen)
        await until(
            lambda: "all 9 members healthy" in static_text(app, "#verdict"),
            120,
            "every member of the three-center lab OK",
        )
        topology = static_text(app, "#topology")
        for service in ("orders-db", "catalog-db"):
            line = _line(topology, service)
            assert "★ east/lab-east ━▶ west/lab-west" in line, line
            # dr follows west: the chain goes on, no "; west" restating the feeder
            assert "━▶ dr/lab-dr" in line and "; " not in line.split("━▶ dr/lab-dr")[0], line
            assert line.endswith("✓ cascade lab-east -> lab-west -> lab-dr"), line
            # west is east's synchronous standby (PostgreSQL) / semi-sync replica (MariaDB)
            word = "sync" if service == "orders-db" else "semi-sync"
            assert re.search(rf"west/lab-west [^━]* {word} ", line), line
        # each link's round trip through its latency relay: 2 x 15 ms into dr at least
        rtt = re.search(r"dr/lab-dr [^━]* west→dr (\d+) ms", _line(topology, "orders-db"))
        assert rtt is not None and int(rtt[1]) >= 30, topology
        sessions = _line(topology, "sessions")
        # west and dr both follow east: siblings (in the order sampled), not a chain
        star = re.search(r"★ east/lab-east ━▶ (\w+)/lab-\w+ [^;]*; east ━▶ (\w+)/lab-\w+", sessions)
        assert star is not None and {star[1], star[2]} == {"west", "dr"}, sessions
        dr = board.query_one("#site-dr", SitePanel)
        assert "city B" in str(dr.border_title), dr.border_title
        for service in ("orders-db", "catalog-db", "sessions"):
            assert table_cell(dr.table, f"{service}/lab-dr", "role") == "replica"


@pytest.mark.timeout(300)
async def test_active_active_board_names_each_writer_and_its_unit(
    units: RunningLab, audit_path: Path
) -> None:
    app = make_app(units.inventory, audit_path)
    async with app.run_test(size=(160, 48)):
        board = app.screen
        assert isinstance(board, BoardScreen)
        await until(
            lambda: "all 6 members healthy" in static_text(app, "#verdict"),
            120,
            "every member of the active-active lab sampled and OK",
        )
        for site, unit in (("east", "unit-east"), ("west", "unit-west")):
            panel = board.query_one(f"#site-{site}", SitePanel)
            row = f"users-db/lab-{site}"
            assert table_cell(panel.table, row, "role") == "writer"
            assert table_cell(panel.table, row, "why").startswith(f"active-active: writes {unit}")
        # mutual backup: each site is primary for something, and says so
        east = board.query_one("#site-east", SitePanel)
        west = board.query_one("#site-west", SitePanel)
        assert table_cell(east.table, "orders-db/lab-east", "role") == "primary"
        assert table_cell(west.table, "sessions/lab-west", "role") == "primary"
        assert table_cell(west.table, "orders-db/lab-west", "role") == "replica"
        line = _line(static_text(app, "#topology"), "users-db")
        assert "⇄ active-active: lab-east (unit-east) and lab-west (unit-west)" in line, line
        assert "SPLIT BRAIN" not in line
