"""``drconsole status`` text at 80, 100 and 160 columns; its JSON unchanged (issue 11 item 4).

The snapshot is made of recorded real probe outputs (``tests/status/recorded.py``). At every
width each member is one line holding its full member, service, role and health words; the
reasons go under the table below 160 columns and into it at 160. The JSON is compared byte for
byte with what the code before this change printed for the same snapshot
(``data/status-*.json``, written by main's ``console.status.view.to_json``).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from console.model.inventory import Inventory
from console.status.collector import StatusSnapshot
from console.status.view import render, to_json
from tests.status.recorded import recorded_inventory, recorded_snapshot

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    return recorded_inventory(tmp_path_factory.mktemp("recorded"))


def printed(snapshot: StatusSnapshot, inventory: Inventory, width: int) -> str:
    """What ``status`` prints for ``snapshot`` at ``width`` columns (no colours)."""
    console = Console(width=width, color_system=None, record=True, file=io.StringIO())
    console.print(render(snapshot, inventory))
    return console.export_text()


def text_at(width: int, inventory: Inventory) -> str:
    return printed(recorded_snapshot(inventory), inventory, width)


@pytest.mark.parametrize("width", [80, 100, 160])
def test_each_member_is_one_line_with_its_words_whole(inventory: Inventory, width: int) -> None:
    text = text_at(width, inventory)
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), max(len(x) for x in lines)
    snapshot = recorded_snapshot(inventory)
    for m in snapshot.members:
        rows = [line for line in lines if line.startswith(m.host) and f" {m.service} " in line]
        assert len(rows) == 1, (m.service, m.host, text)
        words = rows[0].split()
        assert words[:4] == [m.host, m.service, m.role, m.health.health.value.upper()], rows[0]


def test_columns_are_chosen_by_width(inventory: Inventory) -> None:
    headers = {}
    for width in (80, 100, 160):
        text = text_at(width, inventory)
        headers[width] = next(
            line for line in text.splitlines() if line.startswith("member")
        ).split()
    assert headers[80] == ["member", "service", "role", "health", "lag", "age"]
    assert headers[100] == ["member", "service", "role", "health", "kind", "link", "lag", "age"]
    assert headers[160] == [
        "member",
        "service",
        "role",
        "health",
        "kind",
        "link",
        "lag",
        "age",
        "position",
        "why",
    ]


@pytest.mark.parametrize("width", [80, 100])
def test_the_why_goes_below_the_table_under_160(inventory: Inventory, width: int) -> None:
    lines = text_at(width, inventory).splitlines()
    note = next(i for i, line in enumerate(lines) if line.startswith("  db-west-1 billing-db:"))
    assert "replication link to 127.0.60.3:23306 is down" in lines[note]
    row = next(line for line in lines if line.startswith("db-west-1") and " billing-db " in line)
    assert "replication link" not in row
    # continuation lines of a note are indented under its text, not at the margin
    indent = lines[note].index("replication")
    assert lines[note + 1].startswith(" " * indent)


def test_at_160_the_why_is_in_the_table(inventory: Inventory) -> None:
    lines = text_at(160, inventory).splitlines()
    row = next(line for line in lines if line.startswith("db-west-1") and " billing-db " in line)
    assert "replication link to 127.0.60.3:23306 is down" in row
    assert not any(line.startswith("  db-west-1 billing-db:") for line in lines)


@pytest.mark.parametrize(("age", "name"), [(2.0, "fresh"), (40.0, "old")])
def test_json_is_unchanged(inventory: Inventory, age: float, name: str) -> None:
    doc = to_json(recorded_snapshot(inventory, age=age), inventory)
    assert json.dumps(doc) + "\n" == (DATA / f"status-{name}.json").read_text()


def test_a_watch_shows_a_stale_sample_as_stale(inventory: Inventory) -> None:
    """Polled every 2 s, samples 6 s old are stale: STALE, not OK, and the site says it."""
    text = printed(recorded_snapshot(inventory, age=6.0, poll_interval=2.0), inventory, 100)
    row = next(
        line for line in text.splitlines() if line.startswith("db-west-1") and " sessions " in line
    )
    assert row.split()[3] == "STALE"
    assert "OK" not in row.split()
    assert "NOT ANSWERING FOR 6 S" in text
    assert "DEGRADED" in text and "west not answering for 6 s" in text
    # one poll interval later than the sample is not stale yet
    fresh = recorded_snapshot(inventory, age=1.5, poll_interval=2.0)
    assert "STALE" not in printed(fresh, inventory, 100)


@pytest.mark.parametrize("width", [60, 80])
def test_topology_lines_wrap_under_their_first_and_end_at_their_words(
    inventory: Inventory, width: int
) -> None:
    """A wrapped topology sentence goes on under its own text, and no line carries the blanks
    a padded table cell would leave (they end up in the chat the output is pasted into)."""
    lines = text_at(width, inventory).splitlines()
    start = lines.index("topology")
    block = lines[
        start + 1 : start
        + 1
        + next(i for i, line in enumerate(lines[start + 1 :]) if not line.startswith("  "))
    ]
    heads = [line for line in block if re.match(r"^ +[\w-]+: \S", line)]
    for number, line in enumerate(block):
        assert line == line.rstrip(), repr(line)
        assert len(line) <= width, line
        if line in heads:
            indent = len(line.split(": ", 1)[0]) + 2  # the body starts after "name: "
        else:
            assert line[:indent].strip() == "", (line, block)
            assert line[indent] != " " or number == 0, (line, block)
    assert any(line not in heads for line in block), f"nothing wrapped at {width}: {block}"
