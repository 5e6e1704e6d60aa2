"""Measure ``drconsole status`` on a lab profile: one sweep of every member, end to end.

Why: the issue asks for the status sweep of the largest profile (``three-center``: nine
members on three sites). This brings up the profile on a throwaway lab, runs ``drconsole
status --json`` (a real process: interpreter start, inventory load, SSH to every site, one
probe per member, the shape checks) ``--rounds`` times, and prints each wall time, the median,
and whether every member was healthy.

Usage (as root, the lab needs it)::

    .venv/bin/python benchmarks/status_profile.py --profile three-center --net 25 --rounds 5
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.lab.lab import Lab  # noqa: E402


def main() -> int:
    """Bring the profile up, sweep ``--rounds`` times, take it down."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="three-center")
    parser.add_argument("--net", type=int, default=25, help="lab net (second octet)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=3.0, help="lab timeout scale")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="drstatus-bench-", dir="/tmp"))
    root.chmod(0o755)
    lab = Lab(root / "lab", args.net, timeout_scale=args.scale, profile=args.profile)
    inventory = root / "lab.yaml"
    try:
        up = lab.up(inventory)
        print(f"{args.profile} up in {up.seconds:.1f}s on net {args.net}", flush=True)
        walls = []
        for _ in range(args.rounds):
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "console", "status", "-i", str(inventory), "--json"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            walls.append(time.monotonic() - started)
            doc = json.loads(done.stdout)
            print(
                json.dumps(
                    {
                        "wall_s": round(walls[-1], 3),
                        "members": len(doc["members"]),
                        "healthy": doc["healthy"],
                    }
                ),
                flush=True,
            )
        print(
            f"status sweep of {args.profile}: median {statistics.median(walls):.2f} s", flush=True
        )
    finally:
        if lab.state() is not None:
            lab.down()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
