"""Start and talk to worker processes (``tests.audit.workers``) with timeouts everywhere."""

from __future__ import annotations

import select
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start ``python -m tests.audit.workers ARGS`` in the repository, pipes for stdin/stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.workers", *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The worker's next stdout line; fails the test if none comes within ``timeout``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"worker {proc.args} said nothing within {timeout}s")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            if not line:
                err = proc.stderr.read() if proc.stderr else ""
                raise AssertionError(f"worker {proc.args} ended: {err}")
            return line.strip()


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill a worker we started (by its own pid) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
