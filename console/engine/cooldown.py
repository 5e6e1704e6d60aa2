"""The anti-flap cooldown: no second failover of a service soon after the last one.

``cooldown: 1h`` on an inventory service makes a failover or switchover playbook on it fail
preflight (exit 3) when another failover or switchover of that service finished less than an
hour ago, in this audit store, so team-wide when the store is shared; the refusal names that
run, its operator and when it finished. ``--override-cooldown "reason"`` lets the run go on,
and the override, with its reason, is recorded. orchestrator's ``RecoveryPeriodBlockSeconds``
is the model.

A previous run counts whatever its outcome, except ``stopped`` with nothing done: a run
refused at preflight (by this very cooldown, a gate, a lock) changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from console.audit.model import RunRecord
from console.audit.reading import LogReader
from console.model.inventory import Inventory
from console.model.playbook import Playbook

COOLDOWN_KINDS = ("failover", "switchover")
"""The playbook kinds a cooldown refuses, and the ones whose last run starts it."""


@dataclass(frozen=True)
class CooldownHit:
    """A service still cooling down, and the run that started the cooldown."""

    service: str
    cooldown: float
    """Seconds."""
    previous: RunRecord
    ends_at: datetime

    @property
    def title(self) -> str:
        """The gate's title: ``cooldown of SERVICE (1h)``."""
        return f"cooldown of {self.service} ({_span(self.cooldown)})"

    def describe(self, now: datetime) -> str:
        """One line: which run, who, when, and until when."""
        finished = self.previous.finished_at or "?"
        ago = _span((now - self.ends_at).total_seconds() + self.cooldown)
        return (
            f"the previous {self.previous.playbook_kind}, run {self.previous.run_id} "
            f"({self.previous.playbook_name}) of {self.previous.operator}, finished at "
            f"{finished} ({ago} ago, {self.previous.status}); another is allowed from "
            f"{self.ends_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _counts(run: RunRecord, run_id: str) -> bool:
    if run.run_id == run_id:
        return False
    summary = str(run.finish_data.get("summary", "")) if run.finish_data else ""
    return not (run.outcome == "stopped" and summary.startswith("preflight gate failed"))


def cooling(
    audit: LogReader,
    inventory: Inventory,
    playbook: Playbook,
    run_id: str,
    now: datetime | None = None,
) -> list[CooldownHit]:
    """The services this run would fail over while they cool down (empty: none)."""
    if playbook.kind not in COOLDOWN_KINDS:
        return []
    now = now or datetime.now(UTC)
    hits: list[CooldownHit] = []
    for name in playbook.services_touched():
        service = inventory.services.get(name)
        if service is None or not service.cooldown:
            continue
        since = now - timedelta(seconds=service.cooldown)
        for run in audit.finished_since(since, COOLDOWN_KINDS):
            try:
                finished = run.finished
            except ValueError:
                continue  # an edited row: verify reports it
            if name in run.services and _counts(run, run_id) and finished is not None:
                ends = finished + timedelta(seconds=service.cooldown)
                hits.append(CooldownHit(name, service.cooldown, run, ends))
                break
    return hits
