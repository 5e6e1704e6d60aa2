"""Fixtures for the transport tests: a real sshd per test, targets for both backends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from console.ssh import SshPool, SshTarget
from tests.support.sshd import TestSshd, running_sshd

ADDRESS = "127.0.50.1"
"""Main test sshd address (this helper owns 127.0.50.0/24)."""


@pytest.fixture(params=["asyncssh", "paramiko"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every transport test runs once per backend."""
    return str(request.param)


@pytest.fixture
def sshd() -> Iterator[TestSshd]:
    """A fresh sshd with its own user key and a known_hosts that trusts it."""
    with running_sshd(address=ADDRESS, name="ssh-test", env={"DRLAB_SITE": "east"}) as host:
        yield host


def make_target(host: TestSshd, backend: str, name: str = "db-east-1", **changes: Any) -> SshTarget:
    """The target a test uses to reach ``host``."""
    target = SshTarget(
        name=name,
        address=host.address,
        port=host.port,
        user=host.user.name,
        identity_file=str(host.identity),
        known_hosts=str(host.known_hosts),
        connect_timeout=20.0,
        backend=backend,  # type: ignore[arg-type]
    )
    return replace(target, **changes)


@pytest.fixture
def target(sshd: TestSshd, backend: str) -> SshTarget:
    """``sshd`` as a target on the parametrised backend."""
    return make_target(sshd, backend)


@pytest.fixture
async def pool() -> AsyncIterator[SshPool]:
    """A pool closed at teardown."""
    p = SshPool()
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def leftovers(sshd: TestSshd) -> Iterator[list[str]]:
    """Patterns of remote processes a test may leave behind; killed at teardown, pass or fail.

    Only processes of the lab user that match a pattern a test registered are touched.
    """
    patterns: list[str] = []
    yield patterns
    for pattern in patterns:
        for pid in remote_pids(pattern, sshd.user.name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def remote_pids(pattern: str, user: str) -> list[int]:
    """Pids of ``user``'s processes whose command line matches ``pattern``."""
    out = subprocess.run(
        ["pgrep", "-u", user, "-f", pattern], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(0.05)


async def eventually(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Like ``wait_until`` but lets the event loop run while waiting."""
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for: {what}")
        await asyncio.sleep(0.05)
