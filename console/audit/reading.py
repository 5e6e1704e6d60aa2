"""Reading the audit log: a run's events, the runs, a run id from a prefix, verification.

Every read is one transaction, so what one call returns is one consistent snapshot even while
other consoles append. ``console.audit.store.AuditStore`` adds the writes on top.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from console.audit import locks
from console.audit.database import Database
from console.audit.errors import AmbiguousRunId, AuditError, UnknownRun
from console.audit.ids import normalize_run_id
from console.audit.model import Event, LockInfo, RunRecord, VerifyResult, format_ts
from console.audit.projection import RunRow
from console.audit.schema import EVENT_SELECT, RUN_COLUMNS, RUN_SELECT, row_to_event, row_to_record
from console.audit.sql import Conn
from console.audit.verify import verify_all, verify_run


class LogReader(Database):
    """The read side of an audit database (see :class:`~console.audit.database.Database` for
    the arguments)."""

    def _row(self, conn: Conn, run_id: str) -> RunRow | None:
        row = conn.execute(RUN_SELECT + " WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else dict(zip(RUN_COLUMNS, row, strict=True))

    def events(
        self, run_id: str, *, kinds: Collection[str] | None = None, after_seq: int = 0
    ) -> list[Event]:
        """A run's events in order, optionally only some kinds, or only after a seq.

        Args:
            run_id: The exact run id (use ``resolve_run_id`` for a prefix).
            kinds: Only these kinds.
            after_seq: Only events with a larger seq.

        Raises:
            AuditError: A stored event's data is not valid JSON (run ``verify``).
        """
        where = "run_id = ? AND seq > ?"
        params: list[Any] = [run_id, after_seq]
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            where += " AND kind IN (" + ", ".join("?" for _ in kinds) + ")"
            params.extend(kinds)
        with self._read() as conn:
            raws = conn.execute(
                EVENT_SELECT + " WHERE " + where + " ORDER BY gid",
                params,
            ).fetchall()
        try:
            return [row_to_event(raw) for raw in raws]
        except ValueError as exc:
            raise AuditError(
                f"{self.path}: run {run_id} has an unreadable event: {exc}; "
                "run drconsole audit verify"
            ) from None

    # -- reading runs ----------------------------------------------------------------------

    def resolve_run_id(self, text: str) -> str:
        """The full id of the one run whose id starts with ``text`` (case-insensitive).

        Raises:
            UnknownRun: No run matches.
            AmbiguousRunId: Several runs match.
        """
        prefix = normalize_run_id(text)
        if not prefix:
            raise UnknownRun(text)
        with self._read() as conn:
            exact = conn.execute("SELECT run_id FROM runs WHERE run_id = ?", (text.strip(),))
            row = exact.fetchone()
            if row is not None:
                return str(row[0])
            matches = [
                str(r[0])
                for r in conn.execute(
                    "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? "
                    "ORDER BY run_id LIMIT 20",
                    (len(prefix), prefix),
                ).fetchall()
            ]
        if not matches:
            raise UnknownRun(text)
        if len(matches) > 1:
            raise AmbiguousRunId(text, matches)
        return matches[0]

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id or unique id prefix; None if there is none.

        Raises:
            AmbiguousRunId: The prefix matches several runs.
        """
        try:
            full = self.resolve_run_id(run_id)
        except UnknownRun:
            return None
        with self._read() as conn:
            row = self._row(conn, full)
        return None if row is None else row_to_record(row, self.hostname)

    def runs(
        self,
        limit: int | None = None,
        playbook: str | None = None,
        since: datetime | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first.

        Args:
            limit: At most this many.
            playbook: Only runs of the playbook with this name.
            since: Only runs started at or after this moment (naive means UTC).
        """
        clauses: list[str] = []
        params: list[Any] = []
        if playbook is not None:
            clauses.append("playbook_name = ?")
            params.append(playbook)
        if since is not None:
            clauses.append("started_at >= ?")
            params.append(format_ts(since))
        sql = RUN_SELECT
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY started_at DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._read() as conn:
            raws = conn.execute(sql, params).fetchall()
        rows = [dict(zip(RUN_COLUMNS, raw, strict=True)) for raw in raws]
        return [row_to_record(row, self.hostname) for row in rows]

    def finished_since(self, moment: datetime, kinds: Collection[str]) -> list[RunRecord]:
        """Runs of these playbook kinds that finished at or after ``moment``, newest first
        (the cooldown's question: what changed this service lately, team-wide)."""
        kinds = list(kinds)
        if not kinds:
            return []
        sql = (
            RUN_SELECT
            + " WHERE finished_at IS NOT NULL AND finished_at >= ? AND playbook_kind IN ("
            + ", ".join("?" for _ in kinds)
            + ") ORDER BY finished_at DESC, run_id DESC"
        )
        with self._read() as conn:
            raws = conn.execute(sql, [format_ts(moment), *kinds]).fetchall()
        rows = [dict(zip(RUN_COLUMNS, raw, strict=True)) for raw in raws]
        return [row_to_record(row, self.hostname) for row in rows]

    def latest_run_id(self) -> str | None:
        """The id of the most recently started run, or None if there are no runs."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1"
            ).fetchone()
        return str(row[0]) if row else None

    # -- verification ----------------------------------------------------------------------

    def verify(self, run_id: str | None = None) -> VerifyResult:
        """Recompute the chain: of the whole database, or of one run (exact id or prefix).

        Raises:
            UnknownRun: ``run_id`` names nothing, neither a runs row nor any event.
            AmbiguousRunId: ``run_id`` is an ambiguous prefix.
        """
        if run_id is None:
            with self._read() as conn:
                return verify_all(conn)
        try:
            full = self.resolve_run_id(run_id)
        except UnknownRun:
            full = run_id.strip()  # its runs row may be gone while its events remain
        with self._read() as conn:
            return verify_run(conn, full)

    def lock_holder(self, service: str) -> LockInfo | None:
        """Who holds the lock on ``service``, or None."""
        with self._read() as conn:
            return locks.holder(conn, service)
