"""The ``city-loss`` drill on the real ``three-center`` lab (PostgreSQL, MariaDB and Redis):
the run starts with everything up and the canary writing on east; east and west (city A) then
go dark together (``lab chaos down``: SIGSTOP); the run sees both dark, fences east from dr,
checks dr is the most advanced standby that answers, promotes dr's cascading standby and
proves writes there, then fences east's MariaDB and Redis and promotes their replicas at dr
(each write proven, checked on dr). One run, one RTO; the canary measures what the
asynchronous link west -> dr had not delivered, and every canary the run counts as kept is on
dr (asked independently). What the synchronous pair would have kept is measured too: west,
brought back, holds every acknowledged canary write."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from tests.support.lab import RunningLab, profile_lab, requires_lab

pytestmark = [requires_lab, pytest.mark.lab, pytest.mark.timeout(1200)]

lost_city = profile_lab("three-center")
REPO = Path(__file__).resolve().parents[2]


def test_city_loss_promotes_the_remote_cascading_standby(
    lost_city: RunningLab, tmp_path: Path
) -> None:
    lab = lost_city
    audit = tmp_path / "audit.db"
    argv = [sys.executable, "-m", "console", "--audit", str(audit), "run"]
    argv += [
        str(REPO / "playbooks" / "three-center" / "city-loss.yaml"),
        "-i",
        str(lab.inventory),
        "--yes",
    ]
    run = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 300
        acked = 0
        while acked < 3:  # some canaries acknowledged on east before the city goes dark
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "no canary acknowledged in time"
            time.sleep(0.5)
            if audit.is_file():
                with AuditStore(audit, create=False) as store:
                    rid = store.latest_run_id()
                    events = store.events(rid, kinds=["canary_write"]) if rid else []
                    acked = sum(1 for e in events if e.data["ok"] is True)
        lab.lab.chaos_down("east")
        lab.lab.chaos_down("west")
        out, _ = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out[-6000:]
    with AuditStore(audit, create=False) as store:
        rid = store.latest_run_id()
        assert rid is not None and store.verify(rid).ok
        events = store.events(rid)
    kinds = [e.kind for e in events]
    marks = [(e.step_id, e.data["mark"]) for e in events if e.kind == "rto_mark"]
    # one RTO for the city: from the first fence to the last service's first write at dr
    assert marks == [("orders/fence", "start"), ("sessions/prove-writes", "end")]
    skipped = {
        e.step_id for e in events if e.kind == "step_finished" and e.data["outcome"] == "skipped"
    }
    assert {"catalog/confirm-dark", "sessions/confirm-dark"} <= skipped, skipped
    finished = next(e.data for e in events if e.kind == "run_finished")
    assert finished["outcome"] == "succeeded" and finished["rto_seconds"] is not None
    check = next(e.data for e in events if e.kind == "canary_check")
    assert check["error"] is None, check
    assert check["acknowledged"] >= 3
    # What the check counts as kept is on dr, asked over SSH on dr itself.
    kept = lab.ssh(
        "dr",
        "psql -X -At -d postgres -c "
        f"\"SELECT count(*) FROM drconsole.canary WHERE run_id = '{rid}'\"",
    ).stdout.strip()
    assert int(kept) == check["acknowledged"] - check["rpo_writes"], (kept, check)
    role = lab.ssh("dr", "psql -X -At -d postgres -c 'SELECT pg_is_in_recovery()'").stdout
    assert role.strip() == "f"
    assert "canary_check" in kinds
    # MariaDB and Redis at dr were promoted too: writable, replicating from nobody, each
    # holding this run's write probe (asked on dr itself).
    sock = lab.lab.layout.site("dr").maria_socket
    maria = lab.ssh(
        "dr",
        f"mariadb --no-defaults -S {sock} -N -B -e 'SELECT @@read_only; SHOW SLAVE STATUS; "
        f'SELECT COUNT(*) FROM drconsole.write_probe WHERE run_id = "{rid}"\'',
    ).stdout.split()
    assert maria == ["0", "1"], maria
    dr = lab.addresses["dr"]
    redis_role = lab.ssh("dr", f"redis-cli -h {dr} -p 16379 ROLE").stdout.split()
    assert redis_role[0] == "master", redis_role
    probe = lab.ssh("dr", f"redis-cli -h {dr} -p 16379 GET drconsole:write_probe:{rid}")
    assert probe.stdout.strip() == "dr"
    # The run recorded, while the city answered, that west was east's synchronous standby;
    # the report says what the synchronous pair keeps beside the canary's asynchronous loss.
    sync = next(e.data for e in events if e.kind == "step_finished" and e.step_id == "sync-pair")
    assert sync["outcome"] == "ok", sync
    report = subprocess.run(
        [sys.executable, "-m", "console", "--audit", str(audit), "report", rid, "--format", "md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "west sync, flushed to " in report
    assert "the synchronous pair keeps every write east acknowledges" in report
    # What the synchronous pair would have kept: west, east's synchronous standby, brought
    # back (SIGCONT), holds every canary write east acknowledged (a commit waited for west's
    # flush), whatever the asynchronous link to dr had delivered.
    # Only east's acknowledgements count here: the canary goes on writing on dr once dr is
    # promoted, and those writes never passed through the synchronous pair.
    east_host = lab.lab.layout.site("east").host
    on_east = {
        e.data["n"]
        for e in events
        if e.kind == "canary_write" and e.data["ok"] is True and e.host == east_host
    }
    assert len(on_east) >= 3, on_east
    lab.lab.chaos_up("west")
    numbers = f"\"SELECT n FROM drconsole.canary WHERE run_id = '{rid}'\""
    deadline = time.monotonic() + 120
    on_west: set[int] = set()
    while not on_east <= on_west and time.monotonic() < deadline:
        done = lab.ssh("west", f"psql -X -At -d postgres -c {numbers}", check=False)
        if done.returncode == 0:
            on_west = {int(line) for line in done.stdout.split() if line.isdigit()}
        time.sleep(0.5)
    assert on_east <= on_west, (sorted(on_east), sorted(on_west), check)
    print(
        "\ncity-loss:",
        json.dumps({k: finished[k] for k in ("rto_seconds", "rpo_seconds", "rpo_writes")}),
        f"acknowledged {check['acknowledged']}, kept at dr {kept}, "
        f"the synchronous standby (west) held {len(on_west)} of east's {len(on_east)}",
    )
