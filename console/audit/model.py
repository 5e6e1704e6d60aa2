"""The values the audit store hands out: runs, events, locks and verification results.

They are frozen so that a consumer (the report, the TUI, the headless printer) can keep them
without fearing that the store changes them underneath; the store is the only writer of the
database and these are read-only snapshots of it. Also here: the one timestamp format of the
log and the rule that turns "no ``run_finished`` event" into ``running`` or ``interrupted``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from console.events import Recorded, RunFinished, RunOutcome, decode, decode_as

RUN_OUTCOMES = tuple(RunOutcome)
"""The outcomes ``finish_run`` accepts: how a run ended, as the engine judged it."""

RUN_STATUSES = (*RUN_OUTCOMES, "running", "running?")
"""Every status a ``RunRecord`` can have: an outcome, or ``running`` (its process is alive on
this host), or ``running?`` (no outcome, and its process is on another host: we cannot know)."""

MODES = ("drill", "incident")
"""The two modes a run can have."""

TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""Every timestamp in the log: UTC, ISO 8601 with microseconds and ``Z``. Sorts as text."""


def format_ts(moment: datetime) -> str:
    """A datetime as a log timestamp; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TS_FORMAT)


def utc_now_ts() -> str:
    """The current time as a log timestamp."""
    return format_ts(datetime.now(UTC))


def parse_ts(text: str) -> datetime:
    """A log timestamp back as an aware UTC datetime.

    Raises:
        ValueError: If the text is not in the log's format.
    """
    return datetime.strptime(text, TS_FORMAT).replace(tzinfo=UTC)


def ts_seconds(text: str) -> float:
    """A log timestamp as ``time.time()`` seconds (0.0 when it is not one: an edited row).

    Read with ``fromisoformat`` (the log's format is ISO 8601, and this is called for every
    event a report reads; ``strptime`` would cost more than the rest of reading it)."""
    if not isinstance(text, str) or not text.endswith("Z"):
        return 0.0
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, it is just not ours
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (or it vanished just now): trust kill(0)
    state = stat.rpartition(")")[2].split()[:1]
    return state != ["Z"]


def derive_status(
    outcome: str | None, pid: int, hostname: str, this_host: str | None = None
) -> str:
    """The status of a run from its recorded outcome and the liveness of its process.

    Args:
        outcome: The outcome of its latest ``run_finished`` (None if it has not finished
            since it last started or resumed).
        pid: The process that runs (or ran) it.
        hostname: The machine that process is on.
        this_host: This machine's name (default ``socket.gethostname()``).

    Returns:
        The outcome if there is one; else ``running`` or ``interrupted`` for a process on this
        host that is alive or gone; else ``running?``.
    """
    if outcome is not None:
        return outcome
    if hostname != (this_host if this_host is not None else socket.gethostname()):
        return "running?"
    return "running" if pid_alive(pid) else "interrupted"


@dataclass(frozen=True)
class RunStart:
    """Everything recorded about a run when it starts (``AuditStore.create_run``)."""

    run_id: str
    """The run's ULID (``console.audit.ids.new_run_id``)."""
    playbook_name: str
    """The playbook's ``name``."""
    playbook_kind: str
    """failover, failback, switchover, restore-verification or custom."""
    playbook_path: str
    """The playbook file as the operator named it."""
    playbook_digest: str
    """SHA-256 of the playbook file's bytes, so the report can prove which version ran."""
    inventory_name: str
    """The inventory's ``name``."""
    inventory_path: str
    """The inventory file as the operator named it."""
    inventory_digest: str
    """SHA-256 of the inventory file's bytes."""
    mode: str
    """``drill`` or ``incident``."""
    operator: str
    """Who started the run (``--operator``, default ``$USER@hostname``)."""
    services: tuple[str, ...]
    """The services the run touches (and locks)."""
    params: Mapping[str, Any]
    """The resolved parameters, secrets already masked by the engine."""
    objectives: Mapping[str, Any]
    """The playbook's objectives, e.g. ``{"rto_seconds": 300, "rpo_seconds": 0}``."""
    pid: int
    """The process running it."""
    hostname: str
    """The machine that process runs on."""
    playbook_title: str = ""
    """The playbook's ``title``, if it has one."""


@dataclass(frozen=True)
class Event:
    """One entry of the log, as stored. ``hash`` covers every other field."""

    gid: int
    """Global position in the one chain of the database (1, 2, 3, ...)."""
    run_id: str
    """The run the event belongs to."""
    seq: int
    """Position within the run, from 1."""
    ts: str
    """When it was appended: UTC, ISO 8601 with microseconds and ``Z``."""
    kind: str
    """What happened: ``run_started``, ``command_intent``, ``output``, ..."""
    operator: str
    """Who was operating when it happened."""
    host: str | None
    """The inventory host it concerns, if any."""
    step_id: str | None
    """The playbook step it concerns, if any."""
    data: dict[str, Any]
    """The kind-specific payload, plain JSON values."""
    prev_hash: str
    """The ``hash`` of the event at ``gid - 1`` (``GENESIS_HASH`` for gid 1)."""
    hash: str
    """SHA-256 over every field above (``console.audit.chain.event_hash``)."""

    def hashed_fields(self) -> dict[str, Any]:
        """The fields the hash covers, besides ``prev_hash``."""
        return {
            "gid": self.gid,
            "run_id": self.run_id,
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "operator": self.operator,
            "host": self.host,
            "step_id": self.step_id,
            "data": self.data,
        }

    def to_json_dict(self) -> dict[str, Any]:
        """The event as one JSON object (``audit show --json``, ``run --json``)."""
        return {**self.hashed_fields(), "prev_hash": self.prev_hash, "hash": self.hash}

    @cached_property
    def payload(self) -> Recorded:
        """The data read back as its typed event (``console.events.decode``: tolerant, an
        unknown kind is an ``UnknownEvent``), with this row's step, host, seq and time."""
        return decode(
            self.kind,
            self.data,
            step_id=self.step_id,
            host=self.host,
            ts=ts_seconds(self.ts),
            seq=self.seq,
        )


@dataclass(frozen=True)
class EventDraft:
    """An event to append, before the store gives it a place in the chain."""

    kind: str
    """What happened."""
    data: Mapping[str, Any]
    """The payload."""
    operator: str
    """Who was operating."""
    host: str | None = None
    """The inventory host it concerns, if any."""
    step_id: str | None = None
    """The playbook step it concerns, if any."""


@dataclass(frozen=True)
class RunRecord:
    """A run as the ``runs`` table holds it, with its derived status."""

    run_id: str
    """The run's ULID."""
    playbook_name: str
    """The playbook's name."""
    playbook_kind: str
    """The playbook's kind."""
    playbook_title: str
    """The playbook's title ("" if none)."""
    playbook_path: str
    """The playbook file."""
    playbook_digest: str
    """SHA-256 of the playbook file."""
    inventory_name: str
    """The inventory's name."""
    inventory_path: str
    """The inventory file."""
    inventory_digest: str
    """SHA-256 of the inventory file."""
    mode: str
    """``drill`` or ``incident``."""
    operator: str
    """Who started it."""
    services: tuple[str, ...]
    """The services it touches."""
    params: dict[str, Any]
    """Its parameters (secrets masked)."""
    objectives: dict[str, Any]
    """Its objectives."""
    pid: int
    """The process that runs it (the latest one, after a resume)."""
    hostname: str
    """The machine of that process."""
    started_at: str
    """Timestamp of ``run_started``."""
    finished_at: str | None
    """Timestamp of the latest ``run_finished``, unless resumed since."""
    outcome: str | None
    """Outcome of the latest ``run_finished``, unless resumed since."""
    finish_data: dict[str, Any] = field(default_factory=dict)
    """The data of that ``run_finished`` (exit_code, rto_seconds, rpo_seconds, summary...)."""
    status: str = "running"
    """One of ``RUN_STATUSES``, derived when the record was read."""

    @property
    def started(self) -> datetime:
        """``started_at`` as an aware datetime.

        Raises:
            ValueError: If the stored text is not a log timestamp (an edited row).
        """
        return parse_ts(self.started_at)

    @property
    def finished(self) -> datetime | None:
        """``finished_at`` as an aware datetime.

        Raises:
            ValueError: If the stored text is not a log timestamp (an edited row).
        """
        return parse_ts(self.finished_at) if self.finished_at else None

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to finish; None while it has not finished (or if unreadable)."""
        try:
            end = self.finished
            return None if end is None else (end - self.started).total_seconds()
        except ValueError:
            return None

    @cached_property
    def finish(self) -> RunFinished | None:
        """The latest ``run_finished`` (``finish_data``) read back typed; None before it."""
        return decode_as(RunFinished, self.finish_data) if self.finish_data else None

    @property
    def rto_seconds(self) -> float | None:
        """The measured RTO recorded in ``run_finished``, if any."""
        return self.finish.rto_seconds if self.finish is not None else None

    @property
    def rpo_seconds(self) -> float | None:
        """The measured RPO recorded in ``run_finished``, if any."""
        return self.finish.rpo_seconds if self.finish is not None else None

    @property
    def exit_code(self) -> int | None:
        """The exit code recorded in ``run_finished``, if any."""
        return self.finish.exit_code if self.finish is not None else None

    def to_json_dict(self) -> dict[str, Any]:
        """The record as one JSON object (``audit list --json``)."""
        return {
            "run_id": self.run_id,
            "playbook": {
                "name": self.playbook_name,
                "kind": self.playbook_kind,
                "title": self.playbook_title,
                "path": self.playbook_path,
                "digest": self.playbook_digest,
            },
            "inventory": {
                "name": self.inventory_name,
                "path": self.inventory_path,
                "digest": self.inventory_digest,
            },
            "mode": self.mode,
            "operator": self.operator,
            "services": list(self.services),
            "params": self.params,
            "objectives": self.objectives,
            "pid": self.pid,
            "hostname": self.hostname,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": self.duration_seconds,
            "status": self.status,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "rto_seconds": self.rto_seconds,
            "rpo_seconds": self.rpo_seconds,
        }


@dataclass(frozen=True)
class BrokenEvent:
    """Where verification first failed. Fields are None where no event exists to name."""

    gid: int | None
    """Global position of the event (or of the first missing one)."""
    run_id: str | None
    """Its run."""
    seq: int | None
    """Its position in the run."""
    kind: str | None
    """Its kind."""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of recomputing the chain."""

    ok: bool
    """True when every checked event and link is intact."""
    events_checked: int
    """How many events were recomputed."""
    first_broken: BrokenEvent | None
    """The first failure, None when ok."""
    reason: str
    """A sentence for a person: what is wrong and where, or that all is well."""
    final_hash: str
    """The hash of the last event checked (what an auditor writes down and compares later)."""

    def to_json_dict(self) -> dict[str, Any]:
        """The result as one JSON object."""
        broken = self.first_broken
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "first_broken": None
            if broken is None
            else {
                "gid": broken.gid,
                "run_id": broken.run_id,
                "seq": broken.seq,
                "kind": broken.kind,
            },
            "reason": self.reason,
            "final_hash": self.final_hash,
        }


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock on a service."""

    service: str
    """The locked service."""
    run_id: str
    """The run holding it."""
    operator: str
    """The operator of that run."""
    pid: int
    """The process holding it."""
    hostname: str
    """The machine of that process."""
    since: str
    """When it was taken (log timestamp)."""

    def liveness(self, this_host: str | None = None) -> str:
        """``alive`` or ``stale`` (process gone) on this host; ``unknown`` on another host."""
        if self.hostname != (this_host if this_host is not None else socket.gethostname()):
            return "unknown"
        return "alive" if pid_alive(self.pid) else "stale"

    def describe(self) -> str:
        """One sentence naming the holder, for error messages and the TUI."""
        text = (
            f"service {self.service} is locked by run {self.run_id} "
            f"(operator {self.operator}, pid {self.pid} on {self.hostname}) since {self.since}"
        )
        state = self.liveness()
        if state == "stale":
            text += "; stale: its process is gone (break it with --break-lock)"
        elif state == "unknown":
            text += "; held from another host, its process cannot be checked from here"
        return text
