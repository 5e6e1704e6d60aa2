"""Putting the managed lab back at home after a drill that took a site dark.

A dark east takes everything of east with it: Patroni's leader, the Sentinel-watched Redis
master and a Redis Cluster master. Whichever of them failed over (and the unplanned drills
bring the site back at different moments, so which did is not fixed), this puts each back
through its own playbook or the lab's placement repair, so that the next module finds the lab
as ``lab up`` made it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from console.lab import patroni, sentinel
from console.lab.procs import wait_until
from tests.managed.cluster_support import cluster_back
from tests.support.lab import RunningLab

REPO = Path(__file__).resolve().parents[2]


def playbook_argv(
    lab: RunningLab, audit: Path, name: str, *variables: str, flags: tuple[str, ...] = ()
) -> list[str]:
    """``drconsole run playbooks/NAME.yaml --yes`` on the lab, each of ``variables`` a
    ``--var KEY=VALUE``, then ``flags``."""
    extra = [arg for v in variables for arg in ("--var", v)] + list(flags)
    return [
        sys.executable,
        "-m",
        "console",
        "--audit",
        str(audit),
        "run",
        str(REPO / "playbooks" / f"{name}.yaml"),
        "-i",
        str(lab.inventory),
        "--yes",
        *extra,
    ]


def run_playbook(
    lab: RunningLab, audit: Path, name: str, *variables: str, flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run :func:`playbook_argv` to its end (10 minutes at most)."""
    return subprocess.run(
        playbook_argv(lab, audit, name, *variables, flags=flags),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def start_playbook(
    lab: RunningLab, audit: Path, name: str, *variables: str, flags: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """Start :func:`playbook_argv`, its output (stderr in it) a pipe read line by line while it
    runs, so a test can act on the lab at a step (take a site dark at a manual step)."""
    return subprocess.Popen(
        playbook_argv(lab, audit, name, *variables, flags=flags),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class DarkRun:
    """What :func:`drive_dark_drill` saw: the run's exit status, its output, and when (by
    ``time.monotonic()``) the site went dark, the run proved a write, the site came back."""

    code: int
    text: str
    dark_at: float | None
    writable_at: float | None
    back_at: float | None


def drive_dark_drill(
    lab: RunningLab,
    proc: subprocess.Popen[str],
    site: str,
    dark_prompt: str,
    back_prompt: str | None,
    log: Path,
) -> DarkRun:
    """Follow an unplanned drill's output as its operator would: take ``site`` dark when the
    line holding ``dark_prompt`` appears (a manual step), note the first ``✓ prove-writes``,
    bring the site back at ``back_prompt`` (None: as soon as writes are proven). The site is
    back and the process ended whatever happens; the output is kept in ``log`` for a
    failure's post-mortem."""
    out: list[str] = []
    dark_at = writable_at = back_at = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if dark_at is None and dark_prompt in line:
                lab.lab.chaos_down(site)
                dark_at = time.monotonic()
            if writable_at is None and "✓ prove-writes" in line:
                writable_at = time.monotonic()
                if back_prompt is None:
                    back_at = time.monotonic()
                    lab.lab.chaos_up(site)
            if dark_at is not None and back_prompt is not None and back_prompt in line:
                back_at = time.monotonic()
                lab.lab.chaos_up(site)
        code = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
        lab.lab.chaos_up(site)
    text = "".join(out)
    log.write_text(text)
    return DarkRun(code, text, dark_at, writable_at, back_at)


def patroni_leaders(lab: RunningLab) -> list[str]:
    """The members Patroni names leader (asked of west's REST API)."""
    data = patroni.get_json(f"http://{lab.addresses['west']}:{patroni.REST_PORT}/cluster") or {}
    return [m["name"] for m in data.get("members", []) if m["role"] == "leader"]


def redis_role(lab: RunningLab, site: str) -> str:
    """``ROLE`` of the Sentinel-watched Redis at ``site`` (master or slave)."""
    done = subprocess.run(
        ["redis-cli", "-h", lab.addresses[site], "-p", "16379", "ROLE"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()[0]


def home_again(lab: RunningLab, tmp_path: Path, dark: str = "east") -> None:
    """Bring ``dark`` back and every manager's primary home to east, asserting each step."""
    lab.lab.chaos_up(dark)
    cluster_back(lab)  # the cluster's masters one per site: the health below includes it
    assert wait_until(lambda: lab.lab.health() == [], 180, 1), lab.lab.health()
    leaders = patroni_leaders(lab)
    if leaders != ["pg-east"]:
        frm = leaders[0].removeprefix("pg-")
        back = run_playbook(
            lab, tmp_path / "home-pg.db", "patroni-switchover", f"from_site={frm}", "to_site=east"
        )
        assert back.returncode == 0, back.stdout[-3000:]
        assert cluster_back(lab) == []
        assert wait_until(lambda: lab.lab.health() == [], 180, 1), lab.lab.health()
    assert patroni_leaders(lab) == ["pg-east"]
    # a returning old master still says "master" until Sentinel converts it: go by the
    # Sentinels' view once it and the servers' roles agree
    assert wait_until(lambda: _sentinels_settled(lab), 120, 1), "Sentinel did not settle"
    if _sentinel_master(lab) != f"{lab.addresses['east']}:16379":
        home = run_playbook(
            lab, tmp_path / "home-redis.db", "sentinel-failover", "from_site=west", "to_site=east"
        )
        assert home.returncode == 0, home.stdout[-3000:]
    assert redis_role(lab, "east") == "master" and redis_role(lab, "west") == "slave"
    assert _sentinel_master(lab) == f"{lab.addresses['east']}:16379"
    assert cluster_back(lab) == []
    assert wait_until(lambda: lab.lab.health() == [], 180, 1), lab.lab.health()


def sentinel_masters(
    lab: RunningLab, *, check: bool = True, sites: Iterable[str] | None = None
) -> list[str]:
    """The master each site's Sentinel names (``ADDRESS:PORT``), in site order (or the order
    of ``sites``); with ``check=False`` a Sentinel that does not answer gives ``""`` instead
    of failing."""
    out = []
    for address in (lab.addresses[s] for s in sites) if sites else lab.addresses.values():
        done = subprocess.run(
            [
                "redis-cli",
                "-h",
                address,
                "-p",
                str(sentinel.SENTINEL_PORT),
                "SENTINEL",
                "GET-MASTER-ADDR-BY-NAME",
                sentinel.MASTER_NAME,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )
        out.append(":".join(done.stdout.split()))
    return out


def _sentinel_master(lab: RunningLab) -> str:
    """The master every Sentinel names (one of them, when they disagree)."""
    return sorted(set(sentinel_masters(lab, check=False)))[0]


def _sentinels_settled(lab: RunningLab) -> bool:
    """Every Sentinel names one master, that server is a master and the other a replica."""
    named = set(sentinel_masters(lab, check=False))
    if len(named) != 1:
        return False
    master = next(iter(named))
    roles = {site: redis_role(lab, site) for site in ("east", "west")}
    want = {s: "master" if f"{lab.addresses[s]}:16379" == master else "slave" for s in roles}
    return roles == want
