"""Canary writes that measure data loss (RPO) instead of assuming it.

During a drill the engine writes numbered, timestamped canaries on the observed primary and
records every write the server acknowledged. After the failover it reads the canaries on the
new primary: the acknowledged ones that are missing there are the measured data loss, in
writes and in seconds. One mechanism, a writer per kind, each a pure command builder plus a
parser like the probes (the engine runs the commands through the same SSH pool):

- postgres: table ``drconsole.canary`` in schema ``drconsole``;
- mysql: table ``drconsole.canary`` in database ``drconsole``;
- redis: a sorted set ``drconsole:canary:<run_id>`` whose members are ``n:written_at``,
  scored by ``n``, written by a Lua script that takes the server's ``TIME``;
- redis-cluster: the same sorted sets, twelve of them, each pinned by a hash tag to a slot in
  its own twelfth of the slot space (so every master of an evenly spread cluster holds some,
  whichever node is master after a failover: a failover moves masters, not slots), and one
  more for each master of the observed ``CLUSTER NODES`` (the setup command) that serves none
  of those twelve slots, pinned to its lowest slot (so a resharded cluster still has a set on
  every master); canary ``n`` goes to set ``(n - 1) mod`` the number of sets, through the
  cluster (``redis-cli -c``).

The table key is ``(run_id, n)``, not ``n`` alone, so that every drill can number its
canaries from 1 without colliding with the rows of earlier drills. A write's output echoes
the canary's number and the server's timestamp; only that echo counts as an acknowledgement.
Run ids are restricted to ``[A-Za-z0-9._:-]`` (ULIDs fit), so they need no SQL escaping, and
every command is still shell-quoted.
"""

from __future__ import annotations

import functools
import re
import shlex
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from console.errors import DrError, InputError
from console.probes.base import error_line, first_line, missing_tool, seconds_arg, shell_env
from console.probes.cluster import parse_nodes
from console.probes.mysql import client_args, client_prefix, mysql_env
from console.probes.postgres import PostgresProbe
from console.probes.redis import cli_args, cli_env
from console.probes.sample import ProbeTarget

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
_ROW = re.compile(r"^\s*(\d+)\s*[|\t:]\s*(\d+(?:\.\d+)?)\s*$")

REDIS_WRITE_SCRIPT = (
    'if #redis.call("ZRANGEBYSCORE", KEYS[1], ARGV[1], ARGV[1]) > 0 then '
    'return redis.error_reply("canary " .. ARGV[1] .. " exists") end '
    'local t = redis.call("TIME") '
    'local ts = t[1] .. "." .. string.format("%06d", tonumber(t[2])) '
    'redis.call("ZADD", KEYS[1], ARGV[1], ARGV[1] .. ":" .. ts) '
    "return {ARGV[1], ts}"
)
"""Adds canary n once, stamped with the server's clock, and echoes ``n`` and the stamp."""


class CanaryError(DrError):
    """A canary command failed in a way that leaves the state unknown."""


@dataclass(frozen=True, slots=True)
class CanaryState:
    """The canaries of one run found on one server."""

    max_n: int | None
    """The highest canary number present; None when none is present."""
    numbers: frozenset[int] | None
    """Every canary number present (empty when none); None only when unknown."""
    newest_written_at: float | None
    """The server timestamp (epoch seconds) of the highest canary present."""


@dataclass(frozen=True, slots=True)
class DataLoss:
    """Acknowledged canaries missing on the new primary: the measured RPO."""

    missing: tuple[int, ...]
    """The missing canary numbers, ascending."""
    writes: int
    """How many acknowledged writes were lost."""
    seconds: float
    """From the last acknowledged write that survived before the first lost one (or the
    first lost one itself) to the last lost one, on the engine's clock; 0 when none lost."""


def check_run_id(run_id: str) -> str:
    """Refuse run ids that would need escaping.

    Args:
        run_id: The run's id.

    Returns:
        The run id, unchanged.

    Raises:
        InputError: It has characters outside ``[A-Za-z0-9._:-]`` or is over 64 long.
    """
    if not _RUN_ID.match(run_id):
        raise InputError(f"run id {run_id!r} is not usable for a canary")
    return run_id


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"canary number must be a positive integer, got {n!r}")
    return n


def _rows(stdout: str) -> dict[int, float]:
    rows: dict[int, float] = {}
    for line in stdout.splitlines():
        if not line.strip():
            continue
        match = _ROW.match(line)
        if not match:
            raise CanaryError(f"unexpected canary line: {first_line(line)}")
        rows[int(match.group(1))] = float(match.group(2))
    return rows


def _state(rows: Mapping[int, float]) -> CanaryState:
    if not rows:
        return CanaryState(max_n=None, numbers=frozenset(), newest_written_at=None)
    top = max(rows)
    return CanaryState(max_n=top, numbers=frozenset(rows), newest_written_at=rows[top])


class CanaryWriter(ABC):
    """Builds the canary commands of one kind and reads their output."""

    kind: ClassVar[str]
    """The database kind."""
    tool: ClassVar[str]
    """The client named in error messages."""
    absent: ClassVar[re.Pattern[str] | None] = None
    """An error meaning "no canary table at all", read as "no canaries"."""

    def __init__(self, timeout: float = 10.0, connect_timeout: float = 5.0) -> None:
        """Create a writer.

        Args:
            timeout: Seconds each command may run on the remote host.
            connect_timeout: Seconds the client may take to connect.
        """
        self.timeout = timeout
        self.connect_timeout = connect_timeout

    def _limit(self) -> str:
        return f"timeout -k 2 {seconds_arg(self.timeout)} "

    @abstractmethod
    def setup_command(self, target: ProbeTarget) -> str:
        """The command that prepares the canary store (idempotent)."""

    @abstractmethod
    def write_command(self, target: ProbeTarget, run_id: str, n: int) -> str:
        """The command that writes canary ``n`` of ``run_id`` and echoes it."""

    @abstractmethod
    def read_command(self, target: ProbeTarget, run_id: str) -> str:
        """The command that lists every canary of ``run_id`` as ``n<sep>written_at``."""

    def _failure(self, exit_status: int | None, stdout: str, stderr: str) -> str | None:
        if exit_status is None:
            return "the command was cut off before it finished"
        tool = missing_tool(stderr)
        if exit_status == 127 or tool is not None:
            return f"{tool or self.tool}: not installed"
        if exit_status in (124, 137):
            return f"no answer within {seconds_arg(self.timeout)} s"
        if exit_status != 0:
            said = error_line(stderr) or error_line(stdout) or "no output"
            return f"{self.tool} exited {exit_status}: {said}"
        return None

    def parse_setup(self, exit_status: int | None, stdout: str, stderr: str) -> None:
        """Check that the setup command worked.

        Raises:
            CanaryError: It did not, with the reason.
        """
        failed = self._failure(exit_status, stdout, stderr)
        if failed:
            raise CanaryError(f"canary setup failed: {failed}")

    def parse_write(self, n: int, exit_status: int | None, stdout: str, stderr: str) -> bool:
        """Whether canary ``n`` was acknowledged: exit 0 and the echo of ``n`` first."""
        del stderr
        if exit_status != 0:
            return False
        lines = [line.strip() for line in stdout.splitlines() if line.strip()]
        if not lines:
            return False
        first = re.split(r"[|\t\s]", lines[0])[0]
        return first == str(n)

    def parse_read(self, exit_status: int | None, stdout: str, stderr: str) -> CanaryState:
        """The canaries present.

        Raises:
            CanaryError: The read failed, so nothing can be said about data loss.
        """
        if (
            exit_status not in (None, 0)
            and self.absent is not None
            and (self.absent.search(stderr) or self.absent.search(stdout))
        ):
            return _state({})
        failed = self._failure(exit_status, stdout, stderr)
        if failed:
            raise CanaryError(f"canary read failed: {failed}")
        return _state(self._read_rows(stdout))

    def _read_rows(self, stdout: str) -> dict[int, float]:
        return _rows(stdout)


class PostgresCanary(CanaryWriter):
    """Rows in ``drconsole.canary``, timestamped by ``clock_timestamp()``."""

    kind = "postgres"
    tool = "psql"
    absent = re.compile(r'relation "drconsole\.canary" does not exist|schema "drconsole"')

    def _psql(self, target: ProbeTarget, sql: str) -> str:
        env = shell_env(
            [
                ("PGCONNECT_TIMEOUT", seconds_arg(self.connect_timeout)),
                ("PGAPPNAME", "drconsole-canary"),
            ],
            ("PGPASSWORD", target.password_env) if target.password_env else None,
        )
        return env + self._limit() + PostgresProbe.psql_args(target, sql)

    def setup_command(self, target: ProbeTarget) -> str:
        """``CREATE SCHEMA IF NOT EXISTS drconsole; CREATE TABLE IF NOT EXISTS ...``."""
        return self._psql(
            target,
            "CREATE SCHEMA IF NOT EXISTS drconsole; "
            "CREATE TABLE IF NOT EXISTS drconsole.canary (run_id text NOT NULL, "
            "n bigint NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
            "PRIMARY KEY (run_id, n))",
        )

    def write_command(self, target: ProbeTarget, run_id: str, n: int) -> str:
        """``INSERT ... RETURNING n, epoch`` (autocommit: the echo means committed)."""
        check_run_id(run_id)
        _check_n(n)
        return self._psql(
            target,
            "INSERT INTO drconsole.canary (run_id, n, written_at) "  # noqa: S608 (run id checked)
            f"VALUES ('{run_id}', {n}, clock_timestamp()) "
            "RETURNING n, extract(epoch FROM written_at)",
        )

    def read_command(self, target: ProbeTarget, run_id: str) -> str:
        """``SELECT n, epoch ... WHERE run_id = ... ORDER BY n``."""
        check_run_id(run_id)
        return self._psql(
            target,
            "SELECT n, extract(epoch FROM written_at) FROM drconsole.canary "  # noqa: S608
            f"WHERE run_id = '{run_id}' ORDER BY n",
        )


class MysqlCanary(CanaryWriter):
    """Rows in ``drconsole.canary`` (InnoDB), timestamped by ``NOW(6)``."""

    kind = "mysql"
    tool = "mysql"
    absent = re.compile(r"ERROR 1146 \(42S02\)[^\n]*drconsole\.canary|ERROR 1049 \(42000\)")

    def _mysql(self, target: ProbeTarget, sql: str) -> str:
        return (
            client_prefix(target)
            + mysql_env(target)
            + self._limit()
            + client_args(target, self.connect_timeout)
            + " -N -B -e "
            + shlex.quote(sql)
        )

    def setup_command(self, target: ProbeTarget) -> str:
        """``CREATE DATABASE IF NOT EXISTS drconsole; CREATE TABLE IF NOT EXISTS ...``."""
        return self._mysql(
            target,
            "CREATE DATABASE IF NOT EXISTS drconsole; "
            "CREATE TABLE IF NOT EXISTS drconsole.canary (run_id VARCHAR(64) NOT NULL, "
            "n BIGINT NOT NULL, written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
            "PRIMARY KEY (run_id, n)) ENGINE=InnoDB",
        )

    def write_command(self, target: ProbeTarget, run_id: str, n: int) -> str:
        """``INSERT`` in autocommit, then ``SELECT`` the row back (the client stops at the
        first error, so the echo means the insert committed)."""
        check_run_id(run_id)
        _check_n(n)
        return self._mysql(
            target,
            "INSERT INTO drconsole.canary (run_id, n, written_at) "  # noqa: S608 (run id checked)
            f"VALUES ('{run_id}', {n}, NOW(6)); "
            "SELECT n, UNIX_TIMESTAMP(written_at) FROM drconsole.canary "
            f"WHERE run_id = '{run_id}' AND n = {n}",
        )

    def read_command(self, target: ProbeTarget, run_id: str) -> str:
        """``SELECT n, UNIX_TIMESTAMP(written_at) ... ORDER BY n``."""
        check_run_id(run_id)
        return self._mysql(
            target,
            "SELECT n, UNIX_TIMESTAMP(written_at) FROM drconsole.canary "  # noqa: S608
            f"WHERE run_id = '{run_id}' ORDER BY n",
        )


class RedisCanary(CanaryWriter):
    """A sorted set ``drconsole:canary:<run_id>`` of ``n:written_at`` scored by ``n``."""

    kind = "redis"
    tool = "redis-cli"

    @staticmethod
    def key(run_id: str) -> str:
        """The sorted set holding a run's canaries."""
        return f"drconsole:canary:{check_run_id(run_id)}"

    def _cli(self, target: ProbeTarget, *args: str) -> str:
        return (
            cli_env(target)
            + self._limit()
            + cli_args(target)
            + " -e "
            + " ".join(shlex.quote(arg) for arg in args)
        )

    def setup_command(self, target: ProbeTarget) -> str:
        """``PING``: a sorted set needs no preparation, only a server that answers."""
        return self._cli(target, "PING")

    def parse_setup(self, exit_status: int | None, stdout: str, stderr: str) -> None:
        """Check that the server answered ``PONG``."""
        super().parse_setup(exit_status, stdout, stderr)
        if first_line(stdout) != "PONG":
            raise CanaryError(f"canary setup failed: {first_line(stdout) or 'no answer'}")

    def write_command(self, target: ProbeTarget, run_id: str, n: int) -> str:
        """``EVAL REDIS_WRITE_SCRIPT 1 KEY n``."""
        _check_n(n)
        return self._cli(target, "EVAL", REDIS_WRITE_SCRIPT, "1", self.key(run_id), str(n))

    def read_command(self, target: ProbeTarget, run_id: str) -> str:
        """``ZRANGE KEY 0 -1``."""
        return self._cli(target, "ZRANGE", self.key(run_id), "0", "-1")

    def parse_write(self, n: int, exit_status: int | None, stdout: str, stderr: str) -> bool:
        """Acknowledged when exit 0 and the reply is ``n`` then a timestamp."""
        if not super().parse_write(n, exit_status, stdout, stderr):
            return False
        lines = [line.strip() for line in stdout.splitlines() if line.strip()]
        return len(lines) == 2 and re.fullmatch(r"\d+\.\d+", lines[1]) is not None

    def _read_rows(self, stdout: str) -> dict[int, float]:
        if stdout.strip().startswith(("ERR", "WRONGTYPE", "NOAUTH", "WRONGPASS", "(error)")):
            raise CanaryError(f"canary read failed: {first_line(stdout)}")
        return _rows(stdout)


CLUSTER_SLOTS = 16384
"""Hash slots of a Redis Cluster."""
CLUSTER_GROUPS = 12
"""How many sorted sets a cluster canary spreads its writes over (one slot each)."""


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM (polynomial 0x1021, initial 0), the hash of Redis Cluster's key slots."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def key_slot(key: str) -> int:
    """The hash slot of ``key``: of its hash tag (the first ``{...}``, when not empty)."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc16(key.encode()) % CLUSTER_SLOTS


def _group_tags() -> tuple[str, ...]:
    tags = []
    for group in range(CLUSTER_GROUPS):
        low = group * CLUSTER_SLOTS // CLUSTER_GROUPS
        high = (group + 1) * CLUSTER_SLOTS // CLUSTER_GROUPS
        k = 0
        while not low <= key_slot(f"{{dc{k}}}") < high:
            k += 1
        tags.append(f"dc{k}")
    return tuple(tags)


CLUSTER_TAGS = _group_tags()
"""The hash tag of each canary set, the g-th in the g-th twelfth of the slots."""


@functools.lru_cache(maxsize=64)
def tag_for_slot(slot: int) -> str:
    """The hash tag ``dcK`` with the smallest ``K`` whose slot is ``slot``."""
    if not 0 <= slot < CLUSTER_SLOTS:
        raise InputError(f"slot {slot} is not in 0..{CLUSTER_SLOTS - 1}")
    k = 0
    while key_slot(f"{{dc{k}}}") != slot:
        k += 1
    return f"dc{k}"


def cluster_tags(nodes_text: str) -> tuple[str, ...]:
    """The canary sets' hash tags for the topology of a ``CLUSTER NODES`` reply:
    :data:`CLUSTER_TAGS`, then, for each master serving none of their slots, a tag of its
    lowest slot (ascending). Masters flagged failed are left out: their replicas' promotion
    keeps the slots, which are then served by the same sets.

    Raises:
        CanaryError: The reply names no master serving a slot.
    """
    masters = [n for n in parse_nodes(nodes_text) if n.is_master and n.slots and not n.failed]
    if not masters:
        raise CanaryError(f"no cluster master serves a slot: {first_line(nodes_text)}")
    fixed = [key_slot(f"{{{t}}}") for t in CLUSTER_TAGS]
    extra: list[int] = []
    for m in masters:
        if not any(lo <= f <= hi for f in fixed for lo, hi in m.slots):
            extra.append(min(lo for lo, _ in m.slots))
    return CLUSTER_TAGS + tuple(tag_for_slot(slot) for slot in sorted(set(extra)))


class RedisClusterCanary(RedisCanary):
    """Sorted sets ``drconsole:canary:<run_id>:{TAG}``, one slot each (see :func:`cluster_tags`),
    written and read through the cluster from one node (``redis-cli -c`` follows the
    redirections)."""

    kind = "redis-cluster"

    def __init__(
        self,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        tags: tuple[str, ...] = CLUSTER_TAGS,
    ) -> None:
        """Create a writer whose sets carry ``tags`` (from :func:`cluster_tags`)."""
        super().__init__(timeout, connect_timeout)
        self.tags = tags

    @staticmethod
    def group_key(run_id: str, group: int, tags: tuple[str, ...] = CLUSTER_TAGS) -> str:
        """The sorted set of canary group ``group`` (0-based)."""
        return f"drconsole:canary:{check_run_id(run_id)}:{{{tags[group]}}}"

    def setup_command(self, target: ProbeTarget) -> str:
        """``CLUSTER NODES``: the server answers, and the topology the sets follow."""
        return self._cli(target, "CLUSTER", "NODES")

    def parse_setup(self, exit_status: int | None, stdout: str, stderr: str) -> None:
        """Check that the node answered with a topology; add its tags to those in use (a
        set written to earlier in the run is still read)."""
        CanaryWriter.parse_setup(self, exit_status, stdout, stderr)
        self.tags += tuple(t for t in cluster_tags(stdout) if t not in self.tags)

    def _cli(self, target: ProbeTarget, *args: str) -> str:
        return (
            cli_env(target)
            + self._limit()
            + cli_args(target)
            + " -c -e "
            + " ".join(shlex.quote(arg) for arg in args)
        )

    def write_command(self, target: ProbeTarget, run_id: str, n: int) -> str:
        """``EVAL REDIS_WRITE_SCRIPT 1 KEY n`` on the set of ``n``'s group."""
        _check_n(n)
        key = self.group_key(run_id, (n - 1) % len(self.tags), self.tags)
        return self._cli(target, "EVAL", REDIS_WRITE_SCRIPT, "1", key, str(n))

    def read_command(self, target: ProbeTarget, run_id: str) -> str:
        """``ZRANGE KEY 0 -1`` of every group, stopping at the first that fails."""
        return " && ".join(
            self._cli(target, "ZRANGE", self.group_key(run_id, g, self.tags), "0", "-1")
            for g in range(len(self.tags))
        )

    def parse_write(self, n: int, exit_status: int | None, stdout: str, stderr: str) -> bool:
        """As a Redis canary, once redis-cli's own redirection notes are left out."""
        return super().parse_write(n, exit_status, _without_redirects(stdout), stderr)

    def _read_rows(self, stdout: str) -> dict[int, float]:
        text = _without_redirects(stdout)
        if text.strip().startswith(("CLUSTERDOWN", "MOVED", "ASK", "TRYAGAIN")):
            raise CanaryError(f"canary read failed: {first_line(text)}")
        return super()._read_rows(text)


def _without_redirects(stdout: str) -> str:
    """Output without the ``-> Redirected to slot ...`` lines ``redis-cli -c`` prints."""
    return "\n".join(
        line for line in stdout.splitlines() if not line.startswith("-> Redirected to slot")
    )


WRITERS: dict[str, type[CanaryWriter]] = {
    "postgres": PostgresCanary,
    "mysql": MysqlCanary,
    "redis": RedisCanary,
    "redis-cluster": RedisClusterCanary,
}
"""Canary writers by kind (a custom service has none)."""


def writer_for(kind: str, timeout: float = 10.0, connect_timeout: float = 5.0) -> CanaryWriter:
    """The canary writer for a kind.

    Raises:
        InputError: The kind has no canary writer (``custom``, or unknown).
    """
    try:
        cls = WRITERS[kind]
    except KeyError:
        raise InputError(f"no canary writer for kind {kind!r}") from None
    return cls(timeout=timeout, connect_timeout=connect_timeout)


def setup_command(kind: str, target: ProbeTarget) -> str:
    """The command that prepares the canary store on ``target``."""
    return writer_for(kind).setup_command(target)


def parse_setup(kind: str, exit_status: int | None, stdout: str, stderr: str) -> None:
    """Raise ``CanaryError`` unless the setup command worked."""
    writer_for(kind).parse_setup(exit_status, stdout, stderr)


def write_command(kind: str, target: ProbeTarget, run_id: str, n: int) -> str:
    """The command that writes canary ``n`` of ``run_id`` on ``target``."""
    return writer_for(kind).write_command(target, run_id, n)


def parse_write(kind: str, n: int, exit_status: int | None, stdout: str, stderr: str) -> bool:
    """Whether the write of canary ``n`` was acknowledged by the server."""
    return writer_for(kind).parse_write(n, exit_status, stdout, stderr)


def read_command(kind: str, target: ProbeTarget, run_id: str) -> str:
    """The command that lists the canaries of ``run_id`` on ``target``."""
    return writer_for(kind).read_command(target, run_id)


def parse_read(kind: str, exit_status: int | None, stdout: str, stderr: str) -> CanaryState:
    """The canaries present; raises ``CanaryError`` when the read failed."""
    return writer_for(kind).parse_read(exit_status, stdout, stderr)


def data_loss(acknowledged: Mapping[int, float], state: CanaryState) -> DataLoss:
    """Compare the acknowledged canaries with those found on the new primary.

    Args:
        acknowledged: Canary number → the engine's ``time.time()`` when the write was
            acknowledged.
        state: What ``parse_read`` found on the new primary.

    Returns:
        The lost writes and the time span they cover.

    Raises:
        CanaryError: ``state.numbers`` is unknown.
    """
    if state.numbers is None:
        raise CanaryError("the canaries on the new primary are unknown")
    missing = tuple(sorted(set(acknowledged) - state.numbers))
    if not missing:
        return DataLoss(missing=(), writes=0, seconds=0.0)
    first_lost = missing[0]
    before = [acknowledged[n] for n in acknowledged if n in state.numbers and n < first_lost]
    start = max(before) if before else acknowledged[first_lost]
    end = max(acknowledged[n] for n in missing)
    return DataLoss(missing=missing, writes=len(missing), seconds=max(0.0, end - start))
