"""Drill history: every run of each playbook over time, measured RTO and RPO against objectives.

The question a team asks of its history is "are our drills getting better?": so, per
playbook, how often the drill succeeded, whether its objectives were met, and where the latest
measurement stands against the earlier ones. Built from the audit log alone (the ``runs``
index, which ``verify`` proves equal to the events) plus one verification of the whole chain.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from console.audit.model import RunRecord
from console.audit.store import AuditStore
from console.errors import InputError
from console.events import objective
from console.model.durations import DurationError, parse_duration
from console.report.model import ChainCheck
from console.report.render_md import cell, table
from console.report.text import met_word, seconds, timestamp


@dataclass(frozen=True)
class HistoryRun:
    """One run in the history."""

    run_id: str
    """The run's id."""
    started_at: str
    """When it started."""
    mode: str
    """``drill`` or ``incident``."""
    operator: str
    """Who started it."""
    outcome: str
    """How it ended (or running / interrupted)."""
    exit_code: int | None
    """Its exit code."""
    duration: float | None
    """Seconds from start to end."""
    rto_seconds: float | None
    """Measured RTO."""
    rto_objective: float | None
    """The RTO objective then."""
    rto_met: bool | None
    """Whether it was met."""
    rpo_seconds: float | None
    """Measured RPO in seconds."""
    rpo_writes: int | None
    """Acknowledged writes lost."""
    rpo_objective: float | None
    """The RPO objective then."""
    rpo_met: bool | None
    """Whether it was met."""
    playbook_digest: str
    """Which version of the playbook ran."""


@dataclass(frozen=True)
class PlaybookHistory:
    """The runs of one playbook, oldest first, and what they add up to."""

    name: str
    """The playbook's name."""
    kind: str
    """Its kind (of the newest run)."""
    title: str
    """Its title (of the newest run)."""
    runs: tuple[HistoryRun, ...]
    """Oldest first."""
    summary: str
    """One line: successes, objectives met, the trend."""


@dataclass(frozen=True)
class History:
    """Every playbook's runs in the chosen window."""

    playbooks: tuple[PlaybookHistory, ...]
    """By playbook name."""
    since: str | None
    """Only runs started at or after this timestamp (None: all)."""
    playbook_filter: str | None
    """Only this playbook (None: all)."""
    run_count: int
    """Runs listed."""
    chain: ChainCheck
    """The whole log's verification when the history was made."""


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``90d``, ``12h``, ``2w`` (weeks) or an ISO date/time, as the moment it names.

    Raises:
        InputError: Anything else (exit 2).
    """
    raw = text.strip()
    now = now or datetime.now(UTC)
    weeks = re.fullmatch(r"(\d+)w", raw)
    if weeks:
        return now - timedelta(weeks=int(weeks.group(1)))
    try:
        return now - timedelta(seconds=parse_duration(raw))
    except DurationError:
        pass
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"--since {text!r}: use a duration like 90d, 12h, 2w or a date like 2025-01-31"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _met(value: bool | None, measured: float | None, goal: float | None) -> bool | None:
    if value is not None:
        return value
    if measured is None or goal is None:
        return None
    return measured <= goal


def history_run(record: RunRecord) -> HistoryRun:
    """A runs-table record as a history row."""
    fin = record.finish
    rto, rpo = record.rto_seconds, record.rpo_seconds
    rto_obj, rpo_obj = objective(record.objectives, "rto"), objective(record.objectives, "rpo")
    return HistoryRun(
        run_id=record.run_id,
        started_at=record.started_at,
        mode=record.mode,
        operator=record.operator,
        outcome=record.status,
        exit_code=record.exit_code,
        duration=record.duration_seconds,
        rto_seconds=rto,
        rto_objective=rto_obj,
        rto_met=_met(fin.rto_met if fin else None, rto, rto_obj),
        rpo_seconds=rpo,
        rpo_writes=fin.rpo_writes if fin else None,
        rpo_objective=rpo_obj,
        rpo_met=_met(fin.rpo_met if fin else None, rpo, rpo_obj),
        playbook_digest=record.playbook_digest,
    )


def _trend(name: str, values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return f"{name} never measured"
    if len(known) == 1:
        return f"{name} measured once: {seconds(known[0])}"
    last, earlier = known[-1], statistics.median(known[:-1])
    if last < earlier:
        word = "better than"
    elif last > earlier:
        word = "worse than"
    else:
        word = "the same as"
    return f"latest {name} {seconds(last)}, {word} the median {seconds(earlier)} of earlier runs"


def summarize(runs: Sequence[HistoryRun]) -> str:
    """One line on a playbook's runs: outcomes, objectives met, RTO trend."""
    outcomes: dict[str, int] = {}
    for r in runs:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    parts = [f"{len(runs)} run(s): " + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))]
    for name, mets in (
        ("RTO", [r.rto_met for r in runs]),
        ("RPO", [r.rpo_met for r in runs]),
    ):
        judged = [m for m in mets if m is not None]
        parts.append(f"{name} met in {sum(judged)} of {len(judged)} judged")
    parts.append(_trend("RTO", [r.rto_seconds for r in runs]))
    return "; ".join(parts)


def build_history(
    audit: AuditStore, *, playbook: str | None = None, since: datetime | None = None
) -> History:
    """Every run of each playbook (or of one) since a moment, oldest first per playbook."""
    records = audit.runs(playbook=playbook, since=since)
    by_name: dict[str, list[RunRecord]] = {}
    for rec in sorted(records, key=lambda r: (r.started_at, r.run_id)):
        by_name.setdefault(rec.playbook_name, []).append(rec)
    books = []
    for name in sorted(by_name):
        recs = by_name[name]
        runs = tuple(history_run(r) for r in recs)
        newest = recs[-1]
        books.append(
            PlaybookHistory(
                name=name,
                kind=newest.playbook_kind,
                title=newest.playbook_title,
                runs=runs,
                summary=summarize(runs),
            )
        )
    verified = audit.verify()
    broken = verified.first_broken
    return History(
        playbooks=tuple(books),
        since=since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if since else None,
        playbook_filter=playbook,
        run_count=len(records),
        chain=ChainCheck(
            ok=verified.ok,
            events_checked=verified.events_checked,
            reason=verified.reason,
            first_broken_seq=broken.seq if broken else None,
            first_broken_gid=broken.gid if broken else None,
            final_hash=verified.final_hash,
        ),
    )


def measured_cell(value: float | None, objective: float | None, met: bool | None) -> str:
    """``300ms / 5m00s met`` for a history table."""
    goal = seconds(objective) if objective is not None else "none"
    return f"{seconds(value)} / {goal} {met_word(met) if value is not None else ''}".rstrip()


def render_history_md(history: History) -> str:
    """The history as Markdown."""
    scope = f"playbook {history.playbook_filter}" if history.playbook_filter else "all playbooks"
    window = f"since {timestamp(history.since)}" if history.since else "all time"
    out = [
        "# Drill history",
        "",
        f"{scope}, {window}: {history.run_count} run(s).",
        "",
    ]
    if not history.playbooks:
        out += ["No runs recorded in this window.", ""]
    for book in history.playbooks:
        out += [f"## {book.name} ({book.kind})" + (f": {book.title}" if book.title else ""), ""]
        out += [f"**{cell(book.summary)}**", ""]
        rows = [
            (
                timestamp(r.started_at),
                f"`{r.run_id}`",
                r.mode,
                r.operator,
                r.outcome + (f" (exit {r.exit_code})" if r.exit_code is not None else ""),
                seconds(r.duration),
                measured_cell(r.rto_seconds, r.rto_objective, r.rto_met),
                measured_cell(r.rpo_seconds, r.rpo_objective, r.rpo_met)
                + (f", {r.rpo_writes} lost" if r.rpo_writes is not None else ""),
            )
            for r in book.runs
        ]
        out += table(
            (
                "started (UTC)",
                "run",
                "mode",
                "operator",
                "outcome",
                "duration",
                "RTO / objective",
                "RPO / objective",
            ),
            rows,
        )
        out.append("")
    c = history.chain
    word = "✓" if c.ok else "✗ BROKEN:"
    out += [
        "## Audit chain",
        "",
        f"**{word}** {c.reason}",
        "",
        f"Final hash of the log: `{c.final_hash}`",
        "",
    ]
    return "\n".join(out) + "\n"
