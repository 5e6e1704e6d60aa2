"""redis-cluster-site-failover and -failback on the managed lab's Redis Cluster, for real.

A writer in the test sets keys across the slots through the cluster (``redis-cli -c``) the
whole time; every write the cluster acknowledged must be readable at the end. The raw
redis-failover on a cluster is refused (exit 3), TAKEOVER is refused while the site answers,
and used for real when the site is dark and the cluster cannot fail over by itself.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from console.lab import cluster
from console.lab.procs import wait_until
from tests.managed.cluster_support import REPO, cluster_back, cluster_view, layout_of, status_json
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]

FAILOVER = REPO / "playbooks" / "redis-cluster-site-failover.yaml"
FAILBACK = REPO / "playbooks" / "redis-cluster-site-failback.yaml"


def _run(
    lab: RunningLab, audit: Path, playbook: Path, *var: str, inventory: Path | None = None
) -> subprocess.CompletedProcess[str]:
    args = [a for v in var for a in ("--var", v)]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "--audit",
            str(audit),
            "run",
            str(playbook),
            "-i",
            str(inventory or lab.inventory),
            "--yes",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _masters_by_site(lab: RunningLab) -> dict[str, int]:
    site_of = {f"{a}:{p}": s for s, a in lab.addresses.items() for p in cluster.CLUSTER_PORTS}
    out = subprocess.run(
        ["redis-cli", "-h", lab.addresses["dr"], "-p", "16700", "CLUSTER", "NODES"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    held = dict.fromkeys(lab.addresses, 0)
    for n in cluster.parse_nodes(out):
        if "master" in n.flags and n.slots and "fail" not in n.flags:
            held[site_of[n.endpoint]] += 1
    return held


class Writer:
    """Sets ``drc:test:N`` through the cluster in a loop; remembers what was acknowledged."""

    def __init__(self, lab: RunningLab) -> None:
        self.lab = lab
        self.acked: list[int] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _cli(self, site: str, port: int) -> list[str]:
        return ["redis-cli", "-c", "-h", self.lab.addresses[site], "-p", str(port)]

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                r = subprocess.run(
                    [*self._cli("dr", 16701), "SET", f"drc:test:{n}", str(n)],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=False,
                )
                ok = r.stdout.strip() == "OK"
            except subprocess.TimeoutExpired:
                ok = False
            if ok:
                self.acked.append(n)
            else:
                self.failed += 1
            time.sleep(0.02)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def lost(self) -> list[int]:
        """Acknowledged writes that cannot be read back now."""
        missing = []
        for n in self.acked:
            got = subprocess.run(
                [*self._cli("west", 16700), "GET", f"drc:test:{n}"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
            if got != str(n):
                missing.append(n)
        return missing


@pytest.mark.timeout(900)
def test_site_failover_and_back_twice_loses_no_acknowledged_write(
    managed: RunningLab, tmp_path: Path
) -> None:
    assert cluster_back(managed) == []
    west = managed.addresses["west"]
    with Writer(managed) as writer:
        for round_ in (1, 2):
            out = _run(managed, tmp_path / f"out{round_}.db", FAILOVER)
            assert out.returncode == 0, out.stdout[-4000:]
            # the one master of east moved to its replica in west, issued then awaited
            assert f"CLUSTER FAILOVER on {west}:16701: OK" in out.stdout
            assert "every chosen replica is a master now" in out.stdout
            assert ": ok" in out.stdout and "masters in east: none" in out.stdout
            assert "48 of 48 earlier canaries read back; lost: none: ok" in out.stdout
            assert _masters_by_site(managed) == {"east": 0, "west": 2, "dr": 1}
            carts = cluster_view(status_json(managed)[1])
            assert any(
                f["reason"].startswith("site west holds 2 of 3 masters") for f in carts["findings"]
            ), carts["findings"]
            back = _run(managed, tmp_path / f"back{round_}.db", FAILBACK)
            assert back.returncode == 0, back.stdout[-4000:]
            assert "masters per site: east=1 west=1 dr=1" in back.stdout
            assert _masters_by_site(managed) == {"east": 1, "west": 1, "dr": 1}
    assert len(writer.acked) > 50
    assert writer.lost() == []
    layout = layout_of(managed)
    assert cluster.cluster_problems(managed.lab.runner(), layout, managed.lab.bins()) == []


def test_raw_redis_failover_on_a_cluster_is_refused_naming_the_playbook(
    managed: RunningLab, tmp_path: Path
) -> None:
    # an estate whose "sessions" is the Redis Cluster: the raw playbook aims at it by name
    text = managed.inventory.read_text()
    assert "\n  sessions:\n" in text and "\n  carts:\n" in text
    text = text.replace("\n  sessions:\n", "\n  sessions-sentinel:\n").replace(
        "\n  carts:\n", "\n  sessions:\n"
    )
    inv = managed.inventory.with_name("lab-cluster-as-sessions.yaml")
    inv.write_text(text)
    try:
        done = _run(
            managed, tmp_path / "raw.db", REPO / "playbooks" / "redis-failover.yaml", inventory=inv
        )
    finally:
        inv.unlink()
    assert done.returncode == 3, done.stdout[-3000:]
    assert "service sessions is a Redis Cluster (kind redis-cluster at" in done.stdout
    assert "use redis-cluster-site-failover" in done.stdout
    assert _masters_by_site(managed) == {"east": 1, "west": 1, "dr": 1}


def test_takeover_is_refused_while_the_site_answers(managed: RunningLab, tmp_path: Path) -> None:
    done = _run(managed, tmp_path / "t.db", FAILOVER, "takeover=yes")
    assert done.returncode == 3, done.stdout[-3000:]
    assert "TAKEOVER only when every node of east is dark: refused" in done.stdout
    assert _masters_by_site(managed) == {"east": 1, "west": 1, "dr": 1}


@pytest.mark.timeout(900)
def test_takeover_when_a_dark_site_held_two_masters(managed: RunningLab, tmp_path: Path) -> None:
    """The lab notes' trap: after a failover west holds 2 of 3 masters; west goes dark, the
    one master left is no majority, nothing is promoted and slots stay unserved. TAKEOVER on
    the orphaned replicas outside west brings every slot back."""
    assert cluster_back(managed) == []
    assert _run(managed, tmp_path / "pile.db", FAILOVER).returncode == 0
    assert _masters_by_site(managed)["west"] == 2
    managed.lab.chaos_down("west")
    try:

        def stuck() -> bool:
            carts = cluster_view(status_json(managed)[1])
            reasons = " | ".join(f["reason"] for f in carts["findings"])
            seen.append(reasons)
            return "cluster_state is not ok" in reasons and "suspected down (pfail)" in reasons

        seen: list[str] = []
        assert wait_until(stuck, 120, 1), seen[-3:]
        time.sleep(3)  # and it stays so: one master of three is no majority, nothing is promoted
        carts = cluster_view(status_json(managed)[1])
        assert carts["health"] == "crit" and carts["details"]["slots_suspected"] > 0, carts
        assert _masters_by_site(managed)["west"] == 2
        done = _run(
            managed, tmp_path / "take.db", FAILOVER, "from_site=west", "via_site=dr", "takeover=yes"
        )
        assert done.returncode == 0, done.stdout[-4000:]
        assert "the site is dark, TAKEOVER allowed: ok" in done.stdout
        assert done.stdout.count("CLUSTER FAILOVER TAKEOVER on ") >= 2
        assert "16384 of 16384 slots served; masters in west: none" in done.stdout
    finally:
        managed.lab.chaos_up("west")
    assert wait_until(lambda: _masters_by_site(managed)["west"] == 0, 60, 0.5)
    back = _run(managed, tmp_path / "back.db", FAILBACK, "to_site=west", "via_site=dr")
    assert back.returncode == 0, back.stdout[-4000:]
    assert cluster_back(managed) == []
    assert _masters_by_site(managed) == {"east": 1, "west": 1, "dr": 1}
