"""Turning a remote command's byte stream into lines, delivered live and kept bounded.

Both backends feed decoded text here as it arrives; lines go to the caller's ``on_line`` at
once (an operator watching a step sees output while it runs) and only the newest ``max_lines``
per stream are kept for the result, so a command that prints a gigabyte cannot exhaust memory.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from console.ssh.result import CommandResult, OutputLine, Stream

MAX_LINE_CHARS = 65536
"""A line longer than this is delivered in pieces, so one endless line stays bounded too."""

OnLine = Callable[[OutputLine], None]
"""Receives each output line as it arrives (called on the event loop's thread)."""


class OutputCollector:
    """Splits stdout and stderr into lines, calls ``on_line``, keeps the last lines."""

    def __init__(self, host: str, max_lines: int, on_line: OnLine | None) -> None:
        """Prepare empty buffers.

        Args:
            host: Inventory host name stamped on every line.
            max_lines: Lines kept per stream (older ones are dropped and ``truncated`` set).
            on_line: Called with each complete line; an exception it raises stops further
                calls and is re-raised by ``raise_callback_error`` once the command is over.

        Raises:
            ValueError: ``max_lines`` is negative.
        """
        if max_lines < 0:
            raise ValueError("max_lines must be >= 0")
        self.host = host
        self._on_line = on_line
        self._partial: dict[Stream, str] = {"stdout": "", "stderr": ""}
        self._kept: dict[Stream, deque[str]] = {
            "stdout": deque(maxlen=max_lines),
            "stderr": deque(maxlen=max_lines),
        }
        self._max_lines = max_lines
        self.truncated = False
        """True once any line was dropped from what is kept."""
        self.callback_error: BaseException | None = None
        """The first exception raised by ``on_line``, if any."""

    def feed(self, stream: Stream, text: str) -> None:
        """Add decoded text from ``stream``; complete lines are emitted at once."""
        if not text:
            return
        buf = self._partial[stream] + text
        if "\n" in buf:
            *lines, buf = buf.split("\n")
            for line in lines:
                while len(line) > MAX_LINE_CHARS:
                    self._emit(stream, line[:MAX_LINE_CHARS])
                    line = line[MAX_LINE_CHARS:]  # noqa: PLW2901 - consuming the line piecewise
                self._emit(stream, line)
        while len(buf) > MAX_LINE_CHARS:
            self._emit(stream, buf[:MAX_LINE_CHARS])
            buf = buf[MAX_LINE_CHARS:]
        self._partial[stream] = buf

    def flush(self) -> None:
        """Emit unterminated last lines (called when the command's output ends)."""
        for stream in ("stdout", "stderr"):
            rest = self._partial[stream]
            if rest:
                self._partial[stream] = ""
                self._emit(stream, rest)

    def _emit(self, stream: Stream, line: str) -> None:
        if line.endswith("\r"):
            line = line[:-1]
        kept = self._kept[stream]
        if len(kept) == self._max_lines:
            self.truncated = True
        kept.append(line)
        if self._on_line is not None and self.callback_error is None:
            try:
                self._on_line(OutputLine(self.host, stream, line, time.time()))
            except Exception as exc:
                self.callback_error = exc

    def raise_callback_error(self) -> None:
        """Re-raise what ``on_line`` raised, now that the command is over."""
        if self.callback_error is not None:
            raise self.callback_error

    def result(
        self,
        command: str,
        *,
        exit_status: int | None,
        signal: str | None,
        duration: float,
        timed_out: bool,
        reconnected: bool,
    ) -> CommandResult:
        """Build the result from what was kept."""
        return CommandResult(
            host=self.host,
            command=command,
            exit_status=exit_status,
            signal=signal,
            duration=duration,
            stdout=tuple(self._kept["stdout"]),
            stderr=tuple(self._kept["stderr"]),
            truncated=self.truncated,
            timed_out=timed_out,
            reconnected=reconnected,
        )
