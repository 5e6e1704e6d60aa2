"""The board's topology lines: one per service, where its primary is and how each replica
follows, as values (no widgets, no IO).

Split from ``console.tui.board_model`` (which re-exports these names). A replica whose sample
is stale (``console.status.freshness``) gets no current-looking figure: a broken arrow, the word
stale with its age, and its last lag in parentheses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from console.model.cluster import CLUSTER_KIND
from console.model.inventory import Inventory
from console.probes.sample import ReplicationSample
from console.probes.topology import ServiceTopology, sync_word
from console.status.collector import StatusSnapshot
from console.status.freshness import shown_health
from console.status.topology import ShapeCheck, follows
from console.tui.format import fmt_lag_bytes, fmt_seconds
from console.tui.palette import Palette

TOPOLOGY_ALL_LINES = 12
"""Up to this many services, the topology lists each; above, only those that need a look."""


def topology_line(
    inventory: Inventory,
    name: str,
    topo: ServiceTopology | None,
    palette: Palette,
    name_width: int,
    snapshot: StatusSnapshot | None = None,
    now: float | None = None,
) -> Text:
    """One service in one line: where the primary is, arrows to replicas with their lag,
    and any divergence from the inventory said as a fact. With ``snapshot`` and ``now``, a
    member whose sample is stale gets no current-looking figure: a broken arrow and its age."""
    service = inventory.services[name]

    def stale_age(host: str) -> float | None:
        m = snapshot.get(name, host) if snapshot is not None and now is not None else None
        if m is None or now is None or shown_health(inventory, m, now) != "stale":
            return None
        return m.sample.age(now)

    line = Text(name.ljust(name_width) + " ", style="bold")
    if service.kind == CLUSTER_KIND:  # no members, no fixed primary: its nodes say
        line.append(f"Redis Cluster: the cluster's own view below ({name})", style=palette.muted)
        return line
    if topo is None:
        line.append("no sample yet", style=palette.muted)
        return line
    shape = snapshot.shapes.get(name) if snapshot is not None else None
    if shape is not None and service.topology.shape == "multi-primary":
        # Its writers are the design: say the shape, not "split brain" or "no primary".
        line.append("⇄ " + shape.label, style=_shape_style(shape, palette))
        _shape_reasons(line, shape, palette)
        return line
    if topo.split_brain:
        line.append(
            "SPLIT BRAIN: "
            + " and ".join(f"{s.site}/{s.host}" for s in topo.writers)
            + " all accept writes",
            style=palette.crit,
        )
        return line
    primary = topo.primary
    if primary is None:
        line.append("NO PRIMARY: no member accepts writes", style=palette.crit)
    else:
        old = stale_age(primary.host)
        line.append("★ ", style=palette.ok if old is None else palette.muted)
        line.append(f"{primary.site}/{primary.host}", style="bold" if old is None else "")
        if old is not None:
            line.append(f" (stale {fmt_seconds(old)})", style=palette.unknown)
    before: str | None = None  # the replica just before in the line (none: the primary)
    for replica in _in_chain_order(service.topology.upstreams, topo.replicas):
        link_down = replica.link.value != "up"
        old = stale_age(replica.host)
        broken = link_down or old is not None
        feeder = follows(inventory, service, replica) or service.topology.upstream_of(
            replica.host, primary.host if primary is not None else None
        )
        if before is not None and feeder is not None and feeder != before:
            # not fed by the member just before it in the line: a star, not a chain; say
            # whom it follows, so that "east ━▶ west ━▶ dr" never means two siblings
            line.append(f"; {inventory.hosts[feeder].site}" if feeder in inventory.hosts else "; ?")
        before = replica.host
        line.append(" ━▶ " if not broken else " ╳ ", style=palette.crit if broken else "")
        line.append(f"{replica.site}/{replica.host} ")
        if old is not None:
            line.append(f"stale {fmt_seconds(old)}", style=palette.unknown)
            line.append(
                f" (was {fmt_seconds(replica.lag_seconds)} · {fmt_lag_bytes(replica.lag_bytes)})",
                style=palette.muted,
            )
        elif link_down:
            line.append(f"link {replica.link.value}", style=palette.crit)
        else:
            lag = f"{fmt_seconds(replica.lag_seconds)} · {fmt_lag_bytes(replica.lag_bytes)}"
            line.append(lag, style=palette.muted)
            word = sync_word(replica)
            if word is not None:  # the primary's commits wait for it
                line.append(f" {word}", style=palette.ok)
            rtt = replica.details.get("link_rtt_ms")
            source = replica.details.get("link_from")
            if rtt is not None and source is not None and source in inventory.hosts:
                # the link's round trip through its relay, e.g. "west→dr 31 ms"
                where = f"{inventory.hosts[source].site}→{replica.site}"
                line.append(f" {where} {float(rtt):.0f} ms", style=palette.muted)
    for fenced in topo.fenced:
        line.append(f"  read-only {fenced.site}/{fenced.host}", style=palette.warn)
    for gone in topo.unreachable:
        line.append(f"  {gone.site}/{gone.host} {gone.role.value.upper()}", style=palette.down)
    expected = service.expected_primary
    if primary is not None and expected is not None and primary.host != expected:
        where = inventory.hosts[expected].site
        line.append(f"  ⇄ primary moved to {primary.site} (inventory: {where})", style=palette.warn)
    if shape is not None and service.topology.shape == "cascade":
        if not shape.reasons:
            line.append(f"  ✓ {shape.label}", style=palette.ok)
        _shape_reasons(line, shape, palette)
    return line


def _in_chain_order(
    upstreams: Mapping[str, str], replicas: Sequence[ReplicationSample]
) -> list[ReplicationSample]:
    """The replicas, those fed by the primary first and each cascading one after the member
    that feeds it (a declared cascade east -> west -> dr reads in that order); otherwise as
    observed."""

    def depth(host: str) -> int:
        seen: set[str] = set()
        while host in upstreams and host not in seen:
            seen.add(host)
            host = upstreams[host]
        return len(seen)

    return sorted(replicas, key=lambda r: depth(r.host))


def _shape_style(shape: ShapeCheck, palette: Palette) -> str:
    return {"ok": palette.ok, "warn": palette.warn, "crit": palette.crit}.get(
        shape.health.value, palette.unknown
    )


def _shape_reasons(line: Text, shape: ShapeCheck, palette: Palette) -> None:
    """The declared shape's findings, each with its word (colour is never the only signal)."""
    for reason in shape.reasons:
        line.append(f"  {shape.health.value.upper()}: {reason}", style=_shape_style(shape, palette))


def _needs_a_look(
    inventory: Inventory, topo: ServiceTopology | None, snapshot: StatusSnapshot, now: float
) -> bool:
    shape = snapshot.shapes.get(inventory.services[topo.service].name) if topo else None
    if shape is not None and inventory.services[shape.service].topology.shape != "primary-replica":
        return shape.health.value != "ok" or bool(topo and topo.unreachable)
    if topo is None or topo.split_brain or topo.primary is None or topo.unreachable:
        return True
    for host in inventory.services[topo.service].members:
        m = snapshot.get(topo.service, host)
        if m is not None and shown_health(inventory, m, now) == "stale":
            return True
    if topo.fenced or any(r.link.value != "up" for r in topo.replicas):
        return True
    return topo.primary.host != inventory.services[topo.service].expected_primary


def topology_text(
    inventory: Inventory,
    snapshot: StatusSnapshot | None,
    palette: Palette,
    now: float | None = None,
) -> Text:
    """Every service's line; for a large estate, only the services that need a look, and
    one line counting the rest (primary where expected, every replica streaming). ``now``
    (default the snapshot's time) judges stale samples."""
    if now is None and snapshot is not None:
        now = snapshot.taken_at
    names = list(inventory.services)
    width = min(20, max((len(n) for n in names), default=8))
    shown = names
    if len(names) > TOPOLOGY_ALL_LINES:
        shown = [
            n
            for n in names
            if snapshot is None
            or _needs_a_look(inventory, snapshot.topologies.get(n), snapshot, now or 0.0)
        ]
    text = Text()
    for i, name in enumerate(shown[:TOPOLOGY_ALL_LINES]):
        if i:
            text.append("\n")
        topo = snapshot.topologies.get(name) if snapshot else None
        text.append_text(topology_line(inventory, name, topo, palette, width, snapshot, now))
    if len(shown) > TOPOLOGY_ALL_LINES:
        text.append(
            f"\n… {len(shown) - TOPOLOGY_ALL_LINES} more service(s) need a look (see the sites)",
            style=palette.warn,
        )
    if snapshot is not None:
        text.append_text(manager_text(snapshot, palette))
    quiet = len(names) - len(shown)
    if quiet:
        text.append("\n" if shown else "")
        text.append(
            f"✓ {quiet} other service(s): primary where the inventory puts it, "
            "every replica streaming",
            style=palette.ok,
        )
    return text


def manager_text(snapshot: StatusSnapshot, palette: Palette) -> Text:
    """One line per managed service (Patroni, Sentinel): the manager's health and view, and
    each of its findings below it (empty without managers)."""
    text = Text()
    for view in snapshot.managers.values():
        health = view.health.value
        style = {"ok": palette.ok, "warn": palette.warn}.get(health, palette.crit)
        mark = {"ok": "✓", "warn": "▲"}.get(health, "✗")
        text.append(f"\n{view.service} ({view.manager}) ", style="bold")
        text.append(f"{mark} {health.upper()} ", style=style)
        text.append(view.summary, style=palette.muted)
        for finding in view.findings:
            fstyle = palette.crit if finding.health.value == "crit" else palette.warn
            text.append(f"\n  {finding.health.value.upper()} {finding.reason}", style=fstyle)
    return text
