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

from console.audit.store import AuditStore
from console.events.measure import CanaryCheck, CanaryWrite
from console.events.registry import decode
from console.lab import cluster
from console.lab.procs import wait_until
from console.probes.canary import CLUSTER_GROUPS, RedisClusterCanary, key_slot
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


def _canary(audit: Path) -> tuple[CanaryCheck, list[CanaryWrite]]:
    """The engine's canary check of the run in ``audit`` and its writes."""
    store = AuditStore(audit)
    run_id = store.latest_run_id()
    assert run_id is not None
    events = [decode(e.kind, e.data) for e in store.events(run_id)]
    checks = [e for e in events if isinstance(e, CanaryCheck)]
    assert checks, "the run has no canary check"
    return checks[-1], [e for e in events if isinstance(e, CanaryWrite)]


def _assert_no_canary_lost(audit: Path) -> CanaryCheck:
    check, writes = _canary(audit)
    assert check.error is None, check
    assert check.acknowledged is not None and check.acknowledged >= 3, check
    assert check.missing == () and check.rpo_writes == 0 and check.rpo_seconds == 0, check
    assert check.present is not None and check.present >= check.acknowledged
    assert sum(w.ok for w in writes) == check.acknowledged
    return check


def test_canary_sets_sit_on_the_slots_the_server_computes(managed: RunningLab) -> None:
    # the canary's hash slots by the console's CRC16 = CLUSTER KEYSLOT of a real node, and
    # they reach every master of the lab's cluster
    owners = set()
    nodes = subprocess.run(
        ["redis-cli", "-h", managed.addresses["dr"], "-p", "16700", "CLUSTER", "NODES"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    ranges: dict[str, list[tuple[int, int]]] = {}  # master endpoint -> its slot ranges
    for line in nodes.splitlines():
        parts = line.split()
        if len(parts) > 8 and "master" in parts[2]:
            for r in parts[8:]:
                lo, _, hi = r.partition("-")
                ranges.setdefault(parts[1].split("@")[0], []).append((int(lo), int(hi or lo)))
    for g in range(CLUSTER_GROUPS):
        key = RedisClusterCanary.group_key("01JTEST", g)
        said = subprocess.run(
            ["redis-cli", "-h", managed.addresses["dr"], "-p", "16700", "CLUSTER", "KEYSLOT", key],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        assert said == str(key_slot(key)), key
        owners |= {m for m, rs in ranges.items() if any(a <= key_slot(key) <= b for a, b in rs)}
    assert len(owners) == len(ranges) == 3


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
            _assert_no_canary_lost(
                tmp_path / f"out{round_}.db"
            )  # the engine's, through the cluster
            assert _masters_by_site(managed) == {"east": 0, "west": 2, "dr": 1}
            carts = cluster_view(status_json(managed)[1])
            assert any(
                f["reason"].startswith("site west holds 2 of 3 masters") for f in carts["findings"]
            ), carts["findings"]
            back = _run(managed, tmp_path / f"back{round_}.db", FAILBACK)
            assert back.returncode == 0, back.stdout[-4000:]
            assert "masters per site: east=1 west=1 dr=1" in back.stdout
            assert _masters_by_site(managed) == {"east": 1, "west": 1, "dr": 1}
            _assert_no_canary_lost(tmp_path / f"back{round_}.db")
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
        # the engine's canary: while the dark west held two of three masters the whole cluster
        # refused writes (CLUSTERDOWN, cluster_state fail), so no canary was acknowledged
        # before the outage mark and the engine says the RPO is not measurable (it does not
        # claim "0 lost"); every canary acknowledged after the TAKEOVER reads back. The run
        # ends about a second after the cluster serves again, so the loop may land one canary
        # or none there: the check's own last write on the topology the run leaves is the one
        # that is always made. Every write refused before it was the cluster's CLUSTERDOWN,
        # none a wait on the dark west (the canary passes over a host that did not answer).
        check, writes = _canary(tmp_path / "take.db")
        first = next(i for i, w in enumerate(writes) if w.ok)
        assert first >= 1 and all("CLUSTERDOWN" in (w.error or "") for w in writes[:first]), [
            (w.host, w.error) for w in writes[:first]
        ]
        assert writes[-1].ok, writes[-1]  # the check's last write
        assert (check.error or "").startswith(
            "RPO not measurable: no canary was acknowledged before the outage began"
        ), check
        assert check.acknowledged is not None and check.acknowledged >= 1, check
        assert check.missing == () and (check.present or 0) >= check.acknowledged, check
        print(f"TAKEOVER canary: {check.acknowledged} acknowledged, lost {check.missing}")
    finally:
        managed.lab.chaos_up("west")
    assert wait_until(lambda: _masters_by_site(managed)["west"] == 0, 60, 0.5)
    back = _run(managed, tmp_path / "back.db", FAILBACK, "to_site=west", "via_site=dr")
    assert back.returncode == 0, back.stdout[-4000:]
    assert cluster_back(managed) == []
    assert _masters_by_site(managed) == {"east": 1, "west": 1, "dr": 1}
