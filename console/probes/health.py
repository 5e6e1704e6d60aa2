"""Judging one member's health from its sample, the service's thresholds and the inventory.

The rules are the console's promise to the operator, so they are few and strict:
a member we could not see is DOWN or UNKNOWN, never OK; a sample older than the stale limit
is UNKNOWN (old good news is not news); a replica whose link is down or that reports a
replication error is CRIT; a replica whose lag nobody could measure is at best WARN, because
a missing lag is never zero. A member whose observed role differs from the inventory's is
flagged as diverged, which is what a finished failover looks like: it is said plainly, and
it does not by itself make the member unhealthy. A primary configured for synchronous
replication (PostgreSQL ``synchronous_standby_names``, MariaDB/MySQL semi-sync enabled) that
has no synchronous replica now is WARN with the reason: PostgreSQL's commits then wait,
MariaDB's have fallen back to asynchronous (a failover would lose what no replica has).
"""

from __future__ import annotations

from dataclasses import dataclass

from console.errors import InputError
from console.probes.sample import Health, Link, ReplicationSample, Role

_SEVERITY = {Health.OK: 0, Health.WARN: 1, Health.UNKNOWN: 2, Health.CRIT: 3, Health.DOWN: 4}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A service's lag limits; None means "no limit of this kind". A lag must be above a
    limit (not equal to it) to count."""

    lag_warn: float | None
    """Seconds of lag above which a replica is WARN."""
    lag_crit: float | None
    """Seconds of lag above which a replica is CRIT."""
    lag_bytes_warn: int | None = None
    """Bytes (or offset units) of lag above which a replica is WARN."""
    lag_bytes_crit: int | None = None
    """Bytes (or offset units) of lag above which a replica is CRIT."""

    @property
    def has_seconds(self) -> bool:
        """Whether any limit in seconds is set."""
        return self.lag_warn is not None or self.lag_crit is not None


@dataclass(frozen=True, slots=True)
class MemberHealth:
    """The verdict on one member."""

    health: Health
    """The worst finding."""
    reasons: tuple[str, ...]
    """Every finding that is not OK, as sentences; empty when OK."""
    diverged: bool
    """The observed role differs from the inventory's expected role."""
    divergence: str | None
    """E.g. ``expected replica, observed primary``."""


def _fmt_age(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _show(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{int(value)} bytes"
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def _lag_level(
    value: float, warn: float | None, crit: float | None, unit: str
) -> tuple[Health, str] | None:
    shown = _show(value, unit)
    if crit is not None and value > crit:
        return Health.CRIT, f"lag {shown} is above the critical limit {_show(crit, unit)}"
    if warn is not None and value > warn:
        return Health.WARN, f"lag {shown} is above the warning limit {_show(warn, unit)}"
    return None


def assess(
    sample: ReplicationSample,
    thresholds: Thresholds,
    expected_role: str | None,
    now: float,
    stale_after: float,
) -> MemberHealth:
    """Judge one member.

    Args:
        sample: Its latest sample.
        thresholds: The service's lag limits.
        expected_role: The inventory's role for it (``primary`` or ``replica``), or None.
        now: The current ``time.time()``.
        stale_after: Seconds after which a sample no longer counts as current.

    Returns:
        The health, the reasons, and the divergence from the inventory.

    Raises:
        InputError: ``expected_role`` is neither ``primary`` nor ``replica``.
    """
    if expected_role not in (None, "primary", "replica"):
        raise InputError(
            f"{sample.service}/{sample.host}: expected role {expected_role!r} "
            "is neither primary nor replica"
        )
    diverged = False
    divergence = None
    if (
        expected_role is not None
        and sample.role in (Role.PRIMARY, Role.REPLICA)
        and sample.role.value != expected_role
    ):
        diverged = True
        divergence = f"expected {expected_role}, observed {sample.role.value}"

    def verdict(health: Health, reasons: list[str]) -> MemberHealth:
        return MemberHealth(health, tuple(reasons), diverged, divergence)

    if sample.role is Role.DOWN:
        return verdict(Health.DOWN, [sample.error or "the member is down"])
    if sample.role is Role.UNKNOWN:
        return verdict(Health.UNKNOWN, [sample.error or "the member's role is unknown"])
    age = sample.age(now)
    if age > stale_after:
        return verdict(
            Health.UNKNOWN,
            [f"the last sample is {_fmt_age(age)} old (stale after {stale_after:g} s)"],
        )

    findings: list[tuple[Health, str]] = []
    if sample.role is Role.PRIMARY:
        if sample.read_only is True:
            findings.append((Health.WARN, "the primary is read-only (fenced?)"))
        if sample.error:
            findings.append((Health.WARN, sample.error))
        lost = sync_lost(sample)
        if lost is not None:
            findings.append((Health.WARN, lost))
    else:
        findings.extend(_replica_findings(sample, thresholds))

    if not findings:
        return verdict(Health.OK, [])
    worst = max((health for health, _ in findings), key=_SEVERITY.__getitem__)
    return verdict(worst, [reason for _, reason in findings])


SYNC_STATES = ("sync", "quorum")
"""PostgreSQL's ``sync_state`` words of a standby whose flush a commit waits for."""


def sync_lost(sample: ReplicationSample) -> str | None:
    """Why a primary configured for synchronous replication has no synchronous replica now,
    or None (not configured, or a synchronous replica is there)."""
    names = sample.details.get("synchronous_standby_names")
    if sample.kind == "postgres" and names:
        if any(r.sync_state in SYNC_STATES for r in sample.replicas):
            return None
        seen = ", ".join(f"{r.name or '?'} {r.sync_state or '?'}" for r in sample.replicas)
        return (
            f"no synchronous standby: synchronous_standby_names is '{names}' but "
            f"{'the standbys are ' + seen if seen else 'no standby is connected'}; "
            "commits wait until one is back"
        )
    if sample.kind == "mysql" and sample.details.get("semi_sync_enabled") == "ON":
        if sample.details.get("semi_sync_status") == "ON":
            return None
        clients = sample.details.get("semi_sync_clients", "?")
        no_tx = sample.details.get("semi_sync_no_tx", "?")
        return (
            "semi-sync fell back to asynchronous: Rpl_semi_sync_master_status is "
            f"{sample.details.get('semi_sync_status', 'unknown')} with {clients} semi-sync "
            f"replica(s); {no_tx} commit(s) not acknowledged by any replica"
        )
    return None


def _replica_findings(
    sample: ReplicationSample, thresholds: Thresholds
) -> list[tuple[Health, str]]:
    findings: list[tuple[Health, str]] = []
    if sample.link is Link.DOWN:
        upstream = f" to {sample.upstream}" if sample.upstream else ""
        findings.append((Health.CRIT, f"replication link{upstream} is down"))
    elif sample.link is not Link.UP:
        findings.append((Health.UNKNOWN, "replication link state is unknown"))
    if sample.error:
        findings.append((Health.CRIT, sample.error))
    if sample.link is not Link.UP:
        return findings

    seconds, nbytes = sample.lag_seconds, sample.lag_bytes
    if seconds is None and nbytes is None:
        findings.append((Health.WARN, "lag is unknown"))
        return findings
    if seconds is not None:
        level = _lag_level(seconds, thresholds.lag_warn, thresholds.lag_crit, "seconds")
        if level:
            findings.append(level)
    elif thresholds.has_seconds and nbytes != 0:
        findings.append((Health.WARN, f"lag in seconds is unknown ({nbytes} bytes behind)"))
    if nbytes is not None:
        level = _lag_level(
            float(nbytes), thresholds.lag_bytes_warn, thresholds.lag_bytes_crit, "bytes"
        )
        if level:
            findings.append(level)
    return findings
