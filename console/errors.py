"""The project's small tree of exceptions.

Every error a person can cause or meet carries a message fit for that person and, where it
comes from a file, the place in the file. Only ``console.cli`` turns these into exit codes:
the core raises, the edge decides.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    exit_code: int = 1
    """The process exit code the CLI uses when this error ends a command."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(DrError):
    """Invalid input: an inventory, a playbook, an argument. Exit code 2."""

    exit_code = 2

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

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host


class HostKeyError(SshError):
    """The host presented an unknown or changed key; the connection was refused."""

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

    exit_code = 4


class Stopped(DrError):
    """The run stopped before completion: a gate failed, no operator, or an abort. Exit 3."""

    exit_code = 3
