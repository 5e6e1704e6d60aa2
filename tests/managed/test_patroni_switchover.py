"""``patroni-switchover`` on the managed lab, for real: east -> west -> east, twice, through
Patroni's REST API, each with the canary running and no acknowledged write lost; and the
candidate Patroni would refuse (dr, tagged nofailover) stopped in preflight first.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.events.measure import CanaryCheck, Measurement
from console.events.registry import decode
from console.lab import patroni
from console.lab.procs import wait_until
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "patroni-switchover.yaml"


def _run(lab: RunningLab, audit: Path, *var: str) -> subprocess.CompletedProcess[str]:
    argv = [
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
    ]
    for v in var:
        argv += ["--var", v]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _cluster(lab: RunningLab) -> dict[str, tuple[str, str, int]]:
    for site in ("east", "west", "dr"):
        data = patroni.get_json(f"http://{lab.addresses[site]}:{patroni.REST_PORT}/cluster")
        if data is not None:
            return {m["name"]: (m["role"], m["state"], m.get("timeline")) for m in data["members"]}
    raise AssertionError("no Patroni API answers")


def _events(audit: Path) -> list[object]:
    store = AuditStore(audit)
    run_id = store.latest_run_id()
    assert run_id is not None
    return [decode(e.kind, e.data) for e in store.events(run_id)]


@pytest.fixture(scope="module")
def settled(managed: RunningLab) -> RunningLab:
    assert wait_until(lambda: managed.lab.health() == [], 120, 1), managed.lab.health()
    assert _cluster(managed)["pg-east"][0] == "leader"
    return managed


@pytest.mark.parametrize("round_", [1, 2])
def test_switchover_and_back_loses_no_acknowledged_write(
    settled: RunningLab, tmp_path: Path, round_: int
) -> None:
    lab = settled
    before = _cluster(lab)["pg-east"][2]
    for leg, (frm, to) in enumerate((("east", "west"), ("west", "east"))):
        audit = tmp_path / f"audit-{leg}.db"
        done = _run(lab, audit, f"from_site={frm}", f"to_site={to}")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert f'Successfully switched over to "pg-{to}"' in done.stdout
        events = _events(audit)
        check = [e for e in events if isinstance(e, CanaryCheck)][-1]
        assert check.acknowledged is not None and check.acknowledged >= 3
        assert check.missing == () and check.rpo_writes == 0, check
        assert check.present is not None and check.present >= check.acknowledged
        measured = [e for e in events if isinstance(e, Measurement)][-1]
        assert measured.rpo_writes == 0 and measured.rto_seconds is not None
        members = _cluster(lab)
        assert members[f"pg-{to}"][0] == "leader"
        assert members[f"pg-{frm}"][:2] == ("replica", "streaming")
        assert wait_until(lambda: _cluster(lab)["pg-dr"][1] == "streaming", 120, 0.5)
    after = _cluster(lab)["pg-east"][2]
    assert after == before + 2, (before, after)  # one new timeline per switchover
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()


def test_a_nofailover_candidate_stops_in_preflight(settled: RunningLab, tmp_path: Path) -> None:
    done = _run(settled, tmp_path / "audit.db", "to_site=dr")
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr
    assert "pg-dr has the nofailover tag" in done.stdout
    assert _cluster(settled)["pg-east"][0] == "leader"
