"""Write the MySQL 8 probe inputs, transcribed by hand: MySQL 8 cannot run on this machine.

MariaDB 10.11 is what the lab runs, and its outputs are recorded by ``record.py``. MySQL 8
names the same fields differently (``Replica_IO_Running``, ``Seconds_Behind_Source``,
``Source_Host``, ``Retrieved_Gtid_Set``, ``Executed_Gtid_Set``), and the parser must read
both. These inputs are NOT recordings: the ``SHOW REPLICA STATUS\\G`` rows follow the field
list, order and example values of the ``SHOW REPLICA STATUS`` example in the MySQL 8.0
Reference Manual (section "SHOW REPLICA STATUS Statement"); where a scenario needs another
state (an IO error, a delay) the changed fields are listed in the file's ``changes``. The
variables and processlist sections are laid out the way the mysql client prints ``\\G``
results (names right-aligned, ``Name: value``). Every file says ``"recorded": false``.

Run from the repository root: ``.venv/bin/python -m tests.probes.mysql8_transcribed``.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data" / "mysql"
SOURCE = (
    "MySQL 8.0 Reference Manual, 15.7.7.35 SHOW REPLICA STATUS Statement, example output "
    "(https://dev.mysql.com/doc/refman/8.0/en/show-replica-status.html)"
)
UUID = "73f86016-978b-11ee-ade5-8d2a2a562feb"

MANUAL_EXAMPLE: list[tuple[str, str]] = [
    ("Replica_IO_State", "Waiting for source to send event"),
    ("Source_Host", "127.0.0.1"),
    ("Source_User", "root"),
    ("Source_Port", "13000"),
    ("Connect_Retry", "1"),
    ("Source_Log_File", "master-bin.000001"),
    ("Read_Source_Log_Pos", "927"),
    ("Relay_Log_File", "slave-relay-bin.000002"),
    ("Relay_Log_Pos", "1145"),
    ("Relay_Source_Log_File", "master-bin.000001"),
    ("Replica_IO_Running", "Yes"),
    ("Replica_SQL_Running", "Yes"),
    ("Replicate_Do_DB", ""),
    ("Replicate_Ignore_DB", ""),
    ("Replicate_Do_Table", ""),
    ("Replicate_Ignore_Table", ""),
    ("Replicate_Wild_Do_Table", ""),
    ("Replicate_Wild_Ignore_Table", ""),
    ("Last_Errno", "0"),
    ("Last_Error", ""),
    ("Skip_Counter", "0"),
    ("Exec_Source_Log_Pos", "927"),
    ("Relay_Log_Space", "1355"),
    ("Until_Condition", "None"),
    ("Until_Log_File", ""),
    ("Until_Log_Pos", "0"),
    ("Source_SSL_Allowed", "No"),
    ("Source_SSL_CA_File", ""),
    ("Source_SSL_CA_Path", ""),
    ("Source_SSL_Cert", ""),
    ("Source_SSL_Cipher", ""),
    ("Source_SSL_Key", ""),
    ("Seconds_Behind_Source", "0"),
    ("Source_SSL_Verify_Server_Cert", "No"),
    ("Last_IO_Errno", "0"),
    ("Last_IO_Error", ""),
    ("Last_SQL_Errno", "0"),
    ("Last_SQL_Error", ""),
    ("Replicate_Ignore_Server_Ids", ""),
    ("Source_Server_Id", "1"),
    ("Source_UUID", UUID),
    ("Source_Info_File", "mysql.slave_master_info"),
    ("SQL_Delay", "0"),
    ("SQL_Remaining_Delay", "NULL"),
    ("Replica_SQL_Running_State", "Replica has read all relay log; waiting for more updates"),
    ("Source_Retry_Count", "10"),
    ("Source_Bind", ""),
    ("Last_IO_Error_Timestamp", ""),
    ("Last_SQL_Error_Timestamp", ""),
    ("Source_SSL_Crl", ""),
    ("Source_SSL_Crlpath", ""),
    ("Retrieved_Gtid_Set", f"{UUID}:1-3"),
    ("Executed_Gtid_Set", f"{UUID}:1-3"),
    ("Auto_Position", "1"),
    ("Replicate_Rewrite_DB", ""),
    ("Channel_Name", ""),
    ("Source_TLS_Version", ""),
    ("Source_public_key_path", ""),
    ("Get_Source_public_key", "0"),
    ("Network_Namespace", ""),
]


def vertical(rows: list[list[tuple[str, str]]]) -> str:
    """Lay rows out as the mysql client does for ``\\G``."""
    out = []
    for number, row in enumerate(rows, 1):
        out.append(f"*************************** {number}. row ***************************")
        width = max(len(name) for name, _ in row)
        out.extend(f"{name.rjust(width)}: {value}" for name, value in row)
    return "\n".join(out) + "\n" if out else ""


def section(name: str) -> str:
    """A marker row printed by ``SELECT 'NAME' AS drconsole_section\\G``."""
    return vertical([[("drconsole_section", name)]])


def variables(values: dict[str, str]) -> str:
    """``SHOW GLOBAL VARIABLES WHERE ...\\G`` rows, sorted by name like the server does."""
    return vertical([[("Variable_name", name), ("Value", values[name])] for name in sorted(values)])


def output(
    variable_values: dict[str, str],
    status: list[tuple[str, str]] | None,
    dumps: list[list[tuple[str, str]]],
) -> str:
    """The probe's whole stdout."""
    return (
        section("variables")
        + variables(variable_values)
        + section("replica_status")
        + (vertical([status]) if status else "")
        + section("binlog_dump")
        + vertical(dumps)
        + section("end")
    )


def changed(changes: dict[str, str]) -> list[tuple[str, str]]:
    """The manual's example with some fields changed."""
    return [(name, changes.get(name, value)) for name, value in MANUAL_EXAMPLE]


REPLICA_VARIABLES = {
    "gtid_executed": f"{UUID}:1-3",
    "gtid_mode": "ON",
    "read_only": "ON",
    "server_id": "2",
    "super_read_only": "ON",
    "version": "8.0.36",
}


def build() -> None:
    """Write every transcribed scenario."""
    target = {
        "service": "billing-db",
        "site": "west",
        "host": "db-west-1",
        "kind": "mysql",
        "address": "127.0.0.1",
        "port": 13001,
        "user": "drprobe",
        "database": None,
        "password_env": "DRPROBE_PW",
        "command": None,
        "socket": None,
        "configured_delay": 0.0,
    }
    io_error = (
        "error connecting to source 'root@127.0.0.1:13000' - retry-time: 1 retries: 3 "
        "message: Can't connect to MySQL server on '127.0.0.1:13000' (111)"
    )
    scenarios = {
        "mysql8_replica_healthy_transcribed": (
            "MySQL 8 replica, both threads running (the manual's example as printed)",
            {},
            REPLICA_VARIABLES,
            [],
        ),
        "mysql8_replica_io_error_transcribed": (
            "MySQL 8 replica whose receiver cannot reach the source",
            {
                "Replica_IO_State": "Connecting to source",
                "Replica_IO_Running": "Connecting",
                "Seconds_Behind_Source": "NULL",
                "Last_IO_Errno": "2003",
                "Last_IO_Error": io_error,
                "Last_IO_Error_Timestamp": "231211 10:15:02",
            },
            REPLICA_VARIABLES,
            [],
        ),
        "mysql8_replica_sql_error_transcribed": (
            "MySQL 8 replica whose applier stopped on a duplicate key",
            {
                "Replica_SQL_Running": "No",
                "Seconds_Behind_Source": "NULL",
                "Last_Errno": "1062",
                "Last_Error": "Coordinator stopped because there were error(s) in the worker(s).",
                "Last_SQL_Errno": "1062",
                "Last_SQL_Error": (
                    "Coordinator stopped because there were error(s) in the worker(s)."
                ),
                "Replica_SQL_Running_State": "",
                "Retrieved_Gtid_Set": f"{UUID}:1-4",
                "Last_SQL_Error_Timestamp": "231211 10:16:40",
            },
            REPLICA_VARIABLES,
            [],
        ),
        "mysql8_replica_delayed_transcribed": (
            "MySQL 8 replica with SOURCE_DELAY=60, 75 s behind: 15 s beyond the delay",
            {
                "Seconds_Behind_Source": "75",
                "SQL_Delay": "60",
                "SQL_Remaining_Delay": "45",
                "Replica_SQL_Running_State": (
                    "Waiting until SOURCE_DELAY seconds after source executed event"
                ),
                "Retrieved_Gtid_Set": f"{UUID}:1-5",
            },
            REPLICA_VARIABLES,
            [],
        ),
        "mysql8_primary_transcribed": (
            "MySQL 8 source with one replica's binlog dump thread and a two-UUID "
            "gtid_executed (printed over two lines)",
            None,
            {
                "gtid_executed": (f"{UUID}:1-3,\n3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"),
                "gtid_mode": "ON",
                "read_only": "OFF",
                "server_id": "1",
                "super_read_only": "OFF",
                "version": "8.0.36",
            },
            [
                [
                    ("ID", "42"),
                    ("USER", "repl"),
                    ("HOST", "127.0.0.1:51764"),
                    ("COMMAND", "Binlog Dump GTID"),
                    ("STATE", "Source has sent all binlog to replica; waiting for more updates"),
                    ("TIME", "3600"),
                ]
            ],
        ),
    }
    for name, (description, changes, values, dumps) in scenarios.items():
        status = changed(changes) if changes is not None else None
        record = {
            "kind": "mysql",
            "scenario": name,
            "description": description,
            "recorded": False,
            "transcribed_from": SOURCE,
            "changes": changes or {},
            "target": {**target, "site": "east", "host": "db-east-1"} if status is None else target,
            "command": "(not run: MySQL 8 is not installed here; see tests/probes/"
            "mysql8_transcribed.py)",
            "exit_status": 0,
            "stdout": output(values, status, dumps),
            "stderr": "",
            "sampled_at": 1702289702.0,
        }
        (DATA / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"mysql/{name}.json")


if __name__ == "__main__":
    build()
