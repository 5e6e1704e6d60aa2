"""Raw playbooks on the managed lab's services: refused in preflight, exit 3, nothing touched.

``orders-db`` (Patroni) and ``sessions`` (Sentinel) carry the default lab's names, so the
shipped raw playbooks aim at them unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.lab import patroni
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]


def _leader(lab: RunningLab) -> str:
    data = patroni.get_json(f"http://{lab.addresses['east']}:{patroni.REST_PORT}/cluster") or {}
    return next(m["name"] for m in data["members"] if m["role"] == "leader")


@pytest.mark.parametrize(
    ("playbook", "manager", "instead"),
    [
        ("pg-failover", "Patroni", "patroni-switchover"),
        ("pg-failback", "Patroni", "patroni-switchover"),
        ("pg-failover-unplanned", "Patroni", "patroni-switchover"),
        ("redis-failover", "Sentinel", "sentinel-failover"),
        ("redis-failback", "Sentinel", "sentinel-failover"),
    ],
)
def test_raw_playbook_is_refused_with_exit_3(
    managed: RunningLab, tmp_path: Path, playbook: str, manager: str, instead: str
) -> None:
    audit = tmp_path / "audit.db"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "--audit",
            str(audit),
            "run",
            f"playbooks/{playbook}.yaml",
            "-i",
            str(managed.inventory),
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert f"is managed by {manager}" in out and f"use {instead}" in out, out
    assert "Traceback" not in out
    # recorded: the refusal is a failed gate of a stopped run, and no step ever started
    store = AuditStore(audit)
    run_id = store.latest_run_id()
    assert run_id is not None
    kinds = [e.kind for e in store.events(run_id)]
    assert "gate_result" in kinds and "step_started" not in kinds, kinds
    assert _leader(managed) == "pg-east"
