"""Status snapshots as text for people and as JSON for scripts (rendering never does IO).

Every number carries its age, unknown is printed as ``?`` (never ``0``), and health is a word
as well as a colour, so the table reads the same on a monochrome terminal or in a CI log.

The text is laid out for the width it is printed at, as the TUI board is: at 80 columns (a
jump box's terminal) each member is one line with its full member, service, role and health
words; 100 columns add the kind and the link; 160 add the position and the reasons inline.
Below 160 the reasons ("why") go under the site's table, one line per member that has any,
never into a column a few characters wide. A view that polls (``status --watch``) shows a
sample older than its expected refresh as STALE, its lag dimmed, and a site whose members
all stopped answering as "not answering for N s" (``console.status.freshness``). The JSON is
the same at every width.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from console.model.durations import format_duration
from console.model.inventory import Inventory
from console.probes.managers import ManagerView
from console.probes.topology import ServiceTopology
from console.status.collector import MemberStatus, StatusSnapshot
from console.status.freshness import is_stale, not_answering, shown_health, silence
from console.status.topology import ShapeCheck, follows

HEALTH_STYLE = {
    "ok": "green",
    "warn": "yellow",
    "crit": "red",
    "down": "bold red",
    "unknown": "magenta",
    "stale": "magenta",
}

MEDIUM_WIDTH = 100
"""From this width the tables add the kind and the link columns."""
WIDE_WIDTH = 160
"""From this width they add the position, and the reasons move into the table."""


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
    managers = [v for v in snapshot.managers.values() if v.findings]
    for v in managers:
        worst = (
            v.findings[0]
            if v.health.value != "crit"
            else next(f for f in v.findings if f.health.value == "crit")
        )
        text += f"; {v.service} ({v.manager}) {v.health.value.upper()}: {worst.reason}"
    shape_bad = [c for c in snapshot.shapes.values() if c.health.value in ("warn", "crit")]
    for check in shape_bad:
        text += f"; {check.service}: {check.reasons[0]}"
    return not bad and not managers and not shape_bad, text


def view_verdict(snapshot: StatusSnapshot, inventory: Inventory, now: float) -> tuple[bool, str]:
    """The verdict as a polling view says it: a stale member is not healthy, and a site
    whose every member stopped answering is named."""
    ok, text = verdict(snapshot, inventory)
    stale = [
        m
        for m in snapshot.members
        if m.health.health.value == "ok" and shown_health(inventory, m, now) == "stale"
    ]
    quiet_sites = []
    for site in inventory.sites:
        members = [m for m in snapshot.members if m.site == site]
        gone = silence(inventory, members, now)
        if members and len(gone.members) == len(members):
            quiet_sites.append(f"{site} {not_answering(gone.seconds)}")
    if stale:
        names = ", ".join(f"{m.service}/{m.host}" for m in stale[:4])
        more = f" and {len(stale) - 4} more" if len(stale) > 4 else ""
        text = (
            f"{text}; {len(stale)} stale: {names}{more}"
            if not ok
            else (f"{len(stale)} member(s) stale: {names}{more}")
        )
        ok = False
    if quiet_sites:
        text += "; " + "; ".join(quiet_sites)
        ok = False
    return ok, text


@dataclass(frozen=True)
class _Col:
    key: str
    header: str
    wraps: bool = False
    """May take a second line when the width is short (never a name or the health)."""
    flexible: bool = False
    """Takes the width that is left."""


def _columns(width: int) -> list[_Col]:
    cols = [_Col("member", "member"), _Col("service", "service"), _Col("role", "role")]
    cols.append(_Col("health", "health"))
    if width >= MEDIUM_WIDTH:
        cols += [_Col("kind", "kind"), _Col("link", "link")]
    cols += [_Col("lag", "lag", wraps=True), _Col("age", "age", wraps=True)]
    if width >= WIDE_WIDTH:
        cols += [_Col("position", "position", wraps=True), _Col("why", "why", True, True)]
    return cols


@dataclass(frozen=True)
class _Hanging:
    """``head body`` with the body's continuation lines indented under its first; the lines
    end where their words do (no padding to the width: piped into a chat or a log, a line
    keeps no trailing blanks)."""

    head: Text
    body: Text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        indent = self.head.cell_len + 1
        room = max(options.max_width - indent, 10)
        lines = self.body.wrap(console, room, overflow="fold") or [Text("")]
        for number, line in enumerate(lines):
            line.rstrip()
            lead = self.head.copy() if number == 0 else Text(" " * self.head.cell_len)
            yield Text.assemble(lead, " ", line) if line.plain else lead


def _hanging(head: Text, body: Text) -> _Hanging:
    """``head body`` with the body's continuation lines indented under its first."""
    return _Hanging(head, body)


def _without_host(reason: str, host: str) -> str:
    """A reason without the ``host: `` prefixes its row already says."""
    while reason.startswith(f"{host}: "):
        reason = reason[len(host) + 2 :]
    return reason


def _why(m: MemberStatus, stale_for: float | None) -> str:
    reasons = [_without_host(r, m.host) for r in m.health.reasons]
    if m.health.divergence:
        reasons.insert(0, m.health.divergence)
    if stale_for is not None:
        was = f"last {m.role} {m.health.health.value.upper()}"
        reasons.insert(0, f"{not_answering(stale_for)} (stale; {was})")
    return "; ".join(reasons)


class StatusView:
    """A snapshot as text, laid out for the width it is printed at.

    Args:
        snapshot: What to show.
        inventory: The estate (sites, descriptions, expected roles).
        now: The time ages are measured at (default the snapshot's).
        before_verdict: Shown after the topology, before the verdict (the recoverable
            windows), with its own verdict: when that is not OK, neither is the line.
    """

    def __init__(
        self,
        snapshot: StatusSnapshot,
        inventory: Inventory,
        now: float | None = None,
        before_verdict: tuple[RenderableType, tuple[bool, str]] | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.inventory = inventory
        self.now = snapshot.taken_at if now is None else now
        self.before_verdict = before_verdict

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Group(*self.parts(options.max_width))

    def parts(self, width: int) -> Iterator[RenderableType]:
        """The renderables for ``width`` columns."""
        for site_name in self.inventory.sites:
            rows = [m for m in self.snapshot.members if m.site == site_name]
            if rows:
                yield from self._site(site_name, rows, width)
        yield Text("topology", style="bold underline")
        for name in self.inventory.services:
            t = self.snapshot.topologies.get(name)
            if t is None:
                continue
            head, _, rest = t.summary.partition(": ")
            shape = self.snapshot.shapes.get(name)
            declared = self.inventory.services[name].topology.shape
            if shape is not None and declared == "multi-primary":
                rest = shape.label  # its writers are the design, not a split brain
            line = Text(
                rest, style="bold red" if t.split_brain and declared != "multi-primary" else ""
            )
            stale = [
                m
                for m in self.snapshot.for_service(name)
                if shown_health(self.inventory, m, self.now) == "stale"
            ]
            if stale:
                line.stylize("dim")
                line.append(
                    " — stale: "
                    + ", ".join(f"{m.host} {fmt_age(m.sample.age(self.now))}" for m in stale),
                    style="magenta",
                )
            yield _hanging(Text(f"  {head}:", style="bold"), line)
            if declared == "primary-replica":
                yield from _feeders(self.inventory, t)
            if shape is not None and (declared != "primary-replica" or shape.reasons):
                yield from _shape_lines(shape, declared)
            yield from _link_lines(t)
        yield from manager_lines(self.snapshot)
        ok, text = view_verdict(self.snapshot, self.inventory, self.now)
        if self.before_verdict is not None:
            part, (part_ok, why) = self.before_verdict
            yield part
            if not part_ok:
                ok, text = False, f"{text}; {why}"
        yield Text(
            ("OK: " if ok else "DEGRADED: ") + text, style="bold green" if ok else "bold red"
        )

    def _site(self, site_name: str, rows: list[MemberStatus], width: int) -> Iterator[Any]:
        site = self.inventory.sites[site_name]
        about = f" — {site.description}" if site.description else ""
        city = f", {site.city}" if site.city else ""
        title = Text(f"{site_name} ({site.role}{city}){about}", style="bold")
        gone = silence(self.inventory, rows, self.now)
        if len(gone.members) == len(rows):
            title.append(f" — {not_answering(gone.seconds).upper()}", style="bold red")
        yield title
        cols = _columns(width)
        keys = {c.key for c in cols}
        rendered = [self._cells(m, keys) for m in rows]
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
        for col in cols:
            # a column that must not wrap is as wide as its longest word, never cut
            longest = max([len(col.header), *(cells[col.key].cell_len for cells, _ in rendered)])
            table.add_column(
                col.header,
                no_wrap=not col.wraps,
                min_width=None if col.wraps else longest,
                ratio=1 if col.flexible else None,
                overflow="fold",
            )
        notes: list[_Hanging] = []
        for m, (cells, why) in zip(rows, rendered, strict=True):
            table.add_row(*(cells[c.key] for c in cols))
            if why and "why" not in keys:
                notes.append(
                    _hanging(
                        Text(f"  {m.host} {m.service}:", style="bold"),
                        Text(why, style=HEALTH_STYLE.get(self._health(m), "")),
                    )
                )
        yield table
        yield from notes

    def _health(self, m: MemberStatus) -> str:
        return shown_health(self.inventory, m, self.now)

    def _cells(self, m: MemberStatus, keys: set[str]) -> tuple[dict[str, Text], str]:
        s = m.sample
        health = self._health(m)
        stale = is_stale(self.inventory, m, self.now) and health == "stale"
        dim = "dim" if stale else ""
        role = Text(m.role)
        if m.health.diverged:
            role.append("⇄", style="yellow")
        age = s.age(self.now)
        why = _why(m, age if stale else None)
        cells = {
            "member": Text(m.host),
            "service": Text(m.service),
            "role": role,
            "health": Text(health.upper(), style=HEALTH_STYLE.get(health, "")),
            "kind": Text(m.kind),
            "link": Text(s.link.value if s.link.value != "none" else "-", style=dim),
            "lag": Text(fmt_lag(m), style=dim),
            "age": Text(fmt_age(age), style="bold magenta" if stale else ""),
            "position": Text(s.position or "?", style=dim),
        }
        if "why" in keys:
            cells["why"] = Text(why, style="dim" if not stale else "magenta")
        return cells, why


def manager_lines(snapshot: StatusSnapshot) -> Iterator[RenderableType]:
    """The managers section: each managed service's manager view and its findings."""
    if not snapshot.managers:
        return
    yield Text("managers", style="bold underline")
    for v in snapshot.managers.values():
        health = v.health.value
        line = Text(f"{health.upper()} ", style=HEALTH_STYLE.get(health, ""))
        line.append(v.summary)
        yield _hanging(Text(f"  {v.service} ({v.manager}):", style="bold"), line)
        for f in v.findings:
            yield _hanging(
                Text(f"    {f.health.value.upper()}", style=HEALTH_STYLE.get(f.health.value, "")),
                Text(f.reason),
            )


def manager_json(v: ManagerView) -> dict[str, Any]:
    """One manager view as plain JSON values."""
    return {
        "service": v.service,
        "manager": v.kind,
        "health": v.health.value,
        "leader": v.leader,
        "paused": v.paused,
        "scheduled_switchover": v.scheduled_switchover,
        "summary": v.summary,
        "findings": [{"health": f.health.value, "reason": f.reason} for f in v.findings],
        "members": [
            {
                "name": m.name,
                "address": m.address,
                "port": m.port,
                "role": m.role,
                "state": m.state,
                "lag_bytes": m.lag_bytes,
                "timeline": m.timeline,
                "nofailover": m.nofailover,
            }
            for m in v.members
        ],
        "answered": list(v.answered),
        "silent": [{"source": s, "why": why} for s, why in v.silent],
        "taken_at": v.taken_at,
        "details": dict(v.details),
    }


def _feeders(inventory: Inventory, t: ServiceTopology) -> Iterator[RenderableType]:
    """Whom each replica follows, when there are several (the replicas list alone reads like a
    chain east, west, dr where it is a star: west and dr both fed by east)."""
    if len(t.replicas) < 2:
        return
    service = inventory.services.get(t.service)
    if service is None:
        return
    fed: dict[str, list[str]] = {}
    for r in t.replicas:
        feeder = follows(inventory, service, r)
        if feeder is None:
            return  # an upstream the sample does not name as a member: say nothing rather
        fed.setdefault(feeder, []).append(r.host)
    text = "; ".join(f"{', '.join(hosts)} from {feeder}" for feeder, hosts in fed.items())
    shape = "star" if len(fed) == 1 else "fed"
    yield _hanging(Text(f"    {shape}:", style="dim"), Text(text))


def link_rtts(t: ServiceTopology) -> list[tuple[str, str, str, float | None]]:
    """(from host, to host, via, round trip in ms or None) of each replica that follows a relay
    (an alias of its upstream), as the collector timed it."""
    out = []
    for r in t.replicas:
        feeder, via = r.details.get("link_from"), r.details.get("link_via")
        if feeder is None or via is None:
            continue
        rtt = r.details.get("link_rtt_ms")
        out.append((feeder, r.host, via, float(rtt) if rtt is not None else None))
    return out


def _link_lines(t: ServiceTopology) -> Iterator[RenderableType]:
    """``links: lab-west→lab-dr 31.0 ms via 127.0.0.3:25432`` for relayed links."""
    links = link_rtts(t)
    if not links:
        return
    text = ", ".join(
        f"{a}→{b} {f'{ms:.1f} ms' if ms is not None else 'rtt not measured'} via {via}"
        for a, b, via, ms in links
    )
    yield _hanging(Text("    links:", style="dim"), Text(text))


def _shape_lines(shape: ShapeCheck, declared: str) -> Iterator[RenderableType]:
    """The declared shape's verdict under a service's topology line."""
    word = {"ok": "OK", "warn": "WARN", "crit": "CRIT"}.get(shape.health.value, "UNKNOWN")
    style = {"OK": "green", "WARN": "yellow", "CRIT": "bold red"}.get(word, "magenta")
    if not shape.reasons:
        text = shape.label if declared != "multi-primary" else "as declared"
        yield _hanging(Text(f"    {declared}:", style="dim"), Text(f"{word} {text}", style=style))
    for reason in shape.reasons:
        yield _hanging(Text(f"    {declared}:", style="dim"), Text(f"{word} {reason}", style=style))


def render(
    snapshot: StatusSnapshot,
    inventory: Inventory,
    now: float | None = None,
    before_verdict: tuple[RenderableType, tuple[bool, str]] | None = None,
) -> StatusView:
    """Tables per site, the topology per service, and the verdict, for the printing width
    (``before_verdict``: see :class:`StatusView`)."""
    return StatusView(snapshot, inventory, now, before_verdict)


def _summary_json(inventory: Inventory, snapshot: StatusSnapshot, name: str, summary: str) -> str:
    """The observed topology's sentence; for a declared multi-primary service its shape's
    label instead (its writers are the design: not "NO PRIMARY", not a split brain), as the
    text view says."""
    service = inventory.services.get(name)
    shape = snapshot.shapes.get(name)
    if service is not None and shape is not None and service.topology.shape == "multi-primary":
        return f"{name}: {shape.label}"
    return summary


def _shape_json(snapshot: StatusSnapshot, name: str) -> dict[str, Any]:
    shape = snapshot.shapes.get(name)
    if shape is None or (shape.shape == "primary-replica" and not shape.reasons):
        return {}  # the default shape, as declared: the document stays as it always was
    return {
        "topology": shape.shape,
        "shape": {
            "health": shape.health.value,
            "label": shape.label,
            "reasons": list(shape.reasons),
        },
    }


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
            "summary": _summary_json(inventory, snapshot, name, t.summary),
            **_shape_json(snapshot, name),
        }
        for name, t in snapshot.topologies.items()
    ]
    doc: dict[str, Any] = {
        "inventory": inventory.name,
        "taken_at": snapshot.taken_at,
        "healthy": ok,
        "verdict": text,
        "members": members,
        "services": services,
    }
    links = [
        {"service": name, "from": a, "to": b, "via": via, "rtt_ms": ms}
        for name, t in snapshot.topologies.items()
        for a, b, via, ms in link_rtts(t)
    ]
    if links:  # only when a replica follows a relay: other documents stay as they were
        doc["links"] = links
    if snapshot.managers:  # only for an inventory with managed_by: other shapes stay as they were
        doc["managers"] = [manager_json(v) for v in snapshot.managers.values()]
    return doc
