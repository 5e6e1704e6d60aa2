"""Unplanned PostgreSQL failover with real data loss, measured and checked against the databases.

The drill the way an operator rehearses it: start pg-failover-unplanned while east is still
up (its canary writes on east), cut replication into west (so acknowledged writes really stop
reaching west, as when a link dies unnoticed), let more canaries be acknowledged on east, then
take the whole east site dark (``lab chaos down east``: SIGSTOP, connections hang). The run sees
the site dark, fences it from dr (SIGKILL by pid file), promotes west and proves writes. The
test then brings east back, starts a copy of east's data directory on a spare port and reads
what east really holds: the RPO the run reported must be exactly the acknowledged canaries east
has and west lacks. pg-failback then rewinds east (crash recovery first, diverged WAL
discarded) and restores the original topology.

The second drill takes east dark *before* the run: no canary can be acknowledged by a dark
primary, so the run must say the RPO was not measurable instead of claiming 0. Its failback
meets an old primary whose WAL is gone (removed by the test), so pg_rewind is impossible and
the playbook rebuilds it with pg_basebackup, saying why.
"""

from __future__ import annotations

import itertools
import subprocess
import time

import pytest

from console.probes.canary import CanaryState, data_loss
from tests.drills_pg.drill import SCALE, Drill, assert_original_topology, epoch
from tests.support.lab import requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]

SPARE_PORT = 15499
"""A port on east's address for a read-only look at a copy of east's data directory."""


def _acked_so_far(drill: Drill) -> tuple[str | None, int]:
    """The running run's id and how many canaries it has had acknowledged (from the audit)."""
    from console.audit.errors import NotAnAuditDatabase
    from console.audit.store import AuditStore

    if not drill.audit.is_file():  # the run has not created it yet
        return None, 0
    try:
        store = AuditStore(drill.audit, create=False)
    except NotAnAuditDatabase:  # created this instant, its tables not yet
        return None, 0
    with store:
        run_id = store.latest_run_id()
        if run_id is None or run_id in drill.runs:
            return None, 0
        writes = store.events(run_id, kinds=["canary_write"])
    return run_id, sum(1 for e in writes if e.data["ok"] is True)


def _canaries_on_copy_of_east(drill: Drill, run_id: str) -> set[int]:
    """Start a throwaway copy of east's (killed) data directory and read the run's canaries.

    This is the by-hand check: what east had committed when it was killed, straight from its
    data directory after crash recovery, without touching the original (pg-failback needs it).
    """
    copy = str(drill.lab.lab.layout.site("east").root / "pg-copy")  # the lab user's
    east = drill.address("east")
    start = (
        f"rm -rf {copy} && cp -a {drill.pgdata('east')} {copy} && rm -f {copy}/postmaster.pid "
        f"{copy}/standby.signal && /usr/lib/postgresql/15/bin/pg_ctl -D {copy} -l {copy}.log "
        f"-o '-p {SPARE_PORT} -h {east} -k {copy} -c archive_mode=off' -w -t 120 start >/dev/null"
    )
    drill.shell("east", start)
    try:
        out = drill.shell(
            "east",
            f"/usr/lib/postgresql/15/bin/psql -X -A -t -h {east} -p {SPARE_PORT} -U postgres "
            f"-c \"SELECT n FROM drconsole.canary WHERE run_id = '{run_id}' ORDER BY n\"",
        )
    finally:
        drill.shell(
            "east",
            f"/usr/lib/postgresql/15/bin/pg_ctl -D {copy} -m immediate -w stop >/dev/null; "
            f"rm -rf {copy} {copy}.log",
        )
    return {int(x) for x in out.split()}


def _reuse_the_pid_of_east_postmaster(drill: Drill) -> int:
    """Start a process of the lab user on east and write its pid into the dead postmaster.pid.

    That is what the file looks like once the pid space wrapped after the fence's SIGKILL. The
    process runs until the test ends it; its pid is returned.
    """
    pidfile = f"{drill.pgdata('east')}/postmaster.pid"
    assert drill.shell("east", f"head -n 1 {pidfile}").strip().isdigit()  # the fence left it
    other = int(drill.shell("east", "setsid sleep 1800 </dev/null >/dev/null 2>&1 & echo $!"))
    drill.shell("east", f"sed -i '1s/.*/{other}/' {pidfile}")
    return other


def _cut_replication_into_west(drill: Drill) -> None:
    drill.sql("west", "ALTER SYSTEM SET primary_conninfo = ''")
    drill.sql("west", "SELECT pg_reload_conf()")  # a separate call: not in a transaction
    drill.wait_until(
        "west's WAL receiver to stop",
        lambda: drill.sql("west", "SELECT count(*) FROM pg_stat_wal_receiver") == "0",
        60 * SCALE,
    )


@pytest.mark.timeout(2400)
def test_unplanned_failover_measures_the_real_loss(drill: Drill) -> None:
    assert_original_topology(drill)
    log_path = drill.audit.parent / "unplanned.jsonl"
    with log_path.open("w") as log:
        proc = drill.start("pg-failover-unplanned.yaml", log=log)
        try:
            # canaries acknowledged on east that reach west ...
            drill.wait_until(
                "3 canaries acknowledged", lambda: _acked_so_far(drill)[1] >= 3, 120 * SCALE
            )
            _cut_replication_into_west(drill)
            cut_at = _acked_so_far(drill)[1]
            # ... and canaries acknowledged on east after the link died
            drill.wait_until(
                "3 more canaries acknowledged",
                lambda: _acked_so_far(drill)[1] >= cut_at + 3,
                120 * SCALE,
            )
            dark_at = time.time()
            drill.lab.lab.chaos_down("east")
            proc.wait(timeout=600 * SCALE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    run = drill.outcome(subprocess.CompletedProcess([], proc.returncode, log_path.read_text(), ""))
    assert proc.returncode == 0, run.explain()
    done = run.finished
    assert done["outcome"] == "succeeded", run.explain()

    # a writable primary in west
    assert drill.sql("west", "SELECT pg_is_in_recovery()") == "f"
    drill.sql(
        "west",
        "CREATE TABLE IF NOT EXISTS after_unplanned (at timestamptz); "
        "INSERT INTO after_unplanned VALUES (now())",
    )
    assert "write ok at west" in run.output("prove-writes")
    assert "fenced: SIGKILL to postmaster" in run.output("fence"), run.output("fence")

    # the RTO is the console's recovery, not time spent waiting on the dark host
    rto = done["rto_seconds"]
    assert rto is not None and rto < 30 * SCALE / 3, done
    steps = [e for e in run.of("step_started") if not e.data.get("rollback")]
    finished = {e.step_id: e for e in run.of("step_finished")}
    order = [e.step_id for e in steps]
    tail = order[order.index("confirm-dark") :]
    for before, after in itertools.pairwise(tail):
        gap = _gap(finished[before].ts, next(e for e in steps if e.step_id == after).ts)
        assert gap < 4.5 * SCALE / 3, (before, after, gap)
    # no canary write ever hung for long on the dark host (one connect + one write at most)
    for e in run.of("canary_write"):
        assert epoch(e.ts) - e.data["written_at"] < 25, e.data
    # the lock taken on east at the start could not be released: the run says so
    notices = [e.data["message"] for e in run.of("notice")]
    assert any("stays on lab-east" in m for m in notices), notices
    assert not [e for e in run.of("lock_released") if e.host == "lab-east"]

    # What the databases say was lost: acknowledged canaries east holds and west does not.
    drill.lab.lab.chaos_up("east")
    on_west = drill.canaries("west", run.run_id)
    on_east = _canaries_on_copy_of_east(drill, run.run_id)
    acked = run.acked()
    acked_on_east = {n for n, (_, host) in acked.items() if host == "lab-east"}
    assert acked_on_east and acked_on_east <= on_east, (acked_on_east, on_east)
    lost = sorted(set(acked) - on_west)
    assert lost, "the drill was meant to lose writes: replication was cut before them"
    assert set(lost) <= on_east - on_west
    assert len(lost) >= 3 and max(acked_on_east) in lost

    check = run.last("canary_check")
    assert check["error"] is None, check
    assert check["missing"] == lost, (check, lost)
    assert done["rpo_writes"] == len(lost) == check["rpo_writes"]
    expected = data_loss(
        {n: at for n, (at, _) in acked.items()},
        CanaryState(
            max_n=max(on_west, default=None), numbers=frozenset(on_west), newest_written_at=None
        ),
    )
    assert expected.missing == tuple(lost)
    assert done["rpo_seconds"] == pytest.approx(expected.seconds, abs=0.01), (done, expected)
    assert done["rpo_seconds"] > 0
    # the whole outage (dark site to the first write on west) includes the detection, so it is
    # longer than the console's own RTO (which starts at the fence)
    rto_end = epoch(next(e for e in run.of("rto_mark") if e.data["mark"] == "end").ts)
    print(
        f"outage from dark to first write {rto_end - dark_at:.1f}s, console RTO {rto:.3f}s, "
        f"RPO {done['rpo_writes']} writes / {done['rpo_seconds']}s"
    )
    assert rto_end - dark_at > rto

    # The killed postmaster's pid file stays behind. On a busy host its pid soon belongs to
    # another process of the same user (pids wrap at 32768 here; CI once met it): pg_ctl status
    # then says "running", and postgres (pg_rewind's crash recovery) refuses the data directory.
    # Make that happen for real: a live process of the lab user gets the file's pid.
    other = _reuse_the_pid_of_east_postmaster(drill)

    # Bring east home: the dark site still holds the unplanned run's remote lock; that run has
    # finished (the audit log says so), so the failback clears the leftover and records it.
    failback = drill.run("pg-failback.yaml")
    assert failback.proc.returncode == 0, failback.explain()
    assert f"its pid {other} is now sleep" in failback.proc.stdout, failback.explain()
    assert "moved the killed server's postmaster.pid aside" in failback.output("rebuild-home")
    assert drill.shell("east", f"kill -0 {other} && kill {other} && echo untouched") == (
        "untouched\n"
    )
    cleared = [e for e in failback.of("lock_broken") if e.data["scope"] == "remote"]
    assert cleared and cleared[0].data["holder"]["run_id"] == run.run_id, failback.explain()
    assert failback.finished["rpo_writes"] == 0
    rebuild = failback.output("rebuild-home")
    assert "crash recovery" in rebuild and "rebuilt with pg_rewind" in rebuild, rebuild
    assert "servers diverged at WAL location" in rebuild
    assert_original_topology(drill)
    # the writes that were lost are gone from east too (rewound), the ones after are there
    assert not (drill.canaries("east", run.run_id) & set(lost))
    drill.verify_chain(run.run_id)
    drill.verify_chain(failback.run_id)


@pytest.mark.timeout(2400)
def test_dark_before_the_run_reports_rpo_unmeasurable_and_failback_falls_back_to_basebackup(
    drill: Drill,
) -> None:
    assert_original_topology(drill)
    drill.lab.lab.chaos_down("east")
    try:
        run = drill.run("pg-failover-unplanned.yaml")
    finally:
        drill.lab.lab.chaos_up("east")
    assert run.proc.returncode == 0, run.explain()
    done = run.finished
    assert done["rto_seconds"] is not None and done["rto_seconds"] < 30 * SCALE / 3, done
    assert done["rpo_seconds"] is None and done["rpo_writes"] is None and done["rpo_met"] is None
    check = run.last("canary_check")
    assert check["acknowledged"] == 0 or all(
        host != "lab-east" for _, host in run.acked().values()
    ), check
    assert check["rpo_writes"] is None and "RPO not measurable" in check["error"], check
    assert "RPO not measured" in run.proc.stdout, run.explain()
    assert drill.sql("west", "SELECT pg_is_in_recovery()") == "f"

    # The old primary's WAL is gone (a damaged disk, an over-eager cleanup): pg_rewind cannot
    # even run crash recovery, so the failback must rebuild east from a base backup.
    pgdata = drill.pgdata("east")
    drill.shell("east", f"rm -f {pgdata}/pg_wal/0000*")
    failback = drill.run("pg-failback.yaml")  # no lock was taken on the dark east
    assert failback.proc.returncode == 0, failback.explain()
    rebuild = failback.output("rebuild-home")
    assert "pg_rewind is impossible here" in rebuild, rebuild
    assert "rebuilt with pg_basebackup" in rebuild, rebuild
    aside = [
        line.split(" at ", 1)[1].split(":")[0] for line in rebuild.splitlines() if "kept at" in line
    ]
    assert aside and drill.shell("east", f"test -d {aside[0]} && echo kept").strip() == "kept"
    drill.shell("east", f"rm -rf {aside[0]}")
    assert_original_topology(drill)
    drill.verify_chain(run.run_id)


def _gap(a: str, b: str) -> float:
    return epoch(b) - epoch(a)
