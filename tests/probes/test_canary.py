"""The canary writers: commands, and parsers on recorded real outputs.

Recorded by ``record.py`` against the real servers (``data/canary/``). The same commands are
run against live servers, including a failover that loses writes, in
``test_integration.py``.
"""

from __future__ import annotations

import shlex

import pytest

from console.errors import InputError
from console.probes import ProbeTarget
from console.probes import canary as c
from tests.probes.recordings import load

TIMES = {
    "postgres": (1795730979.199290, 1795730979.224876, 1795730979.248777),
    "mysql": (1795731057.999194, 1795731058.008118, 1795731058.018045),
    "redis": (1795731064.362975, 1795731064.372625, 1795731064.382297),
}
KINDS = sorted(TIMES)


def _result(name: str) -> tuple[int | None, str, str]:
    return load(f"canary/{name}").result()


@pytest.mark.parametrize("kind", KINDS)
def test_recorded_setup_succeeded(kind: str) -> None:
    c.parse_setup(kind, *_result(f"{kind}_setup"))  # does not raise


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_recorded_writes_acknowledged(kind: str, n: int) -> None:
    assert c.parse_write(kind, n, *_result(f"{kind}_write_{n}")) is True
    # the echo must be of this canary, not any canary
    assert c.parse_write(kind, n + 1, *_result(f"{kind}_write_{n}")) is False


@pytest.mark.parametrize("kind", KINDS)
def test_recorded_write_on_replica_refused(kind: str) -> None:
    assert c.parse_write(kind, 4, *_result(f"{kind}_write_refused")) is False


def test_recorded_redis_duplicate_refused() -> None:
    assert c.parse_write("redis", 3, *_result("redis_write_duplicate")) is False


@pytest.mark.parametrize("kind", KINDS)
def test_recorded_read(kind: str) -> None:
    state = c.parse_read(kind, *_result(f"{kind}_read"))
    assert state.max_n == 3
    assert state.numbers == frozenset({1, 2, 3})
    assert state.newest_written_at == pytest.approx(TIMES[kind][2], abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_recorded_read_without_store_means_no_canary(kind: str) -> None:
    state = c.parse_read(kind, *_result(f"{kind}_read_absent"))
    assert state == c.CanaryState(max_n=None, numbers=frozenset(), newest_written_at=None)


@pytest.mark.parametrize("kind", KINDS)
def test_failed_read_raises(kind: str) -> None:
    with pytest.raises(c.CanaryError, match=r"canary read failed: .*exited 1: boom"):
        c.parse_read(kind, 1, "", "boom\n")
    with pytest.raises(c.CanaryError, match="not installed"):
        c.parse_read(kind, 127, "", "bash: line 1: psql: command not found\n")
    with pytest.raises(c.CanaryError, match="cut off"):
        c.parse_read(kind, None, "", "")


def test_failed_setup_raises_with_reason() -> None:
    with pytest.raises(c.CanaryError, match="read-only transaction"):
        c.parse_setup(
            "postgres", 1, "", "ERROR:  cannot execute CREATE SCHEMA in a read-only transaction\n"
        )
    with pytest.raises(c.CanaryError, match="setup failed"):
        c.parse_setup("redis", 0, "NOAUTH Authentication required.\n", "")


def test_unparseable_read_raises() -> None:
    with pytest.raises(c.CanaryError, match="unexpected canary line"):
        c.parse_read("postgres", 0, "hello\n", "")


TARGETS = {
    "postgres": ProbeTarget("db", "east", "h1", "postgres", "127.0.99.1", 5432, user="postgres"),
    "mysql": ProbeTarget(
        "db", "east", "h1", "mysql", "127.0.99.1", 3306, user="drprobe", password_env="DB_PW"
    ),
    "redis": ProbeTarget("db", "east", "h1", "redis", "127.0.99.1", 6379, password_env="R_PW"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_commands_are_one_quoted_shell_line(kind: str) -> None:
    target = TARGETS[kind]
    for command in (
        c.setup_command(kind, target),
        c.write_command(kind, target, "01JABC", 7),
        c.read_command(kind, target, "01JABC"),
    ):
        words = shlex.split(command)  # parses: quoting is balanced
        assert "\n" not in command
        assert words[words.index("timeout") + 1 : words.index("timeout") + 3] == ["-k", "2"]
        if target.password_env:
            assert f"${{{target.password_env}-}}" in command
    assert "01JABC" in c.write_command(kind, target, "01JABC", 7)
    assert "7" in shlex.split(c.write_command(kind, target, "01JABC", 7))[-1]


def test_redis_key_prefix() -> None:
    words = shlex.split(c.write_command("redis", TARGETS["redis"], "01JABC", 5))
    assert words[-3:] == ["1", "drconsole:canary:01JABC", "5"]
    assert shlex.split(c.read_command("redis", TARGETS["redis"], "01JABC"))[-4:] == [
        "ZRANGE",
        "drconsole:canary:01JABC",
        "0",
        "-1",
    ]


CLUSTER = ProbeTarget("carts", "dr", "h3", "redis", "127.0.99.3", 16700)  # the entry node


def test_cluster_key_slot_is_redis_crc16() -> None:
    # the reference vectors: CRC-16/XMODEM of "123456789" is 0x31C3; Redis's own docs and
    # CLUSTER KEYSLOT give foo -> 12182, and a hash tag hashes only what is between the braces
    assert c.crc16(b"123456789") == 0x31C3
    assert c.key_slot("foo") == 12182
    assert c.key_slot("{user1000}.following") == c.key_slot("user1000")
    assert c.key_slot("foo{}{bar}") == c.crc16(b"foo{}{bar}") % 16384  # an empty tag: whole key
    assert c.key_slot("foo{{bar}}zap") == c.key_slot("{bar")


def test_cluster_canary_sets_cover_every_twelfth_of_the_slots() -> None:
    slots = [c.key_slot(c.RedisClusterCanary.group_key("01JABC", g)) for g in range(12)]
    assert [s * 12 // 16384 for s in slots] == list(range(12))
    # the slot does not depend on the run: only the hash tag is hashed
    assert slots == [c.key_slot(c.RedisClusterCanary.group_key("01JXYZ", g)) for g in range(12)]


def test_cluster_canary_goes_through_the_cluster_one_set_per_canary() -> None:
    for n in (1, 12, 13):
        words = shlex.split(c.write_command("redis-cluster", CLUSTER, "01JABC", n))
        at = words.index("-h")
        assert words[at : at + 4] == ["-h", "127.0.99.3", "-p", "16700"] and "-c" in words
        assert words[-2:] == [c.RedisClusterCanary.group_key("01JABC", (n - 1) % 12), str(n)]
    read = c.read_command("redis-cluster", CLUSTER, "01JABC")
    assert read.count(" -c ") == 12 and read.count(" && ") == 11
    for g in range(12):
        assert shlex.quote(c.RedisClusterCanary.group_key("01JABC", g)) in read


def _nodes(*masters: str) -> str:
    """A ``CLUSTER NODES`` reply: one master per slot-range text, plus a failed one."""
    lines = [
        f"{i:040x} 127.0.99.{i}:16700@16800 master - 0 0 {i} connected {ranges}"
        for i, ranges in enumerate(masters, start=1)
    ]
    lines.append(f"{99:040x} 127.0.99.9:16700@16800 master,fail - 0 0 9 disconnected 100-200")
    return "\n".join(lines) + "\n"


def test_cluster_canary_adds_a_set_for_a_master_serving_none_of_the_twelve() -> None:
    # evenly spread (the lab): the twelve sets reach every master, nothing is added
    even = _nodes("0-5460", "5461-10922", "10923-16383")
    assert c.cluster_tags(even) == c.CLUSTER_TAGS
    # resharded: master 2 kept only slots no fixed set sits on; it gets its lowest slot's set
    fixed = sorted(c.key_slot("{" + t + "}") for t in c.CLUSTER_TAGS)
    lo, hi = fixed[0] + 1, fixed[1] - 1
    uneven = _nodes(f"0-{lo - 1} {hi + 1}-9000", f"{lo}-{hi}", "9001-16383")
    tags = c.cluster_tags(uneven)
    assert tags[:12] == c.CLUSTER_TAGS and len(tags) == 13
    assert c.key_slot("{" + tags[12] + "}") == lo == c.key_slot("{" + c.tag_for_slot(lo) + "}")
    # the writer adopts them at setup and spreads canaries over all thirteen, reads all
    w = c.RedisClusterCanary()
    assert shlex.split(w.setup_command(CLUSTER))[-2:] == ["CLUSTER", "NODES"]
    w.parse_setup(0, uneven, "")
    assert w.tags == tags
    assert shlex.split(w.write_command(CLUSTER, "01JABC", 13))[-2] == (
        f"drconsole:canary:01JABC:{{{tags[12]}}}"
    )
    read = w.read_command(CLUSTER, "01JABC")
    assert (
        read.count(" && ") == 12 and shlex.quote(f"drconsole:canary:01JABC:{{{tags[12]}}}") in read
    )
    w.parse_setup(0, even, "")  # a later topology adds, never forgets a set written before
    assert w.tags == tags
    with pytest.raises(c.CanaryError, match="no cluster master serves a slot"):
        c.RedisClusterCanary().parse_setup(
            0, "ERR This instance has cluster support disabled\n", ""
        )


def test_cluster_canary_output_without_redirection_notes() -> None:
    write = "-> Redirected to slot [462] located at 127.0.99.1:16700\n5\n1795731064.372625\n"
    assert c.parse_write("redis-cluster", 5, 0, write, "") is True
    read = (
        "-> Redirected to slot [462] located at 127.0.99.1:16700\n1:1795731064.1\n13:1795731065.2\n"
    )
    state = c.parse_read("redis-cluster", 0, read, "")
    assert state.numbers == frozenset({1, 13})
    with pytest.raises(c.CanaryError, match="CLUSTERDOWN"):
        c.parse_read("redis-cluster", 0, "CLUSTERDOWN The cluster is down\n", "")


@pytest.mark.parametrize("bad", ["", "x'; DROP TABLE t; --", "a b", "$(reboot)", "x" * 65])
def test_run_id_that_needs_escaping_is_refused(bad: str) -> None:
    for kind in KINDS:
        with pytest.raises(InputError):
            c.write_command(kind, TARGETS[kind], bad, 1)
        with pytest.raises(InputError):
            c.read_command(kind, TARGETS[kind], bad)


@pytest.mark.parametrize("n", [0, -1, True])
def test_canary_number_must_be_positive(n: int) -> None:
    with pytest.raises(InputError):
        c.write_command("postgres", TARGETS["postgres"], "run1", n)


def test_custom_kind_has_no_writer() -> None:
    with pytest.raises(InputError, match="no canary writer for kind 'custom'"):
        c.writer_for("custom")


def test_data_loss_none_missing() -> None:
    acked = {1: 100.0, 2: 101.0, 3: 102.0}
    state = c.CanaryState(3, frozenset({1, 2, 3}), 102.0)
    assert c.data_loss(acked, state) == c.DataLoss((), 0, 0.0)


def test_data_loss_tail_missing() -> None:
    acked = {n: 100.0 + n for n in range(1, 11)}
    state = c.CanaryState(6, frozenset(range(1, 7)), 106.0)
    loss = c.data_loss(acked, state)
    assert loss.missing == (7, 8, 9, 10)
    assert loss.writes == 4
    assert loss.seconds == pytest.approx(110.0 - 106.0)


def test_data_loss_everything_missing() -> None:
    acked = {1: 50.0, 2: 52.5}
    loss = c.data_loss(acked, c.CanaryState(None, frozenset(), None))
    assert loss.missing == (1, 2)
    assert loss.seconds == pytest.approx(2.5)


def test_data_loss_ignores_unacknowledged_canaries_present() -> None:
    # canary 4 was written but its acknowledgement never arrived: present, not counted
    acked = {1: 10.0, 2: 11.0, 3: 12.0}
    loss = c.data_loss(acked, c.CanaryState(4, frozenset({1, 2, 4}), 13.0))
    assert loss.missing == (3,)
    assert loss.seconds == pytest.approx(1.0)


def test_data_loss_unknown_state_raises() -> None:
    with pytest.raises(c.CanaryError):
        c.data_loss({1: 1.0}, c.CanaryState(None, None, None))
