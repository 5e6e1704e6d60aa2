"""``sentinel-failover`` on the managed lab, for real: east -> west -> east, twice, through
SENTINEL FAILOVER, each with the canary running and no acknowledged write lost, every Sentinel
agreeing on the new master afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.events.measure import CanaryCheck
from console.events.registry import decode
from console.lab.procs import wait_until
from tests.managed.dark_support import redis_role, sentinel_masters
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "sentinel-failover.yaml"


def _masters(lab: RunningLab) -> set[str]:
    return set(sentinel_masters(lab))


@pytest.mark.parametrize("round_", [1, 2])
def test_failover_and_back_loses_no_acknowledged_write(
    managed: RunningLab, tmp_path: Path, round_: int
) -> None:
    lab = managed
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    for leg, (frm, to) in enumerate((("east", "west"), ("west", "east"))):
        audit = tmp_path / f"audit-{leg}.db"
        done = subprocess.run(
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
                "--yes",
                "--var",
                f"from_site={frm}",
                "--var",
                f"to_site={to}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        store = AuditStore(audit)
        run_id = store.latest_run_id()
        assert run_id is not None
        checks = [
            e
            for e in (decode(x.kind, x.data) for x in store.events(run_id))
            if isinstance(e, CanaryCheck)
        ]
        assert checks and checks[-1].missing == () and checks[-1].rpo_writes == 0, checks
        assert checks[-1].acknowledged is not None and checks[-1].acknowledged >= 1
        assert _masters(lab) == {f"{lab.addresses[to]}:16379"}
        assert redis_role(lab, to) == "master" and redis_role(lab, frm) == "slave"
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
