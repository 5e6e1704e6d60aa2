"""pg-restore-verify on a real lab: it passes on a good backup and FAILS on a damaged one.

A good run takes a fresh base backup to the dr host, verifies it, restores it into a scratch
instance, compares every verified table with the primary as of the backup and tears the
instance down; its restore step's duration is the restore time and the run's RTO runs from the
restore to the instance answering.

The damaged cases use the playbook's ``backup`` parameter, which verifies a backup already on
the dr host (the way last night's backup is checked): the test damages a copy of the good
backup at rest, as bit rot or a truncated transfer would, between the backup and the verify.
- one byte flipped in a table file: pg_verifybackup finds the SHA-256 mismatch;
- a file missing (an incomplete copy): pg_verifybackup finds it missing;
- a backup whose manifest has no checksums (taken with --manifest-checksums=NONE, so only
  sizes can be checked) with a byte flipped inside a heap page: the manifest check passes, the
  scratch instance starts, and reading the table fails on the page's data checksum.
Each must make the run fail (exit 1) with the rollback tearing the scratch instance down: no
server left on the scratch port, no scratch directory.
"""

from __future__ import annotations

import pytest

from console.lab.layout import PG_SCRATCH_PORT
from tests.drills_pg.drill import PGBIN, Drill, RunOutcome
from tests.support.lab import requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]

TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "app_events")


def _dirs(drill: Drill) -> tuple[str, str]:
    dr = drill.lab.lab.layout.site("dr")
    return str(dr.backup_dir), str(dr.scratch_dir)


def _assert_torn_down(drill: Drill) -> None:
    _, scratch = _dirs(drill)
    left = drill.shell(
        "dr",
        f"{PGBIN}/pg_isready -q -h {drill.address('dr')} -p {PG_SCRATCH_PORT}; echo $?; "
        f"ls -A {scratch}",
    ).split()
    assert left == ["2"], f"pg_isready status and scratch dir contents: {left}"


def _failed_with_teardown(run: RunOutcome, failed_step: str) -> None:
    assert run.proc.returncode == 1, run.explain()
    assert run.finished["outcome"] == "failed", run.explain()
    outcomes = run.step_outcomes()
    assert outcomes[failed_step] == "failed", outcomes
    assert outcomes["teardown-after-failure"] == "ok", outcomes
    assert "teardown" not in outcomes, outcomes
    assert run.of("rollback_started"), run.explain()


def _relation_file(drill: Drill, table: str) -> str:
    return drill.sql("east", f"SELECT pg_relation_filepath('{table}')", db="app")


@pytest.mark.timeout(1800)
def test_restore_verification_passes_on_a_good_backup(drill: Drill) -> None:
    run = drill.run("pg-restore-verify.yaml")
    assert run.proc.returncode == 0, run.explain()
    compare = run.output("compare")
    for table in TABLES:
        assert f"MATCH    {table}:" in compare, compare
    assert "MISMATCH" not in compare and "VERIFIED" in compare, compare
    assert "MATCH    canary: the backup holds canary" in compare, compare
    assert "comparing with the primary as of the backup" in compare
    # the primary's own numbers, asked directly, are the ones the restore matched
    count = drill.sql("east", "SELECT count(*) FROM pgbench_accounts", db="app")
    assert f"MATCH    pgbench_accounts: {count} rows" in compare
    assert "backup successfully verified" in run.output("verify-backup")
    assert "no corruption found" in run.output("amcheck")
    restore = next(e for e in run.of("step_finished") if e.step_id == "restore")
    assert restore.data["outcome"] == "ok" and restore.data["duration"] > 0
    assert "restored in" in run.output("restore")
    done = run.finished
    assert done["rto_seconds"] is not None and 0 < done["rto_seconds"] < 600, done
    print(
        f"restore step {restore.data['duration']:.3f}s, restore RTO {done['rto_seconds']:.3f}s "
        f"({run.output('restore').splitlines()[-1]})"
    )
    _assert_torn_down(drill)
    backups, _ = _dirs(drill)
    kept = drill.shell("dr", f"ls {backups}/orders-db").split()
    assert run.run_id in kept and f"{run.run_id}.drconsole-checksums.txt" in kept, kept
    drill.verify_chain(run.run_id)


def _good_backup(drill: Drill) -> str:
    backups, _ = _dirs(drill)
    assert drill.runs, "the good-backup test runs first in this module"
    return f"{backups}/orders-db/{drill.runs[0]}"


def _copy(drill: Drill, good: str, name: str) -> str:
    target = f"{good}-{name}"
    drill.shell(
        "dr",
        f"rm -rf {target} && cp -a {good} {target} && "
        f"cp {good}.drconsole-checksums.txt {target}.drconsole-checksums.txt",
    )
    return target


@pytest.mark.timeout(1800)
def test_a_flipped_byte_fails_the_manifest_check(drill: Drill) -> None:
    damaged = _copy(drill, _good_backup(drill), "bitrot")
    rel = _relation_file(drill, "pgbench_accounts")
    drill.shell(
        "dr",
        f"printf '\\xde\\xad\\xbe\\xef' | dd of={damaged}/{rel} bs=1 seek={8192 * 100 + 4000} "
        "conv=notrunc status=none",
    )
    run = drill.run("pg-restore-verify.yaml", f"backup={damaged}")
    _failed_with_teardown(run, "verify-backup")
    assert f'checksum mismatch for file "{rel}"' in run.output("verify-backup")
    assert "restore" not in run.step_outcomes()
    _assert_torn_down(drill)


@pytest.mark.timeout(1800)
def test_an_incomplete_backup_fails_the_manifest_check(drill: Drill) -> None:
    incomplete = _copy(drill, _good_backup(drill), "partial")
    rel = _relation_file(drill, "pgbench_branches")
    drill.shell("dr", f"rm {incomplete}/{rel}")
    run = drill.run("pg-restore-verify.yaml", f"backup={incomplete}")
    _failed_with_teardown(run, "verify-backup")
    assert f'"{rel}" is present in the manifest but not on disk' in run.output("verify-backup")
    _assert_torn_down(drill)


@pytest.mark.timeout(1800)
def test_a_damaged_page_the_manifest_cannot_see_fails_after_the_restore_started(
    drill: Drill,
) -> None:
    backups, _ = _dirs(drill)
    nocsum = f"{backups}/orders-db/no-manifest-checksums"
    drill.shell(
        "dr",
        f"rm -rf {nocsum} && {PGBIN}/pg_basebackup -h {drill.address('east')} -p 15432 "
        f"-U postgres -D {nocsum} -X stream -c fast --manifest-checksums=NONE",
    )
    rel = _relation_file(drill, "pgbench_accounts")
    # inside block 100 (8 KiB pages), in the tuple area: same size, wrong data checksum
    drill.shell(
        "dr",
        f"printf '\\xde\\xad\\xbe\\xef' | dd of={nocsum}/{rel} bs=1 seek={8192 * 100 + 4000} "
        "conv=notrunc status=none",
    )
    run = drill.run("pg-restore-verify.yaml", f"backup={nocsum}")
    verify = run.output("verify-backup")
    assert "only file sizes can be verified" in verify and "successfully verified" in verify
    assert run.step_outcomes()["restore"] == "ok", run.explain()
    _failed_with_teardown(run, "compare")
    compare = run.output("compare")
    assert "invalid page in block 100" in compare, compare
    stop = run.output("teardown-after-failure")
    assert "server stopped" in stop and "scratch instance stopped and removed" in stop, stop
    _assert_torn_down(drill)
