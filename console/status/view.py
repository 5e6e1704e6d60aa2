"""Status snapshots as text for people and as JSON for scripts (rendering never does IO).

Every number carries its age, unknown is printed as ``?`` (never ``0``), and health is a word
as well as a colour, so the table reads the same on a monochrome terminal or in a CI log.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from console.model.durations import format_duration
from console.model.inventory import Inventory
from console.status.collector import MemberStatus, StatusSnapshot

HEALTH_STYLE = {
    "ok": "green",
    "warn": "yellow",
    "crit": "red",
    "down": "bold red",
    "unknown": "magenta",
}


def fmt_bytes(value: int | None) -> str:
    """``0 B``, ``12.3 KiB``...; ``?`` for unknown."""
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def fmt_lag(m: MemberStatus) -> str:
    """Lag as seconds and bytes; ``-`` for a primary, ``?`` when unknown."""
    s = m.sample
    if m.role != "replica":
        return "-"
    secs = format_duration(s.lag_seconds) if s.lag_seconds is not None else "?"
    return f"{secs} / {fmt_bytes(s.lag_bytes)}"


def fmt_age(seconds: float) -> str:
    """``3s ago``."""
    return f"{format_duration(seconds)} ago" if seconds >= 1 else "now"


def verdict(snapshot: StatusSnapshot, inventory: Inventory) -> tuple[bool, str]:
    """One line for the whole estate, and whether everything is healthy."""
    bad = [m for m in snapshot.members if m.health.health.value != "ok"]
    moved = [
        f"{name}: primary moved to {t.primary_site}"
        for name, t in snapshot.topologies.items()
        if t.primary_host is not None
        and t.primary_host != inventory.services[name].expected_primary
    ]
    total = sum(len(s.members) for s in inventory.services.values())
    if not bad:
        text = f"all {total} members healthy"
    else:
        shown = ", ".join(f"{m.service}/{m.host} {m.health.health.value}" for m in bad[:4])
        more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
        text = f"{len(bad)} of {total} members degraded: {shown}{more}"
    if moved:
        text += "; " + "; ".join(moved)
    return not bad, text


def render(snapshot: StatusSnapshot, inventory: Inventory) -> RenderableType:
    """Tables per site, the topology per service, and the verdict."""
    parts: list[RenderableType] = []
    now = snapshot.taken_at
    for site_name, site in inventory.sites.items():
        rows = [m for m in snapshot.members if m.site == site_name]
        if not rows:
            continue
        about = f" — {site.description}" if site.description else ""
        table = Table(
            title=f"{site_name} ({site.role}){about}",
            title_justify="left",
            expand=False,
            pad_edge=False,
        )
        for col in (
            "member",
            "service",
            "kind",
            "role",
            "link",
            "lag",
            "position",
            "age",
            "health",
        ):
            table.add_column(col, no_wrap=col not in ("health",))
        for m in rows:
            s = m.sample
            health = m.health.health.value
            role = Text(m.role)
            if m.health.diverged:
                role.append(f" (expected {m.expected_role})", style="yellow")
            why = "; ".join(m.health.reasons)
            health_text = Text(health.upper(), style=HEALTH_STYLE.get(health, ""))
            if why:
                health_text.append(f" {why}", style="dim")
            table.add_row(
                m.host,
                m.service,
                m.kind,
                role,
                s.link.value if s.link.value != "none" else "-",
                fmt_lag(m),
                (s.position or "?")[:28],
                fmt_age(s.age(now)),
                health_text,
            )
        parts.append(table)
    topo = Table.grid(padding=(0, 2))
    for name in inventory.services:
        t = snapshot.topologies.get(name)
        if t is None:
            continue
        style = "bold red" if t.split_brain else ""
        topo.add_row(Text(name, style="bold"), Text(t.summary, style=style))
    parts.append(Text("topology", style="bold underline"))
    parts.append(topo)
    ok, text = verdict(snapshot, inventory)
    parts.append(
        Text(("OK: " if ok else "DEGRADED: ") + text, style="bold green" if ok else "bold red")
    )
    return Group(*parts)


def to_json(snapshot: StatusSnapshot, inventory: Inventory) -> dict[str, Any]:
    """The snapshot as plain JSON values (unknown stays null)."""
    ok, text = verdict(snapshot, inventory)
    members = []
    for m in snapshot.members:
        s = m.sample
        members.append(
            {
                "service": m.service,
                "site": m.site,
                "host": m.host,
                "kind": m.kind,
                "expected_role": m.expected_role,
                "role": m.role,
                "upstream": s.upstream,
                "link": s.link.value,
                "lag_seconds": s.lag_seconds,
                "lag_bytes": s.lag_bytes,
                "position": s.position,
                "read_only": s.read_only,
                "error": s.error,
                "sampled_at": s.sampled_at,
                "age_seconds": round(s.age(snapshot.taken_at), 3),
                "health": m.health.health.value,
                "reasons": list(m.health.reasons),
                "diverged": m.health.diverged,
                "divergence": m.health.divergence,
                "details": dict(s.details),
            }
        )
    services = [
        {
            "service": name,
            "primary_site": t.primary_site,
            "primary_host": t.primary_host,
            "split_brain": t.split_brain,
            "summary": t.summary,
        }
        for name, t in snapshot.topologies.items()
    ]
    return {
        "inventory": inventory.name,
        "taken_at": snapshot.taken_at,
        "healthy": ok,
        "verdict": text,
        "members": members,
        "services": services,
    }
