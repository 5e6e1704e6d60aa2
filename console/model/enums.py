"""Every enumeration the inventory and playbook formats document, in one place.

The formats (README, "Formats by example") promise a fixed set of words for each of these
fields; the loaders accept exactly these and refuse anything else with a located message that
names the allowed values.
``ENUMERATIONS`` lists them all so that a test can prove each one is checked (a field added
here without a bad-input test fails that test). The words a run also records (step kinds,
``on_failure``, RTO marks) are those of the event vocabulary's enums (``console.events``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from console.events.enums import OnFailure, RtoEdge, StepKind

PLAYBOOK_KINDS = (
    "failover",
    "failback",
    "switchover",
    "restore-verification",
    "point-in-time-restore",
    "custom",
)
"""``kind:`` of a playbook."""
STEP_KINDS = tuple(k.value for k in StepKind)
"""The key that makes a step what it is (exactly one per step)."""
GATE_KINDS = ("replication", "role", "command")
"""The key that makes a preflight gate what it is (exactly one per gate)."""
ON_FAILURE = tuple(p.value for p in OnFailure)
"""``on_failure:`` of a step."""
RTO_MARKS = tuple(m.value for m in RtoEdge)
"""``rto:`` of a step."""
OBSERVED_ROLES = ("primary", "replica", "down", "unknown")
"""``role:`` of a gate or wait condition (an observed role)."""
LINKS = ("up", "down")
"""``link:`` of a gate or wait condition."""
SELECTOR_KEYS = ("host", "site", "tag", "service", "role")
"""``key:`` of a selector term."""
SELECTOR_ROLES = ("primary", "replica")
"""``role:`` of a selector term."""
SELECTOR_JOIN = ("and",)
"""The word that joins selector terms."""
SITE_ROLES = ("primary", "standby", "dr")
"""``role:`` of a site."""
MEMBER_ROLES = ("primary", "replica")
"""``role:`` of a service member (the role the inventory expects)."""
SERVICE_KINDS = ("postgres", "mysql", "redis", "redis-cluster", "custom")
"""``kind:`` of a service."""
COMMIT_OTHERWISE = ("rollback", "keep")
"""``otherwise:`` of a playbook's ``commit:``: run the rollback steps, or keep the new state."""
SSH_BACKENDS = ("asyncssh", "paramiko")
"""``backend:`` of the ssh settings."""
MANAGER_KINDS = ("patroni", "sentinel")
"""``kind:`` of a service's ``managed_by`` (the HA manager that owns its failovers)."""
DRIVES_KINDS = (*MANAGER_KINDS, "redis-cluster")
"""``drives:`` of a playbook: an HA manager, or a Redis Cluster (which manages itself)."""
CANARY_KINDS = ("postgres", "mysql", "redis", "redis-cluster")
"""Service kinds a canary can write to (a custom service has no canary writer)."""
TOPOLOGIES = ("primary-replica", "cascade", "multi-primary")
"""``topology:`` of a service (its declared replication shape)."""
BACKUP_TOOLS = ("pgbackrest", "mariadb-backup", "redis-aof")
"""``tool:`` of a service's ``backup:``."""

ENUMERATIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "playbook kind": PLAYBOOK_KINDS,
        "step kind": STEP_KINDS,
        "gate kind": GATE_KINDS,
        "on_failure": ON_FAILURE,
        "rto mark": RTO_MARKS,
        "condition role": OBSERVED_ROLES,
        "condition link": LINKS,
        "selector key": SELECTOR_KEYS,
        "selector role": SELECTOR_ROLES,
        "selector word": SELECTOR_JOIN,
        "site role": SITE_ROLES,
        "member role": MEMBER_ROLES,
        "service kind": SERVICE_KINDS,
        "ssh backend": SSH_BACKENDS,
        "canary service kind": CANARY_KINDS,
        "service topology": TOPOLOGIES,
        "backup tool": BACKUP_TOOLS,
        "managed_by kind": MANAGER_KINDS,
        "playbook drives": DRIVES_KINDS,
        "commit otherwise": COMMIT_OTHERWISE,
    }
)
"""Field name -> its allowed values, for every enumeration of both formats."""
