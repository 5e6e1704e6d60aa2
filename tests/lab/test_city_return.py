"""``city-loss`` then ``city-return`` on the real ``three-center`` lab, twice.

Each round: city-loss runs with the canary writing on east, east and west go dark together
(``lab chaos down``: SIGSTOP), dr's cascading standbys become the primaries (every canary the
run counts as kept is on dr, asked there over SSH). The city comes back (``chaos up``) and
city-return rebuilds east and west from dr and moves every primary home: no acknowledged canary
lost (each is on east, asked there), and the original topology is back, checked on the servers
themselves: PostgreSQL east primary with west its synchronous standby and dr streaming from
west; MariaDB west replicating from east and dr from west, both read-only; Redis west and dr
replicas of east. The second round starts from what the first city-return left, so it proves
that city-return leaves a topology city-loss can drill again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from console.audit.store import AuditStore
from console.model.inventory import load_inventory
from tests.support.lab import RunningLab, profile_lab, requires_lab

pytestmark = [requires_lab, pytest.mark.lab, pytest.mark.timeout(2400)]

city = profile_lab("three-center")
REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks" / "three-center"


def _argv(audit: Path, lab: RunningLab, playbook: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "console",
        "--audit",
        str(audit),
        "run",
        str(PLAYBOOKS / playbook),
        "-i",
        str(lab.inventory),
        "--yes",
        *extra,
    ]


def _latest(audit: Path) -> str | None:
    if not audit.is_file():
        return None
    with AuditStore(audit, create=False) as store:
        return store.latest_run_id()


def _acknowledged(audit: Path, before: str | None) -> int:
    """How many canary writes the newest run (not ``before``) has had acknowledged so far."""
    rid = _latest(audit)
    if rid is None or rid == before:
        return 0
    with AuditStore(audit, create=False) as store:
        events = store.events(rid, kinds=["canary_write"])
    return sum(1 for e in events if e.data["ok"] is True)


def _finished(audit: Path) -> tuple[str, list[Any]]:
    """The newest run's id and events; its audit chain must verify."""
    with AuditStore(audit, create=False) as store:
        rid = store.latest_run_id()
        assert rid is not None and store.verify(rid).ok
        return rid, list(store.events(rid))


def _psql(lab: RunningLab, site: str, sql: str) -> str:
    return lab.ssh(site, f'psql -X -At -d postgres -c "{sql}"').stdout.strip()


def _lose_the_city(lab: RunningLab, audit: Path) -> None:
    before = _latest(audit)
    run = subprocess.Popen(
        _argv(audit, lab, "city-loss.yaml", "--break-lock"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while (
            _acknowledged(audit, before) < 3
        ):  # canaries acknowledged on east before the city goes
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "no canary acknowledged in time"
            time.sleep(0.5)
        lab.lab.chaos_down("east")
        lab.lab.chaos_down("west")
        out, _ = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out[-6000:]
    rid, events = _finished(audit)
    check = next(e.data for e in events if e.kind == "canary_check")
    assert check["error"] is None and check["acknowledged"] >= 3, check
    kept = _psql(lab, "dr", f"SELECT count(*) FROM drconsole.canary WHERE run_id = '{rid}'")
    assert int(kept) == check["acknowledged"] - check["rpo_writes"], (kept, check)
    assert _psql(lab, "dr", "SELECT pg_is_in_recovery()") == "f"


def _return_home(lab: RunningLab, audit: Path) -> dict[str, Any]:
    # The run that lost the city left its remote locks at east and west (nobody answered).
    done = subprocess.run(
        _argv(audit, lab, "city-return.yaml", "--break-lock"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-8000:]
    rid, events = _finished(audit)
    finished = next(e.data for e in events if e.kind == "run_finished")
    assert finished["outcome"] == "succeeded", finished
    check = next(e.data for e in events if e.kind == "canary_check")
    assert check["error"] is None and check["acknowledged"] >= 3, check
    assert check["rpo_writes"] == 0, check
    # Every acknowledged canary of the run is on east, asked there.
    home = _psql(lab, "east", f"SELECT count(*) FROM drconsole.canary WHERE run_id = '{rid}'")
    assert int(home) == check["acknowledged"], (home, check)
    marks = [(e.step_id, e.data["mark"]) for e in events if e.kind == "rto_mark"]
    assert marks == [("orders/fence-away", "start"), ("redis-prove-writes", "end")], marks
    return dict(finished)


def _assert_original_topology(lab: RunningLab) -> None:
    # PostgreSQL: east writable, west its synchronous standby, dr streaming from west.
    assert _psql(lab, "east", "SELECT pg_is_in_recovery()") == "f"
    standbys = (
        "SELECT application_name || ' ' || sync_state || ' ' || state FROM pg_stat_replication"
    )
    assert _psql(lab, "east", standbys).splitlines() == ["west sync streaming"]
    assert _psql(lab, "west", "SELECT pg_is_in_recovery()") == "t"
    assert _psql(lab, "west", standbys).splitlines() == ["dr async streaming"]
    assert _psql(lab, "dr", "SELECT pg_is_in_recovery()") == "t"
    # A commit on east waits for west's flush again.
    assert _psql(lab, "east", "SHOW synchronous_standby_names") == "west"
    # MariaDB: east writable; west from east, dr from west, both read-only and running.
    layout = lab.lab.layout
    for site, upstream in (("west", "east"), ("dr", "west")):
        sock = layout.site(site).maria_socket
        status = lab.ssh(
            site, f"mariadb --no-defaults -S {sock} -e 'SHOW SLAVE STATUS\\G; SELECT @@read_only'"
        ).stdout
        assert f"Master_Host: {lab.addresses[upstream]}" in status, status
        assert "Slave_IO_Running: Yes" in status and "Slave_SQL_Running: Yes" in status, status
        assert status.rstrip().endswith("1"), status
    east_sock = layout.site("east").maria_socket
    east = lab.ssh("east", f"mariadb --no-defaults -S {east_sock} -N -B -e 'SELECT @@read_only'")
    assert east.stdout.strip() == "0"
    # West is east's semi-synchronous replica again (a restarted server forgets SET GLOBAL).
    semi = lab.ssh(
        "east",
        f"mariadb --no-defaults -S {east_sock} -N -B -e "
        "\"SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'\"",
    ).stdout
    status = dict(line.split("\t", 1) for line in semi.strip().splitlines())
    assert status["Rpl_semi_sync_master_status"] == "ON", status
    assert status["Rpl_semi_sync_master_clients"] == "1", status
    # Redis: east master, west and dr its replicas with their links up, directly or through
    # the latency relay that the inventory lists as an alias of east (west's stays on it).
    aliases = load_inventory(lab.inventory).services["sessions"].topology.aliases
    east_at = {f"{lab.addresses['east']}:16379"} | {
        a for a, h in aliases.items() if h == "lab-east"
    }
    assert len(east_at) == 3, east_at
    for site in ("west", "dr"):
        info = lab.ssh(site, f"redis-cli -h {lab.addresses[site]} -p 16379 INFO replication")
        fields = dict(
            ln.split(":", 1) for ln in info.stdout.replace("\r", "").splitlines() if ":" in ln
        )
        assert f"{fields['master_host']}:{fields['master_port']}" in east_at, fields
        assert fields["master_link_status"] == "up", fields
    role = lab.ssh("east", f"redis-cli -h {lab.addresses['east']} -p 16379 ROLE").stdout
    assert role.split()[0] == "master", role


def test_city_loss_then_city_return_twice(city: RunningLab, tmp_path: Path) -> None:
    audit = tmp_path / "audit.db"
    figures = []
    for round_ in (1, 2):
        _lose_the_city(city, audit)
        city.lab.chaos_up("east")
        city.lab.chaos_up("west")
        finished = _return_home(city, audit)
        _assert_original_topology(city)
        figures.append((round_, finished["rto_seconds"], finished["rpo_writes"]))
    print("\ncity-return (round, RTO s, acknowledged writes lost):", figures)
