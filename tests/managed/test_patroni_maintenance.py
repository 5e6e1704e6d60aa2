"""``patroni-maintenance`` on the managed lab: pause around the hand work and resume after;
a check after the pause that fails rolls the run back, and the rollback resumes the cluster; a
run that stops half-way (no operator for the manual step) or is killed while the cluster is
paused leaves it paused, and ``status`` and the board show that as a WARN with its reason until
someone resumes it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from console.audit.store import AuditStore
from console.lab import patroni
from console.lab.procs import wait_until
from tests.support.lab import RunningLab, requires_profile
from tests.tui.support import make_app, static_text, wait_members
from tests.tui.waiting import until

pytestmark = [requires_profile("managed"), pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "patroni-maintenance.yaml"
PAUSED = "the cluster is paused (maintenance mode)"


def _paused(lab: RunningLab) -> bool:
    data = patroni.get_json(f"http://{lab.addresses['east']}:{patroni.REST_PORT}/cluster") or {}
    return bool(data.get("pause"))


def _resume(lab: RunningLab) -> None:
    req = urllib.request.Request(
        f"http://{lab.addresses['east']}:{patroni.REST_PORT}/config",
        data=json.dumps({"pause": False}).encode(),
        method="PATCH",
    )
    with urllib.request.urlopen(req, timeout=30):
        pass
    assert wait_until(lambda: not _paused(lab), 60, 0.5)


def _argv(lab: RunningLab, audit: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "console",
        "--audit",
        str(audit),
        "run",
        str(PLAYBOOK),
        "-i",
        str(lab.inventory),
        *extra,
    ]


def _run(lab: RunningLab, audit: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _argv(lab, audit, *extra),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _status(lab: RunningLab) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "status",
            "-i",
            str(lab.inventory),
            "--json",
            "--timeout",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def _assert_status_shows_paused(lab: RunningLab) -> None:
    code, doc = _status(lab)
    assert code == 1
    pg = next(m for m in doc["managers"] if m["service"] == "orders-db")
    assert pg["paused"] is True and pg["health"] == "warn"
    assert PAUSED in doc["verdict"]


def test_pause_then_resume(managed: RunningLab, tmp_path: Path) -> None:
    assert not _paused(managed)
    audit = tmp_path / "audit.db"
    done = _run(managed, audit, "--yes")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "cluster paused" in done.stdout and "cluster resumed, leader present" in done.stdout
    assert "not running: none" in done.stdout  # check-work's own check of the cluster
    store = AuditStore(audit)
    run_id = store.latest_run_id()
    assert run_id is not None
    kinds = [e.kind for e in store.events(run_id)]
    assert kinds.count("step_finished") >= 4
    assert not _paused(managed)


def test_a_failed_step_after_the_pause_rolls_back_and_resumes(
    managed: RunningLab, tmp_path: Path
) -> None:
    assert not _paused(managed)
    check = 'echo "the disk swap is not finished" >&2; exit 1'
    done = _run(managed, tmp_path / "audit.db", "--yes", "--var", f"check_cmd={check}")
    try:
        assert done.returncode == 1, done.stdout[-3000:]
        out = done.stdout
        assert "cluster paused" in out
        assert "✗ check-work" in out and "the disk swap is not finished" in out, out[-3000:]
        assert "↷ resume skipped" not in out and "✓ resume ok" not in out  # never reached
        assert "✓ resume-on-rollback" in out and "cluster resumed, leader present" in out
        assert not _paused(managed)  # Patroni's own /cluster
    finally:
        if _paused(managed):
            _resume(managed)


def test_a_run_that_stops_half_way_leaves_a_paused_cluster_shown(
    managed: RunningLab, tmp_path: Path
) -> None:
    done = _run(managed, tmp_path / "audit.db")  # no operator: stops at the manual step
    try:
        assert done.returncode == 3, done.stdout[-3000:]
        assert "cluster paused" in done.stdout
        assert _paused(managed)
        _assert_status_shows_paused(managed)
        # and the maintenance playbook refuses to start on a paused cluster
        again = _run(managed, tmp_path / "again.db", "--yes")
        assert again.returncode == 3 and "paused already" in again.stdout
    finally:
        _resume(managed)


def _kill_while_paused(lab: RunningLab, tmp_path: Path) -> str:
    """Start the playbook, SIGKILL it while its check after the hand work holds the paused
    cluster (a check that sleeps); its output."""
    proc = subprocess.Popen(
        _argv(lab, tmp_path / "audit.db", "--yes", "--var", "check_cmd=sleep 240"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    out: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if "step 3/4 check-work" in line:
                break
        proc.kill()
        assert proc.wait(timeout=60) == -9
    finally:
        if proc.poll() is None:
            proc.kill()
    return "".join(out)


@pytest.mark.timeout(300)
async def test_a_killed_run_leaves_the_cluster_paused_on_status_and_board(
    managed: RunningLab, tmp_path: Path
) -> None:
    assert not _paused(managed)
    recovered = False
    try:
        text = _kill_while_paused(managed, tmp_path)
        assert "cluster paused" in text and "step 3/4 check-work" in text, text[-3000:]
        assert _paused(managed)
        _assert_status_shows_paused(managed)
        app = make_app(managed.inventory, tmp_path / "board.db", refresh=1.0, probe_timeout=3)
        async with app.run_test(size=(140, 48)) as pilot:
            await wait_members(app, 5)
            await until(
                lambda: (
                    "orders-db (Patroni) ▲ WARN" in static_text(app, "#topology")
                    and "the cluster is paused" in static_text(app, "#verdict")
                ),
                60,
                "the paused cluster on the board",
            )
            assert f"WARN {PAUSED}" in static_text(app, "#topology")
            await pilot.pause()
        _recover_after_kill(managed, tmp_path)
        recovered = True
    finally:
        if _paused(managed):
            _resume(managed)
        if not recovered:  # the next modules must not meet the killed run's lock
            _run(managed, tmp_path / "unlock.db", "--yes", "--break-lock")


def _recover_after_kill(lab: RunningLab, tmp_path: Path) -> None:
    """What the operator does next: the killed run's lock on orders-db is refused as stale
    (naming --break-lock), the cluster is resumed by hand, and a run with --break-lock works
    (and releases the lock for the next one)."""
    locked = _run(lab, tmp_path / "locked.db", "--yes")
    assert locked.returncode == 4, locked.stdout[-3000:]
    assert "stale: pid" in locked.stdout and "break the lock with --break-lock" in locked.stdout
    assert _paused(lab)  # it did nothing
    _resume(lab)
    done = _run(lab, tmp_path / "after.db", "--yes", "--break-lock")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "cluster resumed, leader present" in done.stdout
    assert not _paused(lab)
