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
- unplanned, each manager through its own playbook: ``patroni-failover-unplanned``,
  ``sentinel-failover-unplanned`` (east dark at their manual steps) and
  ``redis-cluster-failover-unplanned`` (dr dark: its cluster master, nothing else that fails
  over). Printed: each run's RTO (dark step to the first proven write) and RPO from the
  canary, with the timeouts the lab uses (Patroni ttl 20 s, loop_wait 2 s; Sentinel
  down-after 3000 ms; cluster-node-timeout 3000 ms). Then everything goes back home.
  ``--only unplanned`` runs just these.
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

    def dark_drill(self, label: str, playbook: str, site: str, *extra: str) -> None:
        """One unplanned playbook: ``site`` dark at its manual dark step, back at its manual
        return step; its RTO and RPO from the audit log."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "console", "--audit", str(self.audit), "run",
             f"playbooks/{playbook}", "-i", str(self.inventory), "--yes", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        run_id = "?"
        began = time.monotonic()
        dark = False
        out: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if line.startswith("run "):
                run_id = line.split()[1]
            if not dark and "manual: Take" in line and f" {site} " in line and "dark" in line:
                self.lab.chaos_down(site)
                dark = True
            if dark and f"manual: Bring {site} back" in line:
                self.lab.chaos_up(site)
        code = proc.wait(timeout=900)
        self.lab.chaos_up(site)
        if code != 0:
            raise SystemExit(f"{playbook} failed (exit {code}):\n{''.join(out)[-4000:]}")
        self._measured(label, run_id, time.monotonic() - began)

    def home(self) -> None:
        """Patroni's leader and Sentinel's master back to east, the cluster one master per
        site."""
        redis_cluster.restore_placement(self.lab.runner(), self.lab.layout, self.lab.bins())
        self.wait_healthy()
        leader = patroni.get_json(f"http://{self.addr('west')}:{patroni.REST_PORT}/cluster") or {}
        if [m["name"] for m in leader.get("members", []) if m["role"] == "leader"] != ["pg-east"]:
            self.run("back: patroni-switchover west->east", "patroni-switchover.yaml",
                     "--var", "from_site=west", "--var", "to_site=east")  # fmt: skip
        began = time.monotonic()  # a returning old master says master until Sentinel demotes it
        while [self.redis_role(s) for s in ("east", "west")].count("master") != 1:
            if time.monotonic() - began > 180:
                raise SystemExit("Sentinel did not demote the returning old master in 180 s")
            time.sleep(1)
        if self.redis_role("east") != "master":
            self.run("back: sentinel-failover west->east", "sentinel-failover.yaml",
                     "--var", "from_site=west", "--var", "to_site=east")  # fmt: skip
        redis_cluster.restore_placement(self.lab.runner(), self.lab.layout, self.lab.bins())
        self.wait_healthy()

    def unplanned(self) -> None:
        """The three unplanned drills, each followed by the way home."""
        self.dark_drill(
            f"unplanned: Patroni dark -> writable (ttl {patroni.TTL} s)",
            "patroni-failover-unplanned.yaml",
            "east",
        )
        self.home()
        self.dark_drill(
            f"unplanned: Sentinel dark -> writable (down-after {sentinel.DOWN_AFTER_MS} ms)",
            "sentinel-failover-unplanned.yaml",
            "east",
        )
        self.home()
        self.dark_drill(
            f"unplanned: Cluster dark -> writable (node-timeout {redis_cluster.NODE_TIMEOUT_MS}"
            " ms)",
            "redis-cluster-failover-unplanned.yaml",
            "dr",
            "--var",
            "dark_site=dr",
        )
        self.home()


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
    parser.add_argument("--only", choices=("all", "cluster", "unplanned"), default="all")
    args = parser.parse_args()
    bench = Bench(args.net, args.scale)
    try:
        up = bench.lab.up(bench.inventory)
        print(f"managed lab up in {up.seconds:.1f}s on net {args.net}", flush=True)
        bench.wait_healthy()
        for _ in range(args.rounds):
            if args.only == "unplanned":
                bench.unplanned()
                continue
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
    if args.only == "unplanned":
        pairs = []
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
    print("  unplanned, through each manager's playbook (RTO: dark step to the first write):")
    for who, timeouts in (
        ("Patroni", f"east dark; ttl {patroni.TTL} s, loop_wait {patroni.LOOP_WAIT} s"),
        ("Sentinel", f"east dark; down-after {sentinel.DOWN_AFTER_MS} ms"),
        ("Cluster", f"dr dark; cluster-node-timeout {redis_cluster.NODE_TIMEOUT_MS} ms"),
    ):
        label = f"unplanned: {who}"
        rtos = [r["rto_s"] for r in rows if r["what"].startswith(label) and r["rto_s"]]
        span = f" ({min(rtos)}-{max(rtos)})" if rtos else ""
        print(
            f"    {who:9} {_median(rows, label)} s{span}, RPO writes median "
            f"{_median(rows, label, 'rpo_writes')}, seconds median "
            f"{_median(rows, label, 'rpo_s')} ({timeouts})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
