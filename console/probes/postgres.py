"""The PostgreSQL probe: one psql call that prints one JSON object per line.

The role comes from ``pg_is_in_recovery()``. A primary reports its WAL position, timeline,
``pg_stat_replication`` (each standby's state, replay LSN, byte lag, and how long ago it last
replied: ``reply_time``, which a standby refreshes at least every
``wal_receiver_status_interval``, a setting each standby reports) and its replication slots;
it reports a standby's lag in seconds only as 0 when no byte is missing, because
``replay_lag`` freezes at its last value when replay stops. A standby reports its receive
and replay LSN, ``pg_stat_wal_receiver`` (status, sender, slot, the primary's last reported
WAL end) and its timeline.

Lag is the LSN byte difference first. Seconds are reported only where they mean something:
``now() - pg_last_xact_replay_timestamp()`` keeps growing while the primary is idle, so on a
caught-up standby (nothing received and not replayed, nothing known to be missing) the lag
is 0 and the sample says ``idle``; on a standby with WAL still to replay it is the time since
the last replayed commit; with the link down it is unknown. Every row is printed by
``row_to_json`` so no value (an application_name with a ``|`` in it) can break the
parsing.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from typing import Any

from console.probes.base import FailurePattern, Probe, shell_env
from console.probes.riders import pg_riding
from console.probes.sample import Link, ProbeTarget, ReplicaInfo, ReplicationSample, Role

PROBE_SQL = """
SELECT row_to_json(n)::text FROM (SELECT 'node' AS section,
  pg_is_in_recovery() AS in_recovery,
  current_setting('server_version_num') AS version,
  extract(epoch FROM clock_timestamp()) AS now,
  current_setting('transaction_read_only') AS read_only,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn() END AS current_lsn,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_walfile_name(pg_current_wal_lsn()) END AS walfile,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_timeline,
  pg_last_wal_receive_lsn() AS receive_lsn,
  pg_last_wal_replay_lsn() AS replay_lsn,
  pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS replay_backlog_bytes,
  extract(epoch FROM pg_last_xact_replay_timestamp()) AS last_replay_at,
  CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS replay_paused,
  current_setting('wal_receiver_status_interval') AS status_interval,
  current_setting('synchronous_standby_names') AS sync_names
) n
UNION ALL
SELECT row_to_json(r)::text FROM (SELECT 'replica' AS section,
  application_name, host(client_addr) AS client_addr, state, sync_state, sent_lsn, replay_lsn,
  pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
    ELSE pg_current_wal_lsn() END, replay_lsn) AS lag_bytes,
  extract(epoch FROM replay_lag) AS replay_lag,
  extract(epoch FROM clock_timestamp() - reply_time) AS reply_age
  FROM pg_stat_replication) r
UNION ALL
SELECT row_to_json(s)::text FROM (SELECT 'slot' AS section,
  slot_name, active, restart_lsn, wal_status FROM pg_replication_slots) s
UNION ALL
SELECT row_to_json(w)::text FROM (SELECT 'wal_receiver' AS section,
  status, sender_host, sender_port, slot_name, received_tli, flushed_lsn, latest_end_lsn,
  substring(conninfo FROM 'application_name=([^ ]+)') AS application_name,
  pg_wal_lsn_diff(latest_end_lsn, pg_last_wal_replay_lsn()) AS latest_end_bytes,
  extract(epoch FROM clock_timestamp() - last_msg_receipt_time) AS last_msg_age
  FROM pg_stat_wal_receiver) w
"""
"""The probe query. Needs a superuser or a member of ``pg_monitor``."""


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return round(float(value))


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)


def _fmt_seconds(value: float) -> str:
    return f"{value:.3f}"


def _interval_seconds(value: Any) -> float | None:
    """``wal_receiver_status_interval`` as PostgreSQL shows it (``10s``, ``500ms``, ``1min``,
    ``0``) in seconds; None when absent or unreadable."""
    if value is None:
        return None
    m = re.fullmatch(r"(\d+)\s*(ms|s|min|h)?", str(value).strip())
    if m is None:
        return None
    scale = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]
    return int(m.group(1)) * scale


class PostgresProbe(Probe):
    """PostgreSQL 14+ (the query uses ``pg_get_wal_replay_pause_state``)."""

    kind = "postgres"
    tool = "psql"
    failure_patterns = (
        FailurePattern(
            re.compile(r'password authentication failed for user "([^"]*)"'),
            Role.UNKNOWN,
            "auth failed for user {detail}",
        ),
        FailurePattern(
            re.compile(r'no pg_hba\.conf entry for .*?user "([^"]*)"'),
            Role.UNKNOWN,
            "auth failed for user {detail}: no pg_hba.conf entry",
        ),
        FailurePattern(
            re.compile(r"fe_sendauth: (no password supplied)"),
            Role.UNKNOWN,
            "auth failed for user {user}: {detail}",
        ),
        FailurePattern(
            re.compile(r'role "([^"]*)" does not exist'),
            Role.UNKNOWN,
            "auth failed: role {detail} does not exist",
        ),
        FailurePattern(
            re.compile(r'database "([^"]*)" does not exist'),
            Role.UNKNOWN,
            "database {detail} does not exist",
        ),
        FailurePattern(
            re.compile(r"permission denied for ([^\n]*)"),
            Role.UNKNOWN,
            "the probe user lacks a privilege: permission denied for {detail}",
        ),
        FailurePattern(
            re.compile(
                r"the database system is (starting up|shutting down|in recovery mode"
                r"|not yet accepting connections)"
            ),
            Role.DOWN,
            "the server is {detail}",
        ),
        FailurePattern(
            re.compile(r"(Connection refused)"), Role.DOWN, "connection refused ({endpoint})"
        ),
        FailurePattern(
            re.compile(r"(timeout expired|Connection timed out)"),
            Role.DOWN,
            "connection to {endpoint} timed out",
        ),
        FailurePattern(
            re.compile(r"(No route to host|Network is unreachable)"),
            Role.DOWN,
            "{endpoint}: {detail}",
        ),
        FailurePattern(
            re.compile(r"(server closed the connection unexpectedly)"),
            Role.DOWN,
            "{endpoint}: {detail}",
        ),
        FailurePattern(
            re.compile(r'socket "([^"]*)" failed: No such file or directory'),
            Role.DOWN,
            "no server listening on socket {detail}",
        ),
    )

    def command(self, target: ProbeTarget) -> str:
        """``psql -X -A -t -q -v ON_ERROR_STOP=1 ... -c PROBE_SQL`` with a time limit."""
        return self._env(target) + self.timeout_prefix() + self.psql_args(target, PROBE_SQL)

    def command_riding(self, target: ProbeTarget, sqls: Sequence[str]) -> str | None:
        """:meth:`command` with each of ``sqls`` as one more ``-c`` of the same psql."""
        psql = pg_riding(self.psql_args(target, PROBE_SQL), [_one_line(q) for q in sqls])
        return self._env(target) + self.timeout_prefix() + psql

    def _env(self, target: ProbeTarget) -> str:
        return shell_env(
            [
                ("PGCONNECT_TIMEOUT", str(max(1, round(self.connect_timeout)))),
                ("PGAPPNAME", "drconsole-probe"),
            ],
            ("PGPASSWORD", target.password_env) if target.password_env else None,
        )

    @staticmethod
    def psql_args(target: ProbeTarget, sql: str) -> str:
        """The quoted psql invocation (no environment) running ``sql`` on ``target``.

        Args:
            target: The member.
            sql: The statement(s); newlines are folded.

        Returns:
            ``psql ... -c SQL`` with every value shell-quoted.
        """
        argv = ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", target.socket or target.address, "-p", str(target.port)]
        if target.user:
            argv += ["-U", target.user]
        argv += ["-d", target.database or "postgres", "-c", _one_line(sql)]
        return " ".join(shlex.quote(arg) for arg in argv)

    def parse_output(
        self, target: ProbeTarget, stdout: str, sampled_at: float
    ) -> ReplicationSample:
        """Parse the JSON lines of ``PROBE_SQL`` (see the module docstring for lag rules)."""
        rows: dict[str, list[dict[str, Any]]] = {}
        for line in stdout.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            rows.setdefault(str(row["section"]), []).append(row)
        nodes = rows.get("node", [])
        if len(nodes) != 1:
            raise ValueError("expected one node line")
        node = nodes[0]
        details: dict[str, str] = {"server_version": str(node["version"])}
        slots = rows.get("slot", [])
        if slots:
            details["slots"] = ", ".join(
                f"{slot['slot_name']} ({'active' if slot['active'] else 'inactive'}, "
                f"{slot['wal_status']})"
                for slot in slots
            )
        replicas = tuple(self._replica(row) for row in rows.get("replica", []))
        read_only = str(node["read_only"]) == "on"
        if not node["in_recovery"]:
            details["timeline"] = str(int(str(node["walfile"])[:8], 16))
            if node.get("sync_names"):
                details["synchronous_standby_names"] = str(node["sync_names"])
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
                position=node["current_lsn"],
                read_only=read_only,
                replicas=replicas,
                error=None,
                sampled_at=sampled_at,
                details=details,
            )
        return self._standby(
            target,
            node,
            receivers=rows.get("wal_receiver", []),
            replicas=replicas,
            details=details,
            sampled_at=sampled_at,
        )

    @staticmethod
    def _replica(row: dict[str, Any]) -> ReplicaInfo:
        lag_bytes = _int(row["lag_bytes"])
        if lag_bytes is not None:
            lag_bytes = max(0, lag_bytes)
        # replay_lag is the lag of the last WAL the standby replayed: it freezes when replay
        # stops (a paused or stuck standby shows milliseconds while megabytes behind) and
        # turns NULL when idle. So the primary claims seconds only when nothing is missing.
        lag_seconds = 0.0 if lag_bytes == 0 else None
        reply_age = _float(row.get("reply_age"))
        return ReplicaInfo(
            name=str(row["application_name"] or ""),
            address=row["client_addr"],
            state=row["state"],
            lag_seconds=lag_seconds,
            lag_bytes=lag_bytes,
            position=row["replay_lsn"],
            ack_age=max(0.0, reply_age) if reply_age is not None else None,
            sync_state=row.get("sync_state"),
        )

    @staticmethod
    def _standby(
        target: ProbeTarget,
        node: dict[str, Any],
        *,
        receivers: list[dict[str, Any]],
        replicas: tuple[ReplicaInfo, ...],
        details: dict[str, str],
        sampled_at: float,
    ) -> ReplicationSample:
        receiver = receivers[0] if receivers else None
        status = str(receiver["status"]) if receiver else "none"
        link = Link.UP if status == "streaming" else Link.DOWN
        upstream = None
        if receiver and receiver["sender_host"]:
            upstream = f"{receiver['sender_host']}:{receiver['sender_port']}"
        backlog = _int(node["replay_backlog_bytes"])
        now = float(node["now"])
        last_replay = _float(node["last_replay_at"])
        details["wal_receiver_status"] = status
        interval = _interval_seconds(node.get("status_interval"))
        if interval is not None:
            details["status_interval"] = _fmt_seconds(interval)
        details["receive_lsn"] = str(node["receive_lsn"])
        if backlog is not None:
            details["replay_backlog_bytes"] = str(backlog)
        if last_replay is not None:
            details["last_replay_age"] = _fmt_seconds(max(0.0, now - last_replay))
        if node["replay_paused"] and node["replay_paused"] != "not paused":
            details["replay_paused"] = str(node["replay_paused"])
        timeline = node["checkpoint_timeline"]
        if receiver is not None:
            if receiver["received_tli"]:
                timeline = receiver["received_tli"]
            if receiver["slot_name"]:
                details["slot_name"] = str(receiver["slot_name"])
            if receiver.get("application_name"):
                details["application_name"] = str(receiver["application_name"])
            if receiver["last_msg_age"] is not None:
                details["last_msg_age"] = _fmt_seconds(float(receiver["last_msg_age"]))
        details["timeline"] = str(timeline)

        lag_bytes: int | None = None
        lag_seconds: float | None = None
        if link is Link.UP and receiver is not None:
            known_end = _int(receiver["latest_end_bytes"])
            lag_bytes = max(0, known_end if known_end is not None else backlog or 0)
            if backlog is not None:
                lag_bytes = max(lag_bytes, backlog)
            if lag_bytes == 0:
                lag_seconds = 0.0
                details["idle"] = "no WAL activity: caught up"
            elif last_replay is not None:
                lag_seconds = max(0.0, now - last_replay)
        return ReplicationSample(
            service=target.service,
            site=target.site,
            host=target.host,
            kind=target.kind,
            role=Role.REPLICA,
            upstream=upstream,
            link=link,
            lag_seconds=lag_seconds,
            lag_bytes=lag_bytes,
            position=node["replay_lsn"],
            read_only=True,
            replicas=replicas,
            error=None,
            sampled_at=sampled_at,
            details=details,
        )
