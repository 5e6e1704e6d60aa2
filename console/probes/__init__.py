"""Replication probes: per database kind, a command to run on a member and a pure parser.

Collecting never renders and the probes never do IO: the SSH pool runs ``command`` on the
member's host and hands the result to ``parse``, which returns a frozen
``ReplicationSample``. ``assess`` judges one sample, ``topology`` one sweep, and
``console.probes.canary`` builds the canary writes that measure data loss.
"""

from console.probes.base import Probe
from console.probes.health import MemberHealth, Thresholds, assess
from console.probes.registry import probe_for
from console.probes.sample import (
    Health,
    Link,
    ProbeTarget,
    ReplicaInfo,
    ReplicationSample,
    Role,
    unreachable,
)
from console.probes.topology import ServiceTopology, reconcile, topology

__all__ = [
    "Health",
    "Link",
    "MemberHealth",
    "Probe",
    "ProbeTarget",
    "ReplicaInfo",
    "ReplicationSample",
    "Role",
    "ServiceTopology",
    "Thresholds",
    "assess",
    "probe_for",
    "reconcile",
    "topology",
    "unreachable",
]
