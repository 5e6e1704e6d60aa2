"""A service's declared replication shape: ``topology: primary-replica | cascade |
multi-primary``.

The shape is declared, not guessed, so the board and ``status`` can compare what they observe
with what the estate is meant to be (``console.status.topology``):

- ``primary-replica`` (the default): one primary, every replica follows it;
- ``cascade``: some replica follows another replica (a member's ``upstream:`` names the
  member it is fed by); the chain of upstreams ends at the primary;
- ``multi-primary``: several members take writes, each for its own unit of the data (a
  member's ``unit:``, and for MySQL/MariaDB its ``gtid_domain:``, the GTID domain its writes
  carry); two primaries are then the design, not a split brain.

Any member may list ``aliases:``, other ``ADDRESS:PORT`` endpoints that reach it (a TCP relay
or proxy on a replication link, e.g. the lab's latency relays): a replica whose upstream is
an alias follows that member, and the link's round trip is measured through the alias.

Every rule is checked at load time with the offending value's place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from console.errors import Location
from console.model.enums import TOPOLOGIES
from console.model.reader import MapView, Problems, describe, suggest
from console.model.yamlsrc import Node

MEMBER_TOPOLOGY_KEYS = ("upstream", "unit", "gtid_domain", "aliases")
"""The keys a member may hold for its service's topology."""

MAX_GTID_DOMAIN = 4294967295
"""MariaDB's ``gtid_domain_id`` is a 32-bit unsigned integer."""


@dataclass(frozen=True)
class Unit:
    """The share of the data one member of a multi-primary service writes."""

    name: str
    gtid_domain: int | None
    """The GTID domain its writes carry (MySQL/MariaDB), if declared."""
    loc: Location


@dataclass(frozen=True)
class Topology:
    """A service's declared shape."""

    shape: str = "primary-replica"
    """``primary-replica``, ``cascade`` or ``multi-primary``."""
    upstreams: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Cascade: replica host -> the member host it is fed by (replicas not named follow the
    primary)."""
    units: Mapping[str, Unit] = field(default_factory=lambda: MappingProxyType({}))
    """Multi-primary: primary host -> its unit."""
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """``address:port`` of an alias (a relay or proxy) -> the member host it reaches."""

    def upstream_of(self, host: str, primary: str | None) -> str | None:
        """The member a replica should follow: its declared upstream, else the primary."""
        return self.upstreams.get(host, primary)


def read_topology(
    service: str,
    kind: str,
    sv: MapView,
    members: Sequence[tuple[str, Node, str]],
    problems: Problems,
) -> Topology:
    """The ``topology:`` of a service and its members' ``upstream``/``unit``/``gtid_domain``.

    Args:
        service: the service's name.
        kind: its kind.
        sv: the service's mapping.
        members: (host, member node, expected role) of each member that was read.
        problems: where problems are recorded.
    """
    shape = sv.choice("topology", TOPOLOGIES, "primary-replica") or "primary-replica"
    names = [h for h, _n, _r in members]
    roles = {h: r for h, _n, r in members}
    upstreams: dict[str, str] = {}
    units: dict[str, Unit] = {}
    unit_names: dict[str, Location] = {}
    domains: dict[int, Location] = {}
    aliases: dict[str, str] = {}
    for host, node, role in members:
        if not node.is_map:
            continue
        an = node.value.get("aliases")
        if an is not None:
            _aliases(service, host, an, aliases, problems)
        up = node.value.get("upstream")
        if up is not None:
            _upstream(service, shape, host, role, up, names, upstreams, problems)
        un = node.value.get("unit")
        dn = node.value.get("gtid_domain")
        for key, n in (("unit", un), ("gtid_domain", dn)):
            if n is not None and shape != "multi-primary":
                problems.add(
                    f"{key}: of member {host!r} is for topology: multi-primary "
                    f"(service {service!r} is {shape})",
                    node.key_loc(key),
                )
        if shape != "multi-primary":
            continue
        if role != "primary":
            for key, n in (("unit", un), ("gtid_domain", dn)):
                if n is not None:
                    problems.add(
                        f"{key}: of member {host!r}: only a primary of a multi-primary "
                        "service writes a unit",
                        node.key_loc(key),
                    )
            continue
        unit = _unit(service, kind, host, node, un, dn, unit_names, domains, problems)
        if unit is not None:
            units[host] = unit
    if shape == "cascade":
        _check_cascade(service, roles, upstreams, sv, problems)
    if shape == "multi-primary":
        primaries = [h for h in names if roles[h] == "primary"]
        if len(primaries) < 2:
            problems.add(
                f"service {service!r} is multi-primary but has {len(primaries)} member(s) with "
                "role: primary (it needs two or more)",
                _shape_loc(sv),
            )
    return Topology(
        shape, MappingProxyType(upstreams), MappingProxyType(units), MappingProxyType(aliases)
    )


def _aliases(
    service: str, host: str, node: Node, aliases: dict[str, str], problems: Problems
) -> None:
    """A member's ``aliases:``: a list of ``ADDRESS:PORT`` no other member claims."""
    if not isinstance(node.value, list):
        problems.add(
            f"aliases: of member {host!r} must be a list of ADDRESS:PORT, not "
            f"{describe(node.value)}",
            node.loc,
        )
        return
    for item in node.value:
        text = item.value
        address, sep, port = text.rpartition(":") if isinstance(text, str) else ("", "", "")
        if not sep or not address or not port.isdigit() or not 1 <= int(port) <= 65535:
            problems.add(
                f"alias of member {host!r} must be ADDRESS:PORT (port 1-65535), not "
                + (repr(text) if isinstance(text, str) else describe(text)),
                item.loc,
            )
        elif text in aliases:
            problems.add(
                f"alias {text} of member {host!r} is already an alias of {aliases[text]!r} "
                f"(service {service!r})",
                item.loc,
            )
        else:
            aliases[text] = host


def _shape_loc(sv: MapView) -> Location:
    n = sv.get("topology")
    return n.loc if n is not None else sv.loc


def _upstream(
    service: str,
    shape: str,
    host: str,
    role: str,
    node: Node,
    names: list[str],
    upstreams: dict[str, str],
    problems: Problems,
) -> None:
    if shape != "cascade":
        problems.add(
            f"upstream: of member {host!r} is for topology: cascade (service {service!r} is "
            f"{shape}; its replicas follow the primary)",
            node.loc,
        )
        return
    if not isinstance(node.value, str):
        problems.add(
            f"upstream: of member {host!r} must be a member's host name, not "
            f"{describe(node.value)}",
            node.loc,
        )
        return
    value = node.value
    if role == "primary":
        problems.add(f"upstream: of member {host!r}: a primary follows no one", node.loc)
    elif value == host:
        problems.add(f"upstream: of member {host!r} names itself", node.loc)
    elif value not in names:
        problems.add(
            f"upstream {value!r} of member {host!r} is not a member of service {service!r}"
            f"{suggest(value, names)}",
            node.loc,
        )
    else:
        upstreams[host] = value


def _check_cascade(
    service: str,
    roles: Mapping[str, str],
    upstreams: dict[str, str],
    sv: MapView,
    problems: Problems,
) -> None:
    if not any(roles.get(up) == "replica" for up in upstreams.values()):
        problems.add(
            f"service {service!r} is a cascade but no replica names another replica as its "
            "upstream: (without one it is primary-replica)",
            _shape_loc(sv),
        )
    for start in list(upstreams):
        seen = [start]
        cur = upstreams.get(start)
        while cur is not None and cur in upstreams:
            if cur in seen:
                problems.add(
                    f"the upstreams of service {service!r} go round in a circle: "
                    f"{' -> '.join([*seen, cur])}",
                    _shape_loc(sv),
                )
                for h in seen:
                    upstreams.pop(h, None)
                return
            seen.append(cur)
            cur = upstreams.get(cur)


def _unit(
    service: str,
    kind: str,
    host: str,
    node: Node,
    un: Node | None,
    dn: Node | None,
    unit_names: dict[str, Location],
    domains: dict[int, Location],
    problems: Problems,
) -> Unit | None:
    if un is None or un.value is None:
        problems.add(
            f"member {host!r} of multi-primary service {service!r} needs unit: (the share of "
            "the data it writes)",
            node.loc,
        )
        return None
    if not isinstance(un.value, str):
        problems.add(f"unit: of member {host!r} must be a name, not {describe(un.value)}", un.loc)
        return None
    name = un.value
    if name in unit_names:
        problems.add(
            f"unit {name!r} is written by two members of {service!r} (first at line "
            f"{unit_names[name].line})",
            un.loc,
        )
    unit_names.setdefault(name, un.loc)
    domain: int | None = None
    if dn is not None:
        if kind != "mysql":
            problems.add(
                f"gtid_domain: of member {host!r}: GTID domains are MySQL/MariaDB's "
                f"(service {service!r} is {kind})",
                dn.loc,
            )
        elif isinstance(dn.value, bool) or not isinstance(dn.value, int):
            problems.add(
                f"gtid_domain: of member {host!r} must be an integer, not {describe(dn.value)}",
                dn.loc,
            )
        elif not 0 <= dn.value <= MAX_GTID_DOMAIN:
            problems.add(
                f"gtid_domain: of member {host!r} must be from 0 to {MAX_GTID_DOMAIN}, "
                f"not {dn.value}",
                dn.loc,
            )
        elif dn.value in domains:
            problems.add(
                f"gtid_domain {dn.value} is declared by two members of {service!r} (first at "
                f"line {domains[dn.value].line})",
                dn.loc,
            )
        else:
            domain = int(dn.value)
            domains[domain] = dn.loc
    return Unit(name, domain, un.loc)


__all__ = ["MEMBER_TOPOLOGY_KEYS", "Topology", "Unit", "read_topology"]
