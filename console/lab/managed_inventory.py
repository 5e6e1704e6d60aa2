"""Write ``inventory/lab-managed.yaml``: the managed lab as drconsole sees it.

The services keep the default lab's names (``orders-db`` for PostgreSQL, ``sessions`` for
Redis) so that the raw playbooks written for those names meet the managed services and are
refused. Each member's vars say where its manager lives (Patroni's config and REST API,
the Sentinels), so a playbook can drive the manager over SSH or HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from console.lab import cluster as redis_cluster
from console.lab import etcd, patroni, sentinel
from console.lab.binaries import Binaries
from console.lab.inventory import Var, Writer, atomic_write, begin, known_hosts_path, yaml_value
from console.lab.layout import (
    PG_PORT,
    PG_SERVICE,
    REDIS_PORT,
    REDIS_SERVICE,
    SITE_ROLE,
    SSH_PORT,
    LabLayout,
)

CLUSTER_SERVICE = "carts"
"""The inventory service of the Redis Cluster (kind ``redis-cluster``)."""


def render(
    layout: LabLayout,
    bins: Binaries,
    programs: Mapping[str, Path],
    user: str,
    known_hosts: Path,
) -> str:
    """The inventory text of a managed lab."""
    w = Writer()
    begin(
        w,
        layout,
        user,
        known_hosts,
        name="lab-managed",
        command="drconsole lab up --profile managed",
    )
    documented: set[str] = set()
    w.vars(
        0,
        [
            Var("pgbin", str(bins.pgbin), "PostgreSQL 15 server programs"),
            Var("lab_dir", str(layout.directory), "the lab directory: every data dir and log"),
            Var("lab_net", layout.net, "second octet of every lab address (127.N.S.1)"),
            Var("patronictl", str(programs["patronictl"]), "Patroni's command line"),
            Var("etcd_endpoints", etcd.endpoints(layout), "the etcd members' client endpoints"),
            Var("redis_cli", str(bins.redis_cli), "the Redis client"),
            Var("sentinel_master", sentinel.MASTER_NAME, "the name the Sentinels monitor"),
            Var(
                "sentinels",
                " ".join(
                    f"{s.site.address}:{sentinel.SENTINEL_PORT}"
                    for s in sentinel.sentinels(layout, bins)
                ),
                "every Sentinel as HOST:PORT, space-separated (for playbook loops)",
            ),
        ],
        documented,
    )
    w.line(0, "sites:")
    for site in layout.sites:
        w.line(1, f"{site.name}:")
        w.line(2, f"role: {SITE_ROLE[site.name]}")
        w.line(2, f"description: {yaml_value(f'Lab site {site.name} ({site.address})')}")
        w.line(2, "hosts:")
        w.line(3, f"{site.host}:")
        w.line(4, f"address: {site.address}")
        w.line(4, f"port: {SSH_PORT}")
        w.line(4, "tags: [etcd, patroni, sentinel, redis-cluster]")
        w.line(4, f"ssh: {{lock_dir: {yaml_value(str(site.root / 'locks'))}}}")
        w.vars(
            4,
            [
                Var("site_dir", str(site.root), "this site's directory in the lab"),
                Var("run_dir", str(site.run_dir), "unix sockets of this site's servers"),
            ],
            documented,
        )

    w.line(0, "services:")
    pg_documented: set[str] = set()
    w.line(1, f"{PG_SERVICE}:")
    w.line(2, "kind: postgres")
    w.line(
        2,
        "description: "
        + yaml_value("PostgreSQL 15 run by Patroni on etcd (dr: nofailover replica)"),
    )
    w.line(2, "members:")
    for m in patroni.members(layout, bins.pgbin):
        w.line(3, f"{m.site.host}:")
        w.line(4, f"port: {PG_PORT}")
        w.line(4, f"role: {'primary' if m.site.name == 'east' else 'replica'}")
        w.vars(
            4,
            [
                Var("patroni_name", m.name, "the member's name in Patroni"),
                Var("patroni_api", m.api, "the member's Patroni REST API"),
                Var("patroni_config", str(m.config), "the member's patroni.yml (patronictl -c)"),
                Var("pgdata", str(m.site.pgdata), "the data directory (Patroni owns it)"),
                Var("patroni_log", str(m.log), "Patroni's log"),
                Var(
                    "conninfo",
                    f"host={m.site.address} port={PG_PORT} user={patroni.SUPERUSER} "
                    "dbname=postgres",
                    "libpq conninfo of this member's PostgreSQL (superuser, over TCP)",
                ),
            ],
            pg_documented,
        )
    apis = ", ".join(yaml_value(m.api) for m in patroni.members(layout, bins.pgbin))
    w.comment(2, "Patroni owns failovers: raw playbooks are refused; drive it through its API")
    w.line(2, f"managed_by: {{kind: patroni, api: [{apis}]}}")
    w.line(2, f"probe: {{user: {patroni.SUPERUSER}, database: postgres}}")
    w.line(2, "thresholds: {lag_warn: 5s, lag_crit: 30s}")

    rd_documented: set[str] = set()
    w.line(1, f"{REDIS_SERVICE}:")
    w.line(2, "kind: redis")
    w.line(
        2,
        "description: "
        + yaml_value(
            "Redis primary and two replicas (dr never promoted) under 3 Sentinels, quorum 2"
        ),
    )
    w.comment(2, "min-replicas-to-write 1: a master no replica acknowledges refuses writes")
    w.line(2, "members:")
    primary, *replicas = sentinel.redis_members(layout, bins)
    for rm, role in ((primary, "primary"), *((r, "replica") for r in replicas)):
        w.line(3, f"{rm.site.host}:")
        w.line(4, f"port: {REDIS_PORT}")
        w.line(4, f"role: {role}")
        w.vars(
            4,
            [
                Var("pidfile", str(rm.site.redis_pidfile), "the server's pid file"),
                Var("logfile", str(rm.site.redis_log), "the server's log"),
            ],
            rd_documented,
        )
    sentinels = ", ".join(
        yaml_value(f"{s.site.address}:{sentinel.SENTINEL_PORT}")
        for s in sentinel.sentinels(layout, bins)
    )
    w.comment(2, "Sentinel owns failovers: raw playbooks are refused; use SENTINEL FAILOVER")
    w.line(
        2,
        f"managed_by: {{kind: sentinel, sentinels: [{sentinels}], master: {sentinel.MASTER_NAME}}}",
    )
    w.line(2, "thresholds: {lag_warn: 5s, lag_crit: 30s}")

    w.line(1, f"{CLUSTER_SERVICE}:")
    w.line(2, "kind: redis-cluster")
    w.line(
        2,
        "description: "
        + yaml_value("Redis Cluster: 3 masters, one per site, each replicated in another site"),
    )
    w.comment(2, "which node is a master changes with failovers: CLUSTER NODES says")
    names = ", ".join(
        f"{site.host}:{port}" for site in layout.sites for port in redis_cluster.CLUSTER_PORTS
    )
    w.line(2, f"nodes: [{names}]")
    return w.text()


def write_inventory(
    layout: LabLayout,
    bins: Binaries,
    programs: Mapping[str, Path],
    user: str,
    inventory: Path,
    known_hosts_lines: list[str],
) -> tuple[Path, Path]:
    """Write the inventory and its known_hosts next to it; returns both absolute paths."""
    inv = inventory.expanduser().absolute()
    kh = known_hosts_path(inv)
    inv.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(kh, "".join(line.rstrip("\n") + "\n" for line in known_hosts_lines))
    atomic_write(inv, render(layout, bins, programs, user, kh))
    return inv, kh
