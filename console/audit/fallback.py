"""A team store with a local fallback that takes over, without losing an event, when the
team store is lost in the middle of a run (``--audit URL --audit-fallback PATH``).

While the team store answers, every event written there is copied to the local file right
after (``import_events``: same run, seq, time and data, chained in the file's own chain), so
the file always holds each run this console writes from its first event. When a write to the
team store fails because the store is gone (``AuditStoreLost``), the store switches to the
file for good: the failed write is made there with the very timestamps it was given, then
every later read and write goes to the file, and a warning ``notice`` in the run says where
the record continues. ``drconsole audit push PATH --to URL`` later adds the runs' missing
tails to the team store (an event whose commit was in doubt when the store went away is then
found to be the same there and not pushed twice).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from console.audit.errors import AuditStoreLost
from console.audit.model import Event, EventDraft, LockInfo, RunStart, utc_now_ts
from console.audit.sql import Conn
from console.audit.store import AuditStore
from console.events import Notice, NoticeLevel

T = TypeVar("T")


class FallbackStore(AuditStore):
    """The team store at ``url``, copied to and replaced by the SQLite file ``fallback``.

    Args:
        url: The team store (it must be reachable now: ``AuditStoreUnreachable`` otherwise).
        fallback: The local file (created if missing).
        on_switch: Called with one line when the file takes over.
    """

    def __init__(
        self,
        url: str,
        fallback: Path,
        *,
        on_switch: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(url)
        self.team_url = self.path
        self.fallback = AuditStore(fallback)
        self.lost: AuditStoreLost | None = None
        """Why the team store was given up (None while it serves)."""
        self._on_switch = on_switch
        self._handed: list[str] = []
        self._replay: list[str] = []
        self._mirrored: dict[str, int] = {}
        self._message = ""

    def close(self) -> None:
        super().close()
        self.fallback.close()

    # -- where reads and writes go ---------------------------------------------------------

    @contextmanager
    def _write(self, *, durable: bool) -> Iterator[Conn]:
        if self.lost is None:
            with super()._write(durable=durable) as conn:
                yield conn
        else:
            with self.fallback._write(durable=durable) as conn:
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        if self.lost is None:
            with super()._read() as conn:
                yield conn
        else:
            with self.fallback._read() as conn:
                yield conn

    def _now(self) -> str:
        if self._replay:
            return self._replay.pop(0)
        ts = utc_now_ts()
        self._handed.append(ts)
        return ts

    # -- the guard around every write --------------------------------------------------------

    def _guarded(self, run_id: str | None, call: Callable[[], T]) -> T:
        if self.lost is not None:
            return call()
        self._handed = []
        try:
            result = call()
        except AuditStoreLost as exc:
            self._switch(exc)
            self._replay = list(self._handed)
            try:
                result = call()
            finally:
                self._replay = []
            # after the re-made write, so that its seqs are the ones the team store would
            # have given it (an in-doubt commit there is then the same event, not pushed twice)
            for rid in dict.fromkeys(
                [*([run_id] if run_id else []), *(e.run_id for e in _events(result))]
            ):
                self._note_run(rid)
            return result
        self._mirror(_events(result))
        return result

    def _switch(self, exc: AuditStoreLost) -> None:
        self.lost = exc
        self.path = self.fallback.path
        self.dialect = self.fallback.dialect
        message = (
            f"{exc}; the record continues in the local fallback {self.fallback.path} "
            f"(copy it into the team store later: drconsole audit push {self.fallback.path} "
            f"--to {self.team_url})"
        )
        self._message = message
        if self._on_switch is not None:
            self._on_switch(message)

    def _note_run(self, run_id: str) -> None:
        run = self.fallback.get_run(run_id)
        if run is None:
            return
        notice = Notice(level=NoticeLevel.WARNING, message=self._message)
        self.fallback.append(
            run_id, notice.kind, notice.data(), operator=run.operator, durable=True
        )

    def _mirror(self, events: Sequence[Event]) -> None:
        """Copy what the team store just stored to the file (with what the file lacks of
        those runs before it, e.g. a run resumed here that started elsewhere)."""
        for run_id in dict.fromkeys(e.run_id for e in events):
            mine = [e for e in events if e.run_id == run_id]
            have = self._mirrored.get(run_id)
            if have is None:
                have = max((e.seq for e in self.fallback.events(run_id)), default=0)
            if mine[0].seq != have + 1:
                mine = [e for e in super().events(run_id, after_seq=have)]
            if mine:
                self.fallback.import_events(mine, durable=False)
                self._mirrored[run_id] = mine[-1].seq

    # -- the writes ----------------------------------------------------------------------------

    def create_run(self, run: RunStart) -> Event:
        return self._guarded(None, lambda: AuditStore.create_run(self, run))

    def resume_run(
        self,
        run_id: str,
        *,
        operator: str,
        pid: int | None = None,
        hostname: str | None = None,
    ) -> Event:
        return self._guarded(
            run_id,
            lambda: AuditStore.resume_run(
                self, run_id, operator=operator, pid=pid, hostname=hostname
            ),
        )

    def finish_run(
        self,
        run_id: str,
        outcome: str,
        data: Mapping[str, Any],
        *,
        operator: str | None = None,
    ) -> Event:
        return self._guarded(
            run_id, lambda: AuditStore.finish_run(self, run_id, outcome, data, operator=operator)
        )

    def append_batch(
        self,
        run_id: str,
        drafts: Sequence[EventDraft],
        *,
        durable: bool = False,
        fence: Mapping[str, int] | None = None,
    ) -> list[Event]:
        # the leases live in the team store: once it is lost they cannot be checked (the
        # remote lock on the hosts is what still excludes another run)
        return self._guarded(
            run_id,
            lambda: AuditStore.append_batch(
                self, run_id, drafts, durable=durable, fence=fence if self.lost is None else None
            ),
        )

    def acquire_lock(self, service: str, run_id: str, operator: str) -> LockInfo:
        return self._guarded(
            run_id, lambda: AuditStore.acquire_lock(self, service, run_id, operator)
        )

    def release_lock(self, service: str, run_id: str) -> bool:
        return self._guarded(run_id, lambda: AuditStore.release_lock(self, service, run_id))

    def break_lock(self, service: str, by: str) -> LockInfo:
        return self._guarded(None, lambda: AuditStore.break_lock(self, service, by))


def _events(result: object) -> list[Event]:
    if isinstance(result, Event):
        return [result]
    if isinstance(result, list):
        return [e for e in result if isinstance(e, Event)]
    return []
