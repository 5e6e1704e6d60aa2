"""Helpers for tests on the managed lab's Redis Cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from console.lab import cluster
from console.lab.layout import LabLayout
from console.lab.procs import read_pidfile
from tests.support.lab import RunningLab

REPO = Path(__file__).resolve().parents[2]


def layout_of(lab: RunningLab) -> LabLayout:
    """The running lab's layout."""
    return LabLayout.create(lab.lab.directory, lab.net)


def cluster_back(lab: RunningLab) -> list[str]:
    """Put the cluster's masters back one per site (after a dark site or a drill); the
    placement problems left (empty: back as ``lab up`` made it)."""
    return cluster.restore_placement(lab.lab.runner(), layout_of(lab), lab.lab.bins())


def status_json(lab: RunningLab) -> tuple[int, dict[str, Any]]:
    """``drconsole status --json`` on the lab's inventory: exit code and document."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "status",
            "-i",
            str(lab.inventory),
            "--timeout",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, json.loads(done.stdout)


def cluster_view(data: dict[str, Any], service: str = "carts") -> dict[str, Any]:
    """The Redis Cluster's view in a status document."""
    view: dict[str, Any] = next(m for m in data["managers"] if m["service"] == service)
    return view


def node_pid(lab: RunningLab, site: str, port: int) -> int:
    """The pid of the cluster node at ``site``:``port``."""
    node = cluster.ClusterNode(layout_of(lab).site(site), port, lab.lab.bins())
    pid = read_pidfile(node.pidfile)
    assert pid is not None
    return pid


def redis(lab: RunningLab, site: str, port: int, *args: str) -> str:
    """``redis-cli`` against one node (no redirections followed)."""
    return subprocess.run(
        ["redis-cli", "-h", lab.addresses[site], "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
