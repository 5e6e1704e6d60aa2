"""``drconsole status`` on the managed lab: the manager's view beside the databases', and each
disagreement made for real (Patroni paused, one Sentinel stopped) shown with its reason."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.lab import patroni
from console.lab.procs import read_pidfile, wait_until
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]


def _status(lab: RunningLab, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "status",
            "-i",
            str(lab.inventory),
            "--timeout",
            "3",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _json(lab: RunningLab) -> tuple[int, dict[str, Any]]:
    done = _status(lab, "--json")
    return done.returncode, json.loads(done.stdout)


def _managers(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["service"]: m for m in data["managers"]}


def _pause(lab: RunningLab, on: bool) -> None:
    req = urllib.request.Request(
        f"http://{lab.addresses['east']}:{patroni.REST_PORT}/config",
        data=json.dumps({"pause": on}).encode(),
        method="PATCH",
    )
    with urllib.request.urlopen(req, timeout=30):
        pass

    def applied() -> bool:
        data = patroni.get_json(f"http://{lab.addresses['east']}:{patroni.REST_PORT}/cluster")
        return data is not None and bool(data.get("pause")) == on

    assert wait_until(applied, 60, 0.2)


@pytest.fixture
def healthy(managed: RunningLab) -> Iterator[RunningLab]:
    assert wait_until(lambda: managed.lab.health() == [], 120, 1), managed.lab.health()
    _settled(managed)  # and the replicas caught up: each test starts from a healthy status
    yield managed
    assert wait_until(lambda: managed.lab.health() == [], 120, 1), managed.lab.health()


def _settled(lab: RunningLab, timeout: float = 120) -> tuple[int, dict[str, Any]]:
    """The first healthy status within ``timeout`` (else the last one seen): on a loaded
    machine a replica can lag past its WARN threshold for a moment after the previous test."""
    deadline = time.monotonic() + timeout
    while True:
        code, data = _json(lab)
        if code == 0 or time.monotonic() > deadline:
            return code, data
        time.sleep(2)


def test_status_shows_both_managers_agreeing(healthy: RunningLab) -> None:
    code, data = _settled(healthy)
    assert code == 0, data["verdict"]
    m = _managers(data)
    pg, rd = m["orders-db"], m["sessions"]
    assert pg["manager"] == "patroni" and pg["health"] == "ok" and pg["leader"] == "pg-east"
    assert pg["paused"] is False
    roles = {x["name"]: (x["role"], x["state"], x["timeline"]) for x in pg["members"]}
    # The package's lab is shared: a failover module before this one leaves a later timeline;
    # agreeing is every member on the leader's.
    timeline = roles["pg-east"][2]
    assert isinstance(timeline, int) and timeline >= 1, roles
    assert roles == {
        "pg-east": ("leader", "running", timeline),
        "pg-west": ("replica", "streaming", timeline),
        "pg-dr": ("replica", "streaming", timeline),
    }
    assert [x["nofailover"] for x in pg["members"] if x["name"] == "pg-dr"] == [True]
    assert rd["manager"] == "sentinel" and rd["health"] == "ok"
    assert rd["leader"] == f"{healthy.addresses['east']}:16379"
    assert rd["details"]["quorum"] == 2 and len(rd["answered"]) == 3
    text = _status(healthy)
    assert text.returncode == 0
    assert "managers" in text.stdout and "orders-db (Patroni): OK leader pg-east" in text.stdout


def test_paused_patroni_is_warn_with_its_reason(healthy: RunningLab) -> None:
    _pause(healthy, True)
    try:
        code, data = _json(healthy)
        pg = _managers(data)["orders-db"]
        assert code == 1 and not data["healthy"]
        assert pg["health"] == "warn" and pg["paused"] is True
        assert any("paused (maintenance mode)" in f["reason"] for f in pg["findings"])
        assert "orders-db (Patroni) WARN: the cluster is paused" in data["verdict"]
        text = _status(healthy)
        assert "PAUSED" in text.stdout and "WARN the cluster is paused" in " ".join(
            text.stdout.split()
        )
    finally:
        _pause(healthy, False)


def test_a_stopped_sentinel_is_warn_naming_it(healthy: RunningLab) -> None:
    pidfile = healthy.lab.directory / "dr" / "sentinel" / "sentinel.pid"
    pid = read_pidfile(pidfile)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        code, data = _json(healthy)
        rd = _managers(data)["sessions"]
        assert code == 1
        assert rd["health"] == "warn", rd["findings"]
        silent = f"{healthy.addresses['dr']}:16479"
        assert [s["source"] for s in rd["silent"]] == [silent]
        assert any(
            f"Sentinel {silent} does not answer (2 of 3)" in f["reason"] for f in rd["findings"]
        )
        assert _managers(data)["orders-db"]["health"] == "ok"
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_master_without_the_write_guard_is_warn_naming_it(healthy: RunningLab) -> None:
    east = ["redis-cli", "-h", healthy.addresses["east"], "-p", "16379"]

    def guard(n: int) -> None:
        done = subprocess.run(
            [*east, "CONFIG", "SET", "min-replicas-to-write", str(n)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert done.stdout.strip() == "OK", done.stdout

    guard(0)
    try:
        code, data = _json(healthy)
        rd = _managers(data)["sessions"]
        assert code == 1 and rd["health"] == "warn", rd["findings"]
        master = f"{healthy.addresses['east']}:16379"
        assert [f["reason"] for f in rd["findings"]] == [
            f"master {master} (lab-east) has min-replicas-to-write 0: it acknowledges writes no "
            "replica has, which a failover loses (also a late write to an old master back "
            "before Sentinel demotes it); set min-replicas-to-write 1 and min-replicas-max-lag "
            "below down-after-milliseconds"
        ]
        assert "sessions (Sentinel) WARN: master" in data["verdict"]
    finally:
        guard(1)
