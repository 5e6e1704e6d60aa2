"""pg-pitr preflight on targets that exist but that recovery from the backup cannot stop at.

Two facts found on the lab with pgBackRest and pg_waldump (README, Decisions):

- A transaction id is recoverable only if its commit record lies in the WAL replayed after the
  restored backup is consistent. A transaction that was no longer running when that backup
  started has its commit before it (even when its id is above the oldest one running then,
  because an older one was still open): recovery replays to the end and fails with "recovery
  ended before configured recovery target was reached". One that was running at the backup's
  start and committed after the backup ended is recoverable.
- A restore point is recoverable only on the timelines recovery follows from the backup (the
  newest timeline and its history). One the old primary made after a standby was promoted is
  in the archive, on timeline 1 past the switch point, and recovery never reads it.

Both used to pass the preflight and fail in replay; now they are refused at preflight (exit 3,
naming the backup's start or the timeline path) and nothing is restored. The timeline test
promotes the standby while the old primary keeps writing, so it runs last in this module's lab.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from console.lab.layout import PG_PORT
from tests.drills_pg.drill import PGBIN, SCALE, Drill
from tests.drills_pitr.lab import mark, scratch_left
from tests.support.lab import requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]

CHECK = "SELECT 'markers: ' || string_agg(m, ',' ORDER BY m) AS seen FROM coupons"


def _markers(text: str) -> set[str]:
    line = next((x for x in text.splitlines() if "markers: " in x), "")
    assert line, text
    return set(line.split("markers: ", 1)[1].strip().split(","))


def _refusal(preflight: str, starts: str) -> str:
    return next((x.strip() for x in preflight.splitlines() if x.strip().startswith(starts)), "")


def _backup(drill: Drill) -> dict[str, object]:
    """An incremental backup taken now at dr; returns its entry of ``pgbackrest info``."""
    conf = drill.lab.lab.layout.site("dr").root / "pgbackrest" / "pgbackrest.conf"
    base = f"pgbackrest --config={conf} --stanza=orders-db"
    drill.shell("dr", f"{base} --type=incr backup")
    info = json.loads(drill.shell("dr", f"{base} --output=json info"))
    newest: dict[str, object] = info[0]["backup"][-1]
    return newest


@pytest.mark.timeout(1800)
def test_a_transaction_that_ended_before_the_backup_started_is_refused_naming_its_start(
    pitr: Drill,
) -> None:
    mark(pitr, "setup")
    url = f"host={pitr.address('east')} port={PG_PORT} user=postgres dbname=app"
    with psycopg.connect(url, connect_timeout=int(30 * SCALE)) as long:
        # A transaction left open across the backup's start, and a short one committed
        # before it: the short one's id is above the oldest one running at the backup.
        row = long.execute(
            "INSERT INTO coupons (m) VALUES ('long') RETURNING txid_current()"
        ).fetchone()
        assert row is not None
        long_xid = str(row[0])
        short_xid = mark(pitr, "short")
        assert int(short_xid) > int(long_xid)
        backup = _backup(pitr)
        long.commit()
    mark(pitr, "after")
    label = str(backup["label"])
    run = pitr.run("pg-pitr.yaml", f"target_xid={short_xid}", f"check_sql={CHECK}")
    assert run.proc.returncode == 3, run.explain()
    preflight = run.output("preflight")
    refusal = _refusal(preflight, f"transaction {short_xid} ended before backup {label} ")
    assert refusal, preflight
    lsn = backup["lsn"]
    assert isinstance(lsn, dict)
    assert "started at " in refusal and f"(WAL {lsn['start']})" in refusal, refusal
    assert f"those running at its start ({long_xid})" in refusal, refusal
    assert not run.of("step_started"), "nothing may be restored after a refused preflight"
    assert scratch_left(pitr) == ["2"]
    # The one running at the backup's start and committed after its end is recoverable.
    run = pitr.run("pg-pitr.yaml", f"target_xid={long_xid}", f"check_sql={CHECK}")
    assert run.proc.returncode == 0, run.explain()
    assert f"restore backup set {label}" in run.output("restore"), run.output("restore")
    assert f"after commit of transaction {long_xid}," in run.output("prove")
    seen = _markers(run.output("check-sql"))
    assert {"setup", "short", "long"} <= seen and "after" not in seen, seen
    assert scratch_left(pitr) == ["2"]
    pitr.verify_chain(run.run_id)


def _replayed(drill: Drill, lsn: str) -> bool:
    return drill.sql("west", f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") == "t"


@pytest.mark.timeout(1800)
def test_zz_a_restore_point_off_the_followed_timelines_is_refused_naming_the_path(
    pitr: Drill,
) -> None:
    # Last in the module: the standby is promoted (timeline 2) while the old primary keeps
    # writing on timeline 1, and both archive into the stanza, as after an unfenced failover.
    mark(pitr, "pre")
    before = pitr.sql("east", "SELECT pg_create_restore_point('before-split')")
    pitr.wait_until("west to replay the restore point", lambda: _replayed(pitr, before), 60 * SCALE)
    west = pitr.lab.lab.layout.site("west").pgdata
    pitr.shell("west", f"{PGBIN}/pg_ctl -D {west} -w -t {int(120 * SCALE)} promote")
    mark(pitr, "split")
    pitr.sql("east", "SELECT pg_create_restore_point('after-split')")
    segment = pitr.sql("east", "SELECT pg_walfile_name(pg_switch_wal())")
    pitr.wait_until(
        "the old primary's last segment to be archived",
        lambda: (
            pitr.sql("east", "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
            >= segment
        ),
        120 * SCALE,
    )
    east = pitr.lab.lab.layout.site("east").pgdata
    pitr.shell("east", f"{PGBIN}/pg_ctl -D {east} -m fast -w -t {int(120 * SCALE)} stop")
    run = pitr.run("pg-pitr.yaml", "target_name=after-split", f"check_sql={CHECK}")
    assert run.proc.returncode == 3, run.explain()
    preflight = run.output("preflight")
    refusal = _refusal(preflight, "restore point after-split (at ")
    assert ", timeline 1) is not on the timelines recovery follows from backup " in refusal, (
        preflight
    )
    assert "timeline 1 until " in refusal and "then timeline 2 (the newest)" in refusal, refusal
    assert "restore points on that path: before-split (at " in refusal, refusal
    assert "after-split" not in refusal.split("restore points on that path: ", 1)[1], refusal
    assert not run.of("step_started"), "nothing may be restored after a refused preflight"
    assert scratch_left(pitr) == ["2"]
    # The restore point made before the promotion is on the path and recovered to.
    run = pitr.run("pg-pitr.yaml", "target_name=before-split", f"check_sql={CHECK}")
    assert run.proc.returncode == 0, run.explain()
    assert "is on the timelines recovery follows (timeline 1 until " in run.output("preflight")
    assert 'recovery stopping at restore point "before-split"' in run.output("prove")
    seen = _markers(run.output("check-sql"))
    assert "pre" in seen and "split" not in seen, seen
    assert scratch_left(pitr) == ["2"]
