"""What templates see, and which hosts a selector picks, against the live topology.

Templates get the playbook's parameters by name plus a fixed set of context names (listed in
``console.model.templates.CONTEXT_NAMES``). ``service`` describes the playbook's service with
the *observed* roles: ``service.primary`` is the member that accepts writes right now,
``service.at[site]`` the member in a site, ``service.members[host]`` any member. ``target`` is
the host a command is rendered for, with its member of the playbook's service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from console.model.inventory import Inventory, Member, Service
from console.model.playbook import Playbook
from console.model.selectors import Selector
from console.model.templates import RenderError
from console.status.collector import StatusSnapshot
from console.targets import member_address, merged_vars


class Owner(Protocol):
    """What a step's templates and selectors take from the playbook it is written in: its
    service (a :class:`Playbook`, or the ``Scope`` of an included one)."""

    @property
    def service(self) -> str | None:
        """The default service of its steps."""


class SelectionError(Exception):
    """A selector could not be resolved (an unknown name, or no host matched)."""


def member_view(
    inventory: Inventory, service: Service, member: Member, snapshot: StatusSnapshot | None
) -> dict[str, Any]:
    """One member as templates see it."""
    host = inventory.hosts[member.host]
    status = snapshot.get(service.name, member.host) if snapshot else None
    sample = status.sample if status else None
    return {
        "host": member.host,
        "site": host.site,
        "address": member_address(inventory, member),
        "port": member.port,
        "aliases": sorted(a for a, h in service.topology.aliases.items() if h == member.host),
        "role": member.role,
        "observed": status.role if status else "unknown",
        "vars": merged_vars(inventory, member.host, member),
        "lag_seconds": sample.lag_seconds if sample else None,
        "lag_bytes": sample.lag_bytes if sample else None,
        "position": sample.position if sample else None,
    }


def service_view(
    inventory: Inventory, service: Service, snapshot: StatusSnapshot | None
) -> dict[str, Any]:
    """A service as templates see it, with observed roles."""
    members = {h: member_view(inventory, service, m, snapshot) for h, m in service.members.items()}
    at: dict[str, dict[str, Any]] = {}
    for view in members.values():
        at.setdefault(view["site"], view)
    primary_status = snapshot.primary(service.name) if snapshot else None
    primary = members.get(primary_status.host) if primary_status else None
    expected = members.get(service.expected_primary or "")
    return {
        "name": service.name,
        "kind": service.kind,
        "members": members,
        "at": at,
        "primary": primary,
        "expected_primary": expected,
        "replicas": [v for v in members.values() if v["observed"] == "replica"],
        "backup": service.backup.view() if service.backup is not None else None,
        "cluster_nodes": cluster_nodes(inventory, service),
    }


def cluster_nodes(inventory: Inventory, service: Service) -> str:
    """A ``redis-cluster`` service's nodes as ``SITE=ADDRESS:PORT``, space-separated (empty
    for any other service): what a shell loop in a playbook reads."""
    return " ".join(
        f"{inventory.hosts[n.host].site}={inventory.hosts[n.host].address}:{n.port}"
        for n in service.nodes
    )


@dataclass
class StepOutputs:
    """What earlier steps printed, for ``steps['id'].stdout`` in later templates."""

    by_step: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(
        self,
        step_id: str,
        host: str,
        stdout: str,
        stderr: str,
        exit_status: int | None,
        outcome: str,
    ) -> None:
        """Keep one host's result of a step (the first host's is the step's own)."""
        entry = self.by_step.setdefault(
            step_id,
            {
                "stdout": stdout.strip(),
                "stderr": stderr.strip(),
                "exit_status": exit_status,
                "outcome": outcome,
                "hosts": {},
            },
        )
        entry["hosts"][host] = {
            "stdout": stdout.strip(),
            "stderr": stderr.strip(),
            "exit_status": exit_status,
        }

    def set_outcome(self, step_id: str, outcome: str) -> None:
        """The step's overall outcome."""
        self.by_step.setdefault(
            step_id, {"stdout": "", "stderr": "", "exit_status": None, "hosts": {}}
        )["outcome"] = outcome

    def forget(self, step_id: str) -> None:
        """Drop a step's outputs before it runs again."""
        self.by_step.pop(step_id, None)


def base_context(
    *,
    inventory: Inventory,
    playbook: Playbook,
    params: Mapping[str, str],
    run_id: str,
    mode: str,
    operator: str,
    snapshot: StatusSnapshot | None,
    outputs: StepOutputs,
) -> dict[str, Any]:
    """The context every template of a run shares (before ``target`` and ``step``)."""
    services = {
        name: service_view(inventory, svc, snapshot) for name, svc in inventory.services.items()
    }
    ctx: dict[str, Any] = dict(params)
    ctx.update(
        mode=mode,
        run_id=run_id,
        operator=operator,
        playbook={"name": playbook.name, "title": playbook.title, "kind": playbook.kind},
        inventory={"name": inventory.name, "path": inventory.path},
        vars=dict(inventory.vars),
        sites={
            n: {"name": n, "role": s.role, "description": s.description, "hosts": list(s.hosts)}
            for n, s in inventory.sites.items()
        },
        hosts={
            n: {
                "name": n,
                "address": h.address,
                "port": h.port,
                "site": h.site,
                "tags": list(h.tags),
                "vars": merged_vars(inventory, n, None),
            }
            for n, h in inventory.hosts.items()
        },
        services=services,
        steps=outputs.by_step,
    )
    if playbook.service and playbook.service in services:
        ctx["service"] = services[playbook.service]
    return ctx


def target_view(
    inventory: Inventory, playbook: Owner, host: str, ctx: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``target`` of a command rendered for ``host`` (``playbook``: the one the command
    is written in, whose service's member ``target.member`` is)."""
    h = inventory.hosts[host]
    member = None
    member_obj: Member | None = None
    if playbook.service and playbook.service in inventory.services:
        svc = inventory.services[playbook.service]
        member_obj = svc.members.get(host)
        if member_obj is not None:
            member = ctx["services"][svc.name]["members"][host]
    return {
        "name": host,
        "address": h.address,
        "port": h.port,
        "site": h.site,
        "tags": list(h.tags),
        "vars": merged_vars(inventory, host, member_obj),
        "member": member,
    }


def resolve_selector(
    selector: Selector,
    ctx: Mapping[str, Any],
    inventory: Inventory,
    default_service: str | None,
    snapshot: StatusSnapshot | None,
) -> tuple[str, ...]:
    """The hosts a selector picks, in inventory order.

    Raises:
        SelectionError: a term names something the inventory lacks, or nothing matched.
        RenderError: a term's template failed.
    """
    terms = selector.render(ctx)
    service = next((v for k, v in terms if k == "service"), default_service)
    hosts = list(inventory.hosts)
    for key, value in terms:
        if key == "host":
            if value not in inventory.hosts:
                raise SelectionError(f"host {value!r} is not in the inventory")
            hosts = [h for h in hosts if h == value]
        elif key == "site":
            if value not in inventory.sites:
                raise SelectionError(f"site {value!r} is not in the inventory")
            hosts = [h for h in hosts if inventory.hosts[h].site == value]
        elif key == "tag":
            hosts = [h for h in hosts if value in inventory.hosts[h].tags]
        elif key == "service":
            if value not in inventory.services:
                raise SelectionError(f"service {value!r} is not in the inventory")
            hosts = [h for h in hosts if h in inventory.services[value].members]
        elif key == "role":
            if service is None:
                raise SelectionError("role: needs a service: term or a playbook service")
            if value not in ("primary", "replica"):
                raise SelectionError(f"role must be primary or replica, not {value!r}")
            members = inventory.services[service].members
            hosts = [
                h
                for h in hosts
                if h in members
                and snapshot is not None
                and snapshot.observed_role(service, h) == value
            ]
    if not hosts:
        shown = " and ".join(f"{k}:{v}" for k, v in terms)
        raise SelectionError(f"no host matches {shown!r}")
    return tuple(hosts)


def render_text(template: Any, ctx: Mapping[str, Any]) -> str:
    """Render an optional text template; empty when absent."""
    if template is None:
        return ""
    result: str = template.render(ctx)
    return result


__all__ = [
    "Owner",
    "RenderError",
    "SelectionError",
    "StepOutputs",
    "base_context",
    "member_view",
    "render_text",
    "resolve_selector",
    "service_view",
    "target_view",
]
