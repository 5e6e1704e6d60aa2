"""Bad-input cases shared by the validate-equals-run test and the enumeration test.

Each case changes one thing in a valid inventory and playbook pair and names where the error
must be reported: the first occurrence of ``marker`` in the changed file (plus ``shift``
characters), so a case states the *offending value*, not a line number that drifts.
"""

from __future__ import annotations

from dataclasses import dataclass

INVENTORY = """\
version: 1
name: t
ssh: {user: drill, connect_timeout: 1s}
vars: {pgbin: /usr/lib/postgresql/15/bin}
sites:
  east:
    role: primary
    hosts:
      db-east-1: {address: 127.254.1.1, port: 1, tags: [postgres]}
  west:
    role: standby
    hosts:
      db-west-1: {address: 127.254.2.1, port: 1, tags: [postgres]}
  dr:
    role: dr
    hosts:
      vault-dr-1: {address: 127.254.3.1, port: 1, tags: [backup]}
services:
  orders-db:
    kind: postgres
    members:
      db-east-1: {port: 5432, role: primary, vars: {pgdata: /srv/pg, stop_cmd: pg_ctl stop}}
      db-west-1: {port: 5432, role: replica, vars: {pgdata: /srv/pg, stop_cmd: pg_ctl stop}}
    probe: {user: postgres, timeout: 2s}
  ledger:
    kind: custom
    members:
      db-east-1: {role: primary}
      db-west-1: {role: replica}
    probe: {command: /usr/local/bin/ledger-status}
"""
"""A valid inventory. Its hosts' addresses have nothing listening: a run that got past input
validation would fail to connect, never with exit 2 and a located message."""

PLAYBOOK = """\
version: 1
name: pb
kind: failover
service: orders-db
params:
  from_site: {default: east, choices: [east, west]}
  to_site: {default: west, choices: [east, west]}
  note: {default: drill}
canary: {service: orders-db, every: 1s}
preflight:
  - title: replication healthy
    replication: {service: orders-db, max_lag: 5s}
  - role: {service: orders-db, site: "{{ to_site }}", role: replica}
steps:
  - id: fence
    on: service:orders-db and site:{{ from_site }}
    run: "{{ target.vars.stop_cmd | raw }} -D {{ target.vars.pgdata }}"
    confirm: true
    on_failure: abort
    rto: start
  - id: catch-up
    wait:
      until: {service: orders-db, site: "{{ to_site }}", caught_up: true, link: up}
      timeout: 2m
  - id: promote
    on: service:orders-db and site:{{ to_site }}
    run: "{{ vars.pgbin }}/pg_ctl promote -D {{ target.vars.pgdata }} #{{ steps.fence.stdout }}"
    rto: end
  - id: tell
    manual: Tell the team ({{ note }}) that {{ service.at[to_site].host }} is primary.
"""
"""A valid playbook for ``INVENTORY``."""


@dataclass(frozen=True)
class Case:
    """One bad input."""

    name: str
    file: str
    """``inventory`` or ``playbook``: the file changed and where the error is reported."""
    old: str
    new: str
    marker: str
    """The error is at the first occurrence of this text in the changed file..."""
    message: str
    """...and its message contains this."""
    shift: int = 0
    """Characters after the marker's start."""
    var: tuple[str, ...] = ()
    """``--var`` arguments given to both commands."""
    located_in: str | None = None
    """The file the error is reported in, when not ``file``."""
    also: tuple[tuple[str, str], ...] = ()
    """More (old, new) replacements in the same file."""

    def apply(self, text: str) -> str:
        """The changed file."""
        for old, new in ((self.old, self.new), *self.also):
            if old:
                assert old in text, (self.name, old)
                text = text.replace(old, new, 1)
        return text


ENUM_CASES: dict[str, Case] = {
    "playbook kind": Case(
        "playbook kind",
        "playbook",
        "kind: failover",
        "kind: teleport",
        "teleport",
        "must be one of failover, failback, switchover, restore-verification, "
        "point-in-time-restore, custom",
    ),
    "step kind": Case(
        "step kind",
        "playbook",
        "  - id: tell\n    manual:",
        "  - id: tell\n    ask:",
        "id: tell",
        "needs exactly one of run, wait, manual",
    ),
    "gate kind": Case(
        "gate kind",
        "playbook",
        "    replication: {service",
        "    replicaton: {service",
        "title: replication healthy",
        "needs exactly one of replication, role, command",
    ),
    "on_failure": Case(
        "on_failure",
        "playbook",
        "on_failure: abort",
        "on_failure: explode",
        "explode",
        "must be one of abort, continue, rollback",
    ),
    "rto mark": Case(
        "rto mark", "playbook", "rto: start", "rto: begin", "begin", "must be one of start, end"
    ),
    "condition role": Case(
        "condition role",
        "playbook",
        "role: replica}",
        "role: leader}",
        "leader}",
        "must be one of primary, replica, down, unknown",
    ),
    "condition link": Case(
        "condition link",
        "playbook",
        "link: up}",
        "link: sideways}",
        "sideways",
        "must be one of up, down",
    ),
    "selector key": Case(
        "selector key",
        "playbook",
        "and site:{{ from_site }}",
        "and zone:{{ from_site }}",
        "zone:",
        "use one of host, site, tag, service, role",
    ),
    "selector role": Case(
        "selector role",
        "playbook",
        "and site:{{ from_site }}",
        "and role:leader",
        "leader",
        "must be one of primary, replica",
    ),
    "selector word": Case(
        "selector word",
        "playbook",
        "and site:{{ from_site }}",
        "and site:east or site:west",
        "or site:west",
        "joined with 'and' only",
    ),
    "site role": Case(
        "site role",
        "inventory",
        "role: standby",
        "role: backup",
        "backup",
        "must be one of primary, standby, dr",
    ),
    "member role": Case(
        "member role",
        "inventory",
        "role: replica, vars",
        "role: follower, vars",
        "follower",
        "must be one of primary, replica",
    ),
    "service kind": Case(
        "service kind",
        "inventory",
        "kind: postgres",
        "kind: oracle",
        "oracle",
        "must be one of postgres, mysql, redis, redis-cluster, custom",
    ),
    "ssh backend": Case(
        "ssh backend",
        "inventory",
        "connect_timeout: 1s}",
        "connect_timeout: 1s, backend: libssh}",
        "libssh",
        "must be one of asyncssh, paramiko",
    ),
    "canary service kind": Case(
        "canary service kind",
        "playbook",
        "canary: {service: orders-db",
        "canary: {service: ledger",
        "ledger",
        "a canary writes to postgres, mysql, redis, redis-cluster only",
    ),
    "service topology": Case(
        "service topology",
        "inventory",
        "kind: postgres\n",
        "kind: postgres\n    topology: ring\n",
        "ring",
        "must be one of primary-replica, cascade, multi-primary",
    ),
    "backup tool": Case(
        "backup tool",
        "inventory",
        "probe: {user: postgres, timeout: 2s}",
        "probe: {user: postgres, timeout: 2s}\n"
        "    backup: {tool: barman, stanza: main, repo_host: vault-dr-1}",
        "barman",
        "must be one of pgbackrest, mariadb-backup, redis-aof",
    ),
}
"""One case per documented enumeration (``console.model.enums.ENUMERATIONS``)."""

CROSS_CASES: list[Case] = [
    # a duration given as a list is named as such (it printed the loader's internal nodes)
    Case(
        "duration given as a list",
        "inventory",
        "probe: {user: postgres, timeout: 2s}",
        "probe: {user: postgres, timeout: [2s]}",
        "[2s]",
        "'timeout' in probe of 'orders-db': expected a duration like 500ms, 5s, 2m, 1h, got a list",
    ),
    # member ports: a port out of range is the loader's, located at the value
    Case(
        "member port out of range",
        "inventory",
        "{port: 5432, role: primary",
        "{port: 70000, role: primary",
        "70000",
        "must be from 1 to 65535, not 70000",
    ),
    Case(
        "host port zero",
        "inventory",
        "127.254.2.1, port: 1,",
        "127.254.2.1, port: 0,",
        "port: 0",
        "must be from 1 to 65535, not 0",
        shift=6,
    ),
    Case(
        "member port not a number",
        "inventory",
        "{port: 5432, role: replica",
        "{port: five, role: replica",
        "five",
        "must be an integer",
    ),
    Case(
        "password_env not a name",
        "inventory",
        "probe: {user: postgres,",
        "probe: {user: postgres, password_env: PG-PASS,",
        "PG-PASS",
        "is not an environment variable name",
    ),
    # parameter values
    Case(
        "--var not among choices",
        "playbook",
        "",
        "",
        "to_site: {default",
        "--var to_site must be one of east, west, not 'north'",
        var=("to_site=north",),
    ),
    Case(
        "default not among choices",
        "playbook",
        "{default: west, choices",
        "{default: north, choices",
        "north",
        "default of to_site must be one of east, west",
    ),
    Case(
        "default does not match pattern",
        "playbook",
        "note: {default: drill}",
        "note: {default: 'a b', pattern: '[a-z]+'}",
        "'a b'",
        "does not match '[a-z]+'",
    ),
    Case(
        "choice does not match pattern",
        "playbook",
        "to_site: {default: west, choices: [east, west]}",
        "to_site: {default: west, choices: [east, West], pattern: '[a-z]+'}",
        "West]",
        "choice 'West' of 'to_site' does not match its pattern",
    ),
    Case(
        "no default and no --var",
        "playbook",
        "note: {default: drill}",
        "note: {}",
        "note: {}",
        "parameter 'note' has no default: pass --var note=...",
        var=("to_site=west",),
    ),
    Case(
        "unknown --var",
        "playbook",
        "",
        "",
        "",
        "--var tosite: playbook 'pb' has no such parameter",
        var=("tosite=west",),
    ),
    # unknown names, at the offending value
    Case(
        "playbook service",
        "playbook",
        "service: orders-db\nparams",
        "service: orders\nparams",
        "orders\n",
        "service 'orders' is not in inventory 't' (did you mean 'orders-db'?)",
    ),
    Case(
        "canary service",
        "playbook",
        "canary: {service: orders-db",
        "canary: {service: order-db",
        "order-db",
        "canary service 'order-db' is not in inventory 't'",
    ),
    Case(
        "selector site",
        "playbook",
        "and site:{{ from_site }}",
        "and site:north",
        "north",
        "site 'north' is not in inventory 't'",
    ),
    Case(
        "selector tag",
        "playbook",
        "and site:{{ from_site }}",
        "and tag:mysql",
        "mysql",
        "tag 'mysql' is not in inventory 't'",
    ),
    Case(
        "selector host",
        "playbook",
        "on: service:orders-db and site:{{ from_site }}",
        "on: db-east-9",
        "db-east-9",
        "host 'db-east-9' is not in inventory 't'",
    ),
    Case(
        "selector service",
        "playbook",
        "on: service:orders-db and site:{{ from_site }}",
        "on: service:orderz",
        "orderz",
        "service 'orderz' is not in inventory 't'",
    ),
    Case(
        "--var names an unknown site",
        "playbook",
        "from_site: {default: east, choices: [east, west]}",
        "from_site: {default: east}",
        "{{ from_site }}",
        "site 'north' (--var from_site) is not in inventory",
        var=("from_site=north",),
    ),
    Case(
        "a choice names an unknown site",
        "playbook",
        "{default: east, choices: [east, west]}",
        "{default: east, choices: [east, west, north]}",
        "north",
        "site 'north' (a choice of parameter from_site) is not in inventory 't'",
    ),
    Case(
        "condition site",
        "playbook",
        'site: "{{ to_site }}", caught_up',
        "site: south, caught_up",
        "south",
        "site 'south' is not in inventory 't'",
    ),
    Case(
        "condition host",
        "playbook",
        'site: "{{ to_site }}", caught_up',
        "host: db-north-1, caught_up",
        "db-north-1",
        "host 'db-north-1' is not in inventory",
    ),
    Case(
        "condition with no member there",
        "playbook",
        'site: "{{ to_site }}", caught_up',
        "site: dr, caught_up",
        "dr, caught_up",
        "service 'orders-db' has no member at site 'dr'",
    ),
    # selectors that match nothing
    Case(
        "selector matches no host",
        "playbook",
        "on: service:orders-db and site:{{ from_site }}",
        "on: service:orders-db and site:dr",
        "service:orders-db and site:dr",
        "no host of inventory 't' matches 'service:orders-db and site:dr'",
    ),
    Case(
        "role term without a service",
        "playbook",
        "service: orders-db\nparams",
        "params",
        "primary\n",
        "a role: term needs a service: term or a playbook service",
        also=(
            ("on: service:orders-db and site:{{ from_site }}", "on: role:primary"),
            ("{{ service.at[to_site].host }}", "{{ to_site }}"),
        ),
    ),
    # templates and the inventory values they use
    Case(
        "inventory variable",
        "playbook",
        "{{ vars.pgbin }}",
        "{{ vars.pg_bin }}",
        "pg_bin",
        "template uses vars.pg_bin, but 'pg_bin' is not among the variables of inventory 't'",
    ),
    Case(
        "member variable",
        "playbook",
        '{{ target.vars.pgdata }}"\n    confirm',
        '{{ target.vars.datadir }}"\n    confirm',
        "datadir",
        "'datadir' is not among the variables of host 'db-east-1'",
    ),
    Case(
        "member variable on one target only",
        "inventory",
        "role: replica, vars: {pgdata: /srv/pg, stop_cmd: pg_ctl stop}",
        "role: replica, vars: {pgdata: /srv/pg}",
        "target.vars.stop_cmd",
        "'stop_cmd' is not among the variables of host 'db-west-1'",
        located_in="playbook",
        shift=len("target.vars."),
        var=("from_site=west",),
    ),
    Case(
        "site of a service",
        "playbook",
        "service.at[to_site].host",
        "service.at['dr'].host",
        "['dr']",
        "template uses service.at.dr, but 'dr' is not among the sites where 'orders-db' has",
    ),
    Case(
        "a later step's output",
        "playbook",
        "steps.fence.stdout",
        "steps.tell.stdout",
        "steps.tell",
        "template uses steps['tell'], but that step runs later",
        shift=len("steps."),
    ),
    Case(
        "target outside a command",
        "playbook",
        "Tell the team ({{ note }})",
        "Tell the team ({{ target.name }})",
        "target.name",
        "'target' is defined only in commands",
    ),
    Case(
        "undefined name",
        "playbook",
        "({{ note }})",
        "({{ nota }})",
        "nota",
        "template uses undefined name 'nota'",
    ),
    Case(
        "service of a playbook without one",
        "playbook",
        "service: orders-db\nparams",
        "params",
        "service.at",
        "the playbook names no service",
    ),
    # backup: of a service (console/model/backup.py)
    *[
        Case(
            f"backup: {name}",
            "inventory",
            "probe: {user: postgres, timeout: 2s}",
            "probe: {user: postgres, timeout: 2s}\n    backup: " + block,
            marker,
            message,
        )
        for name, block, marker, message in (
            (
                "stanza missing",
                "{tool: pgbackrest, repo_host: vault-dr-1}",
                "{tool: pgbackrest, repo_host",
                "pgbackrest needs 'stanza'",
            ),
            (
                "stanza malformed",
                "{tool: pgbackrest, stanza: 'a b', repo_host: vault-dr-1}",
                "'a b'",
                "stanza 'a b' in backup of 'orders-db' must start with a letter or digit",
            ),
            (
                "repo_host unknown",
                "{tool: pgbackrest, stanza: main, repo_host: vault-dr-2}",
                "vault-dr-2",
                "repo_host 'vault-dr-2' in backup of 'orders-db' is not a host of the inventory",
            ),
            (
                "repo_host missing",
                "{tool: pgbackrest, stanza: main}",
                "{tool: pgbackrest, stanza: main}",
                "backup of 'orders-db' needs 'repo_host'",
            ),
            (
                "config relative",
                "{tool: pgbackrest, stanza: main, repo_host: vault-dr-1, config: pgbr.conf}",
                "pgbr.conf",
                "must be an absolute path on the repository host",
            ),
            (
                "path relative",
                "{tool: pgbackrest, stanza: main, repo_host: vault-dr-1, path: base}",
                "base}",
                "path 'base' in backup of 'orders-db' must be an absolute path",
            ),
            (
                "mariadb-backup without path",
                "{tool: mariadb-backup, repo_host: vault-dr-1}",
                "{tool: mariadb-backup",
                "mariadb-backup needs 'path'",
            ),
            (
                "unknown key",
                "{tool: pgbackrest, stanzas: main, repo_host: vault-dr-1}",
                "stanzas",
                "unknown key 'stanzas' in backup of 'orders-db'",
            ),
            (
                "not a mapping",
                "pgbackrest",
                "pgbackrest",
                "backup of 'orders-db' must be a mapping",
            ),
        )
    ],
    Case(
        "backup: tool of another kind",
        "inventory",
        "probe: {command: /usr/local/bin/ledger-status}",
        "probe: {command: /usr/local/bin/ledger-status}\n"
        "    backup: {tool: pgbackrest, stanza: l, repo_host: vault-dr-1}",
        "pgbackrest, stanza: l",
        "pgbackrest backs up services of kind postgres, not custom",
    ),
    # the recovery target of a point-in-time-restore playbook (console/model/pitr.py)
    *[
        Case(
            f"pitr: {name}",
            "playbook",
            "kind: failover",
            "kind: point-in-time-restore",
            marker,
            message,
            var=var,
            also=(
                (
                    "  note: {default: drill}\n",
                    "  note: {default: drill}\n  target_time: {default: ''}\n"
                    "  target_name: {default: ''}\n  target_xid: {default: ''}\n",
                ),
            ),
        )
        for name, var, marker, message in (
            (
                "time without a zone",
                ("target_time=2026-12-02T14:01:00",),
                "target_time: {default",
                "--var target_time='2026-12-02T14:01:00' is not an ISO 8601 time with a zone",
            ),
            (
                "time not a time",
                ("target_time=yesterday",),
                "target_time: {default",
                "is not an ISO 8601 time with a zone",
            ),
            (
                "time out of range",
                ("target_time=2026-13-02T14:01:00Z",),
                "target_time: {default",
                "is not an ISO 8601 time with a zone",
            ),
            (
                "xid not a number",
                ("target_xid=0x10",),
                "target_xid: {default",
                "--var target_xid='0x10' is not a transaction id",
            ),
            (
                "name with a space",
                ("target_name=before bad",),
                "target_name: {default",
                "is not a restore point name",
            ),
            (
                "two targets",
                ("target_time=2026-12-02T14:01:00Z", "target_xid=42"),
                "target_xid: {default",
                "two recovery targets (target_time, target_xid)",
            ),
            (
                "no target",
                ("note=x",),
                "target_time: {default",
                "no recovery target: pass exactly one of --var target_time=...",
            ),
        )
    ],
    Case(
        "pitr: a default time without a zone",
        "playbook",
        "kind: failover",
        "kind: point-in-time-restore",
        "target_time: {default",
        "target_time='2026-12-02 14:01' is not an ISO 8601 time with a zone",
        also=(
            (
                "  note: {default: drill}\n",
                "  note: {default: drill}\n  target_time: {default: '2026-12-02 14:01'}\n",
            ),
        ),
    ),
    Case(
        "pitr: no target parameter declared",
        "playbook",
        "kind: failover",
        "kind: point-in-time-restore",
        "version: 1",
        "a point-in-time-restore playbook declares at least one of the parameters",
    ),
]
"""Cross-file, parameter and template cases."""

# managed_by (issue 14): kept in their own module, appended here.
from tests.model.managed_cases import (  # noqa: E402
    DRIVES_ENUM_CASE,
    MANAGED_CASES,
    MANAGED_ENUM_CASE,
)

ENUM_CASES[MANAGED_ENUM_CASE.name] = MANAGED_ENUM_CASE
ENUM_CASES[DRIVES_ENUM_CASE.name] = DRIVES_ENUM_CASE
CROSS_CASES += MANAGED_CASES

# redis-cluster nodes (issue 14, Redis Cluster): their own module, appended here.
from tests.model.cluster_cases import CLUSTER_CASES  # noqa: E402

CROSS_CASES += CLUSTER_CASES
# the two-person rule: ``approve: N`` on a step, ``approvals: {drill: N, incident: N}``
_FENCE = "    confirm: true\n    on_failure: abort"
APPROVAL_CASES: list[Case] = [
    Case(
        "approve zero",
        "playbook",
        _FENCE,
        "    confirm: true\n    approve: 0\n    on_failure: abort",
        "approve: 0",
        "'approve' in step 'fence' must be at least 1",
        shift=9,
    ),
    Case(
        "approve not a number",
        "playbook",
        _FENCE,
        "    confirm: true\n    approve: two\n    on_failure: abort",
        "approve: two",
        "'approve' in step 'fence' must be an integer",
        shift=9,
    ),
    Case(
        "approve a flag",
        "playbook",
        _FENCE,
        "    confirm: true\n    approve: true\n    on_failure: abort",
        "approve: true",
        "'approve' in step 'fence' must be an integer, not True",
        shift=9,
    ),
    Case(
        "approvals unknown mode",
        "playbook",
        "canary: {service",
        "approvals: {drill: 1, staging: 2}\ncanary: {service",
        "staging",
        "unknown key 'staging' in approvals",
    ),
    Case(
        "approvals zero",
        "playbook",
        "canary: {service",
        "approvals: {drill: 1, incident: 0}\ncanary: {service",
        "incident: 0",
        "'incident' in approvals must be at least 1",
        shift=10,
    ),
    Case(
        "approvals not a mapping",
        "playbook",
        "canary: {service",
        "approvals: 2\ncanary: {service",
        "approvals: 2",
        "approvals must be a mapping",
        shift=11,
    ),
]
CROSS_CASES += APPROVAL_CASES

# commit or roll back: ``commit: {within: DURATION, otherwise: rollback|keep}``
COMMIT_ENUM_CASE = Case(
    "commit otherwise",
    "playbook",
    "canary: {service",
    "commit: {within: 30m, otherwise: revert}\ncanary: {service",
    "revert",
    "must be one of rollback, keep",
)
ENUM_CASES[COMMIT_ENUM_CASE.name] = COMMIT_ENUM_CASE
COMMIT_CASES: list[Case] = [
    Case(
        "commit without within",
        "playbook",
        "canary: {service",
        "commit: {otherwise: keep}\ncanary: {service",
        "{otherwise",
        "commit needs 'within'",
    ),
    Case(
        "commit within zero",
        "playbook",
        "canary: {service",
        "commit: {within: 0s, otherwise: keep}\ncanary: {service",
        "0s",
        "'within' in commit must be longer than 0s",
    ),
    Case(
        "commit within not a duration",
        "playbook",
        "canary: {service",
        "commit: {within: soon, otherwise: keep}\ncanary: {service",
        "soon",
        "'within' in commit",
    ),
    Case(
        "commit rollback without a rollback list",
        "playbook",
        "canary: {service",
        "commit: {within: 30m, otherwise: rollback}\ncanary: {service",
        "rollback}",
        "commit: otherwise: rollback needs a rollback: list",
    ),
    Case(
        "commit unknown key",
        "playbook",
        "canary: {service",
        "commit: {within: 30m, otherwise: keep, by: alice}\ncanary: {service",
        "by: alice",
        "unknown key 'by' in commit",
    ),
]
CROSS_CASES += COMMIT_CASES

# a member's aliases: (issue 15, latency relays): appended here.
CROSS_CASES.append(
    Case(
        "member alias without a port",
        "inventory",
        "db-west-1: {port: 5432, role: replica,",
        "db-west-1: {port: 5432, role: replica, aliases: [nope],",
        "nope]",
        "alias of member 'db-west-1' must be ADDRESS:PORT (port 1-65535), not 'nope'",
    )
)
