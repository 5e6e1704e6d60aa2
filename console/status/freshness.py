"""When a sample stops being news: staleness judged against the view's own poll interval.

A live view (the TUI board, ``status --watch``, the run screen's replication panel) refreshes
each member every ``poll_interval`` seconds, so a sample older than its expected refresh (the
interval plus a probe's allowance) means the member is not answering, whatever the sample said
when it was taken. Such a sample is shown as **stale**: never a green tick, its last values
dimmed with their age, and its site "not answering for N s". The collector's own limit
(``thresholds.stale_after``, 30 s by default) still judges a snapshot without a poll interval
(a one-shot ``status``).

Pure functions of values and the time; the views format what these say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from console.model.inventory import Inventory
from console.status.collector import MemberStatus

STALE_POLLS = 1.5
"""A sample older than this many poll intervals is stale..."""
PROBE_ALLOWANCE = 1.0
"""...and never sooner than one interval plus this many seconds (a probe takes time)."""


def stale_limit(poll_interval: float | None, stale_after: float) -> float:
    """Seconds after which a sample is stale in a view polling every ``poll_interval``."""
    if poll_interval is None or poll_interval <= 0:
        return stale_after
    return min(stale_after, max(poll_interval * STALE_POLLS, poll_interval + PROBE_ALLOWANCE))


def member_limit(inventory: Inventory, m: MemberStatus) -> float:
    """The age after which ``m``'s sample is stale in the view it feeds."""
    svc = inventory.services.get(m.service)
    stale_after = svc.thresholds.stale_after if svc is not None else 30.0
    return stale_limit(m.expected_refresh, stale_after)


def is_stale(inventory: Inventory, m: MemberStatus, now: float) -> bool:
    """The member's sample is older than its expected refresh."""
    return m.sample.age(now) > member_limit(inventory, m)


def shown_health(inventory: Inventory, m: MemberStatus, now: float) -> str:
    """The health word a view shows: ``stale`` for a stale sample of a member that was
    answering (a member already DOWN or UNKNOWN keeps that word), else its judged health."""
    health = m.health.health.value
    if health in ("down", "unknown"):
        return health
    return "stale" if is_stale(inventory, m, now) else health


@dataclass(frozen=True)
class Silence:
    """Members that stopped answering, and for how long."""

    members: tuple[MemberStatus, ...]
    """Stale, DOWN or UNKNOWN."""
    seconds: float | None
    """Since the newest sample of any of them was taken while it still answered (None when
    none of them ever answered in this snapshot)."""


def silence(inventory: Inventory, members: Iterable[MemberStatus], now: float) -> Silence:
    """Which of ``members`` are not answering now, and since when."""
    quiet = [m for m in members if m.role in ("down", "unknown") or is_stale(inventory, m, now)]
    answered = [m.sample.sampled_at for m in quiet if m.role in ("primary", "replica")]
    return Silence(tuple(quiet), (now - max(answered)) if answered else None)


def not_answering(seconds: float | None) -> str:
    """``not answering for 12 s`` (or ``not answering`` when it never did)."""
    if seconds is None:
        return "not answering"
    return f"not answering for {seconds:.0f} s"
