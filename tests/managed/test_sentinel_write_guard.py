"""The write guard of the Sentinel-managed Redis (``min-replicas-to-write 1``), for real.

The case it closes, measured on the lab before the guard: east (the master) went dark, Sentinel
promoted west, and east came back before Sentinel turned it into a replica. A write that
reached east then was acknowledged by it and dropped by the resync that followed (RPO 12 s
against a 5 s objective). Here east comes back as soon as Sentinel has promoted west and
re-pointed dr, so that it is still a master when the writes reach it: the write sent while it
was dark and one sent after its return must both be refused with ``NOREPLICAS`` (neither
acknowledged, so nothing is lost), and neither is anywhere once Sentinel has demoted east.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from console.lab.procs import wait_until
from tests.managed.dark_support import home_again, redis_role, sentinel_masters
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab, pytest.mark.slow]

KEY = "drconsole:late-write"


def _cli(lab: RunningLab, site: str, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", lab.addresses[site], "-p", "16379", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def _role_line(lab: RunningLab, site: str) -> str:
    return " ".join(_cli(lab, site, "ROLE").split())


def _lit_sentinels(lab: RunningLab) -> list[str]:
    """The master west's and dr's Sentinels name (east's is dark)."""
    return sentinel_masters(lab, sites=("west", "dr"))


@pytest.mark.timeout(600)
def test_old_master_back_before_demotion_refuses_writes(
    managed: RunningLab, tmp_path: Path
) -> None:
    lab = managed
    assert wait_until(lambda: lab.lab.health() == [], 120, 1), lab.lab.health()
    assert redis_role(lab, "east") == "master"
    assert _cli(lab, "east", "CONFIG", "GET", "min-replicas-to-write").split() == [
        "min-replicas-to-write",
        "1",
    ]
    _cli(lab, "west", "DEL", KEY)
    west = lab.addresses["west"]
    lab.lab.chaos_down("east")
    late: socket.socket | None = None
    try:
        # a client's write in flight: the kernel completes the handshake of a dark site's
        # socket, the command waits unread until east runs again
        late = socket.create_connection((lab.addresses["east"], 16379), timeout=30)
        late.sendall(f"*3\r\n$3\r\nSET\r\n${len(KEY)}\r\n{KEY}\r\n$4\r\ndark\r\n".encode())
        # Sentinel's failover: west promoted, dr following it, the two Sentinels agreeing
        assert wait_until(lambda: redis_role(lab, "west") == "master", 120, 0.2)
        assert wait_until(
            lambda: _role_line(lab, "dr").startswith(f"slave {west} 16379 connected"), 120, 0.2
        ), _role_line(lab, "dr")
        assert wait_until(lambda: _lit_sentinels(lab) == [f"{west}:16379"] * 2, 120, 0.2)
        lab.lab.chaos_up("east")
        back = time.monotonic()
        reply = late.recv(200).decode()
        after = _cli(lab, "east", "SET", KEY, "back")
        still_master = redis_role(lab, "east") == "master"
        since_back = time.monotonic() - back
    finally:
        if late is not None:
            late.close()
        lab.lab.chaos_up("east")
    try:
        assert reply.startswith("-NOREPLICAS"), reply
        assert after.startswith("NOREPLICAS"), after
        # the writes were refused by an old master still a master, before Sentinel demoted it
        assert still_master, f"east was demoted already, {since_back:.1f} s after its return"
        assert wait_until(
            lambda: _role_line(lab, "east").startswith(f"slave {west} 16379 connected"), 120, 0.5
        ), _role_line(lab, "east")
        assert _cli(lab, "west", "EXISTS", KEY) == "0"
        assert _cli(lab, "east", "EXISTS", KEY) == "0"
        print(f"east refused both writes, demoted later (checked {since_back:.1f} s after return)")
    finally:
        home_again(lab, tmp_path)
