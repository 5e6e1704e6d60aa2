"""``drconsole audit list | show RUN_ID | verify [RUN_ID]``: read and verify the log.

These commands only read: they open the database without creating it, so a mistyped
``--audit`` path is a one-line error (exit 2), not a fresh empty log. ``verify`` exits 1 when
the chain is broken, so a cron job or CI step can alert on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from console.audit.database import is_store_url
from console.audit.errors import AuditError, UnknownRun
from console.audit.live import in_progress
from console.audit.model import VerifyResult
from console.audit.render import STATUS_STYLES, run_header, runs_table, timeline_rows
from console.audit.store import AuditStore
from console.errors import ExitCode, InputError

PIPE_WIDTH = 200
"""Line width when stdout is not a terminal, so piped tables are not squeezed to 80 columns."""


class _Console(Console):
    """Rich's console, but a closed pipe ends the command quietly with exit 0, not 1."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def _console() -> Console:
    console = _Console(highlight=False)
    if not console.is_terminal:
        console = _Console(highlight=False, width=PIPE_WIDTH)
    return console


def _emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def _list(store: AuditStore, as_json: bool) -> int:
    records = store.runs()
    if as_json:
        _emit_json([r.to_json_dict() for r in records])
        return ExitCode.OK
    console = _console()
    if not records:
        console.print(f"no runs recorded in {store.path}")
        return ExitCode.OK
    live = in_progress(store)
    if live:
        console.print(f"[bold]in progress now[/] ({len(live)}):")
        for run in live:
            console.print(f"  {run.describe()}", markup=False, highlight=False)
        console.print()
    console.print(runs_table(records))
    return ExitCode.OK


def _show(store: AuditStore, run_id: str, as_json: bool) -> int:
    full = store.resolve_run_id(run_id)
    run = store.get_run(full)
    if run is None:  # pragma: no cover - resolve_run_id found its row a moment ago
        raise UnknownRun(run_id)
    events = store.events(full)
    if as_json:
        for event in events:
            _emit_json(event.to_json_dict())
        return ExitCode.OK
    console = _console()
    console.print(run_header(run))
    console.print()
    rows = timeline_rows(events, run.started_at)
    for start in range(0, len(rows), 500):
        console.print(Text("\n").join(rows[start : start + 500]), no_wrap=True, overflow="ellipsis")
    console.print()
    console.print(f"{len(events)} events; verify with: drconsole audit verify {full}")
    return ExitCode.OK


def _print_verify(result: VerifyResult, scope: str, as_json: bool) -> None:
    if as_json:
        _emit_json(result.to_json_dict())
        return
    console = _console()
    if result.ok:
        console.print(
            f"[{STATUS_STYLES['succeeded']}]intact[/]: {scope}: {result.events_checked} events "
            f"checked, every hash and link holds"
        )
        console.print(f"final hash {result.final_hash}")
        return
    console.print(f"[bold red]BROKEN[/]: {scope}", highlight=False)
    console.print(result.reason, markup=False, highlight=False)
    console.print(f"{result.events_checked} events checked before the break")


def _verify(store: AuditStore, run_id: str | None, as_json: bool) -> int:
    result = store.verify(run_id)
    scope = "the whole audit log" if run_id is None else f"run {run_id}"
    _print_verify(result, scope, as_json)
    return ExitCode.OK if result.ok else ExitCode.FAILED


def main(args: argparse.Namespace) -> int:
    """Run ``audit list``, ``audit show`` or ``audit verify``; return the exit code.

    Args:
        args: ``audit`` (database path), ``audit_command``, and ``run_id`` / ``json`` as the
            sub-command defines them.

    Returns:
        0 on success (and an intact chain); 1 when ``verify`` finds the chain broken.

    Raises:
        InputError: No such database, not an audit database, unknown or ambiguous run id
            (the CLI prints it as one line, exit 2).
        AuditError: The database cannot be read (exit 1).
    """
    action = args.audit_command
    if action == "push":
        from console.audit.push import main as push_main  # noqa: PLC0415 - only for push

        return push_main(args)
    path = args.audit if is_store_url(args.audit) else Path(args.audit)
    as_json = bool(getattr(args, "json", False))
    try:
        with AuditStore(path, create=False) as store:
            if action == "list":
                return _list(store, as_json)
            if action == "show":
                return _show(store, args.run_id, as_json)
            if action == "verify":
                return _verify(store, getattr(args, "run_id", None), as_json)
            raise InputError(f"audit: unknown action {action!r}; use list, show or verify")
    except sqlite3.Error as exc:
        raise AuditError(f"{path}: cannot read the audit log: {exc}") from None
    except BrokenPipeError:
        # The reader (``| head``) left; say nothing more and do not trace back on exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
