"""Read a child process's stdout line by line with a timeout, without losing buffered lines.

``select`` on a text pipe says nothing of the lines Python has already buffered: two lines that
arrive together would leave the second in the buffer while ``select`` waits for more. This
reader takes the raw bytes itself and splits them, so a burst of lines is never stuck.
"""

from __future__ import annotations

import os
import select
import subprocess
import time


class LineReader:
    """The lines of ``proc``'s stdout (opened as a pipe), each within a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.pending = b""
        self.seen: list[str] = []
        """Every line read so far."""

    def line(self, timeout: float) -> str:
        """The next line; fails the test if none comes within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.proc.args} said nothing more within {timeout}s")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    raise AssertionError(f"{self.proc.args} ended; it said: {self.seen}")
                self.pending += chunk
        raw, self.pending = self.pending.split(b"\n", 1)
        text = raw.decode(errors="replace").rstrip("\r")
        self.seen.append(text)
        return text

    def until(self, needle: str, timeout: float) -> list[str]:
        """Lines up to and with the first one containing ``needle``."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            out.append(self.line(max(0.1, deadline - time.monotonic())))
            if needle in out[-1]:
                return out

    def rest(self, timeout: float) -> str:
        """Everything until the process closes its stdout (after it ended)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                break
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            self.pending += chunk
        text = self.pending.decode(errors="replace")
        self.pending = b""
        return text
