"""etcd in the managed lab: three members, one per site, a real Raft quorum.

Patroni keeps its leader key in etcd, so etcd's quorum is what decides which PostgreSQL may be
primary. One member per site (east, west, dr) means a dark site leaves two members: still a
majority, so Patroni in the two surviving sites can elect a new leader, and the dark site's
Patroni cannot renew its key (it demotes itself on return). Every ``up`` uses a fresh
``--initial-cluster-token`` and fresh data directories: a member restarted into a directory of
an earlier cluster refuses to join (lab-notes-wave2, etcd trap).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from console.lab.errors import LabError
from console.lab.layout import LabLayout, SiteLayout
from console.lab.osuser import popen_as
from console.lab.procs import proc_info, wait_until
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

CLIENT_PORT = 12379
"""etcd's client port (Patroni and etcdctl talk to it) on every site's address."""
PEER_PORT = 12380
"""etcd's peer (Raft) port on every site's address."""


@dataclass(frozen=True, slots=True)
class EtcdMember:
    """One etcd member of the lab."""

    site: SiteLayout
    """Where it runs."""

    @property
    def name(self) -> str:
        """The member name (``etcd-east``)."""
        return f"etcd-{self.site.name}"

    @property
    def directory(self) -> Path:
        """The member's directory (data dir and log under it)."""
        return self.site.root / "etcd"

    @property
    def data_dir(self) -> Path:
        """etcd's ``--data-dir``."""
        return self.directory / "data"

    @property
    def log(self) -> Path:
        """Where its output goes."""
        return self.directory / "etcd.log"

    @property
    def client_url(self) -> str:
        """``http://ADDRESS:12379``."""
        return f"http://{self.site.address}:{CLIENT_PORT}"

    @property
    def peer_url(self) -> str:
        """``http://ADDRESS:12380``."""
        return f"http://{self.site.address}:{PEER_PORT}"

    def argv(self, etcd: Path, initial_cluster: str, token: str) -> list[str]:
        """The server command line."""
        return [
            str(etcd),
            "--name",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            self.client_url,
            "--advertise-client-urls",
            self.client_url,
            "--listen-peer-urls",
            self.peer_url,
            "--initial-advertise-peer-urls",
            self.peer_url,
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            token,
            "--listen-metrics-urls",
            "",
        ]


def members(layout: LabLayout) -> list[EtcdMember]:
    """One member per site, east first."""
    return [EtcdMember(site) for site in layout.sites]


def endpoints(layout: LabLayout) -> str:
    """``ADDR:PORT,ADDR:PORT,ADDR:PORT``: every member's client endpoint (Patroni's ``hosts``)."""
    return ",".join(f"{m.site.address}:{CLIENT_PORT}" for m in members(layout))


def healthy(member: EtcdMember, timeout: float = 2.0) -> bool:
    """Whether the member answers ``/health`` with ``{"health": "true"}`` (it has a leader
    and can commit)."""
    try:
        with urllib.request.urlopen(f"{member.client_url}/health", timeout=timeout) as resp:  # noqa: S310 - http:// URLs built here
            body = json.loads(resp.read().decode())
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return str(body.get("health")) == "true"


def setup(
    runner: Runner,
    layout: LabLayout,
    etcd: Path,
    record: Callable[[ProcessRecord], None],
    token: str | None = None,
) -> None:
    """Start the three members and wait until each one reports healthy.

    Raises:
        LabError: A member did not become healthy in time (naming its log).
    """
    group = members(layout)
    cluster = ",".join(f"{m.name}={m.peer_url}" for m in group)
    token = token or f"drlab-{layout.net}-{int(time.time() * 1000)}"
    for m in group:
        m.directory.mkdir(parents=True, exist_ok=True)
        proc = popen_as(runner.user, m.argv(etcd, cluster, token), log=m.log, cwd=m.directory)
        info = proc_info(proc.pid)
        record(
            ProcessRecord(
                site=m.site.name,
                name="etcd",
                pid=proc.pid,
                start_time=info.start_time if info else 0,
                address=m.site.address,
                port=CLIENT_PORT,
            )
        )
    timeout = 60 * runner.timeout_scale
    for m in group:
        if not wait_until(lambda m=m: healthy(m), timeout, interval=0.1):  # type: ignore[misc]
            raise LabError(
                f"etcd on {m.site.name} was not healthy within {timeout:.0f} s; see {m.log}"
            )
