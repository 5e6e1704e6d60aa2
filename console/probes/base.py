"""The one contract every replication probe follows, and the failure handling they share.

A probe is two pure functions: ``command`` builds one shell command that runs on the
member's own host with the server's own client, and ``parse`` turns what that command printed
into a ``ReplicationSample``. The probe never does IO, so it is tested on recorded outputs and
proven on real servers by running the same command locally.

The ways a probe fails are the same for every kind (the client is missing, the server does
not answer, the password is wrong), so they are recognised here once, and ``parse`` never
raises: bad output becomes an ``UNKNOWN`` sample with a sentence saying what went wrong.
"""

from __future__ import annotations

import re
import shlex
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from console.probes.sample import ProbeTarget, ReplicationSample, Role, blank_sample

EXIT_TIMEOUT = 124
"""What coreutils ``timeout`` exits with when the command ran out of time."""
EXIT_KILLED = 137
"""What it exits with when it had to SIGKILL the command after the grace period."""
EXIT_NOT_FOUND = 127
"""What a shell exits with when the command does not exist."""

_NOT_FOUND = (
    re.compile(r"([\w.+-]+): command not found"),
    re.compile(r"failed to run command ['‘\"]([^'’\"]+)['’\"]"),
    re.compile(r"(?:^|\s)([\w.+-]+): not found"),
)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a probe produced no usable output."""

    role: Role
    """``DOWN`` when the server does not answer, ``UNKNOWN`` otherwise."""
    error: str
    """A sentence for a person."""


@dataclass(frozen=True, slots=True)
class FailurePattern:
    """A client error message and what it means."""

    pattern: re.Pattern[str]
    """Searched in stderr and stdout."""
    role: Role
    """The role it implies."""
    message: str
    """Formatted with ``{endpoint}``, ``{user}``, ``{host}`` and ``{detail}`` (the match)."""


def first_line(text: str, limit: int = 200) -> str:
    """The first non-blank line of ``text``, shortened to ``limit`` characters."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            return stripped if len(stripped) <= limit else stripped[: limit - 1] + "…"
    return ""


_ERROR_WORDS = re.compile(r"\b(ERROR|FATAL|error|Error|ERR|WRONGPASS|NOAUTH|READONLY)\b")


def error_line(text: str, limit: int = 200) -> str:
    """The line of a client's output that states the error.

    Prefers a line with an error word (``ERROR``, ``FATAL``, ``ERR`` ...), skips banner
    lines of dashes (the mysql client echoes the failing statement between them), and falls
    back to the first non-blank line.
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and set(line) != {"-"}]
    for line in lines:
        if _ERROR_WORDS.search(line):
            return first_line(line, limit)
    return first_line("\n".join(lines), limit)


def missing_tool(stderr: str) -> str | None:
    """The name of the program a shell or ``timeout`` could not find, if that happened."""
    for pattern in _NOT_FOUND:
        match = pattern.search(stderr)
        if match:
            return match.group(1)
    return None


def shell_env(assignments: Sequence[tuple[str, str]], secret: tuple[str, str] | None) -> str:
    """Environment assignments to put in front of a command.

    Args:
        assignments: ``(NAME, value)`` pairs; values are shell-quoted.
        secret: ``(NAME, REMOTE_VAR)``: set NAME from the remote variable REMOTE_VAR, which
            the remote shell expands (the secret never appears in the command).

    Returns:
        ``NAME=value ...`` followed by a space, or an empty string.
    """
    parts = [f"{name}={shlex.quote(value)}" for name, value in assignments]
    if secret is not None:
        name, remote = secret
        parts.append(f'{name}="${{{remote}-}}"')
    return " ".join(parts) + " " if parts else ""


def seconds_arg(value: float) -> str:
    """A duration for ``timeout`` and client options: whole seconds, at least 1."""
    return str(max(1, round(value)))


class Probe(ABC):
    """Builds the command that observes one member and parses what it printed.

    Subclasses set ``kind`` and ``tool`` and implement ``command`` and ``parse_output``;
    they may extend ``failure_patterns`` with their client's error messages.
    """

    kind: ClassVar[str]
    """The database kind this probe handles."""
    tool: ClassVar[str]
    """The client program named in error messages."""
    failure_patterns: ClassVar[tuple[FailurePattern, ...]] = ()
    """Client error messages recognised by ``failure``."""
    default_user: ClassVar[str] = "(the client's default user)"
    """How to name the user in messages when the target names none."""

    def __init__(self, timeout: float = 10.0, connect_timeout: float = 5.0) -> None:
        """Create a probe.

        Args:
            timeout: Seconds the whole command may take on the remote host before
                ``timeout`` kills it (the transport's own timeout should be longer).
            connect_timeout: Seconds the client may take to connect.
        """
        self.timeout = timeout
        self.connect_timeout = connect_timeout

    def timeout_prefix(self) -> str:
        """``timeout -k 2 N`` so that a hung server cannot hang the probe."""
        return f"timeout -k 2 {seconds_arg(self.timeout)} "

    def command_riding(self, target: ProbeTarget, sqls: Sequence[str]) -> str | None:
        """:meth:`command` with each of ``sqls`` run by the probe's own client after its own
        query, in the same session, each answer ended by a line of
        :data:`console.probes.riders.MARK` (split with :func:`~console.probes.riders.split_ride`).

        Returns:
            The command, or None when this kind's client cannot (the caller then runs its
            questions as shell commands after the probe's).
        """
        del target, sqls
        return None

    @abstractmethod
    def command(self, target: ProbeTarget) -> str:
        """One shell command for the member's own host; every value is shell-quoted.

        Args:
            target: The member to observe.

        Returns:
            A POSIX shell command line.
        """

    @abstractmethod
    def parse_output(
        self, target: ProbeTarget, stdout: str, sampled_at: float
    ) -> ReplicationSample:
        """Parse the output of a command that succeeded.

        Args:
            target: The member observed.
            stdout: What the command printed.
            sampled_at: When the command finished.

        Returns:
            The sample.

        Raises:
            ValueError: The output is not what the command prints (``parse`` turns this
                into an ``UNKNOWN`` sample).
        """

    def failure(
        self, target: ProbeTarget, exit_status: int | None, stdout: str, stderr: str
    ) -> Failure | None:
        """Recognise a failed probe: missing client, no answer, refused login, bad exit.

        Args:
            target: The member probed.
            exit_status: The remote exit status, None if the command was cut off.
            stdout: What it printed.
            stderr: What it printed on stderr.

        Returns:
            The failure, or None when the output should be parsed.
        """
        if exit_status is None:
            return Failure(Role.UNKNOWN, "the probe was cut off before it finished")
        tool = missing_tool(stderr)
        if exit_status == EXIT_NOT_FOUND or tool is not None:
            return Failure(Role.UNKNOWN, f"{tool or self.tool}: not installed on {target.host}")
        if exit_status in (EXIT_TIMEOUT, EXIT_KILLED):
            return Failure(
                Role.DOWN,
                f"no answer from {target.endpoint} within {seconds_arg(self.timeout)} s",
            )
        text = f"{stderr}\n{stdout}"
        for known in self.failure_patterns:
            match = known.pattern.search(text)
            if match:
                detail = match.group(match.lastindex or 0)
                return Failure(
                    known.role,
                    known.message.format(
                        endpoint=target.endpoint,
                        user=target.user or self.default_user,
                        host=target.host,
                        detail=detail,
                    ),
                )
        if exit_status != 0:
            said = error_line(stderr) or error_line(stdout) or "no output"
            return Failure(Role.UNKNOWN, f"{self.tool} exited {exit_status}: {said}")
        return None

    def parse(
        self,
        target: ProbeTarget,
        exit_status: int | None,
        stdout: str,
        stderr: str,
        sampled_at: float,
    ) -> ReplicationSample:
        """Turn the command's result into a sample. Never raises on bad output.

        Args:
            target: The member probed.
            exit_status: The remote exit status, None if the command was cut off.
            stdout: What it printed.
            stderr: What it printed on stderr.
            sampled_at: ``time.time()`` when the command finished.

        Returns:
            The sample; ``DOWN`` or ``UNKNOWN`` with an error when the probe failed.
        """
        failed = self.failure(target, exit_status, stdout, stderr)
        if failed is not None:
            sample = blank_sample(target, failed.role, failed.error, sampled_at)
        else:
            try:
                sample = self.parse_output(target, stdout, sampled_at)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
                sample = blank_sample(
                    target,
                    Role.UNKNOWN,
                    f"could not read the {self.tool} output: {exc}",
                    sampled_at,
                    {"output": first_line(stdout)},
                )
        return replace(sample, details={**sample.details, "endpoint": target.endpoint})
