"""``patroni-failover-unplanned`` on the managed lab, for real: the leader's site goes dark at
the playbook's manual step, Patroni fails over by itself, the drill measures it against the
playbook's objectives, and the old leader demotes itself when the site returns. With the
cluster paused (automatic failover off) the run asks Patroni for a manual failover instead of
waiting forever, and resumes the cluster so that the returning old leader is demoted. The lab
is put back at home afterwards.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from console.audit.store import AuditStore
from console.events.measure import CanaryCheck, Measurement
from console.events.registry import decode
from console.lab import patroni
from console.lab.procs import wait_until
from console.model.playbook import load_playbook
from tests.managed.cluster_support import layout_of
from tests.managed.dark_support import (
    drive_dark_drill,
    home_again,
    patroni_leaders,
    run_playbook,
    start_playbook,
)
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "patroni-failover-unplanned.yaml"


def _set_pause(lab: RunningLab, pause: bool) -> None:
    req = urllib.request.Request(
        f"http://{lab.addresses['west']}:{patroni.REST_PORT}/config",
        data=json.dumps({"pause": pause}).encode(),
        method="PATCH",
    )
    with urllib.request.urlopen(req, timeout=30):
        pass
    assert wait_until(lambda: _paused(lab) is pause, 60, 0.5)


def _paused(lab: RunningLab) -> bool:
    data = patroni.get_json(f"http://{lab.addresses['west']}:{patroni.REST_PORT}/cluster") or {}
    return bool(data.get("pause"))


def _drill(lab: RunningLab, tmp_path: Path) -> tuple[str, float, list[object]]:
    """Run the playbook, darken east at its manual step and bring it back once a write is
    proven; the run's output, the test's dark-to-writable seconds and the run's events."""
    audit = tmp_path / "audit.db"
    proc = start_playbook(lab, audit, "patroni-failover-unplanned")
    run = drive_dark_drill(
        lab, proc, "east", "manual: Take the leader's site east dark", None, tmp_path / "run.log"
    )
    code, text, dark_at, writable_at = run.code, run.text, run.dark_at, run.writable_at
    assert code == 0, text[-4000:]
    assert dark_at is not None and writable_at is not None
    store = AuditStore(audit)
    run_id = store.latest_run_id()
    assert run_id is not None
    events = [decode(e.kind, e.data) for e in store.events(run_id)]
    return text, writable_at - dark_at, events


def _assert_measured(events: list[object], clock: float) -> None:
    measured = [e for e in events if isinstance(e, Measurement)][-1]
    objectives = load_playbook(PLAYBOOK).objectives
    # Patroni's own behaviour: the leader key (ttl 20 s) must expire first
    assert measured.rto_seconds is not None
    assert patroni.TTL / 2 < measured.rto_seconds <= (objectives.rto or 0), measured
    check = [e for e in events if isinstance(e, CanaryCheck)][-1]
    assert check.acknowledged is not None and check.acknowledged >= 3
    assert measured.rpo_seconds is not None and measured.rpo_seconds <= (objectives.rpo or 0)
    print(  # the figure for the report (pytest -s)
        f"dark -> writable by the test's clock {clock:.1f} s, run RTO "
        f"{measured.rto_seconds:.1f} s, RPO {measured.rpo_seconds} s / {check.rpo_writes} writes"
    )


@pytest.mark.timeout(900)
def test_dark_leader_site_is_measured_and_fenced(managed: RunningLab, tmp_path: Path) -> None:
    lab = managed
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    assert patroni_leaders(lab) == ["pg-east"]
    try:
        text, clock, events = _drill(lab, tmp_path)
        _assert_measured(events, clock)
        # pg-dr has the nofailover tag: Patroni may promote west only, and does by itself
        assert "automatic: Patroni may promote pg-west by itself" in text
        assert "↷ manual-failover skipped" in text and "↷ resume-after-manual skipped" in text
        # fenced: one leader, the old one demoted and streaming (the playbook waited for it)
        assert "pg-east replica streaming" in text
        assert patroni_leaders(lab) == ["pg-west"]
    finally:
        home_again(lab, tmp_path)


@pytest.mark.timeout(900)
def test_paused_cluster_fails_over_through_patroni_after_confirmation(
    managed: RunningLab, tmp_path: Path
) -> None:
    lab = managed
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    assert patroni_leaders(lab) == ["pg-east"]
    _set_pause(lab, True)
    try:
        text, clock, events = _drill(lab, tmp_path)
        assert "manual: the cluster is paused (automatic failover off)" in text
        assert "manual failover asked" in text and "cluster resumed" in text, text[-4000:]
        _assert_measured(events, clock)
        assert not _paused(lab)
        assert "pg-east replica streaming" in text
        assert patroni_leaders(lab) == ["pg-west"]
    finally:
        if _paused(lab):
            _set_pause(lab, False)
        home_again(lab, tmp_path)


def _tag_west_nofailover(lab: RunningLab, on: bool) -> None:
    """Set west's nofailover tag in its patroni.yml (the file keeps its owner and mode) and
    have its Patroni reload it (POST /reload), until /cluster shows it."""
    west = next(
        m for m in patroni.members(layout_of(lab), lab.lab.bins().pgbin) if m.name == "pg-west"
    )
    conf = yaml.safe_load(west.config.read_text())
    conf["tags"]["nofailover"] = on
    west.config.write_text(yaml.safe_dump(conf, sort_keys=False))
    req = urllib.request.Request(f"{west.api}/reload", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30):
        pass

    def shown() -> bool:
        data = patroni.get_json(f"{west.api}/cluster") or {}
        tags = next(
            (m.get("tags") or {} for m in data.get("members", []) if m["name"] == "pg-west"), {}
        )
        return bool(tags.get("nofailover")) is on

    assert wait_until(shown, 60, 0.5), f"pg-west's nofailover tag is not {on}"


@pytest.mark.timeout(900)
def test_no_candidate_without_nofailover_fails_with_patroni_s_refusal(
    managed: RunningLab, tmp_path: Path
) -> None:
    """Every surviving member tagged nofailover: Patroni fails over neither by itself nor on
    request; the run asks (confirmed), and fails at once with Patroni's answer instead of
    waiting for a leader that cannot come."""
    lab = managed
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    assert patroni_leaders(lab) == ["pg-east"]
    _tag_west_nofailover(lab, True)
    try:
        proc = start_playbook(lab, tmp_path / "audit.db", "patroni-failover-unplanned")
        out: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.append(line)
                if "manual: Take the leader's site east dark" in line:
                    lab.lab.chaos_down("east")
            code = proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
            lab.lab.chaos_up("east")
        text = "".join(out)
        (tmp_path / "run.log").write_text(text)
        assert code == 1, text[-4000:]
        assert "manual: every surviving member has the nofailover tag" in text, text[-4000:]
        assert "Patroni answered HTTP 412: failover is not possible: no good candidates" in text
        assert "step 6/10 new-leader" not in text  # no wait for a leader that cannot come
    finally:
        lab.lab.chaos_up("east")
        _tag_west_nofailover(lab, False)
        # east, back, takes the leader key again (nobody else could)
        assert wait_until(lambda: patroni_leaders(lab) == ["pg-east"], 180, 1), patroni_leaders(lab)
        # the run ended while east was dark: its lock on orders-db (held on lab-east) could
        # not be released, and the next run says so; break it (a maintenance run: harmless)
        again = run_playbook(lab, tmp_path / "again.db", "patroni-maintenance")
        assert again.returncode == 4 and "break the lock with --break-lock" in again.stdout
        unlock = run_playbook(
            lab, tmp_path / "unlock.db", "patroni-maintenance", flags=("--break-lock",)
        )
        assert unlock.returncode == 0, unlock.stdout[-3000:]
        home_again(lab, tmp_path)
