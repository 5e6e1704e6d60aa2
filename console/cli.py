"""The command line: parse arguments, call the core, map errors to exit codes.

Kept thin on purpose. Each command's work lives in the package that owns it; this module only
knows the argument grammar (the commands README lists) and turns errors into the exit codes of
the contract, which are defined once, in ``console.errors.ExitCode``: 0 success, 1 a step
failed / degraded, 2 invalid input, 3 stopped before completion, 4 lock held, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import socket
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from console.errors import DrError, ExitCode, InputError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line and exit 2, never a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(ExitCode.INPUT, f"drconsole: {message} (see {self.prog} -h)\n")


AUDIT_COMMANDS = frozenset(
    {"run", "tui", "audit", "report", "replay", "serve", "schedule", "approve", "commit"}
)
"""The commands that open the audit log (and so check where it is)."""
AUDIT_CREATORS = frozenset({"run", "tui", "serve", "schedule"})
"""The ones that create it when it does not exist yet."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
AUDIT_FORMS = (
    "a path to the SQLite audit database, such as ./audit.db or "
    "/var/lib/drconsole/audit.db (its folder must exist), or the postgresql:// URL of a "
    "team store, such as postgresql://drill@db.example:5432/audit"
)
"""What ``--audit`` and ``DRCONSOLE_AUDIT`` accept in this version."""


def default_audit_path() -> Path:
    """Where the audit database lives unless ``--audit`` or ``DRCONSOLE_AUDIT`` says otherwise."""
    env = os.environ.get("DRCONSOLE_AUDIT")
    if env:
        return Path(env).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "drconsole" / "audit.db"


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/drconsole/config.yaml`` (default ``~/.config/drconsole/...``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "drconsole" / "config.yaml"


def configured_audit() -> tuple[str, str] | None:
    """The ``audit:`` of the config file, with where it is (``file:line:col: audit VALUE``),
    or None when there is no config file or it has no ``audit:``.

    Raises:
        InputError: The file is not YAML, not a mapping, has another key, or an ``audit:``
            that is not a string (``file:line:col: message``).
    """
    import yaml

    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the config file: {exc}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode):
        raise InputError(
            f"{path}:{root.start_mark.line + 1}:{root.start_mark.column + 1}: the config file "
            "must be a mapping, such as audit: postgresql://drill@db:5432/audit"
        )
    found = None
    for key, node in root.value:
        where = f"{path}:{key.start_mark.line + 1}:{key.start_mark.column + 1}"
        if key.value != "audit":
            raise InputError(
                f"{where}: unknown key {key.value!r} in the config file (known: audit)"
            )
        at = f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise InputError(f"{at}: audit must be a path or a postgresql:// URL")
        found = (str(node.value).strip(), f"{at}: audit {str(node.value).strip()}")
    return found


def audit_location(given: str | None, creates: bool = True) -> Path | str:
    """The audit database named by ``--audit`` (else ``DRCONSOLE_AUDIT``, else ``audit:`` in
    the config file, else the default).

    A ``postgresql://`` (or ``postgres://``) URL names a team store and is returned as it is
    (a ``str``); whether it can be reached is the store's to say when it is opened.

    A location the user gives must be a path whose folder exists: a URL (``postgresql://``,
    ``sqlite://``...) is refused rather than taken as a relative path (which would create a
    folder named ``postgresql:``), and a missing folder is refused rather than created (a
    typo must not scatter audit logs). The default location's folder is drconsole's own and
    is created on first use. A command that only reads (``creates`` False) leaves a missing
    folder to the store, which says there is no audit database there.

    Raises:
        InputError: a URL, a missing folder, or a directory (one line, exit 2).
    """
    env = os.environ.get("DRCONSOLE_AUDIT")
    configured = configured_audit() if given is None and not env else None
    if given is not None:
        option, value = f"--audit {given}", given
    elif env:
        option, value = f"DRCONSOLE_AUDIT={env}", env
    elif configured is not None:
        value, option = configured
    else:
        return default_audit_path()
    scheme = _SCHEME.match(value)
    if scheme is not None and scheme.group(1).lower() in ("postgresql", "postgres"):
        return value
    if scheme is not None:
        raise InputError(
            f"{option}: {scheme.group(1)}:// audit stores are not supported; use {AUDIT_FORMS}"
        )
    path = Path(value).expanduser()
    if path.is_dir():
        raise InputError(f"{option}: is a folder; use {AUDIT_FORMS}")
    parent = path.parent
    if creates and not parent.is_dir():
        raise InputError(
            f"{option}: folder {parent} does not exist (create it first; drconsole does not "
            "create folders for a location you give)"
        )
    return path


def _open_team_store(args: argparse.Namespace) -> None:
    """Before a command that records, make sure a team store can be reached (and has its
    schema): an unreachable one is exit 2 with the reason, before anything is done, unless
    ``--audit-fallback PATH`` names a local file to record to instead (said on stderr)."""
    from console.audit.database import is_store_url, redact
    from console.audit.errors import AuditStoreUnreachable
    from console.audit.store import AuditStore

    fallback = getattr(args, "audit_fallback", None)
    if fallback is not None:
        if _SCHEME.match(fallback) is not None:
            raise InputError(f"--audit-fallback {fallback}: must be a path to a local file")
        if not Path(fallback).expanduser().parent.is_dir():
            raise InputError(f"--audit-fallback {fallback}: its folder does not exist")
    if not is_store_url(args.audit):
        return
    try:
        AuditStore(args.audit).close()
    except AuditStoreUnreachable as exc:
        if fallback is None:
            raise
        local = Path(fallback).expanduser()
        print(
            f"drconsole: {exc}; recording to the local fallback {local} instead (copy it into "
            f"the team store later: drconsole audit push {local} --to {redact(args.audit)})",
            file=sys.stderr,
        )
        args.audit_team_store = args.audit  # what `serve` still hands its consoles
        args.audit = local


def default_operator() -> str:
    """``$USER@hostname``: who pressed the keys, as the audit log records it."""
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _add_vars(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="K=V",
        help="set a playbook parameter (repeatable); values are data, never shell code",
    )


def _add_notify(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="URL",
        help="also notify this apprise URL (repeatable; with the inventory's notify:)",
    )
    p.add_argument(
        "--notify-timeout",
        type=float,
        default=5.0,
        metavar="SECS",
        help="seconds one notification may take before it counts as failed (default 5)",
    )


def _add_lease(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lease",
        default=None,
        metavar="DURATION",
        help="how long a run's lease on each service lasts unless renewed (renewed every "
        "third of it; a console that stops renewing loses its services after it; 3s to 1d, "
        "default 1m)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole argument grammar, one sub-parser per command."""
    parser = _Parser(
        prog="drconsole",
        description="Operations console for disaster-recovery drills on stateful backends.",
    )
    parser.add_argument(
        "--audit",
        default=None,
        metavar="PATH",
        help="audit database file or postgresql:// team store URL (env DRCONSOLE_AUDIT; "
        "default $XDG_STATE_HOME/drconsole/audit.db)",
    )
    parser.add_argument(
        "--audit-fallback",
        default=None,
        metavar="PATH",
        help="a local SQLite file to record to when the team store (--audit URL) is unreachable "
        "at start; push it later with `drconsole audit push PATH --to URL`",
    )
    parser.add_argument("--operator", default=None, help="who operates (default $USER@hostname)")
    parser.add_argument(
        "--mode",
        choices=("drill", "incident"),
        default="drill",
        help="a planned drill or a real incident; recorded and shown everywhere (default drill)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    tui = sub.add_parser("tui", help="the interactive console (default command)")
    tui.add_argument("-i", "--inventory", type=Path, default=Path("inventory/lab.yaml"))
    tui.add_argument("-p", "--playbooks", type=Path, default=Path("playbooks"))
    tui.add_argument("--refresh", type=float, default=2.0, metavar="SECS")
    _add_notify(tui)
    _add_lease(tui)
    tui.add_argument(
        "--read-only",
        action="store_true",
        help="an observer's console: watch everything, act on nothing (serve's observers)",
    )

    val = sub.add_parser(
        "validate",
        help="check inventories and playbooks as a run would (with several inventories, each "
        "playbook against the estate it fits)",
    )
    val.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    val.add_argument(
        "-i", "--inventory", type=Path, default=None, help="check the playbooks against this too"
    )
    _add_vars(val)

    st = sub.add_parser("status", help="replication status per site")
    st.add_argument("-i", "--inventory", type=Path, required=True)
    st.add_argument("--json", action="store_true")
    st.add_argument("--watch", type=float, default=None, metavar="SECS")
    st.add_argument("--timeout", type=float, default=None, metavar="SECS", help="per-probe timeout")
    st.add_argument("--accept-new-host-keys", action="store_true")
    _add_notify(st)
    st.add_argument(
        "--notify-hold",
        type=float,
        default=30.0,
        metavar="SECS",
        help="with --watch: a service's change is told once it held this long (default 30)",
    )

    plan = sub.add_parser("plan", help="render every step against the live topology; run nothing")
    plan.add_argument("playbook", type=Path)
    plan.add_argument("-i", "--inventory", type=Path, required=True)
    _add_vars(plan)
    plan.add_argument("--json", action="store_true")
    plan.add_argument("--accept-new-host-keys", action="store_true")

    run = sub.add_parser("run", help="execute a playbook headless")
    run.add_argument("playbook", type=Path)
    run.add_argument("-i", "--inventory", type=Path, required=True)
    _add_vars(run)
    run.add_argument("--yes", action="store_true", help="approve confirm and manual steps")
    run.add_argument("--json", action="store_true", help="one JSON event per line")
    run.add_argument("--resume", default=None, metavar="RUN_ID")
    run.add_argument("--break-lock", action="store_true", help="break a stale lock (audited)")
    run.add_argument(
        "--override-cooldown",
        default=None,
        metavar="REASON",
        help="fail over although a service's cooldown has not ended (recorded with the reason)",
    )
    run.add_argument(
        "--timeout",
        default="30m",
        metavar="DURATION",
        help="how long a step waits for the other approvals it needs (approve: N) before the "
        "run stops, exit 3 (default 30m)",
    )
    _add_lease(run)
    run.add_argument("--accept-new-host-keys", action="store_true")
    _add_notify(run)
    run.add_argument(
        "--notify-failures-only",
        action="store_true",
        help="notify only a failed or waiting step and a run that failed or missed an objective",
    )

    audit = sub.add_parser("audit", help="read and verify the audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=_Parser)
    al = asub.add_parser("list", help="the runs")
    al.add_argument("--json", action="store_true")
    ash = asub.add_parser("show", help="a run's timeline")
    ash.add_argument("run_id")
    ash.add_argument("--json", action="store_true")
    av = asub.add_parser("verify", help="recompute the hash chain")
    av.add_argument("run_id", nargs="?")
    av.add_argument("--json", action="store_true")
    apu = asub.add_parser("push", help="copy runs recorded offline into the team store")
    apu.add_argument("source", metavar="PATH", help="the local audit file (a --audit-fallback)")
    apu.add_argument("--to", required=True, metavar="URL", help="the team store")

    apr = sub.add_parser(
        "approve", help="approve a step that waits for a second person (two-person rule)"
    )
    apr.add_argument("run_id", nargs="?", metavar="RUN_ID", help="without it: what waits for you")
    apr.add_argument("step", nargs="?", metavar="STEP", help="needed when several steps wait")

    com = sub.add_parser(
        "commit", help="commit a run that awaits it (commit: in its playbook), or list them"
    )
    com.add_argument("run_id", nargs="?", metavar="RUN_ID", help="without it: what awaits one")

    rep = sub.add_parser("report", help="drill report")
    rep.add_argument("run_id", nargs="?")
    rep.add_argument("--latest", action="store_true")
    rep.add_argument("--history", action="store_true")
    rep.add_argument("--playbook", default=None)
    rep.add_argument("--since", default=None, metavar="DURATION", help="e.g. 90d")
    rep.add_argument("--format", choices=("md", "html", "json", "junit"), default="md")
    rep.add_argument("-o", "--output", type=Path, default=None)

    rp = sub.add_parser("replay", help="play a recorded run back from the audit log")
    rp.add_argument("run_id", metavar="RUN_ID", help="the run (a unique prefix will do)")
    rp.add_argument(
        "--speed", type=float, choices=(1.0, 10.0), default=1.0, help="1 (real time) or 10"
    )
    rp.add_argument("--play", action="store_true", help="start playing at once")

    srv = sub.add_parser("serve", help="the console in a browser (observers read-only)")
    srv.add_argument("-i", "--inventory", type=Path, default=Path("inventory/lab.yaml"))
    srv.add_argument("-p", "--playbooks", type=Path, default=Path("playbooks"))
    srv.add_argument("--refresh", type=float, default=2.0, metavar="SECS")
    srv.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    srv.add_argument(
        "--operator-token-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="the operator's token (first line); without it every browser is an observer",
    )
    _add_lease(srv)
    _add_notify(srv)

    sch = sub.add_parser("schedule", help="a systemd timer (or cron entry) running a playbook")
    sch.add_argument("playbook", type=Path)
    sch.add_argument("-i", "--inventory", type=Path, required=True)
    sch.add_argument("--every", required=True, metavar="DURATION", help="e.g. 7d, 12h, 30m")
    _add_vars(sch)
    sch.add_argument(
        "--notify", action="append", default=[], metavar="URL", help="also notify this URL"
    )
    sch.add_argument(
        "--notify-all",
        action="store_true",
        help="the scheduled run notifies every start and end (default: only failures)",
    )
    sch.add_argument("--cron", action="store_true", help="a cron.d entry instead of systemd")
    sch.add_argument("--install", action="store_true", help="write the files instead of printing")
    sch.add_argument("--unit-dir", default="/etc/systemd/system", metavar="DIR")
    sch.add_argument("--cron-dir", default="/etc/cron.d", metavar="DIR")

    lab = sub.add_parser("lab", help="a local DR lab of real servers on loopback")
    lab.add_argument("--dir", type=Path, default=Path(".lab"), help="lab directory (default .lab)")
    lsub = lab.add_subparsers(dest="lab_command", metavar="ACTION", parser_class=_Parser)
    lup = lsub.add_parser("up", help="start the lab and write its inventory")
    lup.add_argument("--net", type=int, default=0, help="second octet of the sites' 127.N.S.1")
    lup.add_argument(
        "--profile",
        default=None,
        help="which estate to start (see `lab profiles`; default: default)",
    )
    lup.add_argument(
        "--inventory",
        type=Path,
        default=None,
        help="where to write the inventory (default inventory/lab.yaml, or lab-PROFILE.yaml)",
    )
    lsub.add_parser("profiles", help="the estates `lab up --profile` can start")
    lsub.add_parser("status", help="what runs")
    lsub.add_parser("down", help="stop everything the lab started")
    chaos = lsub.add_parser("chaos", help="take a site dark or back, or slow its links")
    chaos.add_argument("action", choices=("down", "up", "latency"))
    chaos.add_argument("site")
    chaos.add_argument("ms", nargs="?", type=int, default=None)
    return parser


def _verified_source(audit: Path | None) -> Callable[[Iterable[str], str], Mapping[str, Any]]:
    """The last verified restore per service, read from the audit log for ``status``."""

    def read(services: Iterable[str], inventory: str) -> Mapping[str, Any]:
        from console.audit.verification import newest_verified
        from console.status.window import Verified

        found = newest_verified(audit, services, inventory)
        return {
            name: Verified(r.run_id, r.playbook_name, r.playbook_kind, r.finished.timestamp())
            for name, r in found.items()
            if r.finished is not None
        }

    return read


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "tui"
    if command == "validate":
        from console.model.validate import validate_command

        return validate_command(args.paths, args.inventory, args.var)
    if command == "lab":
        if not args.lab_command:
            raise InputError("lab needs an action: up, profiles, status, down or chaos")
        from console.lab.commands import main as lab_main

        return lab_main(args)
    if command == "tui":
        from console.tui.app import main as tui_main

        return tui_main(args)
    if command == "status":
        from console.status.command import status_command

        return status_command(args, _verified_source(args.audit))
    if command in ("run", "plan"):
        from console.engine.headless import plan_command, run_command

        return run_command(args) if command == "run" else plan_command(args)
    if command == "audit":
        if not args.audit_command:
            raise InputError("audit needs an action: list, show, verify or push")
        from console.audit.commands import main as audit_main

        return audit_main(args)
    if command == "approve":
        from console.audit.approvals import approve_command

        return approve_command(args)
    if command == "commit":
        from console.audit.commits import commit_command

        return commit_command(args)
    if command == "report":
        from console.report.commands import main as report_main

        return report_main(args)
    if command == "schedule":
        from console.schedule import schedule_command

        return schedule_command(args)
    if command == "serve":
        from console.serve import serve_command

        return serve_command(args)
    if command == "replay":
        from console.tui.replay_app import main as replay_main

        return replay_main(args)
    raise InputError(f"unknown command {command!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``drconsole`` script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "tui"])
    if args.operator is None:
        args.operator = default_operator()
    try:
        command = args.command or "tui"
        if command in AUDIT_COMMANDS:
            args.audit = audit_location(args.audit, creates=command in AUDIT_CREATORS)
            if command in AUDIT_CREATORS:
                _open_team_store(args)
        else:
            args.audit = Path(args.audit) if args.audit is not None else default_audit_path()
        return _dispatch(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.INPUT
    except DrError as exc:
        print(f"drconsole: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("drconsole: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
