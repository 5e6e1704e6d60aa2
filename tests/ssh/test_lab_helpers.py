"""The lab's user and sshd helpers against the real OS and a real OpenSSH sshd."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from console.lab.osuser import LabUserError, ensure_lab_user, popen_as, run_as
from console.lab.sshd import SshdError, SshdSpec, descendant_pids, start_sshd, stop_sshd
from tests.support.sshd import free_port, make_keys, make_workdir, requires_sshd, running_sshd

ADDR = "127.0.50.10"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_lab_user_is_unprivileged_when_root() -> None:
    user = ensure_lab_user()
    if os.geteuid() == 0:
        assert user.name == "drlab"
        assert user.uid != 0
        # not locked: sshd with UsePAM no refuses key logins to '!' accounts
        shadow = Path("/etc/shadow").read_text().splitlines()
        field = next(ln.split(":")[1] for ln in shadow if ln.startswith("drlab:"))
        assert not field.startswith("!")
    else:
        assert user.uid == os.getuid()
    assert ensure_lab_user() == user  # idempotent


def test_run_as_runs_as_the_user_and_reports_failures() -> None:
    user = ensure_lab_user()
    out = run_as(user, ["sh", "-c", "id -u; echo $HOME"], timeout=30)
    assert out.stdout.split() == [str(user.uid), str(user.home)]
    with pytest.raises(LabUserError, match="boom"):
        run_as(user, ["sh", "-c", "echo boom >&2; exit 3"], timeout=30)
    assert run_as(user, ["sh", "-c", "exit 3"], timeout=30, check=False).returncode == 3
    assert run_as(user, ["sh", "-c", "echo $X"], timeout=30, env={"X": "y"}).stdout == "y\n"


def test_run_as_timeout_kills_the_whole_group() -> None:
    user = ensure_lab_user()
    marker = f"sleep 31{os.getpid() % 1000:03d}"
    with pytest.raises(LabUserError, match="timed out"):
        run_as(user, ["sh", "-c", f"{marker}; true"], timeout=1)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    assert left.stdout == ""


def test_popen_as_detaches_and_pid_is_the_program(tmp_path: Path) -> None:
    user = ensure_lab_user()
    work = make_workdir(user)
    log = work / "server.log"
    proc = popen_as(user, ["sh", "-c", "echo up; id -u; exec sleep 30"], log=log)
    try:
        deadline = time.monotonic() + 30
        while "\n" not in log.read_text().removeprefix("up\n") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.read_text().split() == ["up", str(user.uid)]
        assert os.getsid(proc.pid) == proc.pid  # its own session
        with open(f"/proc/{proc.pid}/status", encoding="utf-8") as fh:
            uid_line = next(ln for ln in fh if ln.startswith("Uid:"))
        assert int(uid_line.split()[1]) == user.uid  # the pid is the server, not runuser
        fds = os.listdir(f"/proc/{proc.pid}/fd")
        assert sorted(int(f) for f in fds) == [0, 1, 2]
    finally:
        proc.kill()
        proc.wait(timeout=10)


@requires_sshd
def test_sshd_serves_key_logins_with_setenv_and_stops_clean() -> None:
    with running_sshd(address=ADDR, env={"DRLAB_SITE": "east"}) as host:
        out = subprocess.run(
            host.ssh_argv("echo $DRLAB_SITE; id -un"),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert out.stdout.split() == ["east", host.user.name]
        assert host.handle.known_hosts_line.startswith(f"[{ADDR}]:{host.port} ssh-ed25519 ")
        pid = host.pid
    assert not _alive(pid)
    with socket.socket() as sock:
        assert sock.connect_ex((ADDR, host.port)) != 0  # no listener left behind


@requires_sshd
def test_stop_kills_session_children_and_paused_sshd() -> None:
    with running_sshd(address=ADDR) as host:
        client = subprocess.Popen(
            host.ssh_argv("sleep 3333"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            host.wait_sessions(1)
            deadline = time.monotonic() + 30
            while not any(
                "sleep" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
                for p in descendant_pids(host.pid)
                if Path(f"/proc/{p}").exists()
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            everything = [host.pid, *descendant_pids(host.pid)]
            host.pause()
            stop_sshd(host.handle)
            assert [p for p in everything if _alive(p)] == []
            assert client.wait(timeout=30) != 0
        finally:
            client.kill()
            client.wait(timeout=10)


@requires_sshd
def test_host_key_is_reused_across_restarts() -> None:
    user = ensure_lab_user()
    work = make_workdir(user)
    keys = make_keys(work, user)
    spec = SshdSpec(
        name="again",
        address=ADDR,
        port=free_port(ADDR),
        directory=work / "again",
        authorized_keys=keys.authorized_keys,
        user=user,
    )
    first = start_sshd(spec)
    stop_sshd(first)
    second = start_sshd(spec)
    stop_sshd(second)
    assert first.known_hosts_line == second.known_hosts_line
    assert first.pid != second.pid


@requires_sshd
def test_bad_config_and_taken_port_are_clear_errors() -> None:
    user = ensure_lab_user()
    work = make_workdir(user)
    keys = make_keys(work, user)
    bad = SshdSpec(
        name="bad",
        address=ADDR,
        port=free_port(ADDR),
        directory=work / "bad",
        authorized_keys=keys.authorized_keys,
        user=user,
        options={"NoSuchKeyword": "yes"},
    )
    with pytest.raises(SshdError, match=r"bad: sshd rejects .*NoSuchKeyword"):
        start_sshd(bad)
    with running_sshd(address=ADDR, keys=keys) as host:
        clash = SshdSpec(
            name="clash",
            address=ADDR,
            port=host.port,
            directory=work / "clash",
            authorized_keys=keys.authorized_keys,
            user=user,
        )
        with pytest.raises(SshdError, match=r"clash: .*(Address already in use|Cannot bind)"):
            start_sshd(clash, timeout=30)


@requires_sshd
def test_pause_makes_new_connections_hang_and_resume_recovers() -> None:
    with running_sshd(address=ADDR) as host:
        host.pause()
        with socket.create_connection((ADDR, host.port), timeout=5) as sock:
            sock.settimeout(1.0)
            with pytest.raises(TimeoutError):
                sock.recv(64)  # no banner from a stopped sshd
        host.resume()
        with socket.create_connection((ADDR, host.port), timeout=5) as sock:
            sock.settimeout(30)
            assert sock.recv(64).startswith(b"SSH-2.0-")


@requires_sshd
def test_one_sshd_serves_several_addresses() -> None:
    from console.lab.sshd import known_hosts_lines

    user = ensure_lab_user()
    work = make_workdir(user)
    keys = make_keys(work, user)
    extra = ("127.0.50.11", "127.0.50.12")
    port = free_port(ADDR)
    handle = start_sshd(
        SshdSpec(
            name="multi",
            address=ADDR,
            port=port,
            directory=work / "multi",
            authorized_keys=keys.authorized_keys,
            user=user,
            extra_addresses=extra,
        )
    )
    try:
        lines = known_hosts_lines(handle)
        assert [ln.split()[0] for ln in lines] == [f"[{a}]:{port}" for a in (ADDR, *extra)]
        keys.known_hosts.write_text("".join(ln + "\n" for ln in lines))
        for address in extra:
            out = subprocess.run(
                [
                    "ssh",
                    "-p",
                    str(port),
                    "-i",
                    str(keys.identity),
                    "-o",
                    f"UserKnownHostsFile={keys.known_hosts}",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    "BatchMode=yes",
                    f"{user.name}@{address}",
                    "echo $SSH_CONNECTION",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            assert out.stdout.split()[2] == address
    finally:
        stop_sshd(handle)
