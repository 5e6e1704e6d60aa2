"""Two consoles on one PostgreSQL store contend for one service, end to end (real processes,
real sshd hosts, a real PostgreSQL server).

Alice's ``drconsole run`` polls a command on a host of the service (each poll appends a line
to a file there) until a file appears, then runs one more step. Bob's ``drconsole run`` on the
same service, while alice's run lives, is refused (exit 4) naming alice's run, and nothing of
his runs on a host. Then alice's console, run with ``--lease 3s``, is paused for real (SIGSTOP)
past its lease's expiry: bob is refused again by the second layer (alice's remote lock on the
hosts, her process still alive), takes the service over with ``--break-lock`` and acts; alice,
let go on (SIGCONT) after the file she waits for has appeared, finds her next intent refused
with her fencing token and bob's run named, exit 3: every poll that ran on the host has its
intent recorded before the pause, and her last step never ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from tests.engine.conftest import ONE_BACKEND, ROOT, Estate
from tests.support.paused import stop_outside_a_transaction, until_lease_expired
from tests.support.pgserver import PgServer, pg_server_fixture, requires_pg
from tests.support.sshd import requires_sshd

pytestmark = [requires_sshd, requires_pg, pytest.mark.sshd, pytest.mark.timeout(600)]

WAIT = 120.0
"""Seconds for a console to start, record, or end (10x a loaded machine)."""

pg_server = pg_server_fixture("module")


def _alice_playbook(work: Path) -> str:
    return f"""
        version: 1
        name: alice-holds
        kind: custom
        service: svc
        steps:
          - id: poll
            wait:
              on: h-east
              run: "echo poll >> {work}/alice-polls; test -e {work}/go"
              timeout: 5m
              interval: 200ms
          - id: after
            on: h-east
            run: "touch {work}/alice-after"
        """


def _bob_playbook(work: Path) -> str:
    return f"""
        version: 1
        name: bob-acts
        kind: custom
        service: svc
        steps:
          - id: act
            on: h-west
            run: "echo bob >> {work}/bob-did"
        """


def _argv(estate: Estate, url: str, operator: str, playbook: Path, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "console", "--audit", url, "--operator", operator, "run"),
        *(str(playbook), "-i", str(estate.inventory), "--yes", *extra),
    ]


def _bob(estate: Estate, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    playbook = estate.playbook("bob-acts", _bob_playbook(estate.work))
    return subprocess.run(
        _argv(estate, url, "bob@laptop2", playbook, *extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


@pytest.fixture
def alice(estate: Estate, pg_server: PgServer) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """Alice's console polling under a 3 s lease; yields it, the store's URL and her run id."""
    for name in ("alice-polls", "alice-after", "bob-did", "go"):
        (estate.work / name).unlink(missing_ok=True)
    url = pg_server.new_database()
    playbook = estate.playbook("alice-holds", _alice_playbook(estate.work))
    proc = subprocess.Popen(
        _argv(estate, url, "alice@laptop1", playbook, "--lease", "3s"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        while len(_polls(estate)) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "alice's console never polled"
            time.sleep(0.1)
        with AuditStore(url, create=False) as store:
            (run,) = store.runs()
        yield proc, url, run.run_id
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.communicate(timeout=WAIT)


def _polls(estate: Estate) -> list[str]:
    path = estate.work / "alice-polls"
    return path.read_text().splitlines() if path.exists() else []


def _intents(url: str, run_id: str) -> list[dict[str, object]]:
    with AuditStore(url, create=False) as store:
        return [e.data for e in store.events(run_id, kinds=("command_intent",))]


@ONE_BACKEND
def test_a_second_console_is_refused_naming_the_holder(
    estate: Estate, alice: tuple[subprocess.Popen[str], str, str]
) -> None:
    proc, url, run_id = alice
    refused = _bob(estate, url)
    assert refused.returncode == 4, refused
    said = refused.stdout + refused.stderr
    assert f"service svc is locked by run {run_id} (operator alice@laptop1" in said, said
    assert "its lease (token" in said
    assert not (estate.work / "bob-did").exists(), "bob's command ran on a host"
    (estate.work / "go").touch()
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, out + err
    assert (estate.work / "alice-after").exists()
    with AuditStore(url, create=False) as store:
        runs = {r.operator: r for r in store.runs()}
        assert runs["bob@laptop2"].outcome is not None
        assert not [
            e for e in store.events(runs["bob@laptop2"].run_id) if e.kind.startswith("command")
        ]
        assert store.lock_holder("svc") is None
        assert store.verify().ok


@ONE_BACKEND
def test_a_holder_paused_past_its_lease_comes_back_and_cannot_act(
    estate: Estate, alice: tuple[subprocess.Popen[str], str, str]
) -> None:
    proc, url, run_id = alice
    stop_outside_a_transaction(proc, url, WAIT)
    until_lease_expired(url, run_id, WAIT)
    intents = _intents(url, run_id)
    (token,) = {dict(i["fence"])["svc"] for i in intents}  # type: ignore[call-overload]

    # the store lets bob take the expired lease, the hosts' locks (alice's, alive) do not
    second_layer = _bob(estate, url)
    assert second_layer.returncode == 4, second_layer
    said = second_layer.stdout + second_layer.stderr
    assert f"by run {run_id} of alice@laptop1" in said, said
    assert "that run is still running here" in said
    assert not (estate.work / "bob-did").exists()
    taken = _bob(estate, url, "--break-lock")
    assert taken.returncode == 0, taken
    assert (estate.work / "bob-did").read_text().splitlines() == ["bob"]

    (estate.work / "go").touch()  # her poll would succeed now, were it sent
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=WAIT)
    said = out + err
    assert proc.returncode == 3, said
    assert f"the lease on svc (token {token}) expired and passed to run" in said, said
    assert "of bob@laptop2" in said and "this run may not act" in said
    after = _intents(url, run_id)
    assert len(after) == len(intents), "no intent is recorded once the lease expired"
    # every poll that ran on the host had its intent recorded (under the live lease) first
    assert len(_polls(estate)) == len(after)
    assert not (estate.work / "alice-after").exists(), "her last step ran"
    with AuditStore(url, create=False) as store:
        record = store.get_run(run_id)
        assert record is not None and record.outcome == "stopped"
        bob_runs = [r for r in store.runs() if r.operator == "bob@laptop2"]
        tokens = [
            int(e.data["token"])
            for r in bob_runs
            for e in store.events(r.run_id)
            if e.kind == "lock_acquired" and "token" in e.data
        ]
        assert tokens and min(tokens) > int(token)
        assert store.verify().ok
