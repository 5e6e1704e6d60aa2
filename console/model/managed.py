"""``managed_by:`` of a service: the HA manager that owns its failovers.

A service run by Patroni or watched by Sentinel must never be failed over by hand: the manager
would fight the operator (Patroni restarts a fenced leader, Sentinel re-points a promoted
replica), or two primaries would appear. The inventory says who manages a service so that the
probes can show the manager's view next to the database's and the raw playbooks can refuse it::

    managed_by: {kind: patroni, api: [http://db-east-1:8008, http://db-west-1:8008]}
    managed_by: {kind: sentinel, sentinels: [sent-east:26379, sent-west:26379], master: sessions}

``api`` may be one URL or a list (any member's REST API answers ``/cluster``; the probes ask
each in turn, so a dark site delays nothing). Every value is checked with its location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.errors import Location
from console.model.enums import MANAGER_KINDS
from console.model.reader import MapView, Problems
from console.model.yamlsrc import Node

MANAGED_SERVICE_KIND = {"patroni": "postgres", "sentinel": "redis"}
"""The service kind each manager can run."""

_URL = re.compile(r"^https?://[A-Za-z0-9._-]+(:\d{1,5})?/?$")
_ENDPOINT = re.compile(r"^[A-Za-z0-9._-]+:(\d{1,5})$")
_MASTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_KEYS = ("kind", "api", "sentinels", "master")
_ONLY = {"api": "patroni", "sentinels": "sentinel", "master": "sentinel"}


@dataclass(frozen=True)
class ManagedBy:
    """Who manages a service, and where to ask it."""

    kind: str
    """``patroni`` or ``sentinel``."""
    api: tuple[str, ...] = ()
    """Patroni: the REST API base URLs (``http://host:8008``), asked in turn."""
    sentinels: tuple[tuple[str, int], ...] = ()
    """Sentinel: every Sentinel's ``(host, port)``."""
    master: str | None = None
    """Sentinel: the name the Sentinels monitor the master under."""
    loc: Location | None = None
    """Where ``managed_by`` is written."""

    @property
    def manager(self) -> str:
        """How a person names the manager ("Patroni", "Sentinel")."""
        return "Patroni" if self.kind == "patroni" else "Sentinel"


def _url_items(mv: MapView, key: str, problems: Problems) -> tuple[str, ...]:
    out: list[str] = []
    node = mv.get(key)
    items = mv.str_list(key)
    nodes = list(node.value) if node is not None and node.is_seq else [node] * len(items)
    for value, item in zip(items, nodes, strict=False):
        where = item.loc if item is not None else mv.loc
        if not _URL.match(value):
            problems.add(
                f"{key} {value!r} of {mv.what} must be an http:// or https:// URL with a host "
                "and an optional port, such as http://db-east-1:8008",
                where,
            )
            continue
        port = value.rstrip("/").rsplit(":", 1)[-1]
        if port.isdigit() and not 1 <= int(port) <= 65535:
            problems.add(f"{key} {value!r} of {mv.what}: port must be from 1 to 65535", where)
            continue
        out.append(value.rstrip("/"))
    return tuple(out)


def _endpoints(mv: MapView, problems: Problems) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    node = mv.get("sentinels")
    items = mv.str_list("sentinels")
    nodes = list(node.value) if node is not None and node.is_seq else [node] * len(items)
    for value, item in zip(items, nodes, strict=False):
        where = item.loc if item is not None else mv.loc
        m = _ENDPOINT.match(value)
        if m is None:
            problems.add(
                f"sentinel {value!r} of {mv.what} must be HOST:PORT, such as sentinel-east:26379",
                where,
            )
            continue
        port = int(m.group(1))
        if not 1 <= port <= 65535:
            problems.add(
                f"sentinel {value!r} of {mv.what}: port must be from 1 to 65535, not {port}",
                where,
            )
            continue
        out.append((value.rsplit(":", 1)[0], port))
    return tuple(out)


def build_managed_by(
    node: Node, service: str, service_kind: str, problems: Problems
) -> ManagedBy | None:
    """Read ``managed_by`` of ``service`` (of kind ``service_kind``); None when it is invalid
    (every problem is added, located)."""
    mv = MapView(node, f"managed_by of {service!r}", _KEYS, problems, required=("kind",))
    if not mv.ok:
        return None
    kind = mv.choice("kind", MANAGER_KINDS)
    if kind is None:
        return None
    kn = mv.get("kind")
    assert kn is not None
    wanted = MANAGED_SERVICE_KIND[kind]
    bad = False
    if service_kind != wanted:
        problems.add(
            f"managed_by kind {kind} of {service!r} manages {wanted} services, not {service_kind}",
            kn.loc,
        )
        bad = True
    for key, only in _ONLY.items():
        other = mv.get(key)
        if other is not None and only != kind:
            problems.add(
                f"{key!r} in managed_by of {service!r} is for kind {only}, not {kind}",
                node.key_loc(key),
            )
            bad = True
    if kind == "patroni":
        if not mv.has("api"):
            problems.add(f"managed_by of {service!r} (patroni) needs 'api'", mv.loc)
            return None
        api = _url_items(mv, "api", problems)
        an = mv.get("api")
        if an is not None and an.is_seq and not an.value:
            problems.add(f"api in managed_by of {service!r} names no URL", an.loc)
        if not api:
            return None
        return None if bad else ManagedBy(kind, api=api, loc=mv.loc)
    if not mv.has("sentinels") or not mv.has("master"):
        missing = [k for k in ("sentinels", "master") if not mv.has(k)]
        problems.add(
            f"managed_by of {service!r} (sentinel) needs {' and '.join(map(repr, missing))}",
            mv.loc,
        )
        return None
    sentinels = _endpoints(mv, problems)
    sn = mv.get("sentinels")
    if sn is not None and sn.is_seq and not sn.value:
        problems.add(f"sentinels in managed_by of {service!r} names no Sentinel", sn.loc)
    master = mv.text("master")
    if master is not None and not _MASTER.match(master):
        mn = mv.get("master")
        assert mn is not None
        problems.add(
            f"master {master!r} in managed_by of {service!r} is not a Sentinel master name "
            "(letters, digits, '.', '_' and '-')",
            mn.loc,
        )
        return None
    if not sentinels or master is None or bad:
        return None
    return ManagedBy(kind, sentinels=sentinels, master=master, loc=mv.loc)
