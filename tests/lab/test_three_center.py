"""The ``three-center`` lab profile on real servers: east and west in one city, dr in another;
PostgreSQL east primary, west its synchronous standby, dr cascading from west; MariaDB east ->
west -> dr; Redis east -> west and dr. It comes up
showing the declared cascade healthy; a broken middle link (west's PostgreSQL stopped, for
real) is shown as a broken cascade link, and the chain is whole again once west is back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from console.model.inventory import load_inventory
from tests.support.lab import RunningLab, profile_lab, requires_lab

pytestmark = [requires_lab, pytest.mark.lab, pytest.mark.timeout(900)]

three = profile_lab("three-center")
REPO = Path(__file__).resolve().parents[2]
WAIT = 120.0
"""Seconds a changed replication state may take to show (10x what it takes idle)."""


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


def orders(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["services"] if s["service"] == "orders-db")


def psql(lab: RunningLab, site: str, sql: str) -> str:
    return lab.ssh(site, f'psql -X -At -d postgres -c "{sql}"').stdout.strip()


def until(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1.0)


def test_three_center_comes_up_as_declared(three: RunningLab) -> None:
    inv = load_inventory(three.inventory)
    assert [inv.sites[s].city for s in ("east", "west", "dr")] == ["city A", "city A", "city B"]
    topo = inv.services["orders-db"].topology
    assert topo.shape == "cascade" and dict(topo.upstreams) == {"lab-dr": "lab-west"}
    # West is east's synchronous standby; dr streams from west, not from east.
    assert psql(three, "east", "SHOW synchronous_standby_names") == "west"
    on_east = psql(three, "east", "SELECT application_name, sync_state FROM pg_stat_replication")
    assert on_east.splitlines() == ["west|sync"]
    assert psql(three, "west", "SELECT application_name FROM pg_stat_replication") == "dr"
    code, doc = status(three)
    assert code == 0, doc["verdict"]
    shape = orders(doc)["shape"]
    assert shape == {
        "health": "ok",
        "label": "cascade lab-east -> lab-west -> lab-dr",
        "reasons": [],
    }
    # MariaDB cascades the same way (dr a GTID replica of west); Redis has replicas in both.
    catalog = next(s for s in doc["services"] if s["service"] == "catalog-db")
    assert catalog["shape"]["label"] == "cascade lab-east -> lab-west -> lab-dr"
    assert catalog["shape"]["health"] == "ok"
    assert dict(inv.services["catalog-db"].topology.upstreams) == {"lab-dr": "lab-west"}
    assert set(inv.services["sessions"].members) == {"lab-east", "lab-west", "lab-dr"}
    dr_members = [m for m in doc["members"] if m["site"] == "dr"]
    assert {(m["service"], m["role"], m["health"]) for m in dr_members} == {
        ("orders-db", "replica", "ok"),
        ("catalog-db", "replica", "ok"),
        ("sessions", "replica", "ok"),
    }


def maria(lab: RunningLab, site: str, sql: str) -> str:
    sock = lab.lab.layout.site(site).maria_socket
    return lab.ssh(site, f'mariadb --no-defaults -S {sock} -N -B -e "{sql}"').stdout.strip()


def semi_sync(lab: RunningLab, site: str) -> dict[str, str]:
    out = maria(lab, site, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'")
    return dict(line.split("\t", 1) for line in out.splitlines())


def test_mariadb_west_is_semi_synchronous_and_in_the_commit_path(three: RunningLab) -> None:
    """East's MariaDB counts west as its semi-sync replica, and a commit on east is
    acknowledged by it (``Rpl_semi_sync_master_yes_tx`` grows by the commit); dr is not a
    semi-sync replica (asynchronous, the remote city)."""
    east = semi_sync(three, "east")
    assert east["Rpl_semi_sync_master_status"] == "ON", east
    assert east["Rpl_semi_sync_master_clients"] == "1", east
    assert semi_sync(three, "west")["Rpl_semi_sync_slave_status"] == "ON"
    assert semi_sync(three, "dr")["Rpl_semi_sync_slave_status"] == "OFF"
    before = int(east["Rpl_semi_sync_master_yes_tx"])
    maria(
        three,
        "east",
        "CREATE DATABASE IF NOT EXISTS drtest; CREATE TABLE IF NOT EXISTS drtest.semi "
        "(i INT PRIMARY KEY); REPLACE INTO drtest.semi VALUES (1)",
    )
    after = semi_sync(three, "east")
    assert int(after["Rpl_semi_sync_master_yes_tx"]) >= before + 3, (before, after)
    assert after["Rpl_semi_sync_master_no_tx"] == east["Rpl_semi_sync_master_no_tx"], after


def test_a_broken_middle_link_is_shown_and_heals(three: RunningLab) -> None:
    inv = load_inventory(three.inventory)
    west = inv.services["orders-db"].members["lab-west"].vars
    three.ssh("west", str(west["stop_cmd"]), timeout=300)
    try:
        doc = until(
            "the broken cascade link",
            lambda: (d := status(three)[1]) and orders(d)["shape"]["health"] == "crit" and d,
        )
        reasons = orders(doc)["shape"]["reasons"]
        assert reasons == [
            "broken cascade link: lab-dr is not receiving from lab-west (lab-west is down); "
            "lab-dr falls behind"
        ]
        code, doc = status(three)
        assert code == 1 and "orders-db: broken cascade link" in doc["verdict"]
        # east's commits now wait for a synchronous standby that is not there
        east = member(doc, "orders-db", "lab-east")
        assert east["health"] == "warn", east
        assert east["reasons"] == [
            "no synchronous standby: synchronous_standby_names is 'west' but no standby is "
            "connected; commits wait until one is back"
        ]
    finally:
        three.ssh("west", str(west["start_cmd"]), timeout=300)
    until("the cascade to heal", lambda: status(three)[0] == 0)
    assert orders(status(three)[1])["shape"]["health"] == "ok"


def links(doc: dict[str, Any]) -> dict[tuple[str, str, str], float | None]:
    return {(ln["service"], ln["from"], ln["to"]): ln["rtt_ms"] for ln in doc.get("links", [])}


def test_every_link_goes_through_a_latency_relay_and_shows_its_round_trip(
    three: RunningLab,
) -> None:
    """Each replica follows a relay of the lab user (an ``aliases:`` entry of its upstream in
    the inventory): the cascade checks still see east -> west -> dr, and ``status`` times
    each link through its relay: ~30 ms into dr (15 ms each way), a few into west (0.5 ms
    each way, in the same city). ``lab chaos latency dr 40`` slows the links into dr for
    real and the figure follows."""
    inv = load_inventory(three.inventory)
    relay_of = {v: k for k, v in inv.services["orders-db"].topology.aliases.items()}
    assert set(relay_of) == {"lab-east", "lab-west"}
    dr_follows = psql(
        three, "dr", "SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver"
    )
    assert dr_follows == relay_of["lab-west"]
    # a test before this one may have left a link healing: wait until every member is OK
    _, doc = until("every member OK", lambda: (got := status(three))[0] == 0 and got)
    rtt = links(doc)
    assert set(rtt) == {
        (svc, a, b)
        for svc in ("orders-db", "catalog-db")
        for a, b in (("lab-east", "lab-west"), ("lab-west", "lab-dr"))
    } | {("sessions", "lab-east", "lab-west"), ("sessions", "lab-east", "lab-dr")}
    for svc in ("orders-db", "sessions"):
        west_dr = rtt[(svc, "lab-west" if svc == "orders-db" else "lab-east", "lab-dr")]
        east_west = rtt[(svc, "lab-east", "lab-west")]
        assert west_dr is not None and east_west is not None, rtt
        assert 30.0 <= west_dr < 300.0, rtt  # 2 x 15 ms is the floor; the rest is the machine
        assert 1.0 <= east_west < west_dr, rtt
    assert rtt[("catalog-db", "lab-west", "lab-dr")] is None  # MySQL: not timed (no login)
    three.lab.chaos_latency("dr", 40)
    try:
        doc = until(
            "the slower links into dr",
            lambda: (
                (d := status(three)[1])
                and (links(d).get(("orders-db", "lab-west", "lab-dr")) or 0) >= 80.0
                and d
            ),
        )
        assert (links(doc)[("sessions", "lab-east", "lab-dr")] or 0) >= 80.0
        assert orders(doc)["shape"]["health"] == "ok", orders(doc)
    finally:
        three.lab.chaos_latency("dr", 15)
    until("dr streaming through its relay again", lambda: status(three)[0] == 0)


def member(doc: dict[str, Any], service: str, host: str) -> dict[str, Any]:
    return next(m for m in doc["members"] if m["service"] == service and m["host"] == host)


def test_sync_state_is_shown_and_a_semi_sync_fallback_is_a_warning(three: RunningLab) -> None:
    """West is shown as east's synchronous standby (PostgreSQL ``sync_state``) and as its
    semi-sync replica (MariaDB); with west's IO thread stopped, a commit on east waits out
    ``rpl_semi_sync_master_timeout`` and semi-sync falls back to asynchronous: east is WARN
    with the reason, and OK again once west is back."""
    code, doc = status(three)
    assert code == 0, doc["verdict"]
    assert member(doc, "orders-db", "lab-west")["details"]["sync_state"] == "sync"
    assert "sync_state" not in member(doc, "orders-db", "lab-dr")["details"]  # asynchronous
    assert member(doc, "catalog-db", "lab-west")["details"]["semi_sync_replica"] == "ON"
    assert member(doc, "catalog-db", "lab-dr")["details"]["semi_sync_replica"] == "OFF"
    assert member(doc, "catalog-db", "lab-east")["details"]["semi_sync_status"] == "ON"
    maria(three, "west", "STOP SLAVE IO_THREAD")
    try:
        maria(
            three,
            "east",
            "CREATE DATABASE IF NOT EXISTS drtest; CREATE TABLE IF NOT EXISTS drtest.semi "
            "(i INT PRIMARY KEY); REPLACE INTO drtest.semi VALUES (2)",
        )  # waits rpl_semi_sync_master_timeout (10 s), then commits asynchronously
        doc = until(
            "east to be WARN for the fallback",
            lambda: (
                (d := status(three)[1])
                and member(d, "catalog-db", "lab-east")["health"] == "warn"
                and d
            ),
        )
        reasons = member(doc, "catalog-db", "lab-east")["reasons"]
        assert len(reasons) == 1 and reasons[0].startswith(
            "semi-sync fell back to asynchronous: Rpl_semi_sync_master_status is OFF with 0 "
            "semi-sync replica(s); "
        ), reasons
    finally:
        maria(three, "west", "START SLAVE IO_THREAD")
    until(
        "semi-sync back on",
        lambda: member(status(three)[1], "catalog-db", "lab-east")["health"] == "ok",
    )
