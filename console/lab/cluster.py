"""A Redis Cluster in the managed lab: six nodes, three masters and three replicas.

Each site runs two cluster nodes, on :data:`CLUSTER_PORTS`. The cluster is created by
``redis-cli --cluster create`` (it assigns the slots itself) with the masters listed first,
one per site, so that it chooses the first port of every site as a master and puts each
replica on another site than its master (lab-notes-wave2, section 6). After creation the
lab checks that placement: every site holds one master and the replica of another site's
master, so a dark site never takes a master together with its only replica.

Every node binds its site's address and uses it as its source address and announced address
(trap 0 of the lab notes: on loopback the peers would otherwise see 127.0.0.1), which trips
Redis 7's protected mode, hence ``protected-mode no`` (loopback only). The bus port is the
node's port + :data:`BUS_OFFSET` (the default +10000 would leave the lab's port range).
``cluster-node-timeout`` is 3000 ms: a master is failed after about that (the published
default is 15 s), and a loaded 2-core test machine does not fail one by accident.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from console.lab.binaries import Binaries
from console.lab.errors import LabCommandFailed, LabError
from console.lab.layout import SITES, LabLayout, SiteLayout
from console.lab.osuser import chown_tree
from console.lab.procs import require_server, running_record
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

CLUSTER_PORTS: tuple[int, int] = (16700, 16701)
"""The two cluster nodes of every site listen on the site's address, these ports; after
``up`` the first is a master and the second a replica of another site's master."""
BUS_OFFSET = 100
"""The cluster bus port is the node's port plus this."""
NODE_TIMEOUT_MS = 3000
"""``cluster-node-timeout`` (see the module docstring)."""
RECORD_PREFIX = "cluster-"
"""Process records of the nodes are named ``cluster-<port>``."""
SLOTS = 16384
"""Hash slots of a Redis Cluster."""


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One node of the lab's Redis Cluster."""

    site: SiteLayout
    """Where it runs."""
    port: int
    """Its client port (its bus port is ``port + BUS_OFFSET``)."""
    bins: Binaries
    """Where redis-server and redis-cli are."""

    @property
    def endpoint(self) -> str:
        """``address:port``."""
        return f"{self.site.address}:{self.port}"

    @property
    def directory(self) -> Path:
        """Its directory: nodes.conf, AOF, pid file, log."""
        return self.site.root / "cluster" / str(self.port)

    @property
    def pidfile(self) -> Path:
        """Its pid file."""
        return self.directory / "redis.pid"

    @property
    def log(self) -> Path:
        """Its log."""
        return self.directory / "redis.log"

    @property
    def record_name(self) -> str:
        """Its process record's name in ``state.json``."""
        return f"{RECORD_PREFIX}{self.port}"

    def server_argv(self) -> list[str]:
        """The server command line (daemonizes)."""
        a = self.site.address
        d = self.directory
        return [
            str(self.bins.redis_server),
            "--port",
            str(self.port),
            "--bind",
            a,
            "--bind-source-addr",
            a,
            "--protected-mode",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            str(self.port + BUS_OFFSET),
            "--cluster-config-file",
            str(d / "nodes.conf"),
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            "--cluster-announce-ip",
            a,
            "--dir",
            str(d),
            "--pidfile",
            str(self.pidfile),
            "--logfile",
            str(self.log),
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--repl-diskless-sync-delay",
            "0",
        ]

    def cli(self, *args: str) -> list[str]:
        """argv of ``redis-cli`` against this node (not following redirections)."""
        return [
            str(self.bins.redis_cli),
            "-h",
            self.site.address,
            "-p",
            str(self.port),
            *args,
        ]


def nodes(layout: LabLayout, bins: Binaries) -> list[ClusterNode]:
    """Every node: the first port of each site (east, west, dr), then the second."""
    return [ClusterNode(site, port, bins) for port in CLUSTER_PORTS for site in layout.sites]


def endpoints(layout: LabLayout) -> list[tuple[str, str, int]]:
    """``(site, address, port)`` of every node's client and bus port."""
    out: list[tuple[str, str, int]] = []
    for site in layout.sites:
        for port in CLUSTER_PORTS:
            out += [(site.name, site.address, port), (site.name, site.address, port + BUS_OFFSET)]
    return out


def directories(layout: LabLayout) -> list[Path]:
    """Every node's directory."""
    return [site.root / "cluster" / str(port) for site in layout.sites for port in CLUSTER_PORTS]


@dataclass(frozen=True, slots=True)
class NodeLine:
    """One line of ``CLUSTER NODES`` as the lab reads it (the status probe has its own,
    fuller parser in :mod:`console.probes.cluster`)."""

    node_id: str
    endpoint: str
    flags: frozenset[str]
    master_id: str | None
    slots: int


_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_nodes(text: str) -> list[NodeLine]:
    """The lines of ``CLUSTER NODES`` (slot counts only)."""
    out: list[NodeLine] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        count = 0
        for r in parts[8:]:
            m = _RANGE.match(r)
            if m:
                count += int(m.group(2) or m.group(1)) - int(m.group(1)) + 1
        out.append(
            NodeLine(
                node_id=parts[0],
                endpoint=parts[1].split("@", 1)[0],
                flags=frozenset(parts[2].split(",")),
                master_id=None if parts[3] == "-" else parts[3],
                slots=count,
            )
        )
    return out


def placement_problems(
    lines: Iterable[NodeLine], site_of: Callable[[str], str | None]
) -> list[str]:
    """What is wrong with where the masters and replicas are (empty: one master per site,
    each with a replica in another site, every slot served).

    Args:
        lines: ``CLUSTER NODES`` of one node.
        site_of: ``address:port`` -> the lab site (None: not a lab node).
    """
    rows = list(lines)
    by_id = {r.node_id: r for r in rows}
    problems: list[str] = []
    masters = [r for r in rows if "master" in r.flags and r.slots > 0]
    sites = [site_of(m.endpoint) for m in masters]
    if len(masters) != len(SITES) or len(set(sites)) != len(SITES) or None in sites:
        problems.append(
            "the masters are not one per site: "
            + ", ".join(f"{m.endpoint} ({site_of(m.endpoint)})" for m in masters)
        )
    served = sum(m.slots for m in masters)
    if served != SLOTS:
        problems.append(f"{served} of {SLOTS} slots served")
    for r in rows:
        if {"fail", "fail?"} & r.flags:
            problems.append(f"node {r.endpoint} is flagged {','.join(sorted(r.flags))}")
        if "slave" in r.flags and r.master_id in by_id:
            m = by_id[r.master_id]
            if site_of(m.endpoint) == site_of(r.endpoint):
                problems.append(
                    f"replica {r.endpoint} is in the same site as its master {m.endpoint}"
                )
    for m in masters:
        if not any("slave" in r.flags and r.master_id == m.node_id for r in rows):
            problems.append(f"master {m.endpoint} has no replica")
    return problems


def site_map(layout: LabLayout) -> Callable[[str], str | None]:
    """``address:port`` of a lab node -> its site."""
    known = {f"{s.address}:{p}": s.name for s in layout.sites for p in CLUSTER_PORTS}
    return known.get


def start_node(runner: Runner, node: ClusterNode) -> ProcessRecord:
    """Start one node (an empty nodes.conf: a fresh cluster member) and wait until it serves."""
    node.directory.mkdir(parents=True, exist_ok=True)
    (node.directory / "nodes.conf").unlink(missing_ok=True)
    chown_tree(node.directory, runner.user)
    runner.run(node.server_argv(), what=f"start cluster node {node.endpoint}", timeout=30)
    s = node.site
    require_server(
        what=f"Redis Cluster node :{node.port}",
        site=s.name,
        address=s.address,
        port=node.port,
        pidfile=node.pidfile,
        log=node.log,
        timeout=60 * runner.timeout_scale,
    )
    return running_record(
        site=s.name,
        name=node.record_name,
        what=f"Redis Cluster node :{node.port}",
        address=s.address,
        port=node.port,
        pidfile=node.pidfile,
        log=node.log,
    )


def cluster_problems(runner: Runner, layout: LabLayout, bins: Binaries) -> list[str]:
    """What is wrong with the running cluster, asked of every node (empty: healthy)."""
    problems: list[str] = []
    site_of = site_map(layout)
    views: list[str] = []
    for node in nodes(layout, bins):
        try:
            info = runner.run(node.cli("CLUSTER", "INFO"), what="ask a cluster node", timeout=10)
            text = runner.run(node.cli("CLUSTER", "NODES"), what="ask a cluster node", timeout=10)
        except LabCommandFailed as exc:
            problems.append(f"cluster node {node.endpoint} does not answer: {exc}")
            continue
        fields = dict(
            line.split(":", 1) for line in info.splitlines() if ":" in line and line.strip()
        )
        state = fields.get("cluster_state", "?").strip()
        known = fields.get("cluster_known_nodes", "?").strip()
        if state != "ok":
            problems.append(f"cluster node {node.endpoint}: cluster_state {state}")
        if known != "6":
            problems.append(f"cluster node {node.endpoint} knows {known} nodes, not 6")
        views.append(text)
    if views:
        problems += placement_problems(parse_nodes(views[0]), site_of)
    return problems


def setup(
    runner: Runner, layout: LabLayout, bins: Binaries, record: Callable[[ProcessRecord], None]
) -> None:
    """Start the six nodes, create the cluster, wait until every node agrees it is healthy.

    Raises:
        LabError: A node did not come up, ``--cluster create`` failed, or the cluster is not
            healthy (or not placed one master per site) in time.
    """
    group = nodes(layout, bins)
    for node in group:
        record(start_node(runner, node))
    first = group[0]
    runner.run(
        [
            str(bins.redis_cli),
            "--cluster",
            "create",
            *(n.endpoint for n in group),
            "--cluster-replicas",
            "1",
            "--cluster-yes",
        ],
        what="create the Redis Cluster",
        timeout=120,
    )
    deadline = time.monotonic() + 90 * runner.timeout_scale
    problems = cluster_problems(runner, layout, bins)
    while problems and time.monotonic() < deadline:
        time.sleep(0.3)
        problems = cluster_problems(runner, layout, bins)
    if problems:
        raise LabError(
            "the Redis Cluster is not healthy after create: "
            + "; ".join(problems)
            + f"; see {first.log}"
        )


def restore_placement(runner: Runner, layout: LabLayout, bins: Binaries) -> list[str]:
    """Put the masters back on every site's first port, one per site, as ``up`` left them.

    After a failover (a dark site, a drill), masters pile up: the returning node rejoins
    as a replica. ``CLUSTER FAILOVER`` on every first-port node that is a replica now, all
    issued before any is awaited, then waits (bounded) until the placement is as ``up``
    made it; a node still a replica after 10 s is asked again. A node that does not answer
    is left alone.

    Returns:
        The placement problems left (empty: restored).
    """
    first = [n for n in nodes(layout, bins) if n.port == CLUSTER_PORTS[0]]

    def promote_replicas() -> None:
        for node in first:
            try:
                role = runner.run(node.cli("ROLE"), what="ask a cluster node", timeout=10)
            except LabCommandFailed:
                continue
            if role.split("\n", 1)[0].strip() == "slave":
                with contextlib.suppress(LabCommandFailed):
                    runner.run(node.cli("CLUSTER", "FAILOVER"), what="CLUSTER FAILOVER", timeout=10)

    deadline = time.monotonic() + 60 * runner.timeout_scale
    problems = cluster_problems(runner, layout, bins)
    asked = 0.0
    while problems and time.monotonic() < deadline:
        if time.monotonic() - asked > 10:
            promote_replicas()
            asked = time.monotonic()
        time.sleep(0.3)
        problems = cluster_problems(runner, layout, bins)
    return problems
