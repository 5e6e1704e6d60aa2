"""Measure the managed drills against the managers' own commands issued by hand.

Why: a console that drives Patroni or Sentinel must not cost much more than the manager's own
command, and must lose nothing. This brings up a throwaway ``managed`` lab and, per round:

- Patroni planned: ``patroni-switchover`` east -> west through drconsole (its RTO: the POST
  to the first proven write, and the RPO from the canary), against ``patronictl switchover
  --force`` west -> east alone (from the call to the first INSERT the candidate accepts,
  polled from the moment of the call);
- Sentinel planned: ``sentinel-failover`` east -> west through drconsole (RTO: the write pause
  to the first proven write), against ``SENTINEL FAILOVER`` west -> east by hand (from the
  call to the first SET the new master accepts);
- unplanned, one dark site for both managers: ``patroni-failover-unplanned`` darkens east at
  its manual step; the script also polls Redis on west. Printed: Patroni's dark-to-writable
  (the run's RTO) and Sentinel's (from the darkening to the first SET on west), with the
  timeouts the lab uses (Patroni ttl 20 s, loop_wait 2 s; Sentinel down-after 3000 ms).
  Then both are switched back to east.
- Redis Cluster: ``redis-cluster-site-failover`` (east's master out to its replica in west;
  RTO: the coordinated CLUSTER FAILOVER to the last proven write across the slots) against
  ``CLUSTER FAILOVER`` on that replica by hand (from the call to the first SET of a key of
  those slots that the replica accepts as their master); and ``redis-cluster-site-failback``
  against ``CLUSTER FAILOVER`` on east's node by hand. The by-hand pair runs between the two
  drconsole runs, in the same directions. ``--only cluster`` runs just these rounds.

Medians of the rounds are printed side by side at the end. Usage (as root)::

    .venv/bin/python benchmarks/drill_managed.py --net 45 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.audit.store import AuditStore  # noqa: E402
from console.lab import cluster as redis_cluster  # noqa: E402
from console.lab import patroni, sentinel  # noqa: E402
from console.lab.lab import Lab  # noqa: E402
from console.lab.layout import PG_PORT, REDIS_PORT  # noqa: E402
from console.lab.profiles.managed import ManagedProfile  # noqa: E402

PSQL = "/usr/lib/postgresql/15/bin/psql"
SETTLE = 10.0
"""Seconds (untimed) between two cluster failovers: a CLUSTER FAILOVER issued within a few
seconds of the previous one was accepted and then timed out (5 s) on the lab, in drconsole's
runs and by hand alike, which measured that timeout instead of the failover."""


class Bench:
    """A managed lab, an audit database, and what was measured on them."""

    def __init__(self, net: int, scale: float) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="drmanaged-bench-", dir="/tmp"))
        self.root.chmod(0o755)
        self.lab = Lab(self.root / "lab", net, timeout_scale=scale, profile="managed")
        self.audit = self.root / "audit.db"
        self.inventory = self.root / "lab-managed.yaml"
        self.rows: list[dict[str, Any]] = []
        self.patronictl = ManagedProfile().find_programs()["patronictl"]

    def addr(self, site: str) -> str:
        """A site's address."""
        return self.lab.address(site)

    def run(self, label: str, playbook: str, *extra: str) -> dict[str, Any]:
        """One playbook headless through the CLI; its measurements from the audit log."""
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "console", "--audit", str(self.audit), "run",
             f"playbooks/{playbook}", "-i", str(self.inventory), "--yes", *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        wall = time.monotonic() - began
        if proc.returncode != 0:
            raise SystemExit(f"{label} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
        return self._measured(label, proc.stdout.split()[1], wall)

    def _measured(self, label: str, run_id: str, wall: float) -> dict[str, Any]:
        with AuditStore(self.audit, create=False) as store:
            events = store.events(run_id)
        done = next((e.data for e in events if e.kind == "run_finished"), {})
        row = {
            "what": label,
            "rto_s": done.get("rto_seconds"),
            "rpo_s": done.get("rpo_seconds"),
            "rpo_writes": done.get("rpo_writes"),
            "run_wall_s": round(wall, 2),
        }
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        return row

    def record(self, label: str, seconds: float, **extra: Any) -> None:
        """A measurement made by this script."""
        row = {"what": label, "rto_s": round(seconds, 3), **extra}
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    # -- writes polled from outside ---------------------------------------------------------

    def pg_write(self, site: str) -> bool:
        """One INSERT on the site's PostgreSQL (True when it committed)."""
        sql = (
            "CREATE TABLE IF NOT EXISTS bench_probe (at timestamptz DEFAULT now()); "
            "INSERT INTO bench_probe DEFAULT VALUES"
        )
        done = subprocess.run(
            [PSQL, "-X", "-q", "-h", self.addr(site), "-p", str(PG_PORT), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=10, check=False,
            env={"PGCONNECT_TIMEOUT": "2", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        return done.returncode == 0

    def redis_write(self, site: str) -> bool:
        """One SET on the site's Redis (True when it was accepted)."""
        done = subprocess.run(
            ["timeout", "3", "redis-cli", "-h", self.addr(site), "-p", str(REDIS_PORT), "SET",
             "bench:probe", str(time.time())],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return done.stdout.strip() == "OK"

    def redis_role(self, site: str) -> str:
        """``ROLE`` of the site's Redis (``master``, ``slave``, or ``?``)."""
        done = subprocess.run(
            ["timeout", "3", "redis-cli", "-h", self.addr(site), "-p", str(REDIS_PORT), "ROLE"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return (done.stdout.split() or ["?"])[0]

    def redis_promoted_write(self, site: str) -> bool:
        """A SET accepted on the site's Redis once it is a master that Sentinel promoted
        (its own Sentinel names it): a replica refuses writes, so only then does it count."""
        done = subprocess.run(
            ["timeout", "3", "redis-cli", "-h", self.addr(site), "-p",
             str(sentinel.SENTINEL_PORT), "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
             sentinel.MASTER_NAME],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        named = done.stdout.split()[:1] == [self.addr(site)]
        return named and self.redis_role(site) == "master" and self.redis_write(site)

    def until_write(self, write: Any, site: str, began: float, limit: float = 300) -> float:
        """Seconds from ``began`` to the first accepted write on ``site``."""
        while time.monotonic() - began < limit:
            if write(site):
                return time.monotonic() - began
            time.sleep(0.05)
        raise SystemExit(f"no write accepted on {site} within {limit:.0f} s")

    # -- by hand -----------------------------------------------------------------------------

    def patronictl_switchover(self, frm: str, to: str) -> None:
        """``patronictl switchover --force`` alone: call to first write on the candidate."""
        config = self.lab.layout.site(to).root / "patroni" / "patroni.yml"
        began = time.monotonic()
        proc = subprocess.Popen(
            [str(self.patronictl), "-c", str(config), "switchover", "--leader", f"pg-{frm}",
             "--candidate", f"pg-{to}", "--force"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        first = self.until_write(self.pg_write, to, began)
        out, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise SystemExit(f"patronictl switchover failed: {out}")
        self.record(
            f"patronictl switchover {frm}->{to}", first,
            command_s=round(time.monotonic() - began, 2),
        )  # fmt: skip
        self.wait_healthy()

    def sentinel_failover_by_hand(self, frm: str, to: str) -> None:
        """``SENTINEL FAILOVER`` by hand: call to the first SET the new master accepts."""
        began = time.monotonic()
        subprocess.run(
            ["redis-cli", "-h", self.addr(to), "-p", str(sentinel.SENTINEL_PORT), "SENTINEL",
             "FAILOVER", sentinel.MASTER_NAME],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        first = self.until_write(self.redis_write, to, began)
        self.record(f"SENTINEL FAILOVER by hand {frm}->{to}", first)
        self.wait_healthy()

    def wait_healthy(self, limit: float = 180) -> None:
        """Until the lab's own health check is clean and exactly one Redis is a master (an
        old master stays one for about 10 s after a SENTINEL FAILOVER)."""
        began = time.monotonic()
        while self.lab.health() or sorted(self.redis_role(s) for s in ("east", "west")) != [
            "master",
            "slave",
        ]:
            if time.monotonic() - began > limit:
                raise SystemExit(f"lab not healthy: {self.lab.health()}")
            time.sleep(0.5)

    # -- Redis Cluster -----------------------------------------------------------------------

    def cluster_cli(self, site: str, port: int, *args: str) -> str:
        """``redis-cli`` on one cluster node (no redirections followed)."""
        done = subprocess.run(
            ["timeout", "3", "redis-cli", "-h", self.addr(site), "-p", str(port), *args],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return done.stdout.strip()

    def east_slot_key(self) -> str:
        """A key whose slot east's master serves after ``lab up`` (0-5460)."""
        for i in range(1000):
            key = f"bench:cluster:{i}"
            slot = self.cluster_cli("east", 16700, "CLUSTER", "KEYSLOT", key)
            if slot.isdigit() and int(slot) <= 5460:
                return key
        raise SystemExit("no key found in slots 0-5460")

    def cluster_write(self, site: str, port: int, key: str) -> bool:
        """A SET the node accepts itself (it is the master of the key's slot)."""
        return self.cluster_cli(site, port, "SET", key, str(time.time())) == "OK"

    def cluster_failover_by_hand(self, site: str, port: int, label: str, key: str) -> None:
        """``CLUSTER FAILOVER`` on one replica: call to the first SET it accepts as master.

        First (not timed) until the replica's link to its master is up and 2 s more: a manual
        failover issued too early is accepted with OK and then silently times out after 5 s
        (seen on the lab right after another failover); it is asked again after 6 s (timed)."""
        limit = time.monotonic() + 120
        while "master_link_status:up" not in self.cluster_cli(site, port, "INFO", "replication"):
            if time.monotonic() > limit:
                raise SystemExit(f"replica {site}:{port} never linked to its master")
            time.sleep(0.1)
        time.sleep(2)  # settle: a CLUSTER FAILOVER right after another one timed out (5 s)
        began = time.monotonic()
        asked = [began]

        def write(_site: str) -> bool:
            if time.monotonic() - asked[-1] > 6:  # what an operator does: ask again
                self.cluster_cli(site, port, "CLUSTER", "FAILOVER")
                asked.append(time.monotonic())
            return self.cluster_write(site, port, key)

        self.cluster_cli(site, port, "CLUSTER", "FAILOVER")
        first = self.until_write(write, site, began)
        if len(asked) > 1:
            print(f"  (CLUSTER FAILOVER on {site}:{port} asked {len(asked)} times)", flush=True)
        self.record(label, first)
        self.wait_cluster()

    def wait_cluster(self, limit: float = 180) -> None:
        """Until every node says cluster_state ok, all slots served, no node failed."""
        began = time.monotonic()
        layout = self.lab.layout
        while True:
            problems = [
                p
                for p in redis_cluster.cluster_problems(self.lab.runner(), layout, self.lab.bins())
                if "slots served" in p or "cluster_state" in p or "flagged" in p
            ]
            if not problems:
                return
            if time.monotonic() - began > limit:
                raise SystemExit(f"cluster not healthy: {problems}")
            time.sleep(0.3)

    def cluster_round(self) -> None:
        """drconsole out, by hand back, by hand out, drconsole back (east's master)."""
        key = self.east_slot_key()
        time.sleep(SETTLE)
        self.run("drconsole redis-cluster-site-failover east out",
                 "redis-cluster-site-failover.yaml")  # fmt: skip
        self.wait_cluster()
        time.sleep(SETTLE)
        self.cluster_failover_by_hand("east", 16700, "CLUSTER FAILOVER by hand east back", key)
        time.sleep(SETTLE)
        self.cluster_failover_by_hand("west", 16701, "CLUSTER FAILOVER by hand east out", key)
        time.sleep(SETTLE)
        self.run("drconsole redis-cluster-site-failback east back",
                 "redis-cluster-site-failback.yaml")  # fmt: skip
        self.wait_cluster()

    # -- unplanned ---------------------------------------------------------------------------

    def unplanned(self) -> None:
        """One dark east: Patroni's failover measured by the playbook, Sentinel's by polling."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "console", "--audit", str(self.audit), "run",
             "playbooks/patroni-failover-unplanned.yaml", "-i", str(self.inventory), "--yes"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        redis: dict[str, float] = {}
        poller: threading.Thread | None = None
        run_id = "?"
        began = time.monotonic()
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("run "):
                run_id = line.split()[1]
            if "manual: Take the leader's site east dark" in line and poller is None:
                self.lab.chaos_down("east")
                dark = time.monotonic()

                def poll(dark: float = dark) -> None:
                    redis["s"] = self.until_write(self.redis_promoted_write, "west", dark)

                poller = threading.Thread(target=poll, daemon=True)
                poller.start()
            if "✓ prove-writes" in line:
                if poller is not None:
                    poller.join(timeout=300)
                self.lab.chaos_up("east")
        code = proc.wait(timeout=900)
        self.lab.chaos_up("east")
        if code != 0:
            raise SystemExit(f"patroni-failover-unplanned failed (exit {code})")
        self._measured("unplanned: Patroni dark -> writable (ttl 20 s)", run_id,
                       time.monotonic() - began)  # fmt: skip
        if "s" in redis:
            self.record("unplanned: Sentinel dark -> writable (down-after 3000 ms)", redis["s"])
        self.wait_healthy()
        self.run("back: patroni-switchover west->east", "patroni-switchover.yaml",
                 "--var", "from_site=west", "--var", "to_site=east")  # fmt: skip
        if self.redis_role("east") != "master":
            self.run("back: sentinel-failover west->east", "sentinel-failover.yaml",
                     "--var", "from_site=west", "--var", "to_site=east")  # fmt: skip
        self.wait_healthy()


def _median(rows: list[dict[str, Any]], prefix: str, key: str = "rto_s") -> float | None:
    values = [r[key] for r in rows if r["what"].startswith(prefix) and r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def main() -> int:
    """Bring the lab up, measure, print the medians side by side, take it down."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", type=int, default=45)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--keep", action="store_true", help="keep the lab directory")
    parser.add_argument("--only", choices=("all", "cluster"), default="all")
    args = parser.parse_args()
    bench = Bench(args.net, args.scale)
    try:
        up = bench.lab.up(bench.inventory)
        print(f"managed lab up in {up.seconds:.1f}s on net {args.net}", flush=True)
        bench.wait_healthy()
        for _ in range(args.rounds):
            bench.cluster_round()
            if args.only == "cluster":
                continue
            bench.run("drconsole patroni-switchover east->west", "patroni-switchover.yaml")
            bench.wait_healthy()
            bench.patronictl_switchover("west", "east")
            bench.run("drconsole sentinel-failover east->west", "sentinel-failover.yaml")
            bench.wait_healthy()
            bench.sentinel_failover_by_hand("west", "east")
            bench.unplanned()
    finally:
        if bench.lab.state() is not None:
            bench.lab.down()
        if not args.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    rows = bench.rows
    print(f"\nmedians of {args.rounds} round(s), seconds to the first accepted write:")
    pairs = [
        ("Patroni switchover", "drconsole patroni-switchover", "patronictl switchover"),
        ("Sentinel failover", "drconsole sentinel-failover", "SENTINEL FAILOVER by hand"),
        (
            "Cluster east out",
            "drconsole redis-cluster-site-failover",
            "CLUSTER FAILOVER by hand east out",
        ),
        (
            "Cluster east back",
            "drconsole redis-cluster-site-failback",
            "CLUSTER FAILOVER by hand east back",
        ),
    ]
    if args.only == "cluster":
        pairs = [p for p in pairs if p[0].startswith("Cluster")]
    for what, ours, theirs in pairs:
        a, b = _median(rows, ours), _median(rows, theirs)
        ratio = f"{a / b:.2f}x" if a and b else "?"
        print(
            f"  {what:20} drconsole {a} s (RPO writes lost, median "
            f"{_median(rows, ours, 'rpo_writes')})  vs by hand {b} s  -> {ratio}"
        )
    for label in ("drconsole redis-cluster-site-failover", "drconsole redis-cluster-site-failback"):
        walls = [r["run_wall_s"] for r in rows if r["what"].startswith(label)]
        if walls:
            print(f"  {label}: whole run {min(walls)}-{max(walls)} s")
    if args.only == "cluster":
        return 0
    print(
        f"  unplanned, east dark: Patroni {_median(rows, 'unplanned: Patroni')} s "
        f"(ttl {patroni.TTL} s, loop_wait {patroni.LOOP_WAIT} s, RPO writes "
        f"{_median(rows, 'unplanned: Patroni', 'rpo_writes')}), Sentinel "
        f"{_median(rows, 'unplanned: Sentinel')} s (down-after {sentinel.DOWN_AFTER_MS} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
