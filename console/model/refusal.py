"""The refusal of raw playbooks on a managed service.

On a service run by Patroni or watched by Sentinel (``managed_by`` in the inventory), a raw
playbook (``pg_ctl promote``, ``REPLICAOF NO ONE``) fights the manager: Patroni restarts or
demotes what the operator fenced or promoted, Sentinel re-points the promoted replica, or two
primaries appear. So such a run stops in preflight (exit 3) before any step, naming the
manager and the playbook that drives it instead. A playbook that drives a manager says so
(``drives: patroni``) and is refused in turn on a service that manager does not run. A
restore verification changes no role (it restores into a scratch server), so it may run.
"""

from __future__ import annotations

from console.model.cluster import CLUSTER_KIND
from console.model.inventory import Inventory
from console.model.playbook import Playbook

GATE_TITLE = "the service's HA manager allows this playbook"
"""The title of the preflight gate this check is recorded as."""

ROLE_NEUTRAL_KIND = "restore-verification"
"""The playbook kind that changes no member's role and so may run raw on a managed service."""

INSTEAD: dict[str, str] = {
    "patroni": "patroni-switchover (drives Patroni through its REST API)",
    "sentinel": "sentinel-failover (SENTINEL FAILOVER, then waits until every Sentinel agrees)",
    CLUSTER_KIND: "redis-cluster-site-failover (CLUSTER FAILOVER on the replicas in other "
    "sites, all at once)",
}
"""The shipped playbook to use on a service each manager runs."""


def manager_refusal(playbook: Playbook, inventory: Inventory) -> str | None:
    """Why ``playbook`` must not run against the managers of the services it touches, or None.

    Args:
        playbook: The playbook about to run.
        inventory: The inventory it runs against.

    Returns:
        One sentence naming the service, its manager (and where ``managed_by`` is written)
        and the playbook to use instead; None when the playbook may run.
    """
    for name in playbook.services_touched():
        service = inventory.services.get(name)
        if service is None:
            continue
        if service.kind == CLUSTER_KIND:
            if playbook.drives == CLUSTER_KIND:
                continue
            if playbook.drives is None and playbook.kind == ROLE_NEUTRAL_KIND:
                continue
            where = f" (kind {CLUSTER_KIND} at {service.loc})"
            if playbook.drives is None:
                return (
                    f"service {name} is a Redis Cluster{where}: it fails over by itself, and "
                    f"the raw playbook {playbook.name} would promote one node behind the "
                    f"cluster's back; use {INSTEAD[CLUSTER_KIND]} instead"
                )
            return (
                f"playbook {playbook.name} drives {playbook.drives}, but service {name} is a "
                f"Redis Cluster{where}; use {INSTEAD[CLUSTER_KIND]} instead"
            )
        managed = service.managed_by
        if managed is None:
            if playbook.drives == CLUSTER_KIND:
                return (
                    f"playbook {playbook.name} drives a Redis Cluster, but service {name} is "
                    f"of kind {service.kind}, not {CLUSTER_KIND}"
                )
            continue
        if playbook.drives == managed.kind:
            continue
        if playbook.drives is None and playbook.kind == ROLE_NEUTRAL_KIND:
            continue
        where = f" (managed_by at {managed.loc})" if managed.loc is not None else ""
        if playbook.drives is None:
            return (
                f"service {name} is managed by {managed.manager}{where}: the raw playbook "
                f"{playbook.name} would fight {managed.manager} or leave two primaries; "
                f"use {INSTEAD[managed.kind]} instead"
            )
        return (
            f"playbook {playbook.name} drives {playbook.drives}, but service {name} is managed "
            f"by {managed.manager}{where}; use {INSTEAD[managed.kind]} instead"
        )
    if playbook.drives is not None and playbook.service is not None:
        service = inventory.services.get(playbook.service)
        if service is not None and service.managed_by is None and service.kind != CLUSTER_KIND:
            return (
                f"playbook {playbook.name} drives {playbook.drives}, but service "
                f"{playbook.service} names no manager (no managed_by in {inventory.path})"
            )
    return None
