"""What running a command produced: streamed lines and the final result.

Both are frozen values: the engine records them in the audit log and hands them to the UI, and
nobody downstream may change what the host said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stream = Literal["stdout", "stderr"]
"""Which output stream of the remote command a line came from."""


@dataclass(frozen=True)
class OutputLine:
    """One line of remote output, delivered as soon as it arrived."""

    host: str
    """Inventory host name of the target."""
    stream: Stream
    """stdout or stderr."""
    text: str
    """The line without its newline (a final unterminated line is delivered too). Lines longer
    than ``console.ssh.output.MAX_LINE_CHARS`` are delivered in pieces of that size."""
    ts: float
    """Wall-clock time (``time.time()``) when the line arrived."""


@dataclass(frozen=True)
class CommandResult:
    """How a remote command ended and the output kept from it."""

    host: str
    """Inventory host name of the target."""
    command: str
    """The command line as sent."""
    exit_status: int | None
    """Exit status; None when the command died from a signal or never reported one."""
    signal: str | None
    """Signal name without ``SIG`` (``"TERM"``) when the command died from a signal."""
    duration: float
    """Seconds from sending the command to its end (monotonic clock)."""
    stdout: tuple[str, ...]
    """The last ``max_lines`` lines of stdout."""
    stderr: tuple[str, ...]
    """The last ``max_lines`` lines of stderr."""
    truncated: bool
    """True when lines were dropped from ``stdout`` or ``stderr`` to respect ``max_lines``."""
    timed_out: bool
    """True when the command outlived its timeout and was stopped."""
    reconnected: bool
    """True when the connection had dropped and was re-established for this command."""

    @property
    def ok(self) -> bool:
        """Exit status 0 and no timeout."""
        return self.exit_status == 0 and not self.timed_out
