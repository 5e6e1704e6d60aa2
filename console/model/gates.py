"""Conditions on the observed replication state, and the preflight gates built on them.

A condition names some members of a service (by site or host) and what must hold for them:
an observed role, a link state, caught up, a maximum lag, healthy. A ``replication`` or
``role`` gate checks one before step 1, a ``wait`` step polls one; a ``command`` gate runs a
command instead. Names in a condition may be templates and are checked against an inventory
by ``console.model.checks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.errors import Location
from console.model.enums import GATE_KINDS, LINKS, OBSERVED_ROLES
from console.model.expect import CommandCheck, build_command_check
from console.model.fields import PlaybookReader
from console.model.reader import MapView, describe, suggest
from console.model.templates import Template
from console.model.yamlsrc import Node

if TYPE_CHECKING:
    from console.model.scope import Scope

CONDITION_KEYS = ("service", "site", "host", "role", "caught_up", "link", "max_lag", "healthy")


@dataclass(frozen=True)
class Condition:
    """A condition on the observed replication state of some members of a service."""

    service: Template | None
    """The service (default: the playbook's)."""
    site: Template | None
    host: Template | None
    role: str | None
    """primary, replica, down or unknown."""
    caught_up: bool | None
    """The selected replicas stream with nothing left to replay (byte lag 0, or 0 seconds
    behind where the kind reports no byte lag)."""
    link: str | None
    max_lag: float | None
    healthy: bool | None
    loc: Location


@dataclass(frozen=True)
class Gate:
    """A preflight check; every gate must pass before step 1."""

    kind: str
    """``replication``, ``role`` or ``command``."""
    title: str
    condition: Condition | None
    command: CommandCheck | None
    loc: Location
    scope: Scope | None = None
    """The included playbook it comes from (``console.model.include``); None: its own."""


def build_condition(
    reader: PlaybookReader, node: Node, what: str, *, default_service: bool = True
) -> Condition | None:
    """A condition mapping (None when it is not a mapping: recorded)."""
    view = MapView(node, what, CONDITION_KEYS, reader.problems)
    if not view.ok:
        return None
    if not default_service and not view.has("service"):
        reader.add(f"{what} needs 'service'", node.loc)
    return Condition(
        service=reader.template(view.get("service"), f"service in {what}"),
        site=reader.template(view.get("site"), f"site in {what}"),
        host=reader.template(view.get("host"), f"host in {what}"),
        role=view.choice("role", OBSERVED_ROLES),
        caught_up=view.flag("caught_up") if view.has("caught_up") else None,
        link=view.choice("link", LINKS),
        max_lag=view.duration("max_lag"),
        healthy=view.flag("healthy") if view.has("healthy") else None,
        loc=node.loc,
    )


def build_gate(reader: PlaybookReader, node: Node, index: int) -> Gate | None:
    """Preflight gate number ``index`` (0-based); None when broken (recorded)."""
    what = f"preflight gate {index + 1}"
    if not node.is_map:
        reader.add(f"{what} must be a mapping, not {describe(node.value)}", node.loc)
        return None
    allowed = (*GATE_KINDS, "title")
    kinds = [k for k in GATE_KINDS if k in node.value]
    title = node.value.get("title")
    for k in node.value:
        if k not in allowed:
            reader.add(f"unknown key {k!r} in {what}{suggest(k, allowed)}", node.key_loc(k))
    if len(kinds) != 1:
        reader.add(f"{what} needs exactly one of {', '.join(GATE_KINDS)}", node.loc)
        return None
    kind = kinds[0]
    body = node.value[kind]
    title_text = str(title.value) if title is not None and title.value is not None else ""
    if kind == "command":
        check = build_command_check(reader, body, what)
        return Gate(kind, title_text or "command check", None, check, node.loc) if check else None
    cond = build_condition(reader, body, what, default_service=True)
    if cond is None:
        return None
    if kind == "role" and cond.role is None:
        reader.add(f"{what}: a role gate needs 'role'", body.loc)
    return Gate(kind, title_text or f"{kind} check", cond, None, node.loc)
