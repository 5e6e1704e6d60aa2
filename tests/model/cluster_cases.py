"""Bad values of a ``redis-cluster`` service's ``nodes:`` (issue 14), as cases of the
validate-equals-run test; appended to :data:`tests.model.cases.CROSS_CASES`."""

from __future__ import annotations

from tests.model.cases import Case

_LEDGER = "  ledger:\n"


def _cluster(body: str, kind: str = "redis-cluster") -> str:
    return f"  carts:\n    kind: {kind}\n{body}{_LEDGER}"


CLUSTER_CASES: list[Case] = [
    Case(
        "redis-cluster without nodes",
        "inventory",
        _LEDGER,
        _cluster("    description: no nodes\n"),
        "kind: redis-cluster",
        "service 'carts' of kind redis-cluster needs 'nodes'",
    ),
    Case(
        "redis-cluster with members",
        "inventory",
        _LEDGER,
        _cluster("    nodes: [db-east-1:7000]\n    members: {db-east-1: {role: primary}}\n"),
        "members: {db-east-1",
        "lists its nodes under 'nodes', not 'members'",
    ),
    Case(
        "redis-cluster node without port",
        "inventory",
        _LEDGER,
        _cluster("    nodes: [db-east-1:7000, db-west-1]\n"),
        "db-west-1]",
        "node 'db-west-1' of 'carts' must be HOST:PORT",
    ),
    Case(
        "redis-cluster node is a number",
        "inventory",
        _LEDGER,
        _cluster("    nodes: [7000]\n"),
        "7000]",
        "must be HOST:PORT",
    ),
    Case(
        "redis-cluster node on an unknown host",
        "inventory",
        _LEDGER,
        _cluster("    nodes: [db-east-1:7000, db-est-2:7000]\n"),
        "db-est-2:7000",
        "'db-est-2' is not a host of the inventory",
    ),
    Case(
        "redis-cluster node port out of range",
        "inventory",
        _LEDGER,
        _cluster("    nodes: [db-east-1:70000]\n"),
        "db-east-1:70000",
        "port must be from 1 to 65535, not 70000",
    ),
    Case(
        "redis-cluster node listed twice",
        "inventory",
        _LEDGER,
        _cluster("    nodes: [db-east-1:7000, db-west-1:7000, db-east-1:7000]\n"),
        "db-west-1:7000, db-east-1:7000",
        "node 'db-east-1:7000' of 'carts' is listed twice",
        shift=16,
    ),
    Case(
        "redis-cluster nodes empty",
        "inventory",
        _LEDGER,
        _cluster("    nodes: []\n"),
        "[]\n",
        "nodes of 'carts' names no node",
    ),
    Case(
        "redis-cluster nodes not a list",
        "inventory",
        _LEDGER,
        _cluster("    nodes: {db-east-1: 7000}\n"),
        "{db-east-1: 7000}",
        "nodes of 'carts' must be a list of HOST:PORT",
    ),
    Case(
        "nodes on a redis service",
        "inventory",
        _LEDGER,
        _cluster(
            "    members: {db-east-1: {role: primary}}\n    nodes: [db-east-1:7000]\n",
            kind="redis",
        ),
        "nodes: [db-east-1",
        "'nodes' of 'carts' is for kind redis-cluster services, not redis",
    ),
    Case(
        "a redis service without members",
        "inventory",
        _LEDGER,
        _cluster("    description: nothing\n", kind="redis"),
        "kind: redis\n",
        "service 'carts' needs 'members'",
    ),
]
