"""The recovery sections of a report: a point-in-time recovery's and a cold backup's figures.

A recovery playbook's steps say what they measured in *figure lines* on their standard
output, one or more ``key=value`` words after ``report:`` (values may be shell-quoted)::

    report: phase=fetch backup=20261203-171049F
    report: replayed=3 replayed_what='WAL segments' replayed_bytes=33720344
    report: recovered=2026-12-03T17:11:05.401409Z gap_s=1.115819

The audit log records every output line before the report is built, so these figures come
from the log alone, like everything else in a report. ``phase`` (``fetch``, ``replay`` or
``checks``) puts the step's duration into that part of the restore time; the output of the
``checks`` steps is the run's verification output (check_sql / check_cmd, integrity checks).
The other keys are listed in :data:`PITR_KEYS` and :data:`COLD_KEYS`; an unknown key, a
malformed line or a value that is not a number where one is expected is ignored (the report
of a log must never fail on what a command printed), and a figure no line gave is None.

A log written before the playbooks printed figure lines still gets its section: the phases
then come from the shipped playbooks' step ids (:data:`DEFAULT_PHASES`) and the figures are
None ("not recorded").
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence

from console.report.model import ColdBackupSection, PitrSection, StepRun, VerificationOutput

PREFIX = "report:"
"""What starts a figure line."""

PHASES = ("fetch", "replay", "checks")
"""The parts of a restore's duration."""

PITR_KEYS = (
    "phase",
    "backup",
    "recovered",
    "gap_s",
    "gap_max_s",
    "replayed",
    "replayed_what",
    "replayed_bytes",
    "replayed_bytes_what",
)
"""The figures of a point-in-time recovery (``gap_max_s``: an upper bound of the gap)."""

COLD_KEYS = ("phase", "copy_bytes", "copy_s", "restore_s")
"""The figures of a cold-backup drill (its downtime is the run's measured outage)."""

DEFAULT_PHASES: Mapping[str, str] = {
    "restore": "fetch",
    "copy": "fetch",
    "start": "replay",
    "replay": "replay",
    "cut": "replay",
    "prove": "replay",
    "promote": "replay",
    "check-sql": "checks",
    "check-cmd": "checks",
    "amcheck": "checks",
    "check-tables": "checks",
    "check-aof": "checks",
}
"""Step id -> phase for a log whose steps printed no ``phase`` (the shipped PITR playbooks
before they printed figure lines)."""

PROOF_WORDS = ("PROVEN: ", "NOT PROVEN: ")
COLD_PROOF_WORDS = ("MATCH: ", "MISMATCH: ")


def figure_line(text: str) -> dict[str, str] | None:
    """The figures of one output line, or None when it is not a figure line.

    >>> figure_line("report: phase=fetch backup='a b'")
    {'phase': 'fetch', 'backup': 'a b'}
    >>> figure_line("restore size = 44.4MB") is None
    True
    """
    stripped = text.strip()
    if not stripped.startswith(PREFIX):
        return None
    try:
        words = shlex.split(stripped[len(PREFIX) :])
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            out[key] = value
    return out


def step_figures(step: StepRun) -> dict[str, str]:
    """Every figure a step execution printed on stdout (a later value of a key wins)."""
    out: dict[str, str] = {}
    for command in step.commands:
        for line in command.output:
            if line.stream != "stdout":
                continue
            figures = figure_line(line.text)
            if figures:
                out.update(figures)
    return out


def _last_runs(steps: Sequence[StepRun]) -> list[StepRun]:
    """The last execution of each (non-rollback) step, in the order they first started."""
    last: dict[str, StepRun] = {}
    for step in steps:
        if not step.rollback:
            last[step.id] = step
    return list(last.values())


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _count(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None or number < 0 or number != int(number) else int(number)


def _phases(runs: Sequence[StepRun], figures: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Step id -> phase: as the steps said, else (an older log) by the shipped step ids."""
    said = {sid: f["phase"] for sid, f in figures.items() if f.get("phase") in PHASES}
    if said:
        return said
    return {s.id: DEFAULT_PHASES[s.id] for s in runs if s.id in DEFAULT_PHASES}


def _duration(runs: Sequence[StepRun], phases: Mapping[str, str], phase: str) -> float | None:
    """The summed duration of a phase's steps; None when none of them ran to an end."""
    took = [
        s.duration
        for s in runs
        if phases.get(s.id) == phase and s.duration is not None and s.outcome != "skipped"
    ]
    return round(sum(took), 3) if took else None


def _verification(
    runs: Sequence[StepRun], phases: Mapping[str, str]
) -> tuple[VerificationOutput, ...]:
    out = []
    for step in runs:
        if phases.get(step.id) != "checks" or step.outcome == "skipped":
            continue
        lines = tuple(
            line.text
            for command in step.commands
            for line in command.output
            if figure_line(line.text) is None
        )
        out.append(VerificationOutput(step.id, step.title, step.outcome, lines))
    return tuple(out)


def _proof(runs: Sequence[StepRun], words: tuple[str, ...]) -> str | None:
    """The last proof line any step printed."""
    found = None
    for step in runs:
        for command in step.commands:
            for line in command.output:
                text = line.text.strip()
                if line.stream == "stdout" and text.startswith(words):
                    found = text
    return found


def _target(params: Mapping[str, str]) -> str:
    for key, label in (
        ("target_time", "time"),
        ("target_name", "restore point"),
        ("target_xid", "xid"),
        ("target_gtid", "GTID"),
    ):
        if params.get(key):
            return f"{label} {params[key]}"
    return ""


def pitr_section(
    kind: str, services: Sequence[str], params: Mapping[str, str], steps: Sequence[StepRun]
) -> PitrSection | None:
    """The figures of a ``point-in-time-restore`` run (None for any other kind)."""
    if kind != "point-in-time-restore":
        return None
    runs = _last_runs(steps)
    per_step = {s.id: step_figures(s) for s in runs}
    merged: dict[str, str] = {}
    for figures in per_step.values():
        merged.update({k: v for k, v in figures.items() if k in PITR_KEYS})
    phases = _phases(runs, per_step)
    gap = _number(merged.get("gap_s"))
    bound = _number(merged.get("gap_max_s"))
    return PitrSection(
        service=services[0] if services else None,
        target=_target(params),
        recovered=merged.get("recovered") or None,
        gap_seconds=gap if gap is not None else bound,
        gap_bound=gap is None and bound is not None,
        backup=merged.get("backup") or None,
        replayed_count=_count(merged.get("replayed")),
        replayed_what=merged.get("replayed_what") or None,
        replayed_bytes=_count(merged.get("replayed_bytes")),
        replayed_bytes_what=merged.get("replayed_bytes_what") or None,
        fetch_seconds=_duration(runs, phases, "fetch"),
        replay_seconds=_duration(runs, phases, "replay"),
        checks_seconds=_duration(runs, phases, "checks"),
        proof=_proof(runs, PROOF_WORDS),
        verification=_verification(runs, phases),
    )


def cold_backup_section(
    services: Sequence[str], steps: Sequence[StepRun], downtime: float | None
) -> ColdBackupSection | None:
    """The figures of a cold-backup drill: a run whose steps printed ``copy_bytes``, ``copy_s``
    or ``restore_s`` (None for any other run). ``downtime`` is the run's measured outage."""
    runs = _last_runs(steps)
    per_step = {s.id: step_figures(s) for s in runs}
    merged: dict[str, str] = {}
    for figures in per_step.values():
        merged.update({k: v for k, v in figures.items() if k in COLD_KEYS})
    if not {"copy_bytes", "copy_s", "restore_s"} & merged.keys():
        return None
    phases = {sid: f["phase"] for sid, f in per_step.items() if f.get("phase") in PHASES}
    return ColdBackupSection(
        service=services[0] if services else None,
        downtime_seconds=downtime,
        copy_bytes=_count(merged.get("copy_bytes")),
        copy_seconds=_number(merged.get("copy_s")),
        restore_seconds=_number(merged.get("restore_s")),
        proof=_proof(runs, COLD_PROOF_WORDS),
        verification=_verification(runs, phases),
    )


__all__ = [
    "COLD_KEYS",
    "DEFAULT_PHASES",
    "PITR_KEYS",
    "cold_backup_section",
    "figure_line",
    "pitr_section",
    "step_figures",
]
