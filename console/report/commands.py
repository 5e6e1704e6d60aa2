"""``drconsole report RUN_ID|--latest --format md|html|json|junit [-o FILE]`` and
``drconsole report --history [--playbook NAME] [--since 90d] --format md|html [-o FILE]``.

Reads only: the database is opened without being created, so a mistyped ``--audit`` is a
one-line error (exit 2), never a fresh empty log. Without ``-o`` the report goes to stdout,
so it pipes into a file, a pager or a CI artifact; with ``-o`` one line on stderr says where it
went. A report whose audit chain is broken is still written (it says BROKEN at the top) and
the command exits 0: ``drconsole audit verify`` is the check that fails.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from console.audit.database import is_store_url
from console.audit.errors import AuditError
from console.audit.store import AuditStore
from console.errors import ExitCode, InputError
from console.report import (
    FORMATS,
    HISTORY_FORMATS,
    build_history,
    build_report,
    default_filename,
    parse_since,
    render,
    render_history,
    write_text,
)


def _check(args: argparse.Namespace) -> None:
    fmt = getattr(args, "format", "md") or "md"
    if fmt not in FORMATS:
        raise InputError(f"report: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if args.history:
        if args.run_id or args.latest:
            raise InputError("report: --history lists every run; give no RUN_ID or --latest")
        if fmt not in HISTORY_FORMATS:
            raise InputError(
                f"report: --history makes md or html, not {fmt} (json and junit describe one run)"
            )
        return
    if args.playbook is not None or args.since is not None:
        raise InputError("report: --playbook and --since go with --history")
    if args.run_id and args.latest:
        raise InputError("report: give a RUN_ID or --latest, not both")
    if not args.run_id and not args.latest:
        raise InputError("report: which run? give a RUN_ID, --latest, or --history")


def _emit(text: str, output: Path | None, what: str) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    written = write_text(output, text)
    print(f"report: wrote {what} to {written} ({len(text.encode())} bytes)", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    """Make a report or the history; return the exit code (0).

    Raises:
        InputError: Bad arguments, no database, unknown run, bad ``--since``, unwritable
            ``-o`` (the CLI prints one line, exit 2).
        AuditError: The database cannot be read (exit 1).
    """
    _check(args)
    fmt = args.format or "md"
    path = args.audit if is_store_url(args.audit) else Path(args.audit)
    output = Path(args.output) if args.output is not None else None
    try:
        with AuditStore(path, create=False) as store:
            if args.history:
                since = parse_since(args.since) if args.since is not None else None
                history = build_history(store, playbook=args.playbook, since=since)
                if output is not None and output.is_dir():
                    output = output / f"history-{args.playbook or 'all'}.{fmt}"
                _emit(render_history(history, fmt), output, f"{fmt} history")
                return ExitCode.OK
            run_id = args.run_id
            if args.latest:
                run_id = store.latest_run_id()
                if run_id is None:
                    raise InputError(f"{path}: no runs recorded yet; nothing to report")
            report = build_report(store, run_id)
            if output is not None and output.is_dir():
                output = output / default_filename(report, fmt)
            _emit(render(report, fmt), output, f"{fmt} report of run {report.run_id}")
            return ExitCode.OK
    except sqlite3.Error as exc:
        raise AuditError(f"{path}: cannot read the audit log: {exc}") from None
    except BrokenPipeError:
        return ExitCode.OK
