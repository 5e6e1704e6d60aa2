"""ProxyJump: reaching a host through another one, on both backends, proven on the wire."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from console.lab.osuser import ensure_lab_user
from console.lab.sshd import descendant_pids
from console.ssh import ConnectRefused, SshPool
from tests.ssh.conftest import make_target
from tests.support.sshd import (
    SshdKeys,
    TestSshd,
    free_port,
    make_keys,
    make_workdir,
    requires_sshd,
    running_sshd,
)

pytestmark = [requires_sshd, pytest.mark.sshd, pytest.mark.timeout(180)]

JUMP_ADDRESS = "127.0.50.2"
INNER_ADDRESS = "127.0.50.3"


@pytest.fixture
def keys() -> SshdKeys:
    user = ensure_lab_user()
    return make_keys(make_workdir(user), user)


@pytest.fixture
def jump(keys: SshdKeys) -> Iterator[TestSshd]:
    with running_sshd(address=JUMP_ADDRESS, keys=keys, name="bastion") as host:
        yield host


@pytest.fixture
def inner(keys: SshdKeys) -> Iterator[TestSshd]:
    with running_sshd(
        address=INNER_ADDRESS, keys=keys, name="inner", env={"DRLAB_SITE": "inner"}
    ) as host:
        yield host


def _socket_owner(local_port: int, peer: str) -> int:
    """Pid of the process holding the TCP socket from ``local_port`` to ``peer``."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{local_port} and dst {peer} )"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    pids = {int(p) for p in re.findall(r"pid=(\d+)", out)}
    assert len(pids) == 1, out
    return pids.pop()


async def test_commands_reach_the_inner_host_through_the_jump_host(
    backend: str, jump: TestSshd, inner: TestSshd
) -> None:
    bastion = make_target(jump, backend, name="bastion")
    target = make_target(inner, backend, name="db-inner", jump=bastion)
    async with SshPool() as pool:
        results = [await pool.run(target, "echo $DRLAB_SITE $SSH_CONNECTION") for _ in range(3)]
        site, _src_addr, src_port, dst_addr, _ = results[0].stdout[0].split()
        assert site == "inner" and dst_addr == INNER_ADDRESS
        assert {r.stdout for r in results} == {results[0].stdout}  # one tunnelled connection
        owner = await asyncio.to_thread(_socket_owner, int(src_port), INNER_ADDRESS)
        # the TCP connection into the inner host belongs to the bastion's sshd, not to us
        assert owner in descendant_pids(jump.pid)
        assert owner != os.getpid()
        assert len(jump.session_pids()) == 1 and len(inner.session_pids()) == 1
        # the jump connection is reused for commands on the bastion itself
        on_bastion = await pool.run(bastion, "echo $SSH_CONNECTION")
        assert len(jump.session_pids()) == 1
        assert on_bastion.exit_status == 0


async def test_a_direct_connection_is_our_own_socket(backend: str, inner: TestSshd) -> None:
    """The contrast that makes the jump test meaningful."""
    async with SshPool() as pool:
        result = await pool.run(make_target(inner, backend), "echo $SSH_CONNECTION")
        src_port = int(result.stdout[0].split()[1])
        owner = await asyncio.to_thread(_socket_owner, src_port, INNER_ADDRESS)
    assert owner == os.getpid()


async def test_closed_port_behind_the_jump_host_names_it(backend: str, jump: TestSshd) -> None:
    bastion = make_target(jump, backend, name="bastion")
    closed = free_port(INNER_ADDRESS)
    target = make_target(jump, backend, name="db-gone", jump=bastion)
    from dataclasses import replace

    async with SshPool() as pool:
        with pytest.raises(ConnectRefused) as info:
            await pool.run(replace(target, address=INNER_ADDRESS, port=closed), "true")
    message = str(info.value)
    assert message.startswith("db-gone: ") and "bastion" in message
    assert f"{INNER_ADDRESS}:{closed}" in message
