"""``status --watch`` notifications: a service that degrades (or recovers), with a hold-down.

Per service, the state a watcher would see on the board: degraded when any member is not
``ok`` as a live view shows it (STALE included), else healthy. A change is told only once it
has held for ``hold_down`` seconds without interruption, so a flapping member does not flood
the channel: a member that goes DOWN and comes back within the hold-down sends nothing, and a
service that keeps flapping sends at most one message per change that held. A watch that
starts on a degraded service tells it once the hold-down has passed; a healthy start is not
told.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.model.durations import format_duration
from console.model.inventory import Inventory
from console.notify.messages import Level, Message
from console.status.collector import MemberStatus, StatusSnapshot
from console.status.freshness import shown_health

DEFAULT_HOLD_DOWN = 30.0
"""Seconds a change must last before it is told."""


@dataclass
class _Track:
    told: bool = False
    """True when the state last told (or assumed at start) is degraded."""
    pending_since: float | None = None
    """When the current, not yet told, state began."""


class DegradeWatch:
    """Turns successive snapshots into "degraded" and "recovered" messages (pure)."""

    def __init__(self, inventory: Inventory, hold_down: float = DEFAULT_HOLD_DOWN) -> None:
        self.inventory = inventory
        self.hold_down = hold_down
        """Seconds a change must last before it is told."""
        self._tracks: dict[str, _Track] = {name: _Track() for name in inventory.services}

    def observe(self, snapshot: StatusSnapshot, now: float) -> list[Message]:
        """The messages this snapshot (seen at ``now``) makes due, in inventory order."""
        out: list[Message] = []
        for name, track in self._tracks.items():
            bad = [
                m
                for m in snapshot.for_service(name)
                if shown_health(self.inventory, m, now) != "ok"
            ]
            degraded = bool(bad)
            if degraded == track.told:
                track.pending_since = None
                continue
            if track.pending_since is None:
                track.pending_since = now
            if now - track.pending_since < self.hold_down:
                continue
            held = now - track.pending_since
            track.told, track.pending_since = degraded, None
            out.append(self._message(name, bad, held, now) if degraded else self._back(name, held))
        return out

    def _message(self, name: str, bad: list[MemberStatus], held: float, now: float) -> Message:
        inv = self.inventory
        lines = []
        for m in bad:
            why = "; ".join(m.health.reasons) or m.health.divergence or ""
            word = shown_health(inv, m, now).upper()
            lines.append(f"{m.host} ({m.site}): {word}" + (f": {why}" if why else ""))
        lines.append(f"for {format_duration(held)} or more · inventory {inv.name}")
        members = ", ".join(f"{m.host} {shown_health(inv, m, now).upper()}" for m in bad)
        return Message(
            subject=f"{name} degraded",
            title=f"{name} degraded: {members}",
            body="\n".join(lines),
            level=Level.FAILURE,
        )

    def _back(self, name: str, held: float) -> Message:
        return Message(
            subject=f"{name} recovered",
            title=f"{name} healthy again",
            body=f"every member ok for {format_duration(held)} · inventory {self.inventory.name}",
            level=Level.SUCCESS,
        )
