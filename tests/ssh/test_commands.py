"""Running commands through the pool against a real sshd, on both backends."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from console.ssh import OutputLine, SshPool, SshTarget
from console.ssh.output import MAX_LINE_CHARS
from tests.ssh.conftest import eventually, remote_pids
from tests.support.sshd import TestSshd, requires_sshd

pytestmark = [requires_sshd, pytest.mark.sshd, pytest.mark.timeout(180)]


def _marker(base: int) -> str:
    """A sleep duration unique to this test process, to find its remote process."""
    return f"{base}{os.getpid() % 1000:03d}"


async def test_stdout_stderr_and_exit_status(pool: SshPool, target: SshTarget) -> None:
    result = await pool.run(target, "echo out; echo $DRLAB_SITE; echo err >&2; exit 7")
    assert result.host == "db-east-1"
    assert result.exit_status == 7
    assert result.signal is None
    assert result.stdout == ("out", "east")
    assert result.stderr == ("err",)
    assert not result.truncated and not result.timed_out and not result.reconnected
    assert result.duration > 0
    assert not result.ok
    assert (await pool.run(target, "true")).ok


async def test_signal_death_is_reported(pool: SshPool, target: SshTarget) -> None:
    result = await pool.run(target, "echo before; kill -KILL $$")
    assert result.exit_status is None
    assert result.signal == "KILL"
    assert result.stdout == ("before",)


async def test_stdin_is_sent_then_eof(pool: SshPool, target: SshTarget) -> None:
    result = await pool.run(target, "cat; echo done", stdin="a\nb\n")
    assert result.stdout == ("a", "b", "done")
    # without stdin the command sees EOF at once instead of hanging
    assert (await pool.run(target, "cat; echo done", timeout=60)).stdout == ("done",)


async def test_output_streams_in_order(pool: SshPool, target: SshTarget) -> None:
    lines: list[OutputLine] = []
    result = await pool.run(
        target,
        "echo 1; sleep 0.2; echo 2 >&2; sleep 0.2; echo 3; sleep 0.2; printf tail",
        on_line=lines.append,
    )
    assert [(ln.stream, ln.text) for ln in lines] == [
        ("stdout", "1"),
        ("stderr", "2"),
        ("stdout", "3"),
        ("stdout", "tail"),
    ]
    assert all(ln.host == "db-east-1" for ln in lines)
    assert [ln.ts for ln in lines] == sorted(ln.ts for ln in lines)
    assert result.stdout == ("1", "3", "tail")


async def test_lines_arrive_while_the_command_runs(
    pool: SshPool, target: SshTarget, sshd: TestSshd
) -> None:
    """The remote command waits for a file the test creates only after seeing line 1.

    If output were delivered only at the end, the command would wait until its timeout.
    """
    flag = sshd.keys.directory / f"flag-{target.backend}"
    seen: list[str] = []

    def on_line(line: OutputLine) -> None:
        seen.append(line.text)
        if line.text == "first":
            flag.touch()

    result = await pool.run(
        target,
        f"echo first; while [ ! -e {flag} ]; do sleep 0.05; done; echo second",
        on_line=on_line,
        timeout=60,
    )
    assert not result.timed_out
    assert seen == ["first", "second"]


async def test_output_cap_keeps_the_last_lines(pool: SshPool, target: SshTarget) -> None:
    count = 0

    def on_line(line: OutputLine) -> None:
        nonlocal count
        count += 1

    result = await pool.run(target, "seq 1 5000; seq 1 30 >&2", max_lines=100, on_line=on_line)
    assert count == 5030  # every line was streamed
    assert result.stdout == tuple(str(i) for i in range(4901, 5001))
    assert result.stderr == tuple(str(i) for i in range(1, 31))
    assert result.truncated
    small = await pool.run(target, "seq 1 100", max_lines=100)
    assert len(small.stdout) == 100 and not small.truncated


async def test_endless_line_is_delivered_in_bounded_pieces(
    pool: SshPool, target: SshTarget
) -> None:
    size = MAX_LINE_CHARS * 2 + 10
    result = await pool.run(target, f"head -c {size} /dev/zero | tr '\\0' a; echo; echo end")
    assert [len(x) for x in result.stdout] == [MAX_LINE_CHARS, MAX_LINE_CHARS, 10, 3]


async def test_command_timeout_stops_the_remote_command(
    pool: SshPool, target: SshTarget, sshd: TestSshd, leftovers: list[str]
) -> None:
    marker = _marker(31)
    leftovers.append(f"^sleep {marker}$")
    started = time.monotonic()
    result = await pool.run(target, f"echo a; sleep {marker}; echo b", timeout=1.0)
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert result.stdout == ("a",)
    assert result.exit_status is None
    assert result.signal == "TERM"
    assert elapsed < 30, elapsed
    await eventually(
        lambda: remote_pids(f"sleep {marker}", sshd.user.name) == [],
        30,
        "the timed-out remote sleep to be gone",
    )
    # the connection is still good for the next command
    after = await pool.run(target, "echo ok")
    assert after.stdout == ("ok",) and not after.reconnected


async def test_one_connection_serves_many_commands(
    pool: SshPool, target: SshTarget, sshd: TestSshd
) -> None:
    sequential = [await pool.run(target, "echo $SSH_CONNECTION") for _ in range(5)]
    concurrent = await asyncio.gather(
        *(pool.run(target, "echo $SSH_CONNECTION; sleep 0.2") for _ in range(8))
    )
    seen = {r.stdout for r in sequential + list(concurrent)}
    assert len(seen) == 1, seen  # one source port: one TCP connection
    assert len(sshd.session_pids()) == 1  # one per-connection sshd child


async def test_concurrency_bound_holds(target: SshTarget, sshd: TestSshd) -> None:
    """Each command registers itself in a directory on the host and counts who is there."""
    room = sshd.keys.directory / f"room-{target.backend}"
    room.mkdir()
    os.chown(room, sshd.user.uid, sshd.user.gid)
    script = f"touch {room}/$$; ls {room} | wc -l; sleep 1; rm {room}/$$"
    async with SshPool(max_concurrency=3) as pool:
        results = await asyncio.gather(*(pool.run(target, script) for _ in range(9)))
    peaks = [int(r.stdout[0]) for r in results]
    assert all(r.exit_status == 0 for r in results)
    assert max(peaks) <= 3, peaks
    assert max(peaks) >= 2, peaks  # commands did run side by side


async def test_sessions_per_connection_stay_under_max_sessions(backend: str) -> None:
    from tests.ssh.conftest import make_target
    from tests.support.sshd import running_sshd

    with running_sshd(address="127.0.50.4", options={"MaxSessions": "2"}) as host:
        target = make_target(host, backend)
        async with SshPool(max_sessions_per_connection=2) as pool:
            results = await asyncio.gather(
                *(pool.run(target, "sleep 0.3; echo ok") for _ in range(6))
            )
        assert [r.stdout for r in results] == [("ok",)] * 6


async def test_more_sessions_than_the_server_allows_is_a_clear_error(backend: str) -> None:
    from console.ssh import SessionRefused
    from tests.ssh.conftest import make_target
    from tests.support.sshd import running_sshd

    with running_sshd(address="127.0.50.4", options={"MaxSessions": "2"}) as host:
        target = make_target(host, backend)
        async with SshPool(max_sessions_per_connection=6) as pool:
            outcomes = await asyncio.gather(
                *(pool.run(target, "sleep 1; echo ok") for _ in range(6)),
                return_exceptions=True,
            )
        refused = [o for o in outcomes if isinstance(o, SessionRefused)]
        assert refused, outcomes
        assert "db-east-1" in str(refused[0]) and "MaxSessions" in str(refused[0])


async def test_on_line_errors_surface_after_the_command(pool: SshPool, target: SshTarget) -> None:
    def broken(line: OutputLine) -> None:
        raise RuntimeError("consumer broke")

    with pytest.raises(RuntimeError, match="consumer broke"):
        await pool.run(target, "echo 1; echo 2", on_line=broken)
    assert (await pool.run(target, "echo fine")).stdout == ("fine",)


async def test_unknown_backend_is_refused(pool: SshPool, target: SshTarget) -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="unknown ssh backend"):
        await pool.run(replace(target, backend="telnet"), "true")  # type: ignore[arg-type]
