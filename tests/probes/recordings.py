"""Loading the recorded probe outputs of ``tests/probes/data/`` for the parser tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.probes import ProbeTarget, ReplicationSample, probe_for

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Recording:
    """One recorded (or, for MySQL 8, transcribed) probe run."""

    name: str
    raw: dict[str, Any]

    @property
    def target(self) -> ProbeTarget:
        return ProbeTarget(**self.raw["target"])

    @property
    def sampled_at(self) -> float:
        return float(self.raw["sampled_at"])

    def result(self) -> tuple[int | None, str, str]:
        return self.raw["exit_status"], self.raw["stdout"], self.raw["stderr"]

    def parse(self) -> ReplicationSample:
        probe = probe_for(self.target.kind, **self.raw.get("probe", {}))
        status, stdout, stderr = self.result()
        return probe.parse(self.target, status, stdout, stderr, self.sampled_at)


def load(name: str) -> Recording:
    """Load ``data/NAME.json`` (NAME like ``postgres/replica_healthy``)."""
    return Recording(name, json.loads((DATA / f"{name}.json").read_text()))


def all_recordings(kind: str | None = None) -> list[str]:
    """Names of every data file (optionally of one directory)."""
    pattern = f"{kind}/*.json" if kind else "*/*.json"
    return sorted(str(p.relative_to(DATA).with_suffix("")) for p in DATA.glob(pattern))
