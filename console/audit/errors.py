"""The audit package's own errors, as subclasses of the project tree in ``console.errors``.

Each names the database or the run so the CLI can print it as one line: a person asking for a
run that does not exist has made an input error (exit 2), a database that cannot be read or
written is an operational failure (exit 1).
"""

from __future__ import annotations

from pathlib import Path

from console.errors import DrError, ExitCode, InputError


class AuditError(DrError):
    """The audit database could not be read or written (corrupt, unwritable, not ours)."""


class AuditStoreLost(AuditError):
    """The team store (PostgreSQL) went away after it was opened: stop before acting again."""

    exit_code = ExitCode.STOPPED


class AuditStoreUnreachable(InputError):
    """The team store named by ``--audit`` cannot be reached at start (exit 2, the reason)."""


class NoAuditDatabase(InputError):
    """A read command named an audit database that does not exist."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(f"{path}: no audit database here (nothing has run yet, or wrong --audit)")
        self.path = path


class NotAnAuditDatabase(InputError):
    """The file exists but is not a drconsole audit database."""

    def __init__(self, path: Path | str, detail: str) -> None:
        super().__init__(f"{path}: not a drconsole audit database ({detail})")
        self.path = path


class UnknownRun(InputError):
    """No run has this id, or this prefix of an id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r} in the audit log (see drconsole audit list)")
        self.run_id = run_id


class AmbiguousRunId(InputError):
    """A run id prefix matches more than one run."""

    def __init__(self, prefix: str, matches: list[str]) -> None:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        super().__init__(f"run id prefix {prefix!r} matches several runs: {shown}")
        self.prefix = prefix
        self.matches = matches


class NoSuchLock(InputError):
    """Nothing holds the lock that was to be broken."""

    def __init__(self, service: str) -> None:
        super().__init__(f"no lock is held on service {service!r}; nothing to break")
        self.service = service
