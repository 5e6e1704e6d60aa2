"""What the board remembers between samples: lag over the last minutes, and when each member
and each site was last seen answering.

The collector keeps only the latest sample per member; a sparkline needs the recent past and a
dark site needs "last seen 40 s ago". This is that small memory, bounded per member, fed with
the snapshots the status source delivers (a sample is recorded once, however many snapshots
carry it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from console.status.collector import MemberStatus

WINDOW_SECONDS = 300.0
"""How far back the sparkline looks."""

MAX_POINTS = 150
"""Samples kept per member (a 2 s refresh fills five minutes)."""

_SEEN_ROLES = ("primary", "replica")


class LagHistory:
    """Recent lag per member and last-seen times per member and site."""

    def __init__(self, window: float = WINDOW_SECONDS, max_points: int = MAX_POINTS) -> None:
        self.window = window
        """Seconds of history kept for sparklines."""
        self._points: dict[tuple[str, str], deque[tuple[float, float | None]]] = {}
        self._last_sampled: dict[tuple[str, str], float] = {}
        self._max_points = max_points
        self.member_seen: dict[tuple[str, str], float] = {}
        """(service, host) -> when it last answered as a primary or a replica."""
        self.site_seen: dict[str, float] = {}
        """Site -> when any of its members last answered."""

    def record(self, members: Iterable[MemberStatus]) -> None:
        """Take in the members of a snapshot (samples seen before are ignored)."""
        for m in members:
            key = (m.service, m.host)
            at = m.sample.sampled_at
            if self._last_sampled.get(key) == at:
                continue
            self._last_sampled[key] = at
            points = self._points.get(key)
            if points is None:
                points = self._points[key] = deque(maxlen=self._max_points)
            points.append((at, lag_value(m)))
            while points and points[0][0] < at - self.window:
                points.popleft()
            if m.role in _SEEN_ROLES:
                self.member_seen[key] = max(at, self.member_seen.get(key, 0.0))
                self.site_seen[m.site] = max(at, self.site_seen.get(m.site, 0.0))

    def values(self, service: str, host: str) -> list[float | None]:
        """The member's recent lag values, oldest first (None where unknown)."""
        return [v for _, v in self._points.get((service, host), ())]

    def clear(self) -> None:
        """Forget everything (a new inventory)."""
        self._points.clear()
        self._last_sampled.clear()
        self.member_seen.clear()
        self.site_seen.clear()


def lag_value(m: MemberStatus) -> float | None:
    """The number a member's sparkline draws: lag in seconds for a replica (bytes when only
    bytes are known), 0 for a primary, None when unknown or unreachable."""
    if m.role == "primary":
        return 0.0
    if m.role != "replica":
        return None
    if m.sample.lag_seconds is not None:
        return m.sample.lag_seconds
    if m.sample.lag_bytes is not None:
        return float(m.sample.lag_bytes)
    return None
