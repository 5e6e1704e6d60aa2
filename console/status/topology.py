"""The observed replication shape against the declared one (``topology:`` in the inventory).

Pure: a service's declaration (``console.model.topology``) and one sweep of its members'
samples in, a :class:`ShapeCheck` out: a health word, a label a person reads at a glance
("active-active", "cascade db-east -> db-west -> db-dr") and a sentence per finding:

- a cascade whose link broke (a cascading replica not receiving from its declared upstream:
  CRIT), or that follows another member than declared (WARN);
- a multi-primary pair replicating one way only (CRIT), a writer that is read-only (WARN), a
  replication conflict, with the GTID it cannot apply (CRIT), and errant writes: a
  transaction in a unit's GTID domain from another server than the unit's writer (WARN);
- two members taking writes where the shape allows one: split brain (CRIT).

Two writers in a declared multi-primary service are the design: it is "active-active", OK.
What a sample cannot say (a member not seen, an upstream it names that is no member) is not
turned into a finding: the member's own row already says it is down or unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from console.model.inventory import Inventory, Service
from console.probes.sample import Health, Link, ReplicationSample, Role
from console.targets import member_address

_MARIADB_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")
_ORDER = {Health.OK: 0, Health.UNKNOWN: 1, Health.WARN: 2, Health.CRIT: 3}


@dataclass(frozen=True)
class ShapeCheck:
    """One service's observed shape judged against its declared topology."""

    service: str
    shape: str
    """The declared topology."""
    health: Health
    """OK, WARN or CRIT (UNKNOWN when no member was seen)."""
    label: str
    """The shape in a few words (``active-active``, ``cascade db-east -> db-west -> db-dr``)."""
    reasons: tuple[str, ...]
    """One sentence per finding, worst first; empty when OK."""


@dataclass
class _Findings:
    crit: list[str]
    warn: list[str]

    def health(self) -> Health:
        if self.crit:
            return Health.CRIT
        return Health.WARN if self.warn else Health.OK


def gtids(position: str | None) -> dict[int, tuple[int, int]]:
    """A MariaDB GTID position (``0-1-7,1-2-5``) as domain -> (server id, sequence); MySQL
    UUID sets and anything else read as empty."""
    out: dict[int, tuple[int, int]] = {}
    for part in (position or "").split(","):
        m = _MARIADB_GTID.match(part.strip())
        if m:
            out[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    return out


def follows(inventory: Inventory, service: Service, sample: ReplicationSample) -> str | None:
    """The member a replica's sample names as its upstream (``address:port``, its own or one
    of its ``aliases:``), if it is one."""
    if not sample.upstream or ":" not in sample.upstream:
        return None
    aliased = service.topology.aliases.get(sample.upstream)
    if aliased is not None:
        return aliased
    address, _, port = sample.upstream.rpartition(":")
    by_port = []
    for m in service.members.values():
        if m.host == sample.host or m.port is None or str(m.port) != port:
            continue
        if member_address(inventory, m) == address:
            return m.host
        by_port.append(m.host)
    return by_port[0] if len(by_port) == 1 else None


def check_shape(
    inventory: Inventory, service: Service, samples: Sequence[ReplicationSample]
) -> ShapeCheck:
    """Judge one sweep of ``service``'s members against its declared topology."""
    by_host = {s.host: s for s in samples if s.service == service.name}
    shape = service.topology.shape
    seen = [s for s in by_host.values() if s.role in (Role.PRIMARY, Role.REPLICA)]
    if not seen:
        return ShapeCheck(service.name, shape, Health.UNKNOWN, f"{shape}: no member seen", ())
    found = _Findings([], [])
    if shape == "multi-primary":
        label = _multi_primary(inventory, service, by_host, found)
    else:
        writers = [s.host for s in seen if s.role is Role.PRIMARY and s.read_only is not True]
        if len(writers) > 1:
            found.crit.append(
                f"split brain: {' and '.join(writers)} both accept writes; topology {shape} "
                "allows one"
            )
        primary = writers[0] if len(writers) == 1 else service.expected_primary
        label = shape
        if shape == "cascade":
            label = _cascade(inventory, service, by_host, primary, found)
    health = found.health()
    return ShapeCheck(service.name, shape, health, label, (*found.crit, *found.warn))


def _cascade(
    inventory: Inventory,
    service: Service,
    by_host: Mapping[str, ReplicationSample],
    primary: str | None,
    found: _Findings,
) -> str:
    topo = service.topology
    for host, upstream in topo.upstreams.items():
        sample = by_host.get(host)
        if sample is None or sample.role not in (Role.PRIMARY, Role.REPLICA):
            continue
        if sample.role is Role.PRIMARY:
            found.warn.append(
                f"{host} is a primary: the cascade link {upstream} -> {host} is no longer there"
            )
            continue
        source = follows(inventory, service, sample)
        up = by_host.get(upstream)
        if sample.link is Link.DOWN or sample.link is Link.NONE:
            why = ""
            if up is not None and up.role is Role.DOWN:
                why = f" ({upstream} is down)"
            found.crit.append(
                f"broken cascade link: {host} is not receiving from {upstream}{why}; "
                f"{host} falls behind"
            )
        elif source is not None and source != upstream:
            found.warn.append(f"{host} follows {source}, but its declared upstream is {upstream}")
    return "cascade " + " ; ".join(_chains(topo.upstreams, primary))


def _chains(upstreams: Mapping[str, str], primary: str | None) -> list[str]:
    """``db-east -> db-west -> db-dr`` for each cascading leaf."""
    feeders = set(upstreams.values())
    out = []
    for leaf in (h for h in upstreams if h not in feeders):
        chain = [leaf]
        while chain[-1] in upstreams and upstreams[chain[-1]] not in chain:
            chain.append(upstreams[chain[-1]])
        if primary is not None and chain[-1] != primary:
            chain.append(primary)
        out.append(" -> ".join(reversed(chain)))
    return out or ["(no cascading replica)"]


def _multi_primary(
    inventory: Inventory,
    service: Service,
    by_host: Mapping[str, ReplicationSample],
    found: _Findings,
) -> str:
    units = service.topology.units
    writers = list(units)
    for host in writers:
        sample = by_host.get(host)
        if sample is None or sample.role not in (Role.PRIMARY, Role.REPLICA):
            continue
        unit = units[host].name
        if sample.read_only is True:
            found.warn.append(f"{host} ({unit}) is read-only: {unit}'s writes are refused")
        for other in writers:
            if other == host:
                continue
            _both_ways(inventory, service, sample, other, by_host, found)
    _errant(service, by_host, found)
    for host in service.members:
        sample = by_host.get(host)
        if host in units or sample is None or sample.role is not Role.REPLICA:
            continue
        if sample.link is Link.DOWN:
            found.warn.append(f"replica {host} is not receiving (link down)")
    shown = " and ".join(f"{h} ({units[h].name})" for h in writers)
    if not found.crit and not found.warn:
        return f"active-active: {shown} take writes and replicate both ways"
    return f"multi-primary: {shown}"


def _both_ways(
    inventory: Inventory,
    service: Service,
    sample: ReplicationSample,
    other: str,
    by_host: Mapping[str, ReplicationSample],
    found: _Findings,
) -> None:
    host = sample.host
    if sample.role is Role.PRIMARY:
        found.crit.append(
            f"one-way multi-primary: {host} does not replicate from {other} (no replication "
            f"configured): {other}'s writes never reach {host}"
        )
        return
    source = follows(inventory, service, sample)
    if source is not None and source != other:
        return  # it follows another writer; that pair is judged on its own
    sql_error = sample.details.get("last_sql_error")
    if sql_error:
        stuck = _unapplied(sample)
        at = f" cannot apply {stuck} from {other}" if stuck else f" stopped applying {other}"
        found.crit.append(f"replication conflict: {host}{at}: {sql_error}")
    elif sample.link is not Link.UP:
        io = sample.details.get("last_io_error")
        found.crit.append(
            f"one-way multi-primary: {host} is not receiving {other}'s writes "
            f"(link {sample.link.value}{': ' + io if io else ''})"
        )


def _unapplied(sample: ReplicationSample) -> str:
    """The GTIDs a replica received but has not applied (where its SQL thread stopped):
    per domain, received (``Gtid_IO_Pos``) beyond what it holds (``gtid_current_pos``, its
    own writes included)."""
    received = gtids(sample.details.get("gtid_io_pos"))
    applied = gtids(sample.details.get("gtid_current_pos") or sample.position)
    stuck = [
        f"{d}-{s}-{n}"
        for d, (s, n) in sorted(received.items())
        if d not in applied or applied[d][1] < n
    ]
    return ", ".join(stuck)


def _errant(service: Service, by_host: Mapping[str, ReplicationSample], found: _Findings) -> None:
    """A transaction in a unit's GTID domain from another server than the unit's writer."""
    owners: dict[int, tuple[str, str, int]] = {}
    for host, unit in service.topology.units.items():
        sample = by_host.get(host)
        sid = sample.details.get("server_id") if sample is not None else None
        if unit.gtid_domain is not None and sid is not None and sid.isdigit():
            owners[unit.gtid_domain] = (host, unit.name, int(sid))
    servers = {
        int(s.details["server_id"]): h
        for h, s in by_host.items()
        if s.details.get("server_id", "").isdigit()
    }
    reported: set[tuple[int, int]] = set()
    for host, sample in by_host.items():
        position = sample.details.get("gtid_current_pos") or sample.position
        for domain, (server, seq) in gtids(position).items():
            if domain not in owners or (domain, server) in reported:
                continue
            owner, unit_name, owner_sid = owners[domain]
            if server != owner_sid:
                reported.add((domain, server))
                writer = servers.get(server, f"server {server}")
                found.warn.append(
                    f"errant writes: {unit_name}'s GTID domain {domain} holds "
                    f"{domain}-{server}-{seq} "
                    f"written by {writer}, not by {owner} (seen at {host})"
                )


def worse(a: Health, b: Health) -> Health:
    """The worse of two health words."""
    return a if _ORDER.get(a, 1) >= _ORDER.get(b, 1) else b


__all__ = ["ShapeCheck", "check_shape", "follows", "gtids", "worse"]
