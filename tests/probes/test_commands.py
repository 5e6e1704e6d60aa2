"""Probe commands and the contract every parser keeps: targets, quoting, failures."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.errors import InputError
from console.probes import Link, ProbeTarget, Role, probe_for, unreachable
from console.probes.base import Probe, error_line, missing_tool

KINDS = ("postgres", "mysql", "redis", "custom")


def target(kind: str, **kw: object) -> ProbeTarget:
    base: dict[str, object] = {
        "service": "svc",
        "site": "east",
        "host": "db-east-1",
        "kind": kind,
        "address": "127.0.60.9",
        "port": 1,
    }
    if kind == "custom":
        base["command"] = 'echo \'{"role": "primary"}\''
    base.update(kw)
    return ProbeTarget(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- targets


def test_target_validation() -> None:
    with pytest.raises(InputError, match="unknown kind 'oracle'"):
        target("oracle")
    with pytest.raises(InputError, match="not an environment variable name"):
        target("postgres", password_env="PW; rm -rf /")
    with pytest.raises(InputError, match="out of range"):
        target("redis", port=70000)
    with pytest.raises(InputError, match="needs a command"):
        target("custom", command=None)
    with pytest.raises(InputError, match="configured_delay"):
        target("mysql", configured_delay=-1.0)
    assert target("redis", port=6379).endpoint == "127.0.60.9:6379"


def test_probe_for() -> None:
    for kind in KINDS:
        probe = probe_for(kind, timeout=7, connect_timeout=3)
        assert isinstance(probe, Probe)
        assert probe.kind == kind
        assert probe.timeout == 7
    with pytest.raises(InputError, match="no probe for kind 'db2'"):
        probe_for("db2")


# ---------------------------------------------------------------------------- commands


def test_postgres_command_shape() -> None:
    t = target("postgres", user="prober", database="app", password_env="PG_PW", port=5432)
    words = shlex.split(probe_for("postgres", timeout=9, connect_timeout=4).command(t))
    assert words[:3] == ["PGCONNECT_TIMEOUT=4", "PGAPPNAME=drconsole-probe", "PGPASSWORD=${PG_PW-}"]
    assert words[3:7] == ["timeout", "-k", "2", "9"]
    assert words[7:14] == ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
    assert words[14:22] == ["-h", "127.0.60.9", "-p", "5432", "-U", "prober", "-d", "app"]
    assert words[22] == "-c"
    assert "pg_is_in_recovery()" in words[23]


def test_postgres_socket_and_defaults() -> None:
    words = shlex.split(probe_for("postgres").command(target("postgres", socket="/run/pg")))
    assert words[words.index("-h") + 1] == "/run/pg"
    assert words[words.index("-d") + 1] == "postgres"
    assert "-U" not in words
    assert not any(w.startswith("PGPASSWORD") for w in words)


def test_mysql_command_prefers_mariadb_and_no_defaults_first() -> None:
    t = target("mysql", user="drprobe", password_env="MY_PW", port=3306)
    command = probe_for("mysql").command(t)
    assert command.startswith("m=mysql; command -v mariadb >/dev/null 2>&1 && m=mariadb; ")
    assert 'MYSQL_PWD="${MY_PW-}"' in command
    words = shlex.split(command.split("; ", 2)[2])
    client = words.index("$m")
    assert words[client + 1] == "--no-defaults"
    assert words[client + 2 : client + 7] == ["--protocol=TCP", "-h", "127.0.60.9", "-P", "3306"]
    assert "SHOW REPLICA STATUS\\G" in words[-1]


def test_redis_command() -> None:
    t = target("redis", port=6379, user="monitor", password_env="R_PW")
    words = shlex.split(probe_for("redis").command(t))
    assert words == [
        "REDISCLI_AUTH=${R_PW-}",
        "timeout", "-k", "2", "10",
        "redis-cli", "-h", "127.0.60.9", "-p", "6379", "--user", "monitor",
        "--no-auth-warning", "INFO", "replication",
    ]  # fmt: skip


def test_custom_command_is_run_as_given_under_sh() -> None:
    t = target("custom", command="status --json | tail -1")
    words = shlex.split(probe_for("custom", timeout=4).command(t))
    assert words == ["timeout", "-k", "2", "4", "sh", "-c", "status --json | tail -1"]


HOSTILE = "x$(touch {p})`touch {p}`;touch {p}'\"\n"


@pytest.mark.parametrize("kind", ["postgres", "mysql", "redis"])
def test_hostile_values_cannot_run_commands(kind: str, tmp_path: Path) -> None:
    """Run the real client with hostile target values: the shell must not run them."""
    client = {"postgres": "psql", "mysql": "mariadb", "redis": "redis-cli"}[kind]
    if shutil.which(client) is None:
        pytest.skip(f"{client} is not installed")
    marker = tmp_path / "pwned"
    hostile = HOSTILE.format(p=marker)
    t = target(kind, user=hostile, database=hostile, address=hostile, port=1)
    command = probe_for(kind, timeout=10, connect_timeout=2).command(t)
    subprocess.run(["/bin/bash", "-c", command], capture_output=True, timeout=60, check=False)
    assert not marker.exists()


# ---------------------------------------------------------------------------- failures


@pytest.mark.parametrize("kind", KINDS)
def test_common_failures(kind: str) -> None:
    probe = probe_for(kind, timeout=8)
    t = target(kind)
    cut = probe.parse(t, None, "", "", 5.0)
    assert (cut.role, cut.error) == (Role.UNKNOWN, "the probe was cut off before it finished")
    timed_out = probe.parse(t, 124, "", "", 5.0)
    assert timed_out.role is Role.DOWN
    assert timed_out.error == "no answer from 127.0.60.9:1 within 8 s"
    missing = probe.parse(t, 127, "", "sh: 1: psql: not found\n", 5.0)
    assert (missing.role, missing.error) == (Role.UNKNOWN, "psql: not installed on db-east-1")
    odd = probe.parse(t, 3, "", "something odd happened\n", 5.0)
    assert odd.role is Role.UNKNOWN
    assert odd.error == f"{probe.tool} exited 3: something odd happened"
    for s in (cut, timed_out, missing, odd):
        assert s.link is Link.UNKNOWN
        assert s.lag_seconds is None
        assert s.lag_bytes is None
        assert s.sampled_at == 5.0


@pytest.mark.parametrize("kind", ["postgres", "mysql", "redis"])
def test_garbage_with_exit_zero_is_unknown(kind: str) -> None:
    s = probe_for(kind).parse(target(kind), 0, "hello world\n", "", 1.0)
    assert s.role is Role.UNKNOWN
    assert s.error is not None
    assert s.error.startswith("could not read the ")
    assert s.details["output"] == "hello world"


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    status=st.one_of(st.none(), st.integers(min_value=0, max_value=255)),
    stdout=st.text(max_size=300),
    stderr=st.text(max_size=100),
)
def test_parse_never_raises(kind: str, status: int | None, stdout: str, stderr: str) -> None:
    s = probe_for(kind).parse(target(kind), status, stdout, stderr, 2.0)
    assert s.role in set(Role)
    if s.role in (Role.DOWN, Role.UNKNOWN):
        assert s.error
        assert s.lag_seconds is None
        assert s.lag_bytes is None


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "role:master",
                    "role:slave",
                    "master_link_status:up",
                    "master_repl_offset:10",
                    "slave0:ip=1.2.3.4,port=1,state=online,offset=x,lag=0",
                    "slave0:garbage",
                    "slave_repl_offset:-",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=8,
    )
)
def test_redis_parse_never_raises_on_mangled_info(lines: list[str]) -> None:
    s = probe_for("redis").parse(target("redis"), 0, "\n".join(lines), "", 2.0)
    assert s.role in set(Role)


def test_mysql_missing_privilege_is_unknown_and_named() -> None:
    # exactly what MariaDB 10.11 printed for a probe user without SLAVE MONITOR (seen by
    # hand against a live replica; not kept as a recording)
    stderr = (
        "--------------\nSHOW REPLICA STATUS\n--------------\n\n"
        "ERROR 1227 (42000) at line 1: Access denied; you need (at least one of) the SUPER, "
        "SLAVE MONITOR privilege(s) for this operation\n"
    )
    s = probe_for("mysql").parse(target("mysql", user="drprobe"), 1, "", stderr, 1.0)
    assert s.role is Role.UNKNOWN
    assert s.error == (
        "the probe user lacks a privilege: Access denied; you need (at least one of) the "
        "SUPER, SLAVE MONITOR privilege(s) for this operation"
    )


def test_error_line_skips_mysql_banners() -> None:
    text = "--------------\nINSERT INTO t VALUES (1)\n--------------\n\nERROR 1290 (HY000): ro\n"
    assert error_line(text) == "ERROR 1290 (HY000): ro"
    assert error_line("just words\n") == "just words"
    assert error_line("") == ""


def test_missing_tool_forms() -> None:
    assert missing_tool("bash: line 1: psql: command not found") == "psql"
    assert missing_tool("timeout: failed to run command ‘redis-cli’: No such file") == "redis-cli"
    assert missing_tool("sh: 1: mariadb: not found") == "mariadb"
    assert missing_tool("ERROR: relation not found") is None


# -------------------------------------------------------------------------- unreachable


def test_unreachable_down_when_host_does_not_answer() -> None:
    s = unreachable(target("postgres"), "connect timed out after 5 s", 9.0)
    assert s.role is Role.DOWN
    assert s.error == "db-east-1: connect timed out after 5 s"
    assert s.details["reason"] == "the host did not answer"
    assert s.lag_seconds is None
    assert s.lag_bytes is None
    assert s.link is Link.UNKNOWN
    assert s.sampled_at == 9.0


def test_unreachable_unknown_when_host_refuses_us() -> None:
    for message in ("host key refused (changed): ssh-ed25519 SHA256:x", "Permission denied"):
        s = unreachable(target("redis"), message, 9.0)
        assert s.role is Role.UNKNOWN
        assert "refused the probe" in s.details["reason"]


def test_unreachable_role_can_be_forced() -> None:
    assert unreachable(target("mysql"), "whatever", 1.0, role=Role.UNKNOWN).role is Role.UNKNOWN


def test_password_value_never_in_command() -> None:
    os.environ["DRCONSOLE_TEST_PW"] = "hunter2"
    try:
        for kind in ("postgres", "mysql", "redis"):
            command = probe_for(kind).command(target(kind, password_env="DRCONSOLE_TEST_PW"))
            assert "hunter2" not in command
            assert "${DRCONSOLE_TEST_PW-}" in command
    finally:
        del os.environ["DRCONSOLE_TEST_PW"]
