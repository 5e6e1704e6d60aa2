"""Faults made for real against a real sshd: keys, ports, hangs, drops, cancellation."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from console.errors import HostKeyError
from console.lab.sshd import generate_keypair
from console.ssh import (
    AuthFailed,
    ConnectionLost,
    ConnectRefused,
    ConnectTimeout,
    IdentityError,
    OutputLine,
    SshPool,
    SshTarget,
)
from tests.ssh.conftest import eventually, remote_pids
from tests.support.sshd import TestSshd, free_port, requires_sshd

pytestmark = [requires_sshd, pytest.mark.sshd, pytest.mark.timeout(180)]


def _marker(base: int) -> str:
    return f"{base}{os.getpid() % 1000:03d}"


# -- host keys -------------------------------------------------------------------------------


async def test_unknown_host_key_is_refused_with_type_and_fingerprint(
    target: SshTarget, sshd: TestSshd
) -> None:
    empty = sshd.keys.directory / "empty_known_hosts"
    empty.touch()
    accepted: list[tuple[str, str, str]] = []
    async with SshPool(on_host_key_accepted=lambda *a: accepted.append(a)) as pool:
        with pytest.raises(HostKeyError) as info:
            await pool.run(replace(target, known_hosts=str(empty)), "true")
    err = info.value
    assert err.host == "db-east-1"
    assert err.reason == "unknown"
    assert err.key_type == "ssh-ed25519"
    assert err.fingerprint == sshd.fingerprint()
    message = str(err)
    assert "db-east-1" in message and sshd.fingerprint() in message and "unknown" in message
    assert empty.read_text() == ""  # nothing written
    assert accepted == []


async def test_missing_known_hosts_file_means_unknown(target: SshTarget, sshd: TestSshd) -> None:
    missing = sshd.keys.directory / "no" / "such_file"
    async with SshPool() as pool:
        with pytest.raises(HostKeyError, match="unknown"):
            await pool.run(replace(target, known_hosts=str(missing)), "true")
    assert not missing.exists()


async def test_hashed_known_hosts_entries_are_trusted(target: SshTarget, sshd: TestSshd) -> None:
    hashed = sshd.keys.directory / "hashed_known_hosts"
    shutil.copy(sshd.known_hosts, hashed)
    await asyncio.to_thread(
        subprocess.run, ["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, timeout=30
    )
    text = hashed.read_text()
    assert text.startswith("|1|") and sshd.address not in text
    async with SshPool() as pool:
        result = await pool.run(replace(target, known_hosts=str(hashed)), "echo ok")
    assert result.stdout == ("ok",)


async def test_accept_new_appends_and_reports(target: SshTarget, sshd: TestSshd) -> None:
    fresh = sshd.keys.directory / f"fresh_known_hosts_{target.backend}"
    accepted: list[tuple[str, str, str]] = []
    t = replace(target, known_hosts=str(fresh))
    async with SshPool(
        accept_new_host_keys=True, on_host_key_accepted=lambda *a: accepted.append(a)
    ) as pool:
        assert (await pool.run(t, "echo ok")).stdout == ("ok",)
    assert accepted == [("db-east-1", "ssh-ed25519", sshd.fingerprint())]
    line = fresh.read_text()
    assert line == sshd.handle.known_hosts_line + "\n"
    # from now on the key is simply trusted, without accept-new
    async with SshPool() as strict:
        assert (await strict.run(t, "echo again")).stdout == ("again",)


async def test_changed_key_is_refused_even_with_accept_new(
    target: SshTarget, sshd: TestSshd
) -> None:
    other = generate_keypair(sshd.keys.directory / "other_host_key", sshd.user)
    other_pub = other.with_name(other.name + ".pub").read_text().split()
    forged = sshd.keys.directory / f"forged_known_hosts_{target.backend}"
    forged.write_text(f"[{sshd.address}]:{sshd.port} {other_pub[0]} {other_pub[1]}\n")
    before = forged.read_text()
    accepted: list[tuple[str, str, str]] = []
    async with SshPool(
        accept_new_host_keys=True, on_host_key_accepted=lambda *a: accepted.append(a)
    ) as pool:
        with pytest.raises(HostKeyError) as info:
            await pool.run(replace(target, known_hosts=str(forged)), "true")
    assert info.value.reason == "changed"
    assert info.value.fingerprint == sshd.fingerprint()
    assert "db-east-1" in str(info.value) and "changed" in str(info.value)
    assert forged.read_text() == before
    assert accepted == []


# -- logins and ports ------------------------------------------------------------------------


async def test_wrong_user_key_is_auth_failed(target: SshTarget, sshd: TestSshd) -> None:
    stranger = generate_keypair(sshd.keys.directory / "stranger", sshd.user)
    async with SshPool() as pool:
        with pytest.raises(AuthFailed) as info:
            await pool.run(replace(target, identity_file=str(stranger)), "true")
    message = str(info.value)
    assert message.startswith("db-east-1: ")
    assert sshd.user.name in message and str(stranger) in message and "authorized_keys" in message


async def test_missing_identity_file_is_a_clear_error(target: SshTarget, sshd: TestSshd) -> None:
    async with SshPool() as pool:
        with pytest.raises(IdentityError, match=r"db-east-1: identity file .*nope"):
            await pool.run(replace(target, identity_file=str(sshd.keys.directory / "nope")), "true")


async def test_encrypted_identity_file_points_to_the_agent(
    target: SshTarget, sshd: TestSshd
) -> None:
    locked = sshd.keys.directory / "locked"
    await asyncio.to_thread(
        subprocess.run,
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)],
        check=True,
        timeout=30,
    )
    async with SshPool() as pool:
        with pytest.raises(IdentityError, match=r"encrypted.*ssh-agent"):
            await pool.run(replace(target, identity_file=str(locked)), "true")


def _start_agent(sock: Path) -> subprocess.Popen[bytes]:
    """A throwaway ssh-agent listening on ``sock``."""
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not sock.exists():
        if time.monotonic() > deadline:
            agent.kill()
            raise TimeoutError("ssh-agent did not start")
        time.sleep(0.02)
    return agent


async def test_ssh_agent_keys_are_used_without_identity_file(
    target: SshTarget, sshd: TestSshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = sshd.keys.directory / f"agent-{target.backend}.sock"
    agent = await asyncio.to_thread(_start_agent, sock)
    try:
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        await asyncio.to_thread(
            subprocess.run, ["ssh-add", "-q", str(sshd.identity)], env=env, check=True, timeout=30
        )
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        monkeypatch.setenv("HOME", str(sshd.keys.directory / "empty-home"))  # no default keys
        async with SshPool() as pool:
            result = await pool.run(replace(target, identity_file=None), "echo via-agent")
        assert result.stdout == ("via-agent",)
        # and with the agent emptied, the same login is refused
        await asyncio.to_thread(
            subprocess.run, ["ssh-add", "-q", "-D"], env=env, check=True, timeout=30
        )
        async with SshPool() as pool:
            with pytest.raises(AuthFailed):
                await pool.run(replace(target, identity_file=None), "true")
    finally:
        agent.kill()
        agent.wait(timeout=10)


async def test_closed_port_is_connect_refused(target: SshTarget) -> None:
    closed = free_port(target.address)
    async with SshPool() as pool:
        started = time.monotonic()
        with pytest.raises(ConnectRefused) as info:
            await pool.run(replace(target, port=closed), "true")
    assert time.monotonic() - started < 10
    assert f"{target.address}:{closed}" in str(info.value) and "db-east-1" in str(info.value)


async def test_stopped_sshd_fails_within_connect_timeout(target: SshTarget, sshd: TestSshd) -> None:
    sshd.pause()
    try:
        async with SshPool() as pool:
            started = time.monotonic()
            with pytest.raises(ConnectTimeout) as info:
                await pool.run(replace(target, connect_timeout=2.0), "true")
            elapsed = time.monotonic() - started
    finally:
        sshd.resume()
    assert 1.5 <= elapsed < 2.0 + 8, elapsed  # wide margin for a loaded machine
    assert "db-east-1" in str(info.value) and "within 2s" in str(info.value)


# -- drops, reconnects, cancellation ---------------------------------------------------------


async def test_killed_connection_mid_command_then_one_reconnect(
    target: SshTarget, sshd: TestSshd, leftovers: list[str]
) -> None:
    marker = _marker(19)
    leftovers.append(f"^sleep {marker}$")
    started = asyncio.Event()
    reconnects: list[tuple[str, str]] = []

    def on_line(line: OutputLine) -> None:
        if line.text == "started":
            started.set()

    async with SshPool(on_reconnect=lambda h, r: reconnects.append((h, r))) as pool:
        task = asyncio.create_task(
            pool.run(target, f"echo started; sleep {marker}", on_line=on_line, timeout=120)
        )
        await asyncio.wait_for(started.wait(), 60)
        assert sshd.kill_sessions() == 1
        with pytest.raises(ConnectionLost) as info:
            await asyncio.wait_for(task, 60)
        message = str(info.value)
        assert message.startswith("db-east-1: ") and "may or may not have completed" in message
        assert info.value.partial is not None
        assert info.value.partial.stdout == ("started",)
        assert reconnects == []

        result = await pool.run(target, "echo back")
        assert result.stdout == ("back",)
        assert result.reconnected
        assert len(reconnects) == 1 and reconnects[0][0] == "db-east-1"
        assert reconnects[0][1]  # a reason is given
        again = await pool.run(target, "echo steady")
        assert not again.reconnected and len(reconnects) == 1
    # a dropped connection does not stop the remote command (as after a real network drop):
    # the ``leftovers`` fixture kills it


async def test_idle_connection_dropped_by_the_server_reconnects_and_says_so(
    target: SshTarget, sshd: TestSshd
) -> None:
    reconnects: list[tuple[str, str]] = []
    async with SshPool(on_reconnect=lambda h, r: reconnects.append((h, r))) as pool:
        first = await pool.run(target, "echo $SSH_CONNECTION")
        sshd.kill_sessions()
        await eventually(lambda: sshd.session_pids() == [], 30, "the session to go")
        second = await pool.run(target, "echo $SSH_CONNECTION")
    assert second.reconnected
    assert first.stdout != second.stdout  # a new TCP connection
    assert [h for h, _ in reconnects] == ["db-east-1"]


async def test_reconnect_is_tried_once_and_its_failure_reported(
    target: SshTarget, sshd: TestSshd
) -> None:
    """A drop while the host is dark: one reconnect attempt, a clear timeout, no hang."""
    reconnects: list[tuple[str, str]] = []
    dark = replace(target, connect_timeout=2.0)
    async with SshPool(on_reconnect=lambda h, r: reconnects.append((h, r))) as pool:
        await pool.run(dark, "true")
        sshd.pause()
        try:
            sshd.kill_sessions()
            await eventually(lambda: sshd.session_pids() == [], 30, "the session to go")
            started = time.monotonic()
            with pytest.raises(ConnectTimeout):
                await pool.run(dark, "true")
            assert time.monotonic() - started < 2.0 + 8
            assert reconnects == []  # nothing re-established yet, so nothing claimed
        finally:
            sshd.resume()
        result = await pool.run(dark, "echo ok")
    assert result.reconnected and result.stdout == ("ok",)
    assert [h for h, _ in reconnects] == ["db-east-1"]


async def test_cancelled_command_leaves_no_remote_process(
    target: SshTarget, sshd: TestSshd, leftovers: list[str]
) -> None:
    marker = _marker(21)
    leftovers.append(f"^sleep {marker}$")
    started = asyncio.Event()
    async with SshPool() as pool:
        task = asyncio.create_task(
            pool.run(
                target,
                f"echo started; sleep {marker}; echo after",
                on_line=lambda line: started.set(),
            )
        )
        await asyncio.wait_for(started.wait(), 60)
        await eventually(
            lambda: len(remote_pids(f"^sleep {marker}$", sshd.user.name)) == 1,
            30,
            "the remote sleep to start",
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await eventually(
            lambda: remote_pids(f"^sleep {marker}$", sshd.user.name) == [],
            30,
            "the cancelled remote sleep to be gone",
        )
        # the shell that ran it is gone too (the whole process group was signalled)
        await eventually(
            lambda: remote_pids(f"sleep {marker}; echo after", sshd.user.name) == [],
            30,
            "the remote shell to go",
        )
        # and the pool still works
        assert (await pool.run(target, "echo alive")).stdout == ("alive",)


async def test_cancel_during_close_of_pool_still_stops_the_command(
    target: SshTarget, sshd: TestSshd, leftovers: list[str]
) -> None:
    """Ctrl-C in the headless runner: the task is cancelled and the pool closed right away."""
    marker = _marker(23)
    leftovers.append(f"^sleep {marker}$")
    started = asyncio.Event()
    pool = SshPool()
    task = asyncio.create_task(
        pool.run(target, f"echo started; sleep {marker}", on_line=lambda line: started.set())
    )
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await pool.close()
    await eventually(
        lambda: remote_pids(f"^sleep {marker}$", sshd.user.name) == [],
        30,
        "the remote sleep to be gone after close",
    )


async def test_closing_the_pool_stops_commands_still_running(
    target: SshTarget, sshd: TestSshd, leftovers: list[str]
) -> None:
    marker = _marker(25)
    leftovers.append(f"^sleep {marker}$")
    started = asyncio.Event()
    pool = SshPool()
    task = asyncio.create_task(
        pool.run(target, f"echo started; sleep {marker}", on_line=lambda line: started.set())
    )
    await asyncio.wait_for(started.wait(), 60)
    await pool.close()
    result = await asyncio.wait_for(task, 30)
    assert result.signal == "TERM" and not result.timed_out
    await eventually(
        lambda: remote_pids(f"^sleep {marker}$", sshd.user.name) == [],
        30,
        "the remote sleep to be gone after close",
    )


async def test_connection_dead_but_not_yet_noticed_is_reopened_before_sending(
    target: SshTarget, sshd: TestSshd
) -> None:
    """The drop happens right before the next command, with no chance to notice it first.

    With asyncssh the session open then fails on the dead connection (the command was never
    sent), so the pool re-opens the connection once and runs the command.
    """
    reconnects: list[tuple[str, str]] = []
    async with SshPool(on_reconnect=lambda h, r: reconnects.append((h, r))) as pool:
        first = await pool.run(target, "echo $SSH_CONNECTION")
        assert sshd.kill_sessions() == 1  # no await between the kill and the next run
        second = await pool.run(target, "echo $SSH_CONNECTION")
    assert second.reconnected and second.exit_status == 0
    assert second.stdout != first.stdout
    assert [h for h, _ in reconnects] == ["db-east-1"]


async def test_host_going_dark_mid_use_times_out_then_fails_fast_then_recovers(
    target: SshTarget, sshd: TestSshd
) -> None:
    """A site taken dark (every sshd process stopped) while its connection is open."""
    reconnects: list[tuple[str, str]] = []
    dark = replace(target, connect_timeout=2.0)
    async with SshPool(stop_grace=0.5, on_reconnect=lambda h, r: reconnects.append((h, r))) as pool:
        await pool.run(dark, "true")
        sshd.pause(include_sessions=True)
        try:
            hung = await pool.run(dark, "echo never", timeout=2.0)
            assert hung.timed_out and hung.stdout == () and hung.exit_status is None
            # the connection that stopped answering was dropped: the next command does not
            # wait on it, it tries one fresh connection and fails within connect_timeout
            started = time.monotonic()
            with pytest.raises(ConnectTimeout):
                await pool.run(dark, "true", timeout=2.0)
            assert time.monotonic() - started < 2.0 + 8
        finally:
            sshd.resume()
        back = await pool.run(dark, "echo back")
    assert back.stdout == ("back",) and back.reconnected
    assert [h for h, _ in reconnects] == ["db-east-1"]
    assert "stopped answering" in reconnects[0][1]
