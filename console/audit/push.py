"""``drconsole audit push PATH --to URL``: copy runs recorded offline into the team store.

A console that could not reach the team store records to a local file (``--audit-fallback``).
Later that file is pushed: its whole chain must verify first (nothing is pushed from a broken
one); then, run by run, the events the team store lacks are imported with their run, seq,
time, operator and data kept, re-chained in the team store, and followed by a ``run_imported``
event that records each one's place and hash in the file's chain, which ``audit verify``
recomputes. A run the team store already has in part (the store was lost in the middle of it)
gets only its missing tail, after the part both have is checked to be the same; pushing the
same file twice pushes nothing the second time.
"""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from console.audit.database import is_store_url, redact
from console.audit.errors import AuditError
from console.audit.model import Event
from console.audit.store import AuditStore
from console.errors import ExitCode, InputError
from console.events import ImportedOrigin, RunImported


class PushRefused(AuditError):
    """Nothing (more) was pushed: the source's chain is broken, or it disagrees with the
    team store about a run both have (exit 1)."""


@dataclass(frozen=True)
class Pushed:
    """What one run's push did."""

    run_id: str
    count: int
    """Events imported (0: the team store had them all)."""
    first_seq: int | None = None
    last_seq: int | None = None


def _same(a: Event, b: Event) -> bool:
    keep = ("seq", "ts", "kind", "operator", "host", "step_id", "data")
    return all(getattr(a, k) == getattr(b, k) for k in keep)


def push(source: Path, target: Path | str, *, operator: str) -> list[Pushed]:
    """Push every run of ``source`` into ``target``; returns what was done per run.

    Raises:
        PushRefused: ``source``'s chain does not verify (nothing pushed), or a run differs
            between the two (the runs before it are pushed, none after).
        NoAuditDatabase: ``source`` does not exist.
        AuditError, AuditStoreUnreachable: the team store cannot be used.
    """
    done: list[Pushed] = []
    with AuditStore(source, create=False) as local:
        checked = local.verify()
        if not checked.ok:
            raise PushRefused(
                f"{source}: its chain does not verify, so nothing was pushed: {checked.reason}"
            )
        runs = sorted(local.runs(), key=lambda r: (r.started_at, r.run_id))
        with AuditStore(target) as team:
            for run in runs:
                events = local.events(run.run_id)
                have = {e.seq: e for e in team.events(run.run_id)}
                for mine in events:
                    theirs = have.get(mine.seq)
                    if theirs is not None and not _same(mine, theirs):
                        raise PushRefused(
                            f"run {run.run_id}: seq {mine.seq} differs between {source} and "
                            f"{team.path}; that run and the ones after it were not pushed"
                        )
                tail = [e for e in events if e.seq > max(have, default=0)]
                if not tail:
                    done.append(Pushed(run.run_id, 0))
                    continue
                imported = RunImported(
                    source=str(source.resolve()),
                    source_host=socket.gethostname(),
                    source_final_hash=checked.final_hash,
                    origins=tuple(
                        ImportedOrigin(run_seq=e.seq, gid=e.gid, prev_hash=e.prev_hash, hash=e.hash)
                        for e in tail
                    ),
                )
                try:
                    team.push_run(tail, imported, operator=operator)
                except ValueError as exc:
                    raise PushRefused(f"run {run.run_id}: {exc}") from None
                done.append(Pushed(run.run_id, len(tail), tail[0].seq, tail[-1].seq))
    return done


def main(args: argparse.Namespace) -> int:
    """``audit push PATH --to URL``: print one line per run; exit 0 when all were pushed."""
    source = Path(args.source)
    target: Path | str = args.to if is_store_url(args.to) else Path(args.to)
    if isinstance(target, Path) and target.resolve() == source.resolve():
        raise InputError(f"audit push: {source} is both the source and the target")
    done = push(source, target, operator=str(args.operator))
    shown = target if isinstance(target, Path) else redact(target)
    for item in done:
        if item.count:
            print(
                f"run {item.run_id}: pushed {item.count} events (seq {item.first_seq}–"
                f"{item.last_seq}) into {shown}"
            )
        else:
            print(f"run {item.run_id}: already in {shown}, nothing to push")
    if not done:
        print(f"{source}: no runs to push", file=sys.stderr)
    return ExitCode.OK
