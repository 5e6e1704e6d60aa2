"""``nodes:`` of a ``redis-cluster`` service: the Redis Cluster's nodes, by inventory host.

A Redis Cluster manages itself: the masters hold the hash slots, each replica follows one
master, and the nodes among themselves decide failovers (``CLUSTER FAILOVER``). A site holds
several nodes (a master of some slots and the replica of another site's master), so the
service does not list ``members`` (one per host) but its nodes::

    sessions-cluster:
      kind: redis-cluster
      nodes: [cache-east-1:7000, cache-east-1:7001, cache-west-1:7000, ...]

Each node is ``HOST:PORT`` where HOST is an inventory host (its address is where the node
listens, its site is where the node is). Which node is a master is not written: it changes
with every failover, and the probes read it from ``CLUSTER NODES``. Every value is checked
with its location.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from console.errors import Location
from console.model.reader import MapView, Problems, describe, suggest

CLUSTER_KIND = "redis-cluster"
"""The service kind of a Redis Cluster."""

_NODE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*):(\d{1,5})$")


@dataclass(frozen=True)
class ClusterNode:
    """One node of a Redis Cluster as the inventory names it."""

    host: str
    """The inventory host it runs on."""
    port: int
    """Its client port."""
    loc: Location
    """Where it is written."""

    @property
    def name(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


def build_cluster_nodes(
    sv: MapView, service: str, hosts: Mapping[str, object], problems: Problems
) -> tuple[ClusterNode, ...]:
    """Read ``nodes:`` of the redis-cluster ``service`` (every problem is added, located)."""
    node = sv.get("nodes")
    if node is None or node.value is None:
        problems.add(f"service {service!r} of kind {CLUSTER_KIND} needs 'nodes'", sv.loc)
        return ()
    if not node.is_seq:
        problems.add(
            f"nodes of {service!r} must be a list of HOST:PORT, not {describe(node.value)}",
            node.loc,
        )
        return ()
    if not node.value:
        problems.add(f"nodes of {service!r} names no node", node.loc)
        return ()
    out: list[ClusterNode] = []
    seen: dict[str, Location] = {}
    for item in node.value:
        value = item.value if isinstance(item.value, str) else None
        m = _NODE.match(value) if value is not None else None
        if value is None or m is None:
            shown = repr(value) if value is not None else describe(item.value)
            problems.add(
                f"node {shown} of {service!r} must be HOST:PORT (an inventory host and the "
                "node's port), such as cache-east-1:7000",
                item.loc,
            )
            continue
        host, port = m.group(1), int(m.group(2))
        if host not in hosts:
            problems.add(
                f"node {value!r} of {service!r}: {host!r} is not a host of the inventory"
                + suggest(host, list(hosts)),
                item.loc,
            )
            continue
        if not 1 <= port <= 65535:
            problems.add(
                f"node {value!r} of {service!r}: port must be from 1 to 65535, not {port}",
                item.loc,
            )
            continue
        if value in seen:
            problems.add(f"node {value!r} of {service!r} is listed twice", item.loc)
            continue
        seen[value] = item.loc
        out.append(ClusterNode(host, port, item.loc))
    return tuple(out)
