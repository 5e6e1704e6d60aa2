"""The running lab, for real: inventory, replication over SSH, idempotent up, chaos, latency.

One lab serves the whole module (the session fixture ``lab``). Every write goes through a real
OpenSSH client with the generated key and strict host-key checking against the written
known_hosts, and is read back on the other site with that server's own client, as a drill
playbook would. Tests that change the lab put it back in a ``finally``.
"""

from __future__ import annotations

import secrets
import shlex
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.lab.lab import Lab
from console.lab.procs import ProcState, is_listening
from console.model.inventory import load_inventory
from tests.support.lab import RunningLab, requires_lab

pytestmark = [requires_lab, pytest.mark.lab, pytest.mark.timeout(600)]

BANNER_WAIT = 2.0
"""Seconds a dark site gets to answer; it must not."""


def _eventually(check: Callable[[], bool], timeout: float = 60, interval: float = 0.1) -> float:
    """Poll ``check`` until true; returns the seconds it took; fails the test on timeout."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - began


def _inv(lab: RunningLab) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(lab.inventory.read_text())
    return data


def _member(lab: RunningLab, service: str, host: str) -> dict[str, Any]:
    member: dict[str, Any] = _inv(lab)["services"][service]["members"][host]
    return member


# ------------------------------------------------------------------------- inventory


def test_up_writes_inventory_and_known_hosts(lab: RunningLab) -> None:
    data = _inv(lab)
    assert data["ssh"]["user"] == lab.user
    ident = Path(data["ssh"]["identity_file"])
    kh = Path(data["ssh"]["known_hosts"])
    assert ident.is_absolute() and kh.is_absolute()
    assert kh == lab.inventory.with_name("lab_known_hosts") == lab.known_hosts
    assert stat.S_IMODE(ident.stat().st_mode) == 0o600
    assert ident.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    lines = kh.read_text().splitlines()
    assert [line.split()[0] for line in lines] == [
        f"[{lab.addresses[s]}]:2222" for s in ("east", "west", "dr")
    ]
    assert all(line.split()[1] == "ssh-ed25519" for line in lines)
    assert len({line.split()[2] for line in lines}) == 3  # one host key per site
    hosts = {h: s["hosts"][h]["address"] for s in data["sites"].values() for h in s["hosts"]}
    assert hosts == {f"lab-{s}": a for s, a in lab.addresses.items()}
    loaded = load_inventory(lab.inventory)
    assert loaded.services["catalog-db"].expected_primary == "lab-east"
    for service in ("orders-db", "catalog-db", "sessions"):
        for host in ("lab-east", "lab-west"):
            for value in _member(lab, service, host)["vars"].values():
                if isinstance(value, str) and value.startswith("/"):
                    assert Path(value.split()[0]).exists(), value


def test_ssh_checks_host_keys_strictly(lab: RunningLab, tmp_path: Path) -> None:
    assert lab.ssh("dr", "echo $DRLAB_SITE").stdout.strip() == "dr"
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    argv = lab.ssh_argv("east", "true")
    argv[argv.index(f"UserKnownHostsFile={lab.known_hosts}")] = f"UserKnownHostsFile={empty}"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 255
    assert "Host key verification failed" in done.stderr


def test_each_site_answers_as_itself(lab: RunningLab) -> None:
    for site in ("east", "west", "dr"):
        out = lab.ssh(site, "echo $DRLAB_SITE $(id -un)").stdout.split()
        assert out == [site, lab.user]
    # PGHOST/PGPORT/PGUSER from sshd's SetEnv: a bare psql reaches the site's own server,
    # and pg_ctl is on PATH, as on a real database host.
    assert lab.ssh("west", "psql -XAtc 'SELECT pg_is_in_recovery()'").stdout.strip() == "t"
    assert lab.ssh("east", "psql -XAtc 'SELECT pg_is_in_recovery()'").stdout.strip() == "f"
    assert "pg_ctl (PostgreSQL) 15" in lab.ssh("east", "pg_ctl --version").stdout


# ----------------------------------------------------------------------- replication


def _psql(lab: RunningLab, site: str, sql: str) -> str:
    m = _member(lab, "orders-db", f"lab-{site}")
    cmd = (
        f"psql -X -v ON_ERROR_STOP=1 -h {lab.addresses[site]} -p {m['port']} -U postgres "
        f"-d app -Atc {shlex.quote(sql)}"
    )
    return lab.ssh(site, cmd).stdout.strip()


def _maria(lab: RunningLab, site: str, sql: str) -> str:
    m = _member(lab, "catalog-db", f"lab-{site}")
    cmd = (
        f"mariadb --no-defaults -N -B -h {lab.addresses[site]} -P {m['port']} -u {lab.user} "
        f"-e {shlex.quote(sql)}"
    )
    return lab.ssh(site, cmd).stdout.strip()


def _redis(lab: RunningLab, site: str, *args: str) -> str:
    m = _member(lab, "sessions", f"lab-{site}")
    cmd = shlex.join(["redis-cli", "-h", lab.addresses[site], "-p", str(m["port"]), *args])
    return lab.ssh(site, cmd).stdout.strip()


def test_postgres_streams_east_to_west(lab: RunningLab) -> None:
    assert _psql(lab, "east", "SELECT pg_is_in_recovery()") == "f"
    assert _psql(lab, "west", "SELECT pg_is_in_recovery()") == "t"
    assert _psql(lab, "west", "SELECT count(*) FROM pgbench_accounts") == "100000"
    slot = _psql(lab, "east", "SELECT slot_name || ':' || active FROM pg_replication_slots")
    assert slot == "west:true"
    token = secrets.token_hex(8)
    _psql(
        lab, "east", f"INSERT INTO app_events (site, kind, payload) VALUES ('east', 't', '{token}')"
    )
    query = f"SELECT count(*) FROM app_events WHERE payload = '{token}'"
    _eventually(lambda: _psql(lab, "west", query) == "1")
    checksums = _psql(lab, "east", "SHOW data_checksums") + _psql(lab, "east", "SHOW wal_log_hints")
    assert checksums == "onon"


def test_mariadb_replicates_east_to_west_with_gtid(lab: RunningLab) -> None:
    assert _maria(lab, "west", "SELECT @@global.read_only") == "1"
    assert _maria(lab, "east", "SELECT @@global.read_only") == "0"
    assert _maria(lab, "west", "SELECT count(*) FROM app.customers") == "10000"
    status = _maria(lab, "west", "SHOW SLAVE STATUS")
    assert "Slave_Pos" in status
    token = secrets.randbelow(10**9) + 100_000
    _maria(
        lab,
        "east",
        "INSERT INTO app.customers (id, name, email, site, balance) "
        f"VALUES ({token}, 't', 't@example.test', 'east', 1)",
    )
    query = f"SELECT count(*) FROM app.customers WHERE id = {token}"
    _eventually(lambda: _maria(lab, "west", query) == "1")
    assert _maria(lab, "east", "SELECT @@gtid_binlog_pos") == _maria(
        lab, "west", "SELECT @@gtid_slave_pos"
    )


def test_redis_replicates_east_to_west(lab: RunningLab) -> None:
    assert int(_redis(lab, "west", "DBSIZE")) >= 10000
    info = _redis(lab, "west", "INFO", "replication")
    assert "role:slave" in info and "master_link_status:up" in info
    assert f"master_host:{lab.addresses['east']}" in info
    token = secrets.token_hex(8)
    _redis(lab, "east", "SET", f"t:{token}", token)
    _eventually(lambda: _redis(lab, "west", "GET", f"t:{token}") == token)
    primary = _redis(lab, "east", "INFO", "replication")
    assert f"ip={lab.addresses['west']},port=16379" in primary  # replica-announce-ip


def test_inventory_commands_restart_the_replicas(lab: RunningLab) -> None:
    """stop_cmd / start_cmd from the member vars, run over SSH as a playbook would."""
    before = {s.record.name: s.pid for s in lab.lab.status() if s.record.site == "west"}
    for service in ("orders-db", "catalog-db", "sessions"):
        v = _member(lab, service, "lab-west")["vars"]
        port = _member(lab, service, "lab-west")["port"]
        lab.ssh("west", v["stop_cmd"])
        _eventually(lambda p=port: not is_listening(lab.addresses["west"], p))
        lab.ssh("west", v["start_cmd"], timeout=180)
        _eventually(lambda p=port: is_listening(lab.addresses["west"], p))

    def restarted() -> bool:  # the new pid comes from the pid file, written after listen()
        rows = {s.record.name: s for s in lab.lab.status() if s.record.site == "west"}
        return all(
            rows[n].state is ProcState.ALIVE and rows[n].restarted and rows[n].pid != before[n]
            for n in ("postgres", "mariadb", "redis")
        )

    _eventually(restarted, timeout=30)
    _eventually(lambda: _psql(lab, "east", "SELECT count(*) FROM pg_stat_replication "
                              "WHERE state = 'streaming'") == "1")  # fmt: skip
    _eventually(lambda: "Slave_SQL_Running: Yes" in _maria_status(lab))
    _eventually(lambda: "Slave_IO_Running: Yes" in _maria_status(lab))
    assert _maria(lab, "west", "SELECT @@global.read_only") == "1"
    token = secrets.token_hex(8)
    _redis(lab, "east", "SET", f"restart:{token}", token)
    _eventually(lambda: _redis(lab, "west", "GET", f"restart:{token}") == token)


# --------------------------------------------------------------------- idempotent up


def test_second_up_is_a_no_op(lab: RunningLab) -> None:
    state_file = lab.lab.directory / "state.json"
    before = (state_file.read_bytes(), lab.inventory.read_bytes(), lab.known_hosts.read_bytes())
    pids = [s.pid for s in lab.lab.status()]
    again = Lab(lab.lab.directory, lab.net).up(lab.inventory)
    assert again.already_running
    assert again.inventory == lab.inventory
    after = (state_file.read_bytes(), lab.inventory.read_bytes(), lab.known_hosts.read_bytes())
    assert after == before
    assert [s.pid for s in lab.lab.status()] == pids


def test_cli_second_up_and_status(lab: RunningLab) -> None:
    repo = Path(__file__).resolve().parents[2]
    base = [sys.executable, "-m", "console", "lab"]
    base += ["--dir", str(lab.lab.directory)]
    up = subprocess.run(
        [*base, "up", "--net", str(lab.net), "--inventory", str(lab.inventory)],
        capture_output=True, text=True, timeout=120, cwd=repo, check=False,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    assert "already running" in up.stdout and "nothing changed" in up.stdout
    st = subprocess.run(
        [*base, "status"], capture_output=True, text=True, timeout=120, cwd=repo, check=False
    )
    assert st.returncode == 0, st.stdout + st.stderr
    rows = [line.split() for line in st.stdout.splitlines() if line.split()[:1] in (
        ["east"], ["west"], ["dr"])]  # fmt: skip
    kinds = sorted((r[0], r[1]) for r in rows)
    assert kinds == sorted(
        [(s, "sshd") for s in ("east", "west", "dr")]
        + [(s, k) for s in ("east", "west") for k in ("postgres", "mariadb", "redis")]
    )
    assert all(r[3] == "alive" and r[5] == "yes" for r in rows)


# ---------------------------------------------------------------------------- chaos


def _answers(address: str, port: int, hello: bytes | None) -> bool:
    """Whether a server answers within BANNER_WAIT after a successful TCP connect."""
    with socket.create_connection((address, port), timeout=10) as sock:  # kernel handshake
        sock.settimeout(BANNER_WAIT)
        if hello is not None:
            sock.sendall(hello)
        try:
            return bool(sock.recv(64))
        except TimeoutError:
            return False


PG_SSLREQUEST = struct.pack("!ii", 8, 80877103)
PROBES: dict[str, tuple[int, bytes | None]] = {
    "sshd": (2222, None),  # sends its banner first
    "mariadb": (13306, None),  # sends its greeting first
    "postgres": (15432, PG_SSLREQUEST),  # answers 'N' or 'S'
    "redis": (16379, b"PING\r\n"),  # answers +PONG
}


def test_chaos_down_makes_a_site_hang_and_up_resumes_it(lab: RunningLab) -> None:
    west, east = lab.addresses["west"], lab.addresses["east"]
    for port, hello in PROBES.values():
        assert _answers(west, port, hello)
    try:
        stopped = lab.lab.chaos_down("west")
        assert len(stopped) >= 4
        rows = [s for s in lab.lab.status() if s.record.site == "west"]
        assert rows and all(s.state is ProcState.STOPPED for s in rows)
        for name, (port, hello) in PROBES.items():
            assert not _answers(west, port, hello), f"{name} on dark west answered"
            assert _answers(east, port, hello), f"{name} on east stopped answering"
        assert all(s.state is ProcState.ALIVE for s in lab.lab.status() if s.record.site != "west")
    finally:
        lab.lab.chaos_up("west")
    for name, (port, hello) in PROBES.items():
        assert _answers(west, port, hello), f"{name} on west did not come back"
    assert all(s.state is ProcState.ALIVE for s in lab.lab.status())
    token = secrets.token_hex(8)
    _redis(lab, "east", "SET", f"back:{token}", token)
    _eventually(lambda: _redis(lab, "west", "GET", f"back:{token}") == token)


def test_chaos_latency_delays_the_links_into_a_site(lab: RunningLab) -> None:
    delay_ms = 300
    try:
        relays = lab.lab.chaos_latency("west", delay_ms)
        assert sorted(r.name for r in relays) == [
            "relay:catalog-db",
            "relay:orders-db",
            "relay:sessions",
        ]
        assert all(r.target and r.target.startswith(lab.addresses["east"]) for r in relays)
        _eventually(lambda: "master_link_status:up" in _redis(lab, "west", "INFO", "replication"))
        assert "master_port:26379" in _redis(lab, "west", "INFO", "replication")
        token = secrets.token_hex(8)
        began = time.monotonic()
        _redis(lab, "east", "SET", f"lat:{token}", token)
        seen = f"GET lat:{token}"
        _eventually(lambda: _redis(lab, "west", *seen.split()) == token, interval=0.02)
        assert time.monotonic() - began >= delay_ms / 1000
        _eventually(lambda: "Slave_IO_Running: Yes" in _maria_status(lab))
        _eventually(lambda: _psql(lab, "east", "SELECT count(*) FROM pg_stat_replication "
                                  "WHERE state = 'streaming'") == "1")  # fmt: skip
        token2 = secrets.token_hex(8)
        began = time.monotonic()
        _psql(
            lab,
            "east",
            f"INSERT INTO app_events (site, kind, payload) VALUES ('e', 'l', '{token2}')",
        )
        q = f"SELECT count(*) FROM app_events WHERE payload = '{token2}'"
        _eventually(lambda: _psql(lab, "west", q) == "1", interval=0.02)
        assert time.monotonic() - began >= delay_ms / 1000
    finally:
        assert lab.lab.chaos_latency("west", 0) == []
    assert not [s for s in lab.lab.status() if s.record.name.startswith("relay:")]
    _eventually(lambda: "master_link_status:up" in _redis(lab, "west", "INFO", "replication"))
    assert "master_port:16379" in _redis(lab, "west", "INFO", "replication")
    assert f"Master_Host: {lab.addresses['east']}" in _maria_status(lab)
    assert f"host={lab.addresses['east']} port=15432" in _psql(lab, "west", "SHOW primary_conninfo")


def _maria_status(lab: RunningLab) -> str:
    m = _member(lab, "catalog-db", "lab-west")
    cmd = (
        f"mariadb --no-defaults -h {lab.addresses['west']} -P {m['port']} -u {lab.user} "
        "-e 'SHOW SLAVE STATUS\\G'"
    )
    return lab.ssh("west", cmd).stdout


def test_chaos_latency_on_a_site_without_replicas_fails(lab: RunningLab) -> None:
    from console.lab.errors import LabError

    with pytest.raises(LabError, match="no replication link into east"):
        lab.lab.chaos_latency("east", 50)
