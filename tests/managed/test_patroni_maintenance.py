"""``patroni-maintenance`` on the managed lab: pause around the hand work and resume after;
a run that stops half-way (no operator for the manual step) leaves the cluster paused, and
``status`` shows that as a WARN with its reason until someone resumes it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.lab import patroni
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "patroni-maintenance.yaml"


def _paused(lab: RunningLab) -> bool:
    data = patroni.get_json(f"http://{lab.addresses['east']}:{patroni.REST_PORT}/cluster") or {}
    return bool(data.get("pause"))


def _run(lab: RunningLab, audit: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
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
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_pause_then_resume(managed: RunningLab, tmp_path: Path) -> None:
    assert not _paused(managed)
    audit = tmp_path / "audit.db"
    done = _run(managed, audit, "--yes")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "cluster paused" in done.stdout and "cluster resumed, leader present" in done.stdout
    store = AuditStore(audit)
    run_id = store.latest_run_id()
    assert run_id is not None
    kinds = [e.kind for e in store.events(run_id)]
    assert kinds.count("step_finished") >= 3
    assert not _paused(managed)


def test_a_run_that_stops_half_way_leaves_a_paused_cluster_shown(
    managed: RunningLab, tmp_path: Path
) -> None:
    done = _run(managed, tmp_path / "audit.db")  # no operator: stops at the manual step
    try:
        assert done.returncode == 3, done.stdout[-3000:]
        assert "cluster paused" in done.stdout
        assert _paused(managed)
        status = subprocess.run(
            [
                sys.executable,
                "-m",
                "console",
                "status",
                "-i",
                str(managed.inventory),
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
        assert status.returncode == 1
        doc = json.loads(status.stdout)
        pg = next(m for m in doc["managers"] if m["service"] == "orders-db")
        assert pg["paused"] is True and pg["health"] == "warn"
        assert "the cluster is paused (maintenance mode)" in doc["verdict"]
        # and the maintenance playbook refuses to start on a paused cluster
        again = _run(managed, tmp_path / "again.db", "--yes")
        assert again.returncode == 3 and "paused already" in again.stdout
    finally:
        req = urllib.request.Request(
            f"http://{managed.addresses['east']}:{patroni.REST_PORT}/config",
            data=json.dumps({"pause": False}).encode(),
            method="PATCH",
        )
        with urllib.request.urlopen(req, timeout=30):
            pass
