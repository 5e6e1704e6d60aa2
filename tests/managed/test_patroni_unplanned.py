"""``patroni-failover-unplanned`` on the managed lab, for real: the leader's site goes dark at
the playbook's manual step, Patroni fails over by itself, the drill measures it against the
playbook's objectives, and the old leader demotes itself when the site returns. The lab is
switched back to east afterwards with ``patroni-switchover``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.events.measure import CanaryCheck, Measurement
from console.events.registry import decode
from console.lab import patroni
from console.lab.procs import wait_until
from console.model.playbook import load_playbook
from tests.managed.cluster_support import cluster_back
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "patroni-failover-unplanned.yaml"


def _leaders(lab: RunningLab) -> list[str]:
    data = patroni.get_json(f"http://{lab.addresses['west']}:{patroni.REST_PORT}/cluster") or {}
    return [m["name"] for m in data.get("members", []) if m["role"] == "leader"]


@pytest.mark.timeout(900)
def test_dark_leader_site_is_measured_and_fenced(managed: RunningLab, tmp_path: Path) -> None:
    lab = managed
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    assert _leaders(lab) == ["pg-east"]
    audit = tmp_path / "audit.db"
    proc = subprocess.Popen(
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
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    out: list[str] = []
    dark_at = writable_at = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if dark_at is None and "manual: Take the leader's site east dark" in line:
                lab.lab.chaos_down("east")
                dark_at = time.monotonic()
            if writable_at is None and "✓ prove-writes" in line:
                writable_at = time.monotonic()
                lab.lab.chaos_up("east")
        code = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
        lab.lab.chaos_up("east")
        cluster_back(lab)  # even when the run failed: the next modules' health includes it
    text = "".join(out)
    assert code == 0, text[-4000:]
    assert dark_at is not None and writable_at is not None
    store = AuditStore(audit)
    run_id = store.latest_run_id()
    assert run_id is not None
    events = [decode(e.kind, e.data) for e in store.events(run_id)]
    measured = [e for e in events if isinstance(e, Measurement)][-1]
    objectives = load_playbook(PLAYBOOK).objectives
    # Patroni's own behaviour: the leader key (ttl 20 s) must expire first
    assert measured.rto_seconds is not None
    assert patroni.TTL / 2 < measured.rto_seconds <= (objectives.rto or 0), measured
    check = [e for e in events if isinstance(e, CanaryCheck)][-1]
    assert check.acknowledged is not None and check.acknowledged >= 3
    assert measured.rpo_seconds is not None and measured.rpo_seconds <= (objectives.rpo or 0)
    print(  # the figure for the report (pytest -s)
        f"dark -> writable by the test's clock {writable_at - dark_at:.1f} s, run RTO "
        f"{measured.rto_seconds:.1f} s, RPO {measured.rpo_seconds} s / {check.rpo_writes} writes"
    )
    # fenced: one leader, the old one demoted and streaming (the playbook waited for it)
    assert "pg-east replica streaming" in text
    assert _leaders(lab) == ["pg-west"]
    back = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "--audit",
            str(tmp_path / "back.db"),
            "run",
            str(REPO / "playbooks" / "patroni-switchover.yaml"),
            "-i",
            str(lab.inventory),
            "--yes",
            "--var",
            "from_site=west",
            "--var",
            "to_site=east",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert back.returncode == 0, back.stdout[-3000:]
    # the dark east took its Redis Cluster master too: put the masters back one per site
    assert cluster_back(lab) == []
    # the dark east took the Redis master with it: Sentinel failed it over to west by itself
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    if _redis_role(lab, "east") != "master":
        home = subprocess.run(
            [
                sys.executable,
                "-m",
                "console",
                "--audit",
                str(tmp_path / "redis.db"),
                "run",
                str(REPO / "playbooks" / "sentinel-failover.yaml"),
                "-i",
                str(lab.inventory),
                "--yes",
                "--var",
                "from_site=west",
                "--var",
                "to_site=east",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert home.returncode == 0, home.stdout[-3000:]
    assert _redis_role(lab, "east") == "master"
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()


def _redis_role(lab: RunningLab, site: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", lab.addresses[site], "-p", "16379", "ROLE"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()[0]
