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
    replica: ReplicationSample, primaries: Sequence[ReplicationSample], replicas_in_service: int
) -> tuple[ReplicationSample, ReplicaInfo] | None:
    endpoint = replica.details.get("endpoint")
    port, address = _port(endpoint), _address(endpoint)
    app = replica.details.get("application_name") if replica.kind == "postgres" else None
    if app:  # a PostgreSQL standby names itself; its primary lists it by that name
        named = [(p, info) for p in primaries for info in p.replicas if info.name == app]
        if len(named) == 1:
            return named[0]
    by_port: list[tuple[ReplicationSample, ReplicaInfo]] = []
    for primary in primaries:
        for info in primary.replicas:
            if port is not None and _port(info.name) == port:
                if info.address == address:
                    return primary, info
                by_port.append((primary, info))
    if len(by_port) == 1:
        return by_port[0]
    # PostgreSQL names a standby by application_name, MySQL by its client address: with one
    # primary listing one replica and one replica in the service, they are each other.
    listed = [(p, info) for p in primaries for info in p.replicas]
    if not by_port and len(primaries) == 1 and len(listed) == 1 and replicas_in_service == 1:
        return listed[0]
    return None


ACK_EVERY_REDIS = 1.0
"""A Redis replica acknowledges its offset every second (``REPLCONF ACK``)."""
MISSED_ACKS = 3
"""Acknowledgements missed in a row before the primary's view says the replica is silent."""
NEWER_BY = 1.0
"""The primary's sample must be this much newer than the replica's to overrule it (samples
of one sweep are taken together; a disagreement between them is a moment, not a silence)."""
LIVE_STATES = {"streaming", "online"}
"""What PostgreSQL and Redis primaries call a replica that is following."""


def ack_limit(replica: ReplicationSample) -> float | None:
    """Seconds without an acknowledgement after which a replica is silent, by kind: Redis
    acknowledges every second; a PostgreSQL standby replies at least every
    ``wal_receiver_status_interval`` (its own setting, from its last sample; 10 s default)."""
    if replica.kind == "redis":
        return ACK_EVERY_REDIS * MISSED_ACKS
    if replica.kind == "postgres":
        try:
            interval = float(replica.details.get("status_interval", "10"))
        except ValueError:
            interval = 10.0
        return interval * 2 + 1.0 if interval > 0 else None
    return None


def survivors_view(
    replica: ReplicationSample,
    primary: ReplicationSample,
    info: ReplicaInfo | None,
) -> str | None:
    """What a newer sample of the primary says about a replica that its own sample cannot:
    that the primary no longer lists it, that it is not following, or that it has stopped
    acknowledging. A dark replica's own probe hangs until its deadline; its primary, still
    answering, shows the silence within a few acknowledgement intervals.

    Returns:
        A sentence, or None when the primary's view is older or says nothing against it.
    """
    if primary.sampled_at <= replica.sampled_at + NEWER_BY:
        return None  # the replica's own word is as new: it answers, and it says it follows
    if info is None:
        # MySQL lists dump threads only to a user with PROCESS: an empty list proves nothing
        if not primary.replicas and replica.kind in ("postgres", "redis"):
            return f"as seen by {primary.host}: no replica is connected to it"
        return None
    if info.state and replica.kind in ("postgres", "redis") and info.state not in LIVE_STATES:
        return f"as seen by {primary.host}: its replication state is {info.state}"
    limit = ack_limit(replica)
    if limit is not None and info.ack_age is not None and info.ack_age > limit:
        return f"as seen by {primary.host}: no acknowledgement from it for {info.ack_age:.0f} s"
    return None


def reconcile(samples: Sequence[ReplicationSample]) -> tuple[ReplicationSample, ...]:
    """Complete each replica's sample with what its primary sees.

    Two things, both recorded in ``details``:

    * a replica whose link is up and whose lag (seconds and bytes) is entirely unknown gets
      the lag its primary reports (``lag_source``), when exactly one primary of its service
      lists a replica with its port (and, when several do, its address), or one primary
      lists one replica and the service has one;
    * a PostgreSQL standby its primary lists as ``sync``, ``potential`` or ``quorum`` gets
      that ``sync_state`` in ``details``;
    * a replica whose own sample says it follows, while a newer sample of its primary says it
      is gone, not following or silent (``survivors_view``), gets that sentence as its error
      (``primary_view``), so it is not OK before its own probe times out.

    Args:
        samples: One sweep, any services.

    Returns:
        The same samples, in the same order, some completed.
    """
    primaries: dict[str, list[ReplicationSample]] = {}
    replicas: dict[str, int] = {}
    for sample in samples:
        if sample.role is Role.PRIMARY:
            primaries.setdefault(sample.service, []).append(sample)
        elif sample.role is Role.REPLICA:
            replicas[sample.service] = replicas.get(sample.service, 0) + 1
    out: list[ReplicationSample] = []
    for original in samples:
        sample = original
        if sample.role is not Role.REPLICA or sample.link is not Link.UP:
            out.append(sample)
            continue
        ups = primaries.get(sample.service, [])
        found = _match(sample, ups, replicas.get(sample.service, 0))
        if found is not None and found[1].sync_state not in (None, "async"):
            # its primary's commits wait for it (PostgreSQL's sync_state; async says nothing)
            sample = replace(
                sample, details={**sample.details, "sync_state": str(found[1].sync_state)}
            )
        if (
            found is not None
            and sample.lag_seconds is None
            and sample.lag_bytes is None
            and (found[1].lag_seconds is not None or found[1].lag_bytes is not None)
        ):
            primary, info = found
            sample = replace(
                sample,
                lag_seconds=info.lag_seconds,
                lag_bytes=info.lag_bytes,
                details={**sample.details, "lag_source": f"as seen by {primary.host}"},
            )
        if len(ups) == 1 and sample.error is None:
            said = survivors_view(sample, ups[0], found[1] if found is not None else None)
            if said is not None:
                sample = replace(
                    sample, error=said, details={**sample.details, "primary_view": said}
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


def sync_word(sample: ReplicationSample) -> str | None:
    """``sync``, ``quorum`` or ``potential`` for a PostgreSQL standby its primary's commits
    wait for (or may), ``semi-sync`` for a MariaDB/MySQL replica acknowledging as one; None
    for an asynchronous replica."""
    state = sample.details.get("sync_state")
    if state in ("sync", "quorum", "potential"):
        return state
    if sample.details.get("semi_sync_replica") == "ON":
        return "semi-sync"
    return None


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
            + ", ".join(
                f"{_where(s)} link {s.link.value}, {describe_lag(s)}"
                + (f", {word}" if (word := sync_word(s)) else "")
                for s in replicas
            )
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
