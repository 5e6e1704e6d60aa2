"""The recoverable window in ``drconsole status``: last verified restore, table and JSON.

Pure: a real audit database with runs written through the store, windows parsed from the
pgBackRest output recorded on the lab (``tests/probes/data/window``). The real lab proves the
collection end to end (``tests/drills_pitr``).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from rich.console import Console

from console.audit.model import RunStart
from console.audit.store import AuditStore
from console.audit.verification import newest_verified
from console.cli import _verified_source
from console.errors import Location
from console.model.backup import BackupSettings
from console.probes.window import parse
from console.status.view import render
from console.status.window import Verified, window_table, windows_json, windows_ok
from tests.status.recorded import recorded_inventory, recorded_snapshot

DATA = Path(__file__).resolve().parents[1] / "probes" / "data" / "window"
BACKUP = BackupSettings("pgbackrest", "orders-db", "lab-dr", None, Location("i.yaml", 1, 1))
NOW = 1796307600.0


def _run(store: AuditStore, run_id: str, kind: str, outcome: str, inventory: str = "lab") -> None:
    store.create_run(
        RunStart(
            run_id=run_id,
            playbook_name="pg-pitr" if kind == "point-in-time-restore" else "pg-other",
            playbook_kind=kind,
            playbook_path="playbooks/x.yaml",
            playbook_digest="a" * 64,
            inventory_name=inventory,
            inventory_path="inventory/lab.yaml",
            inventory_digest="b" * 64,
            mode="drill",
            operator="t@h",
            services=("orders-db",),
            params={},
            objectives={},
            pid=os.getpid(),
            hostname=socket.gethostname(),
        )
    )
    store.finish_run(run_id, outcome, {"exit_code": 0 if outcome == "succeeded" else 1})


def test_last_verified_is_the_newest_successful_restore_of_the_service(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with AuditStore(db) as store:
        _run(store, "01K5PA0000000000000000000A", "restore-verification", "succeeded")
        _run(store, "01K5PB0000000000000000000B", "point-in-time-restore", "succeeded")
        _run(store, "01K5PC0000000000000000000C", "point-in-time-restore", "failed")
        _run(store, "01K5PD0000000000000000000D", "failover", "succeeded")
        _run(store, "01K5PE0000000000000000000E", "point-in-time-restore", "succeeded", "prod")
    found = newest_verified(db, ["orders-db", "catalog-db"], "lab")
    assert set(found) == {"orders-db"}
    assert found["orders-db"].run_id == "01K5PB0000000000000000000B"
    assert found["orders-db"].playbook_kind == "point-in-time-restore"
    assert newest_verified(db, ["orders-db"], "prod")["orders-db"].run_id.endswith("E")
    assert newest_verified(tmp_path / "none.db", ["orders-db"]) == {}
    (tmp_path / "junk.db").write_text("not sqlite")
    assert newest_verified(tmp_path / "junk.db", ["orders-db"]) == {}
    # what status gets through the CLI: typed, with the finish time as epoch seconds
    (seen,) = _verified_source(db)(["orders-db"], "lab").values()
    assert isinstance(seen, Verified) and seen.playbook == "pg-pitr" and seen.finished_at > 0


def test_the_table_and_json_say_the_window_its_age_and_the_reason() -> None:
    healthy = parse(BACKUP, "orders-db", 0, (DATA / "healthy.out").read_text(), "", NOW)
    gap = parse(BACKUP, "orders-db", 0, (DATA / "gap.out").read_text(), "", NOW)
    console = Console(width=80, record=True, color_system=None)
    console.print(window_table({"orders-db": gap}, {}, NOW))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert text.splitlines()[0] == "recoverable window"
    row = next(line for line in text.splitlines() if line.startswith("orders-db"))
    assert row.split()[1] == "CRIT" and row.split()[-1] == "never", row
    assert "orders-db CRIT: WAL gap: segment 00000001000000000000000B is missing" in text
    (doc,) = windows_json({"orders-db": healthy}, {}, NOW)
    assert doc["health"] == "ok" and doc["last_verified"] is None
    assert doc["archive_age_seconds"] == round(NOW - (healthy.newest or 0), 1)
    assert windows_ok({"orders-db": healthy}) == (True, "")
    ok, why = windows_ok({"orders-db": gap})
    assert not ok and why.startswith("orders-db recovery window crit: WAL gap")
    unknown = parse(BACKUP, "orders-db", None, "", "timed out", NOW)
    assert windows_ok({"orders-db": unknown})[0] is True  # shown, but a dark site says why


def test_the_verdict_comes_after_the_window_and_counts_it(tmp_path: Path) -> None:
    """``status`` text ends with one verdict line that covers the windows too: a WAL gap
    makes it DEGRADED (as the exit code 1 and the JSON's ``healthy`` say), never "OK: all
    members healthy" above a CRIT row."""
    inventory = recorded_inventory(tmp_path)
    snapshot = recorded_snapshot(inventory)
    gap = parse(BACKUP, "orders-db", 0, (DATA / "gap.out").read_text(), "", NOW)
    healthy = parse(BACKUP, "orders-db", 0, (DATA / "healthy.out").read_text(), "", NOW)

    def printed(window: object) -> list[str]:
        table = window_table({"orders-db": window}, {}, NOW)  # type: ignore[dict-item]
        view = render(snapshot, inventory, None, (table, windows_ok({"orders-db": window})))  # type: ignore[dict-item]
        console = Console(width=100, record=True, color_system=None)
        console.print(view)
        return console.export_text().splitlines()

    def verdict(lines: list[str]) -> tuple[int, str]:
        at = max(i for i, line in enumerate(lines) if line.startswith(("OK: ", "DEGRADED: ")))
        return at, " ".join(" ".join(lines[at:]).split())

    plain = Console(width=100, record=True, color_system=None)
    plain.print(render(snapshot, inventory))
    members_verdict = verdict(plain.export_text().splitlines())[1]
    lines = printed(gap)
    at, said = verdict(lines)
    assert at > lines.index("recoverable window"), lines
    assert said.startswith("DEGRADED: ") and "orders-db recovery window crit: WAL gap" in said
    assert sum(line.startswith(("OK: ", "DEGRADED: ")) for line in lines) == 1, lines
    # a healthy window leaves the members' verdict as it was, after the table
    lines = printed(healthy)
    at, said = verdict(lines)
    assert at > lines.index("recoverable window") and said == members_verdict
