"""The project's small tree of exceptions, their kinds, and the process exit codes.

Every error a person can cause or meet carries a message fit for that person and, where it
comes from a file, the place in the file. Each class also names its ``ErrorKind`` (defined
with the event vocabulary in ``console.events.enums``), so a refused host key stays a host-key
error from the transport to the audit log to the TUI and is never found again by searching a
message (asyncssh's small error tree with its codes is the model). Only ``console.cli`` turns
these into exit codes: the core raises, the edge decides; :class:`ExitCode` is the one table of
those codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from console.events.enums import ErrorKind

__all__ = [
    "DrError",
    "ErrorKind",
    "ExitCode",
    "HostKeyError",
    "InputError",
    "InputErrors",
    "Location",
    "LockHeld",
    "SshError",
    "Stopped",
]


class ExitCode(IntEnum):
    """The process exit codes of the user-facing contract (README, "Exit codes")."""

    OK = 0
    """Success (``status``: every member healthy)."""
    FAILED = 1
    """A step failed (``status``: degraded; ``audit verify``: the chain is broken)."""
    INPUT = 2
    """Invalid input: inventory, playbook, arguments."""
    STOPPED = 3
    """Stopped before completion: a gate failed, no operator, or the operator aborted."""
    LOCKED = 4
    """Another run holds the lock on a service."""
    INTERRUPTED = 130
    """Interrupted by a signal."""


@dataclass(frozen=True, slots=True)
class Location:
    """A place in an input file, 1-based like editors and compilers show it."""

    path: str
    """The file as the user named it."""
    line: int
    """1-based line number."""
    col: int
    """1-based column number."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class DrError(Exception):
    """Base of every error drconsole raises on purpose."""

    exit_code: ClassVar[int] = ExitCode.FAILED
    """The process exit code the CLI uses when this error ends a command."""
    kind: ClassVar[ErrorKind] = ErrorKind.ERROR
    """What kind of error this is (recorded with the failure it causes)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(DrError):
    """Invalid input: an inventory, a playbook, an argument. Exit code 2."""

    exit_code = ExitCode.INPUT
    kind = ErrorKind.INPUT

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class InputErrors(InputError):
    """Several input errors found in one pass; the CLI prints each on its own line."""

    def __init__(self, errors: list[InputError]) -> None:
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class SshError(DrError):
    """A host could not be reached or a command could not be run on it."""

    kind = ErrorKind.SSH

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host


class HostKeyError(SshError):
    """The host presented an unknown or changed key; the connection was refused."""

    kind = ErrorKind.HOST_KEY

    def __init__(self, host: str, key_type: str, fingerprint: str, reason: str) -> None:
        super().__init__(
            host,
            f"host key refused ({reason}): {key_type} {fingerprint}; "
            "check it out of band, then add it to known_hosts "
            "or run again with --accept-new-host-keys",
        )
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.reason = reason


class LockHeld(DrError):
    """Another run holds the lock on a service. Exit code 4."""

    exit_code = ExitCode.LOCKED
    kind = ErrorKind.LOCKED


class Stopped(DrError):
    """The run stopped before completion: a gate failed, no operator, or an abort. Exit 3."""

    exit_code = ExitCode.STOPPED
    kind = ErrorKind.STOPPED
