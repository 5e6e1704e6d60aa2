"""The status board's content as values: cells per member, site headlines, topology lines.

Pure functions of (inventory, snapshot, history, now): no widgets and no IO, so every rule
the operator relies on is unit-tested here. The rules:

* rows come from the inventory, so a member never sampled yet still has a row (health
  UNKNOWN, age "never"), and nothing disappears when a host goes dark;
* every number carries its age, and an old number looks old: a sample older than its
  expected refresh (the poll interval each member's status carries,
  ``console.status.freshness``) is STALE, never a green tick, its last lag dimmed beside its
  age, and its topology arrow broken (``console.tui.board_topology``);
* a lag nobody measured is ``?``, never ``0``;
* a site whose every member is unreachable or stale is DOWN, "not answering for N s";
* a primary that is not where the inventory put it is said as a fact ("primary moved to
  west"), and so are a split brain and a service with no primary;
* a refused host key is a security alert, not a row of "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text

from console.model.inventory import Inventory, Service
from console.model.topology import Unit
from console.status.collector import MemberStatus, StatusSnapshot
from console.status.freshness import not_answering, shown_health, silence
from console.tui.board_topology import TOPOLOGY_ALL_LINES, topology_line, topology_text
from console.tui.format import (
    fmt_age,
    fmt_bytes_compact,
    fmt_lag_bytes,
    fmt_seconds,
    health_label,
    shorten,
    sparkline,
)
from console.tui.history import LagHistory
from console.tui.palette import Palette

__all__ = [
    "STATIC_COLUMNS",
    "TOPOLOGY_ALL_LINES",
    "WIDE_MIN_WIDTH",
    "Column",
    "MemberState",
    "RowRef",
    "SecurityAlert",
    "SiteHeadline",
    "columns",
    "member_cells",
    "member_states",
    "primaries",
    "row_stamp",
    "security_alerts",
    "site_headline",
    "site_rows",
    "status_changes",
    "topology_line",
    "topology_text",
    "verdict_line",
]

TREND_WIDTH = 8
"""Characters of a lag sparkline."""

WIDE_MIN_WIDTH = 150

STATIC_COLUMNS = frozenset({"member", "service", "kind"})
"""Columns whose cells never change after the row is added."""

FIRST_SEEN_LINES = 12
"""Members sampled for the first time that the changes log names one by one."""
"""Terminal width from which the board shows every column."""


@dataclass(frozen=True)
class Column:
    """A board column: its key, header and fixed width."""

    key: str
    label: str
    width: int


@dataclass(frozen=True)
class RowRef:
    """A member row: which service and host, and its key in the table."""

    key: str
    service: str
    host: str


def columns(inventory: Inventory, wide: bool, width: int = 80) -> tuple[Column, ...]:
    """The board's columns: a narrow set that fits 80 columns, or every column with the
    "why" column taking the rest of ``width``."""
    host_w = min(18, max([6, *(len(h) for h in inventory.hosts)]))
    svc_w = min(16, max([7, *(len(s) for s in inventory.services)]))
    if not wide:
        narrow = (
            Column("member", "member", host_w),
            Column("service", "service", svc_w),
            Column("role", "role", 8),
            Column("health", "health", 9),
            Column("lag", "lag", 10),
            Column("trend", "trend", 6),
            Column("age", "age", 7),
        )
        spare = width - (sum(c.width + 2 for c in narrow) + 2 + 1 + 4)
        return (*narrow, Column("why", "why", spare)) if spare >= 16 else narrow
    fixed = (
        Column("member", "member", host_w),
        Column("service", "service", svc_w),
        Column("kind", "kind", 8),
        Column("role", "role", 8),
        Column("health", "health", 9),
        Column("link", "link", 4),
        Column("lag", "lag", 6),
        Column("behind", "behind", 10),
        Column("trend", "trend", TREND_WIDTH),
        Column("position", "position", 14),
        Column("age", "age", 7),
    )
    # cell padding, the panel border, the scrollbar, and a margin for the table's own gutter
    used = sum(c.width + 2 for c in fixed) + 2 + 2 + 1 + 4
    return (*fixed, Column("why", "why", max(20, width - used)))


def site_rows(inventory: Inventory, site: str) -> list[RowRef]:
    """The member rows of one site, in inventory order (services, then members)."""
    hosts = set(inventory.sites[site].hosts)
    return [
        RowRef(f"{service.name}/{host}", service.name, host)
        for service in inventory.services.values()
        for host in service.members
        if host in hosts
    ]


def member_cells(
    inventory: Inventory,
    ref: RowRef,
    status: MemberStatus | None,
    history: LagHistory,
    now: float,
    palette: Palette,
    cols: Iterable[Column],
) -> dict[str, Text]:
    """Every cell of one member's row."""
    service = inventory.services[ref.service]
    expected = service.members[ref.host].role
    cells: dict[str, Text] = {}
    wanted = {c.key: c for c in cols}
    if "member" in wanted:
        cells["member"] = Text(ref.host)
    if "service" in wanted:
        cells["service"] = Text(ref.service)
    if "kind" in wanted:
        cells["kind"] = Text(service.kind)
    if status is None:
        muted = palette.muted
        for key in wanted:
            if key not in cells:
                cells[key] = Text("?", style=muted)
        cells["role"] = Text(f"({expected})", style=muted)
        if "health" in wanted:
            cells["health"] = Text(health_label("unknown"), style=muted)
        if "age" in wanted:
            cells["age"] = Text("never", style=muted)
        if "why" in wanted:
            cells["why"] = Text("no sample yet", style=muted)
        if "trend" in wanted:
            cells["trend"] = Text(" " * TREND_WIDTH)
        return cells
    s = status.sample
    health = status.health.health.value
    shown = shown_health(inventory, status, now)
    stale = shown == "stale"
    unit = _writer_unit(service, ref.host, status)
    # A writer of a multi-primary service also follows the other writers (its sample says
    # "replica"): the board names it for what it is, the writer of its unit.
    role = Text("writer" if unit else status.role, style=palette.muted if stale else "")
    if status.health.diverged:
        role.append("⇄", style=palette.warn)
    elif status.role in ("down", "unknown"):
        role.stylize(palette.health(health))
    cells["role"] = role
    if "health" in wanted:
        cells["health"] = Text(health_label(shown), style=palette.health(shown))
    is_replica = status.role == "replica"
    blank = "—" if status.role == "primary" else "?"
    lag_s = fmt_seconds(s.lag_seconds) if is_replica else blank
    lag_b = fmt_lag_bytes(s.lag_bytes) if is_replica else blank
    lag_style = palette.health(health) if is_replica and health in ("warn", "crit") else ""
    if stale:
        lag_style = palette.muted  # the last value, not a current one: dimmed, with its age
    if "lag" in wanted:
        text = f"{lag_s} {fmt_bytes_compact(s.lag_bytes)}" if wanted["lag"].width > 8 else lag_s
        cells["lag"] = Text(text if is_replica else blank, style=lag_style)
    if "behind" in wanted:
        cells["behind"] = Text(lag_b, style=lag_style)
    if "link" in wanted:
        link = s.link.value
        cells["link"] = Text(
            {"none": "—", "unknown": "?"}.get(link, link),
            style=palette.crit
            if link == "down"
            else (palette.unknown if link == "unknown" else ""),
        )
    if "trend" in wanted and status.role == "primary":
        cells["trend"] = Text(" " * wanted["trend"].width)
    elif "trend" in wanted:
        width = wanted["trend"].width
        values = history.values(ref.service, ref.host)
        uses_bytes = s.lag_seconds is None and s.lag_bytes is not None
        t = service.thresholds
        ceiling = (t.lag_bytes_crit if uses_bytes else t.lag_crit) or None
        cells["trend"] = Text(
            sparkline(values, width, float(ceiling) if ceiling else None), style=palette.accent
        )
    if "position" in wanted:
        cells["position"] = Text(shorten(s.position or "?", wanted["position"].width))
    if "age" in wanted:
        age = s.age(now)
        limit = service.thresholds.stale_after
        style = palette.crit if age > limit or stale else (palette.warn if age > limit / 3 else "")
        cells["age"] = Text(fmt_age(age), style=style)
    if "why" in wanted:
        why = "; ".join(_without_host(r, ref.host) for r in status.health.reasons)
        if status.health.divergence:
            why = f"{status.health.divergence}; {why}" if why else status.health.divergence
        if unit is not None:
            mine = f"active-active: writes {unit.name}"
            why = f"{mine}; {why}" if why else mine
        if stale:
            # the age column counts the seconds; this cell is drawn once when the row turns stale
            last = f"stale: no new sample; the last said {status.role} {health.upper()}"
            why = last + (f"; {why}" if why else "")
            health = "unknown"
        cells["why"] = Text(
            shorten(why or "", wanted["why"].width),
            style=palette.health(health) if why else "",
        )
    return cells


def _writer_unit(service: Service, host: str, status: MemberStatus) -> Unit | None:
    """The unit ``host`` writes when it is a writable writer of a multi-primary service."""
    if service.topology.shape != "multi-primary" or status.sample.read_only is not False:
        return None
    if status.role not in ("primary", "replica"):
        return None
    return service.topology.units.get(host)


def row_stamp(inventory: Inventory, status: MemberStatus | None, now: float) -> tuple[float, bool]:
    """What a row's cells depend on besides the clock: its sample and whether it is stale
    (a row is redrawn when either changes, its age alone otherwise)."""
    if status is None:
        return (-1.0, False)
    return (status.sample.sampled_at, shown_health(inventory, status, now) == "stale")


def _without_host(reason: str, host: str) -> str:
    """A reason without the ``host: `` prefixes the row already says."""
    prefix = f"{host}: "
    while reason.startswith(prefix):
        reason = reason[len(prefix) :]
    return reason


@dataclass(frozen=True)
class SiteHeadline:
    """What a site panel's border says."""

    title: str
    """``east — primary site — Lab site east``."""
    status: str
    """``3 members OK``, ``1 of 3 degraded``, ``DOWN — last seen 14s ago``."""
    level: str
    """``ok``, ``warn``, ``down`` or ``unknown`` (a style class)."""


def site_headline(
    inventory: Inventory,
    site: str,
    snapshot: StatusSnapshot | None,
    history: LagHistory,
    now: float,
) -> SiteHeadline:
    """A site's title and one-phrase state; a dark site is DOWN with its last-seen age."""
    info = inventory.sites[site]
    about = f" — {info.description}" if info.description else ""
    city = f" in {info.city}" if info.city else ""
    title = f"{site} — {info.role} site{city}{about}"
    refs = site_rows(inventory, site)
    if not refs:
        return SiteHeadline(title, "no replicated members", "ok")
    statuses = [snapshot.get(r.service, r.host) if snapshot else None for r in refs]
    known = [m for m in statuses if m is not None]
    if len(known) < len(refs):
        return SiteHeadline(title, f"waiting for {len(refs) - len(known)} sample(s)", "unknown")
    quiet = silence(inventory, known, now)
    if len(quiet.members) == len(known):
        seen = history.site_seen.get(site)
        if seen is None and quiet.seconds is not None:
            seen = now - quiet.seconds
        when = not_answering(now - seen) if seen is not None else "not seen since start"
        return SiteHeadline(title, f"DOWN — {when}", "down")
    bad = [m for m in known if shown_health(inventory, m, now) != "ok"]
    if not bad:
        return SiteHeadline(title, f"{len(known)} member(s) OK", "ok")
    if quiet.members:
        return SiteHeadline(
            title,
            f"{len(bad)} of {len(known)} member(s) degraded; "
            f"{len(quiet.members)} {not_answering(quiet.seconds)}",
            "warn",
        )
    return SiteHeadline(title, f"{len(bad)} of {len(known)} member(s) degraded", "warn")


@dataclass(frozen=True)
class SecurityAlert:
    """A refused host key met by the probes."""

    host: str
    message: str


def security_alerts(snapshot: StatusSnapshot | None) -> list[SecurityAlert]:
    """One alert per host whose probe was refused for its host key."""
    if snapshot is None:
        return []
    seen: dict[str, SecurityAlert] = {}
    for m in snapshot.members:
        error = m.sample.error or ""
        if "host key" in error.lower() and m.host not in seen:
            seen[m.host] = SecurityAlert(m.host, error)
    return list(seen.values())


def verdict_line(
    inventory: Inventory,
    snapshot: StatusSnapshot | None,
    palette: Palette,
    now: float | None = None,
) -> Text:
    """One line for the whole estate: all healthy, or how many are degraded (a stale member
    is never healthy), and each site whose members all stopped answering, for how long.
    ``now`` defaults to the snapshot's time."""
    total = sum(len(s.members) for s in inventory.services.values())
    if snapshot is None or not snapshot.members:
        return Text(f"waiting for the first samples of {total} member(s)…", style=palette.muted)
    when = snapshot.taken_at if now is None else now
    bad = [m for m in snapshot.members if shown_health(inventory, m, when) != "ok"]
    missing = total - len(snapshot.members)
    managed = [v for v in snapshot.managers.values() if v.findings]
    windows = [w for w in snapshot.windows.values() if w.health.value in ("warn", "crit")]
    if not bad and not missing and not managed and not windows:
        return Text(f"✓ all {total} members healthy", style=palette.ok)
    text = Text()
    if bad:
        text.append(f"▲ {len(bad)} of {total} member(s) degraded", style=palette.warn)
    for site in inventory.sites:
        members = [m for m in snapshot.members if m.site == site]
        quiet = silence(inventory, members, when)
        if members and len(quiet.members) == len(members):
            text.append(f"; {site} {not_answering(quiet.seconds)}", style=palette.down)
    if missing:
        text.append(("; " if bad else "") + f"{missing} not sampled yet", style=palette.muted)
    for v in managed:
        style = palette.crit if v.health.value == "crit" else palette.warn
        lead = "; " if text.plain else "▲ "
        text.append(f"{lead}{v.service} ({v.manager}) {v.health.value.upper()}: ", style=style)
        text.append(v.findings[0].reason, style=style)
    for w in windows:  # as `status` says it: a broken archive is not a healthy estate
        style = palette.crit if w.health.value == "crit" else palette.warn
        lead = "; " if text.plain else "▲ "
        text.append(f"{lead}{w.service} recovery window {w.health.value.upper()}", style=style)
    return text


@dataclass(frozen=True)
class MemberState:
    """What the changes log compares between snapshots."""

    role: str
    health: str
    reason: str


def member_states(
    snapshot: StatusSnapshot, inventory: Inventory | None = None, now: float | None = None
) -> dict[tuple[str, str], MemberState]:
    """Each member's role (a multi-primary writer's as "writer", as its row says it, when the
    ``inventory`` is given), health and first reason. With ``inventory`` and ``now``, a
    member whose sample is stale (``console.status.freshness``) is ``stale``, as its row
    says, with how long no sample came as its reason."""
    out = {}
    for m in snapshot.members:
        service = inventory.services.get(m.service) if inventory is not None else None
        writer = service is not None and _writer_unit(service, m.host, m) is not None
        health = m.health.health.value
        reason = m.health.reasons[0] if m.health.reasons else ""
        if inventory is not None and now is not None and shown_health(inventory, m, now) == "stale":
            health = "stale"
            reason = f"no new sample for {fmt_seconds(m.sample.age(now))}"
        out[(m.service, m.host)] = MemberState("writer" if writer else m.role, health, reason)
    return out


def primaries(snapshot: StatusSnapshot) -> dict[str, str | None]:
    """Each service's writable primary host (None: none, or a split brain)."""
    return {name: t.primary_host for name, t in snapshot.topologies.items()}


def status_changes(
    inventory: Inventory,
    before: dict[tuple[str, str], MemberState],
    before_primaries: dict[str, str | None],
    snapshot: StatusSnapshot,
    now: float | None = None,
) -> list[str]:
    """What changed since the last snapshot, one sentence each (for the changes log). With
    ``now``, a member whose sample turned stale is a change too (``OK → STALE``), and so is
    its first fresh sample after (``STALE → OK``)."""
    lines: list[str] = []
    first: list[str] = []
    after = member_states(snapshot, inventory, now)
    for key, state in after.items():
        old = before.get(key)
        service, host = key
        site = inventory.hosts[host].site
        where = f"{site}/{host} {service}"
        if old is None:
            first.append(f"{where}: {state.role} {state.health.upper()}")
            continue
        if old.role != state.role or old.health != state.health:
            why = f" ({shorten(state.reason, 90)})" if state.reason else ""
            lines.append(
                f"{where}: {old.role} {old.health.upper()} → "
                f"{state.role} {state.health.upper()}{why}"
            )
    after_primaries = primaries(snapshot)
    for service, primary_host in after_primaries.items():
        if service in before_primaries and before_primaries[service] != primary_host:
            was = before_primaries[service] or "none"
            became = primary_host or "none"
            lines.append(f"{service}: writable primary {was} → {became}")
    named = [f"first sample: {line}" for line in first[:FIRST_SEEN_LINES]]
    if len(first) > FIRST_SEEN_LINES:
        named.append(f"first sample: {len(first) - FIRST_SEEN_LINES} more member(s)")
    return named + lines
