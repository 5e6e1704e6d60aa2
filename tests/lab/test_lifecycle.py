"""A lab's whole life through the CLI, on its own net: up, down, and a half-started lab.

These tests start their own labs (not the shared session one) because they take them down.
Each reserves a free net in 127.10-19 for its duration. Times of ``up`` and ``down`` are
printed (``pytest -s``) so that they can be reported.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.lab.layout import LabLayout
from console.lab.procs import ProcState, cmdline, is_listening, proc_state
from tests.support.lab import make_lab_dir, requires_lab, reserve_net

pytestmark = [requires_lab, pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SCALE = os.environ.get("DRCONSOLE_TEST_LAB_SCALE", "3")


@pytest.fixture
def spot() -> Iterator[tuple[int, Path]]:
    """A reserved free net and a fresh directory; whatever lab is left there is taken down."""
    net, lock = reserve_net()
    root = make_lab_dir("drlab-life-")
    try:
        yield net, root
    finally:
        if (root / "lab" / "state.json").exists():
            _cli(root, "down")
        lock.close()
        shutil.rmtree(root, ignore_errors=True)


def _cli(root: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "lab", "--dir", str(root / "lab"), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def _up_argv(root: Path, net: int) -> list[str]:
    return ["up", "--net", str(net), "--inventory", str(root / "inventory" / "lab.yaml")]


def _refused(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def _assert_nothing_left(net: int, pids: list[int]) -> None:
    layout = LabLayout.create(Path("/tmp/unused"), net)
    for address, port in layout.all_ports():
        assert not is_listening(address, port), f"{address}:{port} still listens"
        assert _refused(address, port), f"{address}:{port} still accepts connections"
    assert all(proc_state(pid) is ProcState.DEAD for pid in pids)


def test_up_status_down_through_the_cli(spot: tuple[int, Path]) -> None:
    net, root = spot
    began = time.monotonic()
    up = _cli(root, *_up_argv(root, net))
    up_seconds = time.monotonic() - began
    assert up.returncode == 0, up.stderr
    assert (root / "inventory" / "lab.yaml").is_file()
    assert (root / "inventory" / "lab_known_hosts").is_file()
    state = json.loads((root / "lab" / "state.json").read_text())
    assert state["phase"] == "up" and state["net"] == net
    pids = [p["pid"] for p in state["processes"]]
    assert len(pids) == 9
    assert {(p["site"], p["name"]) for p in state["processes"]} == {
        *((s, "sshd") for s in ("east", "west", "dr")),
        *((s, k) for s in ("east", "west") for k in ("postgres", "mariadb", "redis")),
    }
    assert _cli(root, "status").returncode == 0

    began = time.monotonic()
    down = _cli(root, "down")
    down_seconds = time.monotonic() - began
    assert down.returncode == 0, down.stdout + down.stderr
    assert "no listener left" in down.stdout
    _assert_nothing_left(net, pids)
    assert json.loads((root / "lab" / "state.json").read_text())["phase"] == "down"
    print(f"\nlab up (CLI, wall) {up_seconds:.2f} s; internal {state['up_seconds']} s; "
          f"lab down (CLI, wall) {down_seconds:.2f} s")  # fmt: skip

    again = _cli(root, *_up_argv(root, net))  # a downed lab starts fresh again
    assert again.returncode == 0, again.stderr
    assert "lab up in" in again.stdout


def test_down_continues_a_dark_site_and_cleans_it(spot: tuple[int, Path]) -> None:
    net, root = spot
    assert _cli(root, *_up_argv(root, net)).returncode == 0
    assert _cli(root, "chaos", "down", "west").returncode == 0
    state = json.loads((root / "lab" / "state.json").read_text())
    west = [p["pid"] for p in state["processes"] if p["site"] == "west"]
    assert all(proc_state(pid) is ProcState.STOPPED for pid in west)
    down = _cli(root, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "SIGKILL" not in down.stdout  # SIGCONT first, so each stopped cleanly
    _assert_nothing_left(net, [p["pid"] for p in state["processes"]])


def _wait_for_stragglers(lab_dir: Path, timeout: float = 120) -> None:
    """Wait until no setup command of the killed ``up`` (runuser ... <lab dir>) still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [
            pid
            for pid in (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
            if (argv := cmdline(pid))
            and argv[0] in ("runuser", "/bin/sh")
            and any(str(lab_dir) in a for a in argv)
        ]
        if not busy:
            return
        time.sleep(0.2)
    raise AssertionError("setup commands of the killed `lab up` did not finish")


def test_interrupted_up_is_reported_and_down_cleans_it(spot: tuple[int, Path]) -> None:
    net, root = spot
    state_file = root / "lab" / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "lab", "--dir", str(root / "lab"), *_up_argv(root, net)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120 * float(SCALE)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if len(json.loads(state_file.read_text())["processes"]) >= 3:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        assert proc.poll() is None, "lab up finished before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)  # as if the machine or the operator killed it
    finally:
        proc.wait(timeout=60)
    _wait_for_stragglers(root / "lab")
    state = json.loads(state_file.read_text())
    assert state["phase"] == "starting"
    recorded = [p["pid"] for p in state["processes"]]
    assert any(proc_state(pid) is not ProcState.DEAD for pid in recorded)

    again = _cli(root, *_up_argv(root, net))
    assert again.returncode == 1
    assert "half-started" in again.stderr and "down" in again.stderr
    status = _cli(root, "status")
    assert "phase starting" in status.stdout

    down = _cli(root, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    _assert_nothing_left(net, recorded)
    fresh = _cli(root, *_up_argv(root, net))
    assert fresh.returncode == 0, fresh.stderr
