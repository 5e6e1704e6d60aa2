"""The Redis probe: ``redis-cli INFO replication``.

A primary (``role:master``) knows each replica's acknowledged offset, so it reports their
byte lag (its ``master_repl_offset`` minus the replica's offset) and Redis' ``lag`` (seconds
since the replica's last acknowledgement). A replica alone knows only its own offset and
its link: it reports ``master_link_status`` and ``master_last_io_seconds_ago`` and leaves
its lag unknown; ``console.probes.topology.reconcile`` fills it in from the primary's sample
when both were probed.

redis-cli 7.0 has no connect timeout and exits 0 after printing an error reply such as
``NOAUTH``, so the failure patterns look at stdout as well, and ``timeout`` bounds the call.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from console.probes.base import FailurePattern, Probe, shell_env
from console.probes.riders import MARK
from console.probes.sample import Link, ProbeTarget, ReplicaInfo, ReplicationSample, Role


def info_fields(text: str) -> dict[str, str]:
    """``key:value`` lines of an INFO reply (comments and blanks skipped)."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key] = value
    return fields


def replica_line(value: str) -> dict[str, str]:
    """Split ``ip=...,port=...,state=...,offset=...,lag=...`` into a dict."""
    pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
    return {key: val for key, val in pairs}


def cli_args(target: ProbeTarget) -> str:
    """``redis-cli`` and its connection options, shell-quoted (no command).

    Args:
        target: The member.

    Returns:
        ``redis-cli -h ADDR -p PORT [--user U] --no-auth-warning``.
    """
    argv = ["redis-cli"]
    if target.socket:
        argv += ["-s", target.socket]
    else:
        argv += ["-h", target.address, "-p", str(target.port)]
    if target.user:
        argv += ["--user", target.user]
    argv.append("--no-auth-warning")
    return " ".join(shlex.quote(arg) for arg in argv)


def cli_env(target: ProbeTarget) -> str:
    """``REDISCLI_AUTH="${VAR-}" `` when the target names a password variable."""
    return shell_env([], ("REDISCLI_AUTH", target.password_env) if target.password_env else None)


class RedisProbe(Probe):
    """Redis 5+ (``role:master`` / ``role:slave`` wording of INFO replication)."""

    kind = "redis"
    tool = "redis-cli"
    default_user = "default"
    failure_patterns = (
        FailurePattern(
            re.compile(r"(WRONGPASS[^\n]*|ERR invalid password)"),
            Role.UNKNOWN,
            "auth failed for user {user}",
        ),
        FailurePattern(
            re.compile(r"(NOAUTH Authentication required)"),
            Role.UNKNOWN,
            "auth failed for user {user}: no password given",
        ),
        FailurePattern(
            re.compile(r"(NOPERM[^\n]*)"),
            Role.UNKNOWN,
            "the probe user lacks a permission: {detail}",
        ),
        FailurePattern(
            re.compile(r"(LOADING Redis is loading the dataset in memory)"),
            Role.UNKNOWN,
            "the server is loading its dataset",
        ),
        FailurePattern(
            re.compile(r"Could not connect to Redis at [^:]+:\d+: (Connection refused)"),
            Role.DOWN,
            "connection refused ({endpoint})",
        ),
        FailurePattern(
            re.compile(r"Could not connect to Redis at [^\n]*?: ([^\n]*)"),
            Role.DOWN,
            "cannot connect to {endpoint}: {detail}",
        ),
        FailurePattern(
            re.compile(r"(Server closed the connection)"),
            Role.DOWN,
            "{endpoint}: {detail}",
        ),
    )

    def command(self, target: ProbeTarget) -> str:
        """``redis-cli -h ADDR -p PORT INFO replication`` with a time limit."""
        return cli_env(target) + self.timeout_prefix() + cli_args(target) + " INFO replication"

    def command_riding(self, target: ProbeTarget, sqls: Sequence[str]) -> str | None:
        """One ``INFO replication SECTION...`` (Redis 7 takes several sections) when every
        rider asks ``INFO SECTION...``: no second redis-cli, no second connection.

        The reply is printed as the probe's output (its parser reads only the replication
        fields) and again as each rider's answer, each ended by ``MARK STATUS``; redis-cli's
        stderr and exit status are the probe's. Any other question: None.
        """
        sections = ["replication"]
        for sql in sqls:
            words = sql.split()
            if (
                len(words) < 2
                or words[0].upper() != "INFO"
                or not all(re.fullmatch(r"[a-z]+", w) for w in words[1:])
            ):
                return None
            sections += [w for w in words[1:] if w not in sections]
        if not sqls:
            return None
        info = cli_env(target) + self.timeout_prefix() + cli_args(target)
        answer = f"printf '%s\\n%s %s\\n' \"$o\" {MARK} $s; "
        return (
            f"o=$({info} INFO {' '.join(sections)}); s=$?; " + answer * (len(sqls) + 1) + "exit $s"
        )

    def parse_output(
        self, target: ProbeTarget, stdout: str, sampled_at: float
    ) -> ReplicationSample:
        """Parse INFO replication."""
        fields = info_fields(stdout)
        role = fields.get("role")
        if role not in ("master", "slave"):
            raise ValueError(f"no role:master or role:slave line (role={role!r})")
        details: dict[str, str] = {}
        # min_slaves_good_slaves: only when min-replicas-to-write and -max-lag are both set
        for key in (
            "master_replid",
            "master_failover_state",
            "connected_slaves",
            "min_slaves_good_slaves",
        ):
            if key in fields:
                details[key] = fields[key]
        own_offset = fields.get("master_repl_offset")
        replicas = tuple(
            self._replica(fields[key], own_offset)
            for key in sorted(k for k in fields if re.fullmatch(r"slave\d+", k))
        )
        if role == "master":
            return ReplicationSample(
                service=target.service,
                site=target.site,
                host=target.host,
                kind=target.kind,
                role=Role.PRIMARY,
                upstream=None,
                link=Link.NONE,
                lag_seconds=None,
                lag_bytes=None,
                position=own_offset,
                read_only=None,
                replicas=replicas,
                error=None,
                sampled_at=sampled_at,
                details=details,
            )
        link_status = fields.get("master_link_status", "")
        link = {"up": Link.UP, "down": Link.DOWN}.get(link_status, Link.UNKNOWN)
        for key, name in (
            ("master_link_status", "link_status"),
            ("master_last_io_seconds_ago", "last_io_seconds_ago"),
            ("master_sync_in_progress", "sync_in_progress"),
            ("master_link_down_since_seconds", "link_down_since_seconds"),
            ("slave_read_repl_offset", "read_repl_offset"),
        ):
            if key in fields:
                details[name] = fields[key]
        host = fields.get("master_host")
        upstream = f"{host}:{fields.get('master_port', '?')}" if host else None
        read_only = fields.get("slave_read_only")
        return ReplicationSample(
            service=target.service,
            site=target.site,
            host=target.host,
            kind=target.kind,
            role=Role.REPLICA,
            upstream=upstream,
            link=link,
            lag_seconds=None,
            lag_bytes=None,
            position=fields.get("slave_repl_offset"),
            read_only=None if read_only is None else read_only == "1",
            replicas=replicas,
            error=None,
            sampled_at=sampled_at,
            details=details,
        )

    @staticmethod
    def _replica(value: str, own_offset: str | None) -> ReplicaInfo:
        info = replica_line(value)
        offset = info.get("offset")
        lag_bytes: int | None = None
        if offset is not None and own_offset is not None:
            lag_bytes = max(0, int(own_offset) - int(offset))
        ack_age = info.get("lag")
        lag_seconds: float | None = None
        if lag_bytes == 0:
            lag_seconds = 0.0
        elif ack_age is not None and lag_bytes is not None:
            lag_seconds = float(ack_age)
        ip = info.get("ip")
        return ReplicaInfo(
            name=f"{ip}:{info.get('port', '?')}",
            address=ip,
            state=info.get("state"),
            lag_seconds=lag_seconds,
            lag_bytes=lag_bytes,
            position=offset,
            ack_age=float(ack_age) if ack_age is not None and ack_age.isdigit() else None,
        )
