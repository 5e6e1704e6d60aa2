"""The ``managed`` profile: the services as production runs them, under an HA manager.

- etcd, three members, one per site: the consensus store (:mod:`console.lab.etcd`);
- a Patroni cluster of PostgreSQL 15: east leads, west replicates, dr replicates with the
  ``nofailover`` tag (:mod:`console.lab.patroni`);
- Redis primary east, replica west, replica dr (never promoted), three Sentinels, quorum 2,
  every master refusing writes no replica acknowledges (:mod:`console.lab.sentinel`);
- a Redis Cluster of six nodes, two per site: three masters, one per site, each with its
  replica in another site (:mod:`console.lab.cluster`).

It writes ``inventory/lab-managed.yaml``, whose services carry the same names as the default
lab's (``orders-db``, ``sessions``) so that a raw playbook aimed at them meets the refusal
that a managed service deserves. ``lab chaos down SITE`` freezes the site's etcd, Patroni
(with its PostgreSQL), Sentinel and cluster nodes along with everything else of the site.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from console.lab import cluster as redis_cluster
from console.lab import etcd, patroni, sentinel
from console.lab.binaries import Binaries
from console.lab.errors import LabCommandFailed, MissingBinaries
from console.lab.layout import PG_PORT, REDIS_PORT, LabLayout
from console.lab.managed_inventory import write_inventory
from console.lab.profiles.base import Profile, StartContext, sshd_endpoints
from console.lab.runner import Runner

ETCD = "etcd"
PATRONI = "patroni"
PATRONICTL = "patronictl"


ENV_PATRONI_VENV = "DRCONSOLE_PATRONI_VENV"
"""Overrides where Patroni's virtualenv is (``make setup`` creates it)."""


def patroni_venvs() -> list[Path]:
    """Where ``make setup`` puts Patroni: ``$DRCONSOLE_PATRONI_VENV``, else
    ``/opt/drconsole-patroni`` (as root) or ``~/.local/share/drconsole-patroni``.

    Not drconsole's own ``.venv``: its interpreter may live under a directory the lab user
    cannot read (pyenv under /root), and Patroni runs as the lab user.
    """
    env = os.environ.get(ENV_PATRONI_VENV)
    if env:
        return [Path(env)]
    return [Path("/opt/drconsole-patroni"), Path.home() / ".local/share/drconsole-patroni"]


def _venv_program(name: str) -> str | None:
    """``name`` in Patroni's virtualenv, else on PATH (never Debian's 3.0.2 in /usr/bin)."""
    for venv in patroni_venvs():
        hit = venv / "bin" / name
        if hit.is_file() and os.access(hit, os.X_OK):
            return str(hit)
    found = shutil.which(name)
    return found if found and not found.startswith("/usr/bin/") else None


class ManagedProfile(Profile):
    """etcd x3, Patroni (PostgreSQL 15) x3, Redis + 2 replicas + 3 Sentinels."""

    name = "managed"
    summary = (
        "etcd x3 (one per site), Patroni PostgreSQL 15 (east leader, west replica, dr "
        "nofailover replica), Redis primary east + replica west + replica dr (priority 0) + "
        "3 Sentinels (quorum 2), "
        "Redis Cluster of 6 nodes (a master per site, its replica in another)"
    )
    inventory_name = "lab-managed.yaml"
    stop_last: ClassVar[frozenset[str]] = frozenset({"etcd"})

    def find_programs(self) -> dict[str, Path]:
        """etcd (Debian ``etcd-server``) and Patroni (PyPI, in drconsole's virtualenv)."""
        found: dict[str, Path] = {}
        missing: list[str] = []
        etcd_bin = shutil.which(ETCD, path="/usr/bin:/usr/local/bin:/usr/sbin")
        if etcd_bin is None:
            missing.append(ETCD)
        else:
            found[ETCD] = Path(etcd_bin)
        for prog in (PATRONI, PATRONICTL):
            hit = _venv_program(prog)
            if hit is None:
                missing.append(prog)
            else:
                found[prog] = Path(hit)
        if missing:
            raise MissingBinaries(
                missing,
                "install them with: apt-get install -y etcd-server etcd-client; "
                "`make patroni` (part of `make setup`) installs Patroni from PyPI",
            )
        return found

    def endpoints(self, layout: LabLayout) -> list[tuple[str, str, int]]:
        """sshd, etcd (client and peer), PostgreSQL, Patroni's REST API, Redis and Sentinel
        on every site."""
        out = sshd_endpoints(layout)
        for site in layout.sites:
            a = site.address
            out += [
                (site.name, a, etcd.CLIENT_PORT),
                (site.name, a, etcd.PEER_PORT),
                (site.name, a, PG_PORT),
                (site.name, a, patroni.REST_PORT),
                (site.name, a, REDIS_PORT),
                (site.name, a, sentinel.SENTINEL_PORT),
            ]
        return out + redis_cluster.endpoints(layout)

    def directories(self, layout: LabLayout) -> list[Path]:
        """Per site: PostgreSQL's, etcd's, Patroni's, Redis's and Sentinel's."""
        dirs: list[Path] = []
        for site in layout.sites:
            dirs += [
                site.pg_dir,
                site.root / "etcd",
                site.root / "patroni",
                site.root / "sentinel",
                site.redis_dir,
            ]
        return dirs + redis_cluster.directories(layout)

    def start_tasks(self, ctx: StartContext) -> dict[str, Callable[[], None]]:
        """etcd then Patroni (it needs the store), and Redis with its Sentinels, in parallel."""

        def postgres() -> None:
            etcd.setup(ctx.runner, ctx.layout, ctx.extra[ETCD], ctx.record)
            patroni.setup(ctx.runner, ctx.layout, ctx.bins.pgbin, ctx.extra[PATRONI], ctx.record)

        return {
            "patroni": postgres,
            "sentinel": lambda: sentinel.setup(ctx.runner, ctx.layout, ctx.bins, ctx.record),
            "cluster": lambda: redis_cluster.setup(ctx.runner, ctx.layout, ctx.bins, ctx.record),
        }

    def write_inventory(
        self, ctx: StartContext, inventory: Path, known_hosts_lines: list[str]
    ) -> tuple[Path, Path]:
        """``inventory/lab-managed.yaml``."""
        return write_inventory(
            ctx.layout, ctx.bins, ctx.extra, ctx.runner.user.name, inventory, known_hosts_lines
        )

    def health(self, layout: LabLayout, bins: Binaries, runner: Runner) -> list[str]:
        """One Patroni leader and two streaming replicas, not paused; every Sentinel names
        the same master, which has two connected replicas; the Redis Cluster serves every slot
        with one master per site, each replicated in another site."""
        return managed_health(layout, bins, runner)


def managed_health(layout: LabLayout, bins: Binaries, runner: Runner) -> list[str]:
    """What is wrong with a running managed lab, as sentences (empty: healthy)."""
    problems: list[str] = []
    cluster = None
    for m in patroni.members(layout, bins.pgbin):
        cluster = patroni.get_json(f"{m.api}/cluster")
        if cluster is not None:
            break
    if cluster is None:
        problems.append("no Patroni REST API answers /cluster")
    else:
        rows = [m for m in cluster.get("members", []) if isinstance(m, dict)]
        leaders = [str(m.get("name")) for m in rows if m.get("role") in ("leader", "master")]
        streaming = [
            m for m in rows if m.get("role") == "replica" and m.get("state") == "streaming"
        ]
        if len(leaders) != 1:
            problems.append(f"Patroni has {len(leaders)} leaders ({', '.join(leaders) or 'none'})")
        if len(streaming) != len(rows) - 1:
            problems.append(f"Patroni: {len(streaming)} of {len(rows) - 1} replicas streaming")
        if cluster.get("pause"):
            problems.append("Patroni is paused (maintenance mode)")
    masters: set[str] = set()
    for s in sentinel.sentinels(layout, bins):
        try:
            out = runner.run(
                s.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinel.MASTER_NAME),
                what="ask Sentinel",
                timeout=10,
            ).split()
        except LabCommandFailed as exc:
            problems.append(f"Sentinel on {s.site.name} does not answer: {exc}")
            continue
        masters.add(":".join(out[:2]))
    if len(masters) > 1:
        problems.append(f"the Sentinels name different masters: {', '.join(sorted(masters))}")
    problems += redis_cluster.cluster_problems(runner, layout, bins)
    return problems
