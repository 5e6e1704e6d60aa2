"""Per-service topology from one sweep of samples: who is primary, who follows, split brain.

Samples are per member; operators think per service: "orders-db: primary in east, west
streaming 0 s behind". This module groups a sweep by service and says exactly that, in
words a tired person reads correctly at 3 a.m. Two members that both accept writes are a
split brain and are called that. A primary that is read-only (fenced, the old primary after
a failover) is not counted as a writer but is listed, so a finished failover reads as one
primary and one fenced member, not as a split brain.

``reconcile`` fills in a replica's lag from its primary's view where the replica cannot know
it (a Redis replica knows its own offset, not its primary's), so that the status table and
the health rules see the best available number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from console.probes.sample import Link, ReplicaInfo, ReplicationSample, Role


@dataclass(frozen=True, slots=True)
class ServiceTopology:
    """One service's shape as observed in one sweep."""

    service: str
    """The service name."""
    kind: str
    """The service's database kind."""
    writers: tuple[ReplicationSample, ...]
    """Primaries that accept writes (``read_only`` is not True)."""
    fenced: tuple[ReplicationSample, ...]
    """Primaries that are read-only."""
    replicas: tuple[ReplicationSample, ...]
    """Members observed as replicas (with lag filled in by ``reconcile``)."""
    unreachable: tuple[ReplicationSample, ...]
    """Members observed DOWN or UNKNOWN."""
    split_brain: bool
    """More than one member accepts writes."""
    summary: str
    """One line for a person."""

    @property
    def primary(self) -> ReplicationSample | None:
        """The one writable primary, or None when there is none or more than one."""
        return self.writers[0] if len(self.writers) == 1 else None

    @property
    def primary_site(self) -> str | None:
        """The site holding the one writable primary."""
        return self.primary.site if self.primary else None

    @property
    def primary_host(self) -> str | None:
        """The host holding the one writable primary."""
        return self.primary.host if self.primary else None


def _port(endpoint: str | None) -> str | None:
    if not endpoint or ":" not in endpoint:
        return None
    return endpoint.rsplit(":", 1)[1]


def _address(endpoint: str | None) -> str | None:
    if not endpoint or ":" not in endpoint:
        return None
    return endpoint.rsplit(":", 1)[0]


def _match(
    replica: ReplicationSample, primaries: Sequence[ReplicationSample]
) -> tuple[ReplicationSample, ReplicaInfo] | None:
    endpoint = replica.details.get("endpoint")
    port, address = _port(endpoint), _address(endpoint)
    if port is None:
        return None
    by_port: list[tuple[ReplicationSample, ReplicaInfo]] = []
    for primary in primaries:
        for info in primary.replicas:
            if _port(info.name) == port:
                if info.address == address:
                    return primary, info
                by_port.append((primary, info))
    return by_port[0] if len(by_port) == 1 else None


def reconcile(samples: Sequence[ReplicationSample]) -> tuple[ReplicationSample, ...]:
    """Fill a replica's unknown lag from the primary that lists it.

    Only a replica whose link is up and whose lag (seconds and bytes) is entirely unknown is
    changed, and only when exactly one primary of its service lists a replica with its port
    (and, when several do, its address). The source is recorded in
    ``details["lag_source"]``.

    Args:
        samples: One sweep, any services.

    Returns:
        The same samples, in the same order, some with lag filled in.
    """
    primaries: dict[str, list[ReplicationSample]] = {}
    for sample in samples:
        if sample.role is Role.PRIMARY:
            primaries.setdefault(sample.service, []).append(sample)
    out: list[ReplicationSample] = []
    for original in samples:
        sample = original
        if (
            sample.role is Role.REPLICA
            and sample.link is Link.UP
            and sample.lag_seconds is None
            and sample.lag_bytes is None
        ):
            found = _match(sample, primaries.get(sample.service, []))
            if found is not None:
                primary, info = found
                sample = replace(
                    sample,
                    lag_seconds=info.lag_seconds,
                    lag_bytes=info.lag_bytes,
                    details={**sample.details, "lag_source": f"as seen by {primary.host}"},
                )
        out.append(sample)
    return tuple(out)


def _where(sample: ReplicationSample) -> str:
    return f"{sample.host} ({sample.site})"


def describe_lag(sample: ReplicationSample) -> str:
    """``lag 1.2 s / 340 B``, ``lag 0 B``, or ``lag unknown``."""
    parts = []
    if sample.lag_seconds is not None:
        parts.append(f"{sample.lag_seconds:g} s")
    if sample.lag_bytes is not None:
        parts.append(f"{sample.lag_bytes} B")
    return "lag " + (" / ".join(parts) if parts else "unknown")


def _summary(
    service: str,
    writers: Sequence[ReplicationSample],
    fenced: Sequence[ReplicationSample],
    replicas: Sequence[ReplicationSample],
    unreachable: Sequence[ReplicationSample],
) -> str:
    if len(writers) > 1:
        head = f"{service}: SPLIT BRAIN: {len(writers)} members accept writes: " + ", ".join(
            _where(s) for s in writers
        )
    elif writers:
        head = f"{service}: primary {_where(writers[0])}"
    else:
        head = f"{service}: NO PRIMARY: no member accepts writes"
    parts = [head]
    if fenced:
        parts.append("read-only primary " + ", ".join(_where(s) for s in fenced))
    if replicas:
        parts.append(
            "replicas "
            + ", ".join(f"{_where(s)} link {s.link.value}, {describe_lag(s)}" for s in replicas)
        )
    if unreachable:
        parts.append("not seen " + ", ".join(f"{_where(s)} {s.role.value}" for s in unreachable))
    return "; ".join(parts)


def topology(samples: Sequence[ReplicationSample]) -> tuple[ServiceTopology, ...]:
    """Group one sweep by service and describe each.

    Args:
        samples: The latest sample of every member (any order, any services).

    Returns:
        One ``ServiceTopology`` per service, sorted by service name; members inside are
        sorted by site, then host.
    """
    by_service: dict[str, list[ReplicationSample]] = {}
    for sample in reconcile(samples):
        by_service.setdefault(sample.service, []).append(sample)
    result = []
    for service in sorted(by_service):
        members = sorted(by_service[service], key=lambda s: (s.site, s.host))
        writers = tuple(s for s in members if s.role is Role.PRIMARY and s.read_only is not True)
        fenced = tuple(s for s in members if s.role is Role.PRIMARY and s.read_only is True)
        replicas = tuple(s for s in members if s.role is Role.REPLICA)
        unreachable = tuple(s for s in members if s.role in (Role.DOWN, Role.UNKNOWN))
        result.append(
            ServiceTopology(
                service=service,
                kind=members[0].kind,
                writers=writers,
                fenced=fenced,
                replicas=replicas,
                unreachable=unreachable,
                split_brain=len(writers) > 1,
                summary=_summary(service, writers, fenced, replicas, unreachable),
            )
        )
    return tuple(result)
