"""Judging a condition on the observed replication state (gates and wait steps).

Pure: a :class:`Condition` from the playbook, the rendered names, and a status snapshot in;
a verdict and a sentence per member out. Unknown is never good enough: a member whose lag is
unknown is not caught up, a member never sampled does not satisfy anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.model.durations import format_duration
from console.model.inventory import Inventory
from console.model.playbook import Condition
from console.probes.sample import Health
from console.status.collector import MemberStatus, StatusSnapshot


@dataclass(frozen=True)
class Verdict:
    """Whether a condition holds, and why (one line per member)."""

    ok: bool
    detail: str


def condition_service(cond: Condition, ctx: Mapping[str, Any], default: str | None) -> str | None:
    """The service a condition is about."""
    return cond.service.render(ctx).strip() if cond.service is not None else default


def _describe(m: MemberStatus) -> str:
    s = m.sample
    parts = [f"{m.host} ({m.site}): {m.role}"]
    if s.link.value not in ("none",):
        parts.append(f"link {s.link.value}")
    if s.lag_seconds is not None or s.lag_bytes is not None:
        lag = []
        if s.lag_seconds is not None:
            lag.append(format_duration(s.lag_seconds))
        if s.lag_bytes is not None:
            lag.append(f"{s.lag_bytes} B")
        parts.append("lag " + " / ".join(lag))
    elif m.role == "replica":
        parts.append("lag unknown")
    parts.append(m.health.health.value)
    if s.error:
        parts.append(s.error)
    return ", ".join(parts)


def caught_up(m: MemberStatus) -> bool:
    """A replica with its link up and nothing left to replay: no byte lag, or, where the kind
    reports no byte lag (MySQL/MariaDB), zero seconds behind. Unknown is never caught up."""
    s = m.sample
    if m.role != "replica" or s.link.value != "up":
        return False
    if s.lag_bytes is not None:
        return s.lag_bytes == 0
    return s.lag_seconds == 0


def _member_problems(cond: Condition, gate_kind: str, m: MemberStatus) -> list[str]:
    s = m.sample
    problems: list[str] = []
    if gate_kind == "replication" and m.role in ("down", "unknown"):
        problems.append(f"is {m.role}")
    if cond.role is not None and m.role != cond.role:
        problems.append(f"is {m.role}, not {cond.role}")
    if gate_kind == "replication" and m.role == "replica" and s.link.value != "up":
        problems.append(f"link is {s.link.value}")
    if cond.link is not None and s.link.value != cond.link:
        problems.append(f"link is {s.link.value}, not {cond.link}")
    if cond.caught_up and not caught_up(m):
        problems.append("has not caught up" if s.lag_bytes or s.lag_seconds else "catch-up unknown")
    if cond.max_lag is not None and m.role == "replica":
        lag = s.lag_seconds
        if lag is None and s.lag_bytes == 0:
            lag = 0.0
        if lag is None:
            problems.append("lag unknown")
        elif lag > cond.max_lag:
            problems.append(f"lag {format_duration(lag)} over {format_duration(cond.max_lag)}")
    if cond.healthy and m.health.health.value != "ok":
        problems.append(f"health {m.health.health.value}")
    return problems


def evaluate(
    cond: Condition,
    ctx: Mapping[str, Any],
    inventory: Inventory,
    default_service: str | None,
    snapshot: StatusSnapshot,
    gate_kind: str = "wait",
) -> Verdict:
    """Judge ``cond`` against ``snapshot``.

    Args:
        gate_kind: ``replication`` adds the implicit checks of a replication gate (every member
            reachable with a known role, every replica's link up); ``role`` and ``wait`` check
            only what the condition names.
    """
    service = condition_service(cond, ctx, default_service)
    if service is None or service not in inventory.services:
        return Verdict(False, f"no such service {service!r}")
    site = cond.site.render(ctx).strip() if cond.site is not None else None
    host = cond.host.render(ctx).strip() if cond.host is not None else None
    wanted = [
        h
        for h in inventory.services[service].members
        if (site is None or inventory.hosts[h].site == site) and (host is None or h == host)
    ]
    if not wanted:
        where = " ".join(
            x for x in (f"site {site}" if site else "", f"host {host}" if host else "") if x
        )
        return Verdict(False, f"{service} has no member at {where or 'all'}")
    lines: list[str] = []
    ok = True
    for h in wanted:
        m = snapshot.get(service, h)
        if m is None:
            ok = False
            lines.append(f"{h}: not sampled")
            continue
        problems = _member_problems(cond, gate_kind, m)
        if problems:
            ok = False
            lines.append(f"{_describe(m)} — " + "; ".join(problems))
        else:
            lines.append(_describe(m))
    if cond.healthy and gate_kind == "replication" and site is None and host is None:
        # the whole service must be healthy: its observed shape too (a replication conflict,
        # a one-way multi-primary, a broken cascade link, split brain: console.status.topology)
        shape = snapshot.shapes.get(service)
        if shape is not None and shape.health is Health.CRIT:
            ok = False
            lines.extend(f"topology {shape.shape}: {reason}" for reason in shape.reasons)
    return Verdict(ok, "\n".join(lines))
