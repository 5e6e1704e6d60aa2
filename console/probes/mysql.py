"""The MySQL/MariaDB probe: one client call printing vertical (``\\G``) result sets.

MariaDB 10.11 and MySQL 8 name the same things differently (``Slave_IO_Running`` /
``Replica_IO_Running``, ``Seconds_Behind_Master`` / ``Seconds_Behind_Source``,
``Gtid_IO_Pos`` / ``Retrieved_Gtid_Set``), so the parser reads fields by name and accepts
either spelling. The statements used exist in both: ``SHOW GLOBAL VARIABLES WHERE ...`` (a
missing variable is simply absent, never an error), ``SHOW REPLICA STATUS`` (MariaDB 10.5+,
MySQL 8.0.22+) and ``information_schema.PROCESSLIST`` for a primary's binlog dump threads.
Marker rows (``drconsole_section: ...``) separate the result sets, because an empty
``SHOW REPLICA STATUS`` prints nothing at all.

The role is REPLICA when replication is configured (a replica status row exists, even with
both threads stopped) and PRIMARY otherwise; a primary with ``read_only`` on is reported as
such and left for the health and topology rules to judge. Seconds behind are corrected for
a deliberate delay (``SQL_Delay``, else the target's ``configured_delay``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from console.probes.base import FailurePattern, Probe, first_line, shell_env
from console.probes.riders import mysql_riding
from console.probes.sample import Link, ProbeTarget, ReplicaInfo, ReplicationSample, Role

VARIABLES = (
    "read_only",
    "super_read_only",
    "gtid_binlog_pos",
    "gtid_current_pos",
    "gtid_slave_pos",
    "gtid_executed",
    "gtid_mode",
    "server_id",
    "version",
    "rpl_semi_sync_master_enabled",
    "rpl_semi_sync_source_enabled",
)
"""Server variables the probe reads; each server simply omits the ones it lacks."""

SEMI_SYNC_STATUS = (
    "Rpl_semi_sync_master_status",
    "Rpl_semi_sync_source_status",
    "Rpl_semi_sync_master_clients",
    "Rpl_semi_sync_source_clients",
    "Rpl_semi_sync_master_no_tx",
    "Rpl_semi_sync_source_no_tx",
    "Rpl_semi_sync_slave_status",
    "Rpl_semi_sync_replica_status",
)
"""Semi-sync status variables (MariaDB's built-in names, MySQL 8.0.26+'s plugin names)."""

PROBE_SQL = (
    "SELECT 'variables' AS drconsole_section\\G "
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only', "
    "'gtid_binlog_pos', 'gtid_current_pos', 'gtid_slave_pos', 'gtid_executed', 'gtid_mode', "
    "'server_id', 'version', 'rpl_semi_sync_master_enabled', "
    "'rpl_semi_sync_source_enabled')\\G "
    "SELECT 'status' AS drconsole_section\\G "
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', "
    "'Rpl_semi_sync_source_status', 'Rpl_semi_sync_master_clients', "
    "'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_master_no_tx', "
    "'Rpl_semi_sync_source_no_tx', 'Rpl_semi_sync_slave_status', "
    "'Rpl_semi_sync_replica_status')\\G "
    "SELECT 'replica_status' AS drconsole_section\\G "
    "SHOW REPLICA STATUS\\G "
    "SELECT 'binlog_dump' AS drconsole_section\\G "
    "SELECT ID, USER, HOST, COMMAND, STATE, TIME FROM information_schema.PROCESSLIST "
    "WHERE COMMAND LIKE 'Binlog Dump%'\\G "
    "SELECT 'end' AS drconsole_section\\G"
)
"""The probe statements. Needs REPLICATION CLIENT (MariaDB 10.5.9+: SLAVE MONITOR) and
PROCESS to see the binlog dump threads."""

_ROW = re.compile(r"^\*+ \d+\. row \*+$")
_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*): ?(.*)$")


def client_prefix(target: ProbeTarget) -> str:
    """The shell words that pick ``mariadb`` if present else ``mysql`` into ``$m``.

    Args:
        target: The member (unused; kept for symmetry with the other builders).

    Returns:
        ``m=mysql; command -v mariadb >/dev/null 2>&1 && m=mariadb; ``
    """
    del target
    return "m=mysql; command -v mariadb >/dev/null 2>&1 && m=mariadb; "


def client_args(target: ProbeTarget, connect_timeout: float) -> str:
    """``"$m" --no-defaults`` and the connection options, shell-quoted.

    Args:
        target: The member.
        connect_timeout: Seconds for ``--connect-timeout``.

    Returns:
        The client words up to (not including) ``-e``.
    """
    argv = ["--no-defaults"]
    if target.socket:
        argv += ["--protocol=SOCKET", "-S", target.socket]
    else:
        argv += ["--protocol=TCP", "-h", target.address, "-P", str(target.port)]
    if target.user:
        argv += ["-u", target.user]
    argv += [f"--connect-timeout={max(1, round(connect_timeout))}"]
    return '"$m" ' + " ".join(shlex.quote(arg) for arg in argv)


def mysql_env(target: ProbeTarget) -> str:
    """``MYSQL_PWD="${VAR-}" `` when the target names a password variable."""
    return shell_env([], ("MYSQL_PWD", target.password_env) if target.password_env else None)


@dataclass
class _Sections:
    variables: dict[str, str] = field(default_factory=dict)
    replica_status: list[dict[str, str]] = field(default_factory=list)
    binlog_dump: list[dict[str, str]] = field(default_factory=list)
    complete: bool = False


def vertical_rows(text: str) -> list[dict[str, str]]:
    """Split the mysql client's vertical output into rows of ``field: value``.

    A line that is neither a row header nor ``Name: value`` continues the previous value
    (MySQL prints long GTID sets over several lines).

    Args:
        text: The client's stdout.

    Returns:
        One dict per row, in order.
    """
    rows: list[dict[str, str]] = []
    last: str | None = None
    for line in text.splitlines():
        if _ROW.match(line.strip()):
            rows.append({})
            last = None
            continue
        if not rows:
            continue
        match = _FIELD.match(line)
        if match:
            last = match.group(1)
            rows[-1][last] = match.group(2).rstrip()
        elif last is not None and line.strip():
            rows[-1][last] += "\n" + line.strip()
    return rows


def _sections(text: str) -> _Sections:
    out = _Sections()
    current: str | None = None
    for row in vertical_rows(text):
        if "drconsole_section" in row:
            current = row["drconsole_section"]
            if current == "end":
                out.complete = True
            continue
        if current in ("variables", "status") and "Variable_name" in row:
            out.variables[row["Variable_name"]] = row.get("Value", "")
        elif current == "replica_status":
            out.replica_status.append(row)
        elif current == "binlog_dump":
            out.binlog_dump.append(row)
    return out


def _semi_sync(variables: dict[str, str], details: dict[str, str]) -> None:
    """Semi-sync as the server says it: ``semi_sync_enabled`` (configured on this primary),
    ``semi_sync_status`` (ON while commits wait for a replica's acknowledgement, OFF after
    a fallback to asynchronous), ``semi_sync_clients`` (semi-sync replicas connected),
    ``semi_sync_no_tx`` (commits not acknowledged) and ``semi_sync_replica`` (this
    replica's own semi-sync status). Absent variables stay absent."""
    for key, names in (
        ("semi_sync_enabled", ("rpl_semi_sync_master_enabled", "rpl_semi_sync_source_enabled")),
        ("semi_sync_status", ("Rpl_semi_sync_master_status", "Rpl_semi_sync_source_status")),
        ("semi_sync_clients", ("Rpl_semi_sync_master_clients", "Rpl_semi_sync_source_clients")),
        ("semi_sync_no_tx", ("Rpl_semi_sync_master_no_tx", "Rpl_semi_sync_source_no_tx")),
        ("semi_sync_replica", ("Rpl_semi_sync_slave_status", "Rpl_semi_sync_replica_status")),
    ):
        value = _get(variables, *names)
        if value is not None:
            details[key] = value


def _get(row: dict[str, str], *names: str) -> str | None:
    """The first of ``names`` present in ``row``; ``NULL`` and blanks become None."""
    for name in names:
        if name in row:
            value = row[name].strip()
            return None if value in ("", "NULL") else value
    return None


def _on(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.upper() in ("ON", "1", "YES", "TRUE")


def _gtid(value: str | None) -> str | None:
    return None if value is None else value.replace("\n", "")


class MysqlProbe(Probe):
    """MariaDB 10.5+ and MySQL 8.0.22+ (``SHOW REPLICA STATUS``)."""

    kind = "mysql"
    tool = "mysql"
    failure_patterns = (
        FailurePattern(
            re.compile(r"ERROR 1045 \(28000\): Access denied for user '([^']*)'"),
            Role.UNKNOWN,
            "auth failed for user {detail}",
        ),
        FailurePattern(
            re.compile(r"ERROR 1130 \(HY000\): (Host .*? is not allowed to connect)"),
            Role.UNKNOWN,
            "auth failed for user {user}: {detail}",
        ),
        FailurePattern(
            re.compile(r"ERROR (?:1227|1142|1044) \([0-9A-Z]+\)(?: at line \d+)?: ([^\n]*)"),
            Role.UNKNOWN,
            "the probe user lacks a privilege: {detail}",
        ),
        FailurePattern(
            re.compile(r"ERROR 200[23] \(HY000\): (Can't connect to [^\n]*)"),
            Role.DOWN,
            "cannot connect to {endpoint} (refused or no answer)",
        ),
        FailurePattern(
            re.compile(r"ERROR 20(?:06|13) \(HY000\)(?: at line \d+)?: ([^\n]*)"),
            Role.DOWN,
            "{endpoint}: {detail}",
        ),
    )

    def command(self, target: ProbeTarget) -> str:
        """``mariadb``/``mysql --no-defaults ... -e PROBE_SQL`` with a time limit."""
        return (
            client_prefix(target)
            + mysql_env(target)
            + self.timeout_prefix()
            + client_args(target, self.connect_timeout)
            + " -e "
            + shlex.quote(PROBE_SQL)
        )

    def command_riding(self, target: ProbeTarget, sqls: Sequence[str]) -> str | None:
        """:meth:`command` with each of ``sqls`` after the probe's statements in its ``-e``."""
        return (
            client_prefix(target)
            + mysql_env(target)
            + self.timeout_prefix()
            + client_args(target, self.connect_timeout)
            + " -e "
            + shlex.quote(mysql_riding(PROBE_SQL, sqls))
        )

    def parse_output(
        self, target: ProbeTarget, stdout: str, sampled_at: float
    ) -> ReplicationSample:
        """Parse the sections of ``PROBE_SQL``."""
        sections = _sections(stdout)
        if not sections.complete:
            raise ValueError("the output stops before its end marker")
        variables = sections.variables
        details: dict[str, str] = {}
        for name in (
            "version",
            "server_id",
            "gtid_binlog_pos",
            "gtid_current_pos",
            "gtid_slave_pos",
            "gtid_executed",
            "gtid_mode",
        ):
            value = _gtid(_get(variables, name))
            if value is not None:
                details[name] = value
        _semi_sync(variables, details)
        read_only = _on(_get(variables, "read_only"))
        if _on(_get(variables, "super_read_only")):
            read_only = True
            details["super_read_only"] = "ON"
        own_position = _gtid(
            _get(variables, "gtid_current_pos", "gtid_executed", "gtid_binlog_pos")
        )
        if not sections.replica_status:
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
                position=_gtid(_get(variables, "gtid_binlog_pos", "gtid_executed")),
                read_only=read_only,
                replicas=tuple(self._dump_thread(row) for row in sections.binlog_dump),
                error=None,
                sampled_at=sampled_at,
                details=details,
            )
        status = sections.replica_status[0]
        if len(sections.replica_status) > 1:
            details["channels"] = str(len(sections.replica_status))
        io_running = _get(status, "Slave_IO_Running", "Replica_IO_Running") or "No"
        sql_running = _get(status, "Slave_SQL_Running", "Replica_SQL_Running") or "No"
        details["io_running"] = io_running
        details["sql_running"] = sql_running
        for key, names in (
            ("io_state", ("Slave_IO_State", "Replica_IO_State")),
            ("sql_state", ("Slave_SQL_Running_State", "Replica_SQL_Running_State")),
            ("using_gtid", ("Using_Gtid",)),
            ("auto_position", ("Auto_Position",)),
            ("gtid_io_pos", ("Gtid_IO_Pos",)),
            ("retrieved_gtid_set", ("Retrieved_Gtid_Set",)),
            ("executed_gtid_set", ("Executed_Gtid_Set",)),
            ("source_server_id", ("Master_Server_Id", "Source_Server_Id")),
        ):
            value = _gtid(_get(status, *names))
            if value is not None:
                details[key] = value
        errors = []
        for label, errno_names, error_names in (
            ("IO", ("Last_IO_Errno",), ("Last_IO_Error",)),
            ("SQL", ("Last_SQL_Errno",), ("Last_SQL_Error",)),
        ):
            errno = _get(status, *errno_names)
            message = _get(status, *error_names)
            if errno not in (None, "0") or message:
                text = f"{label} thread error {errno}: {first_line(message or '', 300)}"
                errors.append(text)
                details[f"last_{label.lower()}_error"] = text

        host = _get(status, "Master_Host", "Source_Host")
        port = _get(status, "Master_Port", "Source_Port")
        upstream = f"{host}:{port}" if host else None
        link = Link.UP if io_running == "Yes" else Link.DOWN

        delay_text = _get(status, "SQL_Delay")
        delay = float(delay_text) if delay_text is not None else 0.0
        if delay <= 0:
            delay = target.configured_delay
        if delay > 0:
            details["sql_delay"] = f"{delay:g}"
        behind = _get(status, "Seconds_Behind_Master", "Seconds_Behind_Source")
        lag_seconds: float | None = None
        if io_running == "Yes" and sql_running == "Yes" and behind is not None:
            lag_seconds = max(0.0, float(behind) - delay)
            if delay > 0:
                details["seconds_behind_raw"] = behind
        backlog = self._relay_backlog(status)
        if backlog is not None:
            details["relay_backlog_bytes"] = str(backlog)

        return ReplicationSample(
            service=target.service,
            site=target.site,
            host=target.host,
            kind=target.kind,
            role=Role.REPLICA,
            upstream=upstream,
            link=link,
            lag_seconds=lag_seconds,
            lag_bytes=None,
            position=own_position,
            read_only=read_only,
            replicas=tuple(self._dump_thread(row) for row in sections.binlog_dump),
            error="; ".join(errors) or None,
            sampled_at=sampled_at,
            details=details,
        )

    @staticmethod
    def _relay_backlog(status: dict[str, str]) -> int | None:
        """Bytes read from the upstream's binlog but not yet executed, same file only."""
        read_file = _get(status, "Master_Log_File", "Source_Log_File")
        exec_file = _get(status, "Relay_Master_Log_File", "Relay_Source_Log_File")
        read_pos = _get(status, "Read_Master_Log_Pos", "Read_Source_Log_Pos")
        exec_pos = _get(status, "Exec_Master_Log_Pos", "Exec_Source_Log_Pos")
        if read_file is None or read_file != exec_file or read_pos is None or exec_pos is None:
            return None
        return max(0, int(read_pos) - int(exec_pos))

    @staticmethod
    def _dump_thread(row: dict[str, str]) -> ReplicaInfo:
        host = _get(row, "HOST") or ""
        address = host.rsplit(":", 1)[0] if ":" in host else host or None
        user = _get(row, "USER")
        return ReplicaInfo(
            name=f"{user}@{address}" if user else (address or "?"),
            address=address,
            state=_get(row, "STATE") or _get(row, "COMMAND"),
            lag_seconds=None,
            lag_bytes=None,
            position=None,
        )
