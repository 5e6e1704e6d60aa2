"""Measure the PostgreSQL drills on this machine: RTO, RPO and restore time, from the audit log.

Why: the issue asks for measured numbers, not configured ones. This brings up a throwaway lab,
runs each drill headless through the real CLI (as CI would) a number of times, and prints what
each run measured (the ``run_finished`` and ``canary_check`` events of its audit log) with the
median per drill:

- planned failover east -> west (pg-failover) and the full failback (pg-failback);
- unplanned failover with real loss: the run starts while east is up, replication into west is
  cut, more canaries are acknowledged on east, then east goes dark (pg-failover-unplanned);
  the failback after it (pg-failback --break-lock, pg_rewind after crash recovery);
- restore verification (pg-restore-verify): the restore step's duration and the restore RTO.

Usage (as root, the lab needs it)::

    .venv/bin/python benchmarks/drill_pg.py --net 44 --rounds 3

The lab lives under /tmp and is taken down (and its directory removed, unless ``--keep``) at
the end, also on failure.
"""

from __future__ import annotations

import argparse
import json
import shlex
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
from console.lab.lab import Lab  # noqa: E402
from console.lab.layout import PG_PORT  # noqa: E402

PGBIN = "/usr/lib/postgresql/15/bin"


class Bench:
    """A lab, an audit database, and the runs measured on them."""

    def __init__(self, net: int, scale: float) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="drpg-bench-", dir="/tmp"))
        self.root.chmod(0o755)
        self.lab = Lab(self.root / "lab", net, timeout_scale=scale)
        self.audit = self.root / "audit.db"
        self.inventory = self.root / "lab.yaml"
        self.rows: list[dict[str, Any]] = []
        self.known_hosts = self.root / "lab_known_hosts"

    def up(self) -> None:
        """Start the lab."""
        result = self.lab.up(self.inventory)
        self.known_hosts = result.known_hosts
        print(f"lab up in {result.seconds:.1f}s on net {self.lab.layout.net}", flush=True)

    def down(self) -> None:
        """Stop the lab."""
        if self.lab.state() is not None:
            self.lab.down()

    def _cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "console", "--audit", str(self.audit), *args]

    def run(self, label: str, playbook: str, *extra: str) -> str:
        """Run one playbook with ``--yes``; record its measurements; return its run id."""
        proc = subprocess.run(
            self._cmd("run", f"playbooks/{playbook}", "-i", str(self.inventory), "--yes", *extra),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        run_id = proc.stdout.split()[1] if proc.stdout.startswith("run ") else "?"
        self._record(label, run_id, proc.returncode)
        if proc.returncode != 0:
            raise SystemExit(f"{label} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
        return run_id

    def _record(self, label: str, run_id: str, code: int) -> None:
        with AuditStore(self.audit, create=False) as store:
            events = store.events(run_id)
        done = next((e.data for e in events if e.kind == "run_finished"), {})
        check = next((e.data for e in events if e.kind == "canary_check"), {})
        restore = next(
            (e.data for e in events if e.kind == "step_finished" and e.step_id == "restore"), {}
        )
        row = {
            "drill": label,
            "run": run_id,
            "exit": code,
            "rto_s": done.get("rto_seconds"),
            "rpo_s": done.get("rpo_seconds"),
            "rpo_writes": done.get("rpo_writes"),
            "acked": check.get("acknowledged"),
            "restore_step_s": restore.get("duration"),
        }
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def ssh(self, site: str, command: str) -> str:
        """A command on a site's host as the lab user (real OpenSSH)."""
        layout = self.lab.layout
        argv = [
            "ssh", "-p", "2222", "-i", str(layout.identity_file),
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
            f"drlab@{self.lab.address(site)}", command,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout

    def sql(self, site: str, sql: str) -> str:
        """SQL on a site's PostgreSQL."""
        return self.ssh(
            site,
            f"{PGBIN}/psql -X -q -A -t -h {self.lab.address(site)} -p {PG_PORT} -U postgres "
            f"-c {shlex.quote(sql)}",
        ).strip()

    def acked_of_latest(self) -> int:
        """Acknowledged canaries of the run in progress (0 before it has an audit record)."""
        if not self.audit.is_file():
            return 0
        with AuditStore(self.audit, create=False) as store:
            run_id = store.latest_run_id()
            known = {r["run"] for r in self.rows}
            if run_id is None or run_id in known:
                return 0
            return sum(
                1 for e in store.events(run_id, kinds=["canary_write"]) if e.data["ok"] is True
            )

    def wait_acked(self, n: int) -> None:
        """Until the running run has ``n`` acknowledged canaries (at most 5 minutes)."""
        deadline = time.monotonic() + 300
        while self.acked_of_latest() < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"no {n} acknowledged canaries within 300 s")
            time.sleep(0.2)

    def unplanned(self) -> None:
        """The unplanned drill with real loss (see the module docstring)."""
        log = (self.root / "unplanned.jsonl").open("w")
        proc = subprocess.Popen(
            self._cmd(
                "run", "playbooks/pg-failover-unplanned.yaml", "-i", str(self.inventory),
                "--yes", "--json",
            ),
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            self.wait_acked(3)
            self.sql("west", "ALTER SYSTEM SET primary_conninfo = ''")
            self.sql("west", "SELECT pg_reload_conf()")
            self.wait_acked(6)
            self.lab.chaos_down("east")
            proc.wait(timeout=1800)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
            self.lab.chaos_up("east")
        first = json.loads((self.root / "unplanned.jsonl").read_text().splitlines()[0])
        self._record("unplanned failover (real loss)", first["run_id"], proc.returncode or 0)

    def summary(self) -> None:
        """Median per drill."""
        print("\ndrill                                   runs  RTO median   RPO (writes/s) median")
        for label in dict.fromkeys(r["drill"] for r in self.rows):
            rows = [r for r in self.rows if r["drill"] == label]
            rto = [r["rto_s"] for r in rows if r["rto_s"] is not None]
            rpo = [r["rpo_s"] for r in rows if r["rpo_s"] is not None]
            writes = [r["rpo_writes"] for r in rows if r["rpo_writes"] is not None]
            restore = [r["restore_step_s"] for r in rows if r["restore_step_s"] is not None]
            line = f"{label:40} {len(rows):4}  "
            line += f"{statistics.median(rto):8.3f}s  " if rto else "       -   "
            if writes:
                line += f"{statistics.median(writes):g} / {statistics.median(rpo):.3f}s"
            if restore:
                line += f"  restore step median {statistics.median(restore):.3f}s"
            print(line)


def main() -> int:
    """Run the drills ``--rounds`` times on a fresh lab and print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", type=int, default=44, help="lab net (second octet)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=3.0, help="lab timeout scale")
    parser.add_argument("--keep", action="store_true", help="keep the lab directory and audit")
    args = parser.parse_args()
    bench = Bench(args.net, args.scale)
    try:
        bench.up()
        for _ in range(args.rounds):
            bench.run("planned failover east->west", "pg-failover.yaml")
            bench.run("failback (rewind, switchback)", "pg-failback.yaml")
            bench.unplanned()
            bench.run("failback after unplanned", "pg-failback.yaml", "--break-lock")
            bench.run("restore verification", "pg-restore-verify.yaml", "--var", "keep_backup=no")
        bench.summary()
    finally:
        bench.down()
        if not args.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
