"""The ``active-active`` lab profile on real servers, and the unit drills on it.

MariaDB ``users-db``: two primaries (east, west) replicating both ways, a GTID domain and an
auto-increment half per site, a unit each; ``orders-db`` primary in east and ``sessions``
primary in west (mutual backup). The lab comes up showing the declared shape healthy
("active-active"). ``unit-evacuation`` then ``unit-return`` run twice, for real, while a load
generator per unit writes through the unit's own account: unit-west's writes are refused at
west once fenced, land at east after the switch and at west again after the return; every
write either generator saw acknowledged is in both databases afterwards, and unit-east is
never disturbed. ``evacuate-site`` (composed: pg-failover and unit-evacuation) then
``return-site`` run twice: orders-db moves east -> west and unit-east's writes with it while
sessions stays primary in west, no acknowledged write lost (the canary's and unit-east's).
West taken dark (``lab chaos down``: its processes stopped) shows the one-way multi-primary
and west's members down, and heals when it comes back. Last (it leaves a repaired, not a
pristine, lab): a conflict made for real
(the same key written in both units while replication is stopped) is shown by ``status`` with
the GTIDs each side cannot apply, and the unit-evacuation preflight refuses while it stands.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from console.audit.store import AuditStore
from console.lab.profiles.active_active import endpoint_file
from console.lab.unitload import UnitLoad, read_acks
from console.model.inventory import load_inventory
from tests.support.lab import RunningLab, profile_lab, requires_lab

pytestmark = [requires_lab, pytest.mark.lab, pytest.mark.timeout(1200)]

units = profile_lab("active-active")
REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks" / "active-active"
WAIT = 120.0
"""Seconds a changed replication state may take to show (10x what it takes idle)."""
SERVER = {"east": "1", "west": "2"}
CONSOLE = (sys.executable, "-m", "console")


def sql(lab: RunningLab, site: str, query: str) -> str:
    """``query`` as the administrator over the site's MariaDB socket (over SSH)."""
    sock = lab.lab.layout.site(site).maria_socket
    quoted = query.replace("'", "'\\''")
    return lab.ssh(site, f"mariadb --no-defaults -S {sock} -N -B -e '{quoted}'").stdout.strip()


def status(lab: RunningLab) -> tuple[int, dict[str, Any]]:
    """``drconsole status --json`` on the lab's inventory."""
    done = subprocess.run(
        [sys.executable, "-m", "console", "status", "-i", str(lab.inventory), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["services"] if s["service"] == name)


def until(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def run(lab: RunningLab, audit: Path, playbook: str) -> subprocess.CompletedProcess[str]:
    args = ("run", str(PLAYBOOKS / playbook), "-i", str(lab.inventory), "--yes")
    return subprocess.run(
        [*CONSOLE, "--audit", str(audit), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
    )


def finished(audit: Path) -> dict[str, Any]:
    """The latest run's ``run_finished`` data (its chain verified)."""
    with AuditStore(audit, create=False) as store:
        rid = store.latest_run_id()
        assert rid is not None and store.verify(rid).ok
        return next(e.data for e in store.events(rid) if e.kind == "run_finished")


def converged(lab: RunningLab) -> bool:
    east, west = (set(sql(lab, s, "SELECT @@gtid_current_pos").split(",")) for s in SERVER)
    return east == west


def rows(lab: RunningLab, site: str, writer: str, server: str | None = None) -> int:
    where = f"writer = '{writer}'" + (f" AND server_id = {server}" if server else "")
    return int(sql(lab, site, f"SELECT COUNT(*) FROM app.unit_writes WHERE {where}"))


def test_active_active_comes_up_as_declared(units: RunningLab) -> None:
    inv = load_inventory(units.inventory)
    topo = inv.services["users-db"].topology
    assert topo.shape == "multi-primary"
    assert {h: (u.name, u.gtid_domain) for h, u in topo.units.items()} == {
        "lab-east": ("unit-east", 1),
        "lab-west": ("unit-west", 2),
    }
    assert inv.services["orders-db"].expected_primary == "lab-east"
    assert inv.services["sessions"].expected_primary == "lab-west"
    for site, offset in (("east", "1"), ("west", "2")):
        got = sql(
            units,
            site,
            "SELECT @@gtid_domain_id, @@auto_increment_increment, @@auto_increment_offset, "
            "@@read_only",
        )
        assert got.split() == [SERVER[site], "2", offset, "0"], (site, got)
    code, doc = status(units)
    assert code == 0, doc["verdict"]
    shape = service(doc, "users-db")["shape"]
    assert shape["health"] == "ok" and shape["reasons"] == [], shape
    assert shape["label"] == (
        "active-active: lab-east (unit-east) and lab-west (unit-west) take writes and "
        "replicate both ways"
    )
    assert service(doc, "users-db")["summary"] == "users-db: " + shape["label"]
    roles = {
        (m["service"], m["host"]): m["role"]
        for m in doc["members"]
        if m["service"] in ("orders-db", "sessions")
    }
    assert roles == {
        ("orders-db", "lab-east"): "primary",
        ("orders-db", "lab-west"): "replica",
        ("sessions", "lab-east"): "replica",
        ("sessions", "lab-west"): "primary",
    }
    assert units.lab.health() == []


def test_unit_evacuation_and_return_twice_lose_no_acknowledged_write(
    units: RunningLab, tmp_path: Path
) -> None:
    lab = units
    layout = lab.lab.layout
    audit = tmp_path / "audit.db"
    loads = {
        u: UnitLoad(
            unit=u,
            endpoint_file=endpoint_file(layout, u),
            ack_file=tmp_path / f"{u}.acks",
            every=0.1,
        ).start()
        for u in ("unit-east", "unit-west")
    }
    west = loads["unit-west"].writer
    try:
        until(
            "both units writing", lambda: all(ld.counts.acknowledged >= 5 for ld in loads.values())
        )
        rtos = []
        for _round in range(2):
            at_east = rows(lab, "east", west, SERVER["east"])
            out = run(lab, audit, "unit-evacuation.yaml")
            assert out.returncode == 0, out.stdout[-6000:] + out.stderr
            done = finished(audit)
            assert done["outcome"] == "succeeded", done
            rtos.append(done["rto_seconds"])
            # unit-west's generator now writes at east (server 1), through its own account
            until(
                "unit-west writes landing at east",
                lambda n=at_east: rows(lab, "east", west, SERVER["east"]) > n + 5,
            )
            refused = sql(lab, "west", "SHOW GRANTS FOR 'unit_west'@'127.%'")
            assert "INSERT" not in refused, refused
            at_west = rows(lab, "west", west, SERVER["west"])
            back = run(lab, audit, "unit-return.yaml")
            assert back.returncode == 0, back.stdout[-6000:] + back.stderr
            until(
                "unit-west writes landing at west again",
                lambda n=at_west: rows(lab, "west", west, SERVER["west"]) > n + 5,
            )
            done = finished(audit)
            assert done["outcome"] == "succeeded", done
            rtos.append(done["rto_seconds"])
    finally:
        counts = {u: ld.stop() for u, ld in loads.items()}
    until("east and west to converge", lambda: converged(lab))
    # Every acknowledged write of either unit is in both databases.
    for u, ld in loads.items():
        acked = read_acks(ld.ack_file)
        assert len(acked) == counts[u].acknowledged > 20
        for site in SERVER:
            have = sql(lab, site, f"SELECT seq FROM app.unit_writes WHERE writer = '{ld.writer}'")
            lost = set(acked) - {int(x) for x in have.split()}
            assert not lost, (u, site, sorted(lost)[:10])
    # unit-east wrote at east throughout, undisturbed; unit-west wrote at both.
    assert counts["unit-east"].refused == counts["unit-east"].failed == 0, counts["unit-east"]
    east_addr = f"{layout.site('east').address}:13306"
    assert set(counts["unit-east"].by_endpoint) == {east_addr}
    assert len(counts["unit-west"].by_endpoint) == 2
    assert "INSERT" in sql(lab, "west", "SHOW GRANTS FOR 'unit_west'@'127.%'")
    code, doc = status(lab)
    assert code == 0 and service(doc, "users-db")["shape"]["health"] == "ok", doc["verdict"]
    print("\nunit drills RTO (s):", rtos, "unit-west", counts["unit-west"])


def primaries(doc: dict[str, Any], name: str) -> list[str]:
    return [m["host"] for m in doc["members"] if m["service"] == name and m["role"] == "primary"]


def test_evacuate_site_moves_orders_and_unit_east_while_sessions_stays_twice(
    units: RunningLab, tmp_path: Path
) -> None:
    lab = units
    audit = tmp_path / "audit.db"
    load = UnitLoad(
        unit="unit-east",
        endpoint_file=endpoint_file(lab.lab.layout, "unit-east"),
        ack_file=tmp_path / "unit-east.acks",
        every=0.1,
    ).start()
    east = load.writer
    try:
        until("unit-east writing", lambda: load.counts.acknowledged >= 5)
        for _round in range(2):
            at_west = rows(lab, "west", east, SERVER["west"])
            out = run(lab, audit, "evacuate-site.yaml")
            assert out.returncode == 0, out.stdout[-6000:] + out.stderr
            done = finished(audit)
            assert done["outcome"] == "succeeded" and done["rpo_writes"] == 0, done
            _code, doc = status(lab)
            assert primaries(doc, "orders-db") == ["lab-west"]
            assert primaries(doc, "sessions") == ["lab-west"]  # it stayed
            until(
                "unit-east writes landing at west",
                lambda n=at_west: rows(lab, "west", east, SERVER["west"]) > n + 5,
            )
            at_east = rows(lab, "east", east, SERVER["east"])
            back = run(lab, audit, "return-site.yaml")
            assert back.returncode == 0, back.stdout[-6000:] + back.stderr
            done = finished(audit)
            assert done["outcome"] == "succeeded" and done["rpo_writes"] == 0, done
            until(
                "unit-east writes landing at east again",
                lambda n=at_east: rows(lab, "east", east, SERVER["east"]) > n + 5,
            )
    finally:
        counts = load.stop()
    until("east and west to converge", lambda: converged(lab))
    acked = read_acks(load.ack_file)
    assert len(acked) == counts.acknowledged > 20
    for site in SERVER:
        have = sql(lab, site, f"SELECT seq FROM app.unit_writes WHERE writer = '{east}'")
        assert not set(acked) - {int(x) for x in have.split()}, site

    def healthy() -> dict[str, Any] | None:
        code, doc = status(lab)
        return doc if code == 0 else None

    doc = until("the estate healthy again", healthy)
    assert primaries(doc, "orders-db") == ["lab-east"], doc["verdict"]
    assert primaries(doc, "sessions") == ["lab-west"]
    # one report for the composed run, a section per included playbook
    report = subprocess.run(
        [*CONSOLE, "--audit", str(audit), "report", "--latest", "--format", "md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "## Included playbooks (2)" in report
    heads = [line for line in report.splitlines() if line.startswith("### `")]
    assert any(h.startswith("### `orders`:") and "(pg-failback)" in h for h in heads), heads
    assert any(h.startswith("### `unit`:") and "(unit-evacuation)" in h for h in heads), heads
    assert all(h.endswith("— done") for h in heads[:2]), heads


def test_a_dark_site_breaks_both_directions_and_heals(units: RunningLab) -> None:
    lab = units
    frozen = lab.lab.chaos_down("west")
    try:
        assert frozen

        def one_way() -> dict[str, Any] | None:
            code, doc = status(lab)
            shape = service(doc, "users-db")["shape"]
            reasons = " ".join(shape["reasons"])
            ok = code == 1 and "one-way multi-primary: lab-east is not receiving" in reasons
            return doc if ok else None

        doc = until("east to stop receiving west's writes", one_way)
        down = {m["service"] for m in doc["members"] if m["host"] == "lab-west"}
        assert down == {"orders-db", "users-db", "sessions"}
        assert all(
            m["role"] in ("down", "unknown") for m in doc["members"] if m["host"] == "lab-west"
        )
    finally:
        lab.lab.chaos_up("west")

    def healed() -> bool:
        code, doc = status(lab)
        return code == 0 and service(doc, "users-db")["shape"]["health"] == "ok"

    until("both directions to replicate again", healed)


def test_a_conflict_is_shown_and_refuses_unit_evacuation(units: RunningLab, tmp_path: Path) -> None:
    lab = units
    for site in SERVER:
        sql(lab, site, "STOP SLAVE")
    for site in SERVER:
        sql(
            lab,
            site,
            "INSERT INTO app.unit_writes (unit, writer, seq, server_id) "
            f"VALUES ('unit-{site}', 'conflict', 1, @@server_id)",
        )
    for site in SERVER:
        sql(lab, site, "START SLAVE")
    try:

        def shown() -> dict[str, Any] | None:
            code, doc = status(lab)
            shape = service(doc, "users-db")["shape"]
            conflicts = [r for r in shape["reasons"] if r.startswith("replication conflict")]
            return shape if code == 1 and len(conflicts) == 2 else None

        shape = until("status to show the conflict", shown)
        assert shape["health"] == "crit"
        east_gtid = sql(lab, "east", "SELECT @@gtid_binlog_pos")
        assert any("lab-west cannot apply 1-1-" in r for r in shape["reasons"]), shape
        assert any("lab-east cannot apply 2-2-" in r for r in shape["reasons"]), shape
        assert any("Duplicate entry" in r for r in shape["reasons"]), shape
        out = run(lab, tmp_path / "audit.db", "unit-evacuation.yaml")
        assert out.returncode == 3, out.stdout[-4000:]
        assert "preflight gate failed" in out.stdout
        assert "topology multi-primary: replication conflict" in out.stdout
        assert "step 1/" not in out.stdout  # nothing was fenced
        assert "INSERT" in sql(lab, "west", "SHOW GRANTS FOR 'unit_west'@'127.%'")
        assert east_gtid  # (read while the conflict stood)
    finally:
        # repair: each side skips the other's conflicting transaction, then drops its own row
        for site in SERVER:
            sql(lab, site, "STOP SLAVE; SET GLOBAL sql_slave_skip_counter = 1; START SLAVE")
        until("east and west to converge", lambda: converged(lab))
        for site in SERVER:
            sql(
                lab,
                site,
                "SET SESSION sql_log_bin = 0; "
                "DELETE FROM app.unit_writes WHERE writer = 'conflict'",
            )
    code, doc = status(lab)
    assert code == 0, doc["verdict"]
