"""Events that measure the drill: replication samples, canary writes, RTO marks, RTO and RPO."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from console.events.base import Event
from console.events.enums import RtoEdge, SamplePhase


@dataclass(frozen=True, kw_only=True)
class ProbeSample(Event):
    """A replication sample taken during the run (before, during waits, after)."""

    kind: ClassVar[str] = "probe_sample"
    decode_defaults: ClassVar[Mapping[str, Any]] = {
        "service": "?",
        "site": "?",
        "role": "unknown",
        "link": "unknown",
        "health": "unknown",
        "phase": SamplePhase.DURING,
    }
    service: str
    site: str
    role: str
    link: str
    lag_seconds: float | None
    lag_bytes: int | None
    position: str | None
    health: str
    error: str | None
    phase: SamplePhase


@dataclass(frozen=True, kw_only=True)
class CanaryWrite(Event):
    """A canary write on the observed primary, acknowledged or not."""

    kind: ClassVar[str] = "canary_write"
    decode_defaults: ClassVar[Mapping[str, Any]] = {"service": "?"}
    service: str
    n: int
    ok: bool
    written_at: float
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class CanaryCheck(Event):
    """The canaries read back on the (new) primary: the measured data loss."""

    kind: ClassVar[str] = "canary_check"
    service: str | None
    acknowledged: int | None
    present: int | None
    missing: tuple[int, ...]
    newest_present: int | None
    rpo_writes: int | None
    rpo_seconds: float | None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class RtoMark(Event):
    """Where the measured outage starts or ends."""

    kind: ClassVar[str] = "rto_mark"
    durable: ClassVar[bool] = True
    decode_defaults: ClassVar[Mapping[str, Any]] = {"mark": RtoEdge("")}
    mark: RtoEdge


@dataclass(frozen=True, kw_only=True)
class Measurement(Event):
    """Measured RTO and RPO against the objectives."""

    kind: ClassVar[str] = "measurement"
    rto_seconds: float | None
    rpo_seconds: float | None
    rpo_writes: int | None
    rto_objective: float | None
    rpo_objective: float | None
    rto_met: bool | None
    rpo_met: bool | None
