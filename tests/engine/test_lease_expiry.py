"""A holder paused past its lease's expiry cannot act when it comes back (real processes).

Alice's console (``tests.engine.lease_worker``, a real engine in its own process on a real
PostgreSQL store, SSH scripted) polls a command several times a second under a 1.5 s lease.
The test pauses that process for real (SIGSTOP) past the expiry. Either nobody else comes and
alice's console is let go on (SIGCONT): its next intent is refused, the run stops with exit 3,
and no intent is recorded after the pause; or bob's run (another engine, in this process)
takes the service over while alice is paused, with a higher fencing token, and acts; alice,
let go on, is refused the same way and names bob's run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from tests.audit.procs import REPO, read_line, stop
from tests.engine.scripted_env import make_estate
from tests.support.paused import stop_outside_a_transaction, until_lease_expired
from tests.support.pgserver import PgServer, pg_server_fixture
from tests.support.scripted import Reply

TTL = 1.5
"""The paused holder's lease (seconds)."""
WAIT = 120.0
"""Seconds for a process to start or end (10x a loaded machine)."""

TAKEOVER = """
version: 1
name: take-over
kind: switchover
service: svc
steps:
  - id: promote
    on: h-west
    run: promote-west
"""

pg_server = pg_server_fixture("module")


@pytest.fixture
def holder(tmp_path: Path, pg_server: PgServer) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """Alice's console, polling under a lease; yields it, its run id and the store's URL."""
    url = pg_server.new_database()
    base = tmp_path / "alice"
    base.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.lease_worker", url, str(base), str(TTL)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(proc, WAIT)
        assert line.startswith("run "), line
        run_id = line.split()[1]
        _until_intents(url, run_id, 3)
        yield proc, run_id, url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
        stop(proc)


def _intents(url: str, run_id: str) -> list[dict[str, object]]:
    with AuditStore(url, create=False) as store:
        return [{**e.data, "gid": e.gid} for e in store.events(run_id, kinds=("command_intent",))]


def _until_intents(url: str, run_id: str, n: int) -> None:
    deadline = time.monotonic() + WAIT
    while len(_intents(url, run_id)) < n:
        assert time.monotonic() < deadline, "the holder never polled"
        time.sleep(0.1)


def _pause_past_expiry(proc: subprocess.Popen[str], url: str, run_id: str) -> int:
    """SIGSTOP the holder until its lease has expired on the store's clock; the number of
    intents it had recorded when it stopped."""
    stop_outside_a_transaction(proc, url, WAIT)
    count = len(_intents(url, run_id))
    until_lease_expired(url, run_id, WAIT)
    return count


def _finish(proc: subprocess.Popen[str]) -> str:
    os.kill(proc.pid, signal.SIGCONT)
    line = read_line(proc, WAIT)
    proc.wait(timeout=WAIT)
    return line


def test_a_paused_holder_that_comes_back_is_refused(
    holder: tuple[subprocess.Popen[str], str, str],
) -> None:
    proc, run_id, url = holder
    count = _pause_past_expiry(proc, url, run_id)
    last = _finish(proc)
    assert proc.returncode == 3, last
    assert last.startswith("exit 3 stopped before the next command: the lease on svc")
    assert "expired" in last and "this run may not act" in last
    intents = _intents(url, run_id)
    assert len(intents) == count, "no intent is recorded once the lease expired"
    tokens = {tuple(sorted(dict(i["fence"]).items())) for i in intents}  # type: ignore[call-overload]
    assert len(tokens) == 1, "every intent carried the run's one fencing token"
    with AuditStore(url, create=False) as store:
        run = store.get_run(run_id)
        assert run is not None and run.outcome == "stopped"
        assert store.lock_holder("svc") is None  # released on the way out
        assert store.verify().ok


def test_a_holder_paused_while_another_run_took_over_is_refused(
    holder: tuple[subprocess.Popen[str], str, str], tmp_path: Path
) -> None:
    proc, run_id, url = holder
    count = _pause_past_expiry(proc, url, run_id)
    bob = make_estate(tmp_path)
    bob.audit = url  # type: ignore[assignment]
    bob.transport.on("promote-west", Reply(stdout="promoted"))
    engine, audit = bob.engine(
        bob.playbook("take-over", TAKEOVER), HeadlessDecider("bob@laptop2", yes=True)
    )
    try:
        result = asyncio.run(asyncio.wait_for(engine.run(), WAIT))
    finally:
        audit.close()
    assert result.exit_code == 0, result.summary
    assert bob.transport.calls_to("promote-west")
    bob_events = bob.events(result.run_id)
    broken = [e for e in bob_events if e["kind"] == "lock_broken" and e["scope"] == "local"]
    assert broken and broken[0]["holder"]["run_id"] == run_id  # type: ignore[index]
    assert "lease had expired" in str(broken[0]["holder"])
    acquired = next(e for e in bob_events if e["kind"] == "lock_acquired" and "token" in e)
    alice_token = dict(_intents(url, run_id)[0]["fence"])["svc"]  # type: ignore[call-overload]
    assert int(acquired["token"]) > int(alice_token)  # type: ignore[call-overload]
    bob_intent = next(e for e in bob_events if e["kind"] == "command_intent")
    assert bob_intent["fence"] == {"svc": acquired["token"]}

    last = _finish(proc)
    assert proc.returncode == 3, last
    assert f"passed to run {result.run_id} of bob@laptop2" in last
    assert len(_intents(url, run_id)) == count
    with AuditStore(url, create=False) as store:
        assert store.verify().ok
