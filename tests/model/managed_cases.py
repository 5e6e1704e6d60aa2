"""Bad values of ``managed_by`` (Patroni, Sentinel), as cases of the validate-equals-run test.

Appended to :data:`tests.model.cases.CROSS_CASES`; the ``managed_by kind`` enumeration case
joins :data:`tests.model.cases.ENUM_CASES`.
"""

from __future__ import annotations

from tests.model.cases import Case

_PG_PROBE = "    probe: {user: postgres, timeout: 2s}"
_LEDGER = "  ledger:\n"


def _pg(managed_by: str) -> str:
    return f"    managed_by: {managed_by}\n{_PG_PROBE}"


def _redis(managed_by: str) -> str:
    return (
        "  cache:\n    kind: redis\n    members:\n      db-east-1: {role: primary}\n"
        f"      db-west-1: {{role: replica}}\n    managed_by: {managed_by}\n{_LEDGER}"
    )


MANAGED_ENUM_CASE = Case(
    "managed_by kind",
    "inventory",
    _PG_PROBE,
    _pg("{kind: pacemaker, api: 'http://db-east-1:8008'}"),
    "pacemaker",
    "must be one of patroni, sentinel",
)

MANAGED_CASES: list[Case] = [
    Case(
        "patroni without api",
        "inventory",
        _PG_PROBE,
        _pg("{kind: patroni}"),
        "{kind: patroni}",
        "managed_by of 'orders-db' (patroni) needs 'api'",
    ),
    Case(
        "patroni api not a URL",
        "inventory",
        _PG_PROBE,
        _pg("{kind: patroni, api: ['http://db-east-1:8008', 'db-west-1:8008']}"),
        "'db-west-1:8008'",
        "must be an http:// or https:// URL",
    ),
    Case(
        "patroni api port out of range",
        "inventory",
        _PG_PROBE,
        _pg("{kind: patroni, api: 'http://db-east-1:80080'}"),
        "'http://db-east-1:80080'",
        "port must be from 1 to 65535",
    ),
    Case(
        "patroni api is a number",
        "inventory",
        _PG_PROBE,
        _pg("{kind: patroni, api: [8008]}"),
        "8008]",
        "must be an http:// or https:// URL",
    ),
    Case(
        "patroni api an empty list",
        "inventory",
        _PG_PROBE,
        _pg("{kind: patroni, api: []}"),
        "[]}",
        "names no URL",
    ),
    Case(
        "sentinel on a postgres service",
        "inventory",
        _PG_PROBE,
        _pg("{kind: sentinel, sentinels: ['127.0.0.1:26379'], master: m}"),
        "sentinel,",
        "manages redis services, not postgres",
    ),
    Case(
        "patroni on a redis service",
        "inventory",
        _LEDGER,
        _redis("{kind: patroni, api: 'http://db-east-1:8008'}"),
        "patroni,",
        "manages postgres services, not redis",
    ),
    Case(
        "master given to patroni",
        "inventory",
        _PG_PROBE,
        _pg("{kind: patroni, api: 'http://db-east-1:8008', master: x}"),
        "master: x",
        "'master' in managed_by of 'orders-db' is for kind sentinel, not patroni",
    ),
    Case(
        "api given to sentinel",
        "inventory",
        _LEDGER,
        _redis("{kind: sentinel, sentinels: ['h:26379'], master: cache, api: 'http://h:1'}"),
        "api:",
        "'api' in managed_by of 'cache' is for kind patroni, not sentinel",
    ),
    Case(
        "sentinel endpoint without port",
        "inventory",
        _LEDGER,
        _redis("{kind: sentinel, sentinels: ['127.0.0.1:26379', 'db-west-1'], master: cache}"),
        "'db-west-1'",
        "must be HOST:PORT",
    ),
    Case(
        "sentinel port out of range",
        "inventory",
        _LEDGER,
        _redis("{kind: sentinel, sentinels: ['db-west-1:70000'], master: cache}"),
        "'db-west-1:70000'",
        "port must be from 1 to 65535, not 70000",
    ),
    Case(
        "sentinel without master",
        "inventory",
        _LEDGER,
        _redis("{kind: sentinel, sentinels: ['db-west-1:26379']}"),
        "{kind: sentinel",
        "managed_by of 'cache' (sentinel) needs 'master'",
    ),
    Case(
        "sentinel list empty",
        "inventory",
        _LEDGER,
        _redis("{kind: sentinel, sentinels: [], master: cache}"),
        "[]",
        "names no Sentinel",
    ),
    Case(
        "sentinel master name with a space",
        "inventory",
        _LEDGER,
        _redis("{kind: sentinel, sentinels: ['db-west-1:26379'], master: 'my master'}"),
        "'my master'",
        "is not a Sentinel master name",
    ),
    Case(
        "managed_by not a mapping",
        "inventory",
        _PG_PROBE,
        _pg("patroni"),
        "patroni\n",
        "managed_by of 'orders-db' must be a mapping",
    ),
    Case(
        "managed_by unknown key",
        "inventory",
        _PG_PROBE,
        _pg("{kind: patroni, api: 'http://db-east-1:8008', ttl: 30}"),
        "ttl",
        "unknown key 'ttl' in managed_by of 'orders-db'",
    ),
]

DRIVES_ENUM_CASE = Case(
    "playbook drives",
    "playbook",
    "kind: failover\n",
    "kind: failover\ndrives: pacemaker\n",
    "pacemaker",
    "must be one of patroni, sentinel, redis-cluster",
)
