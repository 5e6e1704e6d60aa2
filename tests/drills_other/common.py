"""Assertions shared by the MariaDB and Redis drill tests: what the audit log must prove."""

from __future__ import annotations

from dataclasses import dataclass

from tests.drills_other.support import DrillLab, Ran


@dataclass(frozen=True)
class Measured:
    """What one drill measured, as its audit log records it."""

    run_id: str
    rto_seconds: float
    rpo_writes: int
    rpo_seconds: float
    acknowledged: tuple[int, ...]
    """Canary numbers the server acknowledged during the run."""
    acknowledged_by: dict[str, int]
    """Host -> how many canaries it acknowledged."""


def succeeded(ran: Ran) -> str:
    """Assert a ``run`` exited 0; return its run id."""
    assert ran.returncode == 0, f"exit {ran.returncode}:\n{ran.output[-6000:]}"
    return ran.run_id


def measured_without_loss(lab: DrillLab, run_id: str) -> Measured:
    """Read the run's audit log and assert a planned drill lost no acknowledged canary.

    The log must verify; the run must have succeeded; some canaries must have been
    acknowledged (else "no loss" means nothing); the canary check must have found every
    acknowledged one on the new primary; both RTO marks must be there.
    """
    verdict = lab.store().verify(run_id)
    assert verdict.ok, verdict.reason
    finished = lab.events(run_id, "run_finished")[-1].data
    assert finished["outcome"] == "succeeded", finished
    writes = lab.events(run_id, "canary_write")
    acked = tuple(sorted(e.data["n"] for e in writes if e.data["ok"]))
    by_host: dict[str, int] = {}
    for e in writes:
        if e.data["ok"]:
            by_host[e.host or "?"] = by_host.get(e.host or "?", 0) + 1
    assert acked, "no canary was acknowledged: the drill measured nothing"
    checks = lab.events(run_id, "canary_check")
    assert len(checks) == 1, checks
    check = checks[0].data
    assert check["error"] is None, check
    assert check["acknowledged"] == len(acked), (check, acked)
    assert list(check["missing"]) == [], f"acknowledged canaries lost: {check['missing']}"
    assert check["rpo_writes"] == 0 and check["rpo_seconds"] == 0, check
    marks = [e.data["mark"] for e in lab.events(run_id, "rto_mark")]
    assert marks == ["start", "end"], marks
    measurement = lab.events(run_id, "measurement")[-1].data
    assert measurement["rto_seconds"] is not None and measurement["rto_seconds"] > 0, measurement
    assert measurement["rto_met"] is True and measurement["rpo_met"] is True, measurement
    return Measured(
        run_id=run_id,
        rto_seconds=measurement["rto_seconds"],
        rpo_writes=check["rpo_writes"],
        rpo_seconds=check["rpo_seconds"],
        acknowledged=acked,
        acknowledged_by=by_host,
    )


def step_outcomes(lab: DrillLab, run_id: str) -> dict[str, str]:
    """Step id -> its last recorded outcome."""
    return {e.step_id or "": e.data["outcome"] for e in lab.events(run_id, "step_finished")}
