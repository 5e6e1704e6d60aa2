"""The declared topology in the inventory: ``topology:``, members' ``upstream``, ``unit`` and
``gtid_domain``, sites' ``city``; every bad value a located error of ``validate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from console.model.inventory import load_inventory

INVENTORY = """\
version: 1
name: three-center
ssh: {user: drill, connect_timeout: 1s}
sites:
  east:
    role: primary
    city: Shanghai
    hosts:
      db-east: {address: 127.254.1.1, port: 1}
  west:
    role: standby
    city: Shanghai
    hosts:
      db-west: {address: 127.254.2.1, port: 1}
  dr:
    role: dr
    city: Hangzhou
    hosts:
      db-dr: {address: 127.254.3.1, port: 1}
services:
  orders-db:
    kind: postgres
    topology: cascade
    members:
      db-east: {role: primary}
      db-west: {role: replica}
      db-dr: {role: replica, upstream: db-west}
  users-db:
    kind: mysql
    topology: multi-primary
    members:
      db-east: {role: primary, unit: unit-east, gtid_domain: 1}
      db-west: {role: primary, unit: unit-west, gtid_domain: 2}
      db-dr: {role: replica}
  sessions:
    kind: redis
    members:
      db-east: {role: primary}
      db-west: {role: replica}
      db-dr: {role: replica}
"""


def test_a_declared_topology_loads(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(INVENTORY)
    inv = load_inventory(path)
    assert inv.sites["east"].city == inv.sites["west"].city == "Shanghai"
    assert inv.sites["dr"].city == "Hangzhou"
    orders = inv.services["orders-db"].topology
    assert orders.shape == "cascade" and dict(orders.upstreams) == {"db-dr": "db-west"}
    assert orders.upstream_of("db-dr", "db-east") == "db-west"
    assert orders.upstream_of("db-west", "db-east") == "db-east"
    users = inv.services["users-db"].topology
    assert users.shape == "multi-primary"
    assert {h: (u.name, u.gtid_domain) for h, u in users.units.items()} == {
        "db-east": ("unit-east", 1),
        "db-west": ("unit-west", 2),
    }
    assert inv.services["sessions"].topology.shape == "primary-replica"


def test_a_replica_upstream_at_an_alias_follows_the_member_behind_it(tmp_path: Path) -> None:
    from console.probes.sample import Link, ReplicationSample, Role
    from console.status.topology import check_shape, follows

    path = tmp_path / "inv.yaml"
    path.write_text(
        INVENTORY.replace(
            "db-west: {role: replica}\n      db-dr: {role: replica, upstream: db-west}",
            "db-west: {role: replica, aliases: ['127.254.3.1:15432']}\n"
            "      db-dr: {role: replica, upstream: db-west}",
        )
    )
    inv = load_inventory(path)
    orders = inv.services["orders-db"]
    assert dict(orders.topology.aliases) == {"127.254.3.1:15432": "db-west"}

    def sample(host: str, site: str, role: Role, upstream: str | None) -> ReplicationSample:
        return ReplicationSample(
            service="orders-db", site=site, host=host, kind="postgres", role=role,
            link=Link.UP if role is Role.REPLICA else Link.NONE, upstream=upstream,
            lag_seconds=0.0, lag_bytes=0, position=None, read_only=role is Role.REPLICA,
            replicas=(), error=None, sampled_at=0.0,
        )  # fmt: skip

    east = sample("db-east", "east", Role.PRIMARY, None)
    west = sample("db-west", "west", Role.REPLICA, "127.254.1.1:5432")
    via_relay = sample("db-dr", "dr", Role.REPLICA, "127.254.3.1:15432")
    assert follows(inv, orders, via_relay) == "db-west"
    assert check_shape(inv, orders, [east, west, via_relay]).reasons == ()
    # without the alias the same sample names no member, and a wrong alias is caught
    wrong = sample("db-dr", "dr", Role.REPLICA, "127.254.1.1:5432")
    assert "db-dr follows db-east, but its declared upstream is db-west" in (
        check_shape(inv, orders, [east, west, wrong]).reasons
    )


BAD = [
    # (case, old, new, marker, words)
    (
        "upstream outside a cascade",
        "db-dr: {role: replica}\n  sessions",
        "db-dr: {role: replica, upstream: db-west}\n  sessions",
        "db-west}\n  sessions",
        "upstream: of member 'db-dr' is for topology: cascade (service 'users-db' is multi-primary",
    ),
    (
        "upstream not a member",
        "upstream: db-west}",
        "upstream: db-wset}",
        "db-wset",
        "upstream 'db-wset' of member 'db-dr' is not a member of service 'orders-db' "
        "(did you mean 'db-west'?)",
    ),
    (
        "upstream of itself",
        "upstream: db-west}",
        "upstream: db-dr}",
        "db-dr}",
        "upstream: of member 'db-dr' names itself",
    ),
    (
        "a primary with an upstream",
        "db-east: {role: primary}\n      db-west: {role: replica}\n      db-dr: {role: replica, up",
        "db-east: {role: primary, upstream: db-west}\n      db-west: {role: replica}\n"
        "      db-dr: {role: replica, up",
        "db-west}\n      db-west",
        "upstream: of member 'db-east': a primary follows no one",
    ),
    (
        "a cascade without a cascading replica",
        "      db-dr: {role: replica, upstream: db-west}\n",
        "      db-dr: {role: replica}\n",
        "cascade",
        "service 'orders-db' is a cascade but no replica names another replica",
    ),
    (
        "upstreams in a circle",
        "db-west: {role: replica}\n      db-dr: {role: replica, upstream: db-west}",
        "db-west: {role: replica, upstream: db-dr}\n"
        "      db-dr: {role: replica, upstream: db-west}",
        "cascade",
        "the upstreams of service 'orders-db' go round in a circle",
    ),
    (
        "two primaries without multi-primary",
        "db-east: {role: primary}\n      db-west: {role: replica}\n      db-dr: {role: replica}",
        "db-east: {role: primary}\n      db-west: {role: primary}\n      db-dr: {role: replica}",
        "sessions:\n",
        "service 'sessions' expects more than one primary",
    ),
    (
        "multi-primary with one primary",
        "db-west: {role: primary, unit: unit-west, gtid_domain: 2}",
        "db-west: {role: replica}",
        "multi-primary",
        "service 'users-db' is multi-primary but has 1 member(s) with role: primary",
    ),
    (
        "a primary without a unit",
        "role: primary, unit: unit-west, gtid_domain: 2}",
        "role: primary, gtid_domain: 2}",
        "{role: primary, gtid_domain: 2}",
        "member 'db-west' of multi-primary service 'users-db' needs unit:",
    ),
    (
        "one unit written by two members",
        "unit: unit-west",
        "unit: unit-east",
        "unit-east, gtid_domain: 2",
        "unit 'unit-east' is written by two members of 'users-db'",
    ),
    (
        "one gtid domain for two members",
        "gtid_domain: 2}",
        "gtid_domain: 1}",
        "1}\n      db-dr",
        "gtid_domain 1 is declared by two members of 'users-db'",
    ),
    (
        "a gtid domain that is not a number",
        "gtid_domain: 2}",
        "gtid_domain: two}",
        "two}",
        "gtid_domain: of member 'db-west' must be an integer, not a string",
    ),
    (
        "a gtid domain out of range",
        "gtid_domain: 2}",
        "gtid_domain: 4294967296}",
        "4294967296",
        "gtid_domain: of member 'db-west' must be from 0 to 4294967295",
    ),
    (
        "a unit outside multi-primary",
        "db-east: {role: primary}\n      db-west: {role: replica}\n      db-dr: {role: replica}",
        "db-east: {role: primary, unit: u1}\n      db-west: {role: replica}\n"
        "      db-dr: {role: replica}",
        "unit: u1",
        "unit: of member 'db-east' is for topology: multi-primary (service 'sessions' is "
        "primary-replica)",
    ),
    (
        "a unit on a replica",
        "db-dr: {role: replica}\n  sessions",
        "db-dr: {role: replica, unit: u3}\n  sessions",
        "unit: u3",
        "unit: of member 'db-dr': only a primary of a multi-primary service writes a unit",
    ),
    (
        "a gtid domain on a non-MySQL service",
        "topology: cascade",
        "topology: multi-primary",
        "gtid_domain",
        "never",
    ),
    (
        "a city that is not text",
        "city: Hangzhou",
        "city: [Hangzhou]",
        "[Hangzhou]",
        "'city' in site 'dr' must be a string, not a list",
    ),
    (
        "aliases not a list",
        "db-west: {role: replica}\n      db-dr: {role: replica, up",
        "db-west: {role: replica, aliases: 127.254.3.1:15432}\n      db-dr: {role: replica, up",
        "127.254.3.1:15432}",
        "aliases: of member 'db-west' must be a list of ADDRESS:PORT, not a string",
    ),
    (
        "an alias without a port",
        "db-west: {role: replica}\n      db-dr: {role: replica, up",
        "db-west: {role: replica, aliases: [127.254.3.1]}\n      db-dr: {role: replica, up",
        "127.254.3.1]",
        "alias of member 'db-west' must be ADDRESS:PORT (port 1-65535), not '127.254.3.1'",
    ),
    (
        "an alias with a port out of range",
        "db-west: {role: replica}\n      db-dr: {role: replica, up",
        "db-west: {role: replica, aliases: ['127.254.3.1:70000']}\n      db-dr: {role: replica, up",
        "'127.254.3.1:70000'",
        "alias of member 'db-west' must be ADDRESS:PORT (port 1-65535), not '127.254.3.1:70000'",
    ),
    (
        "one alias for two members",
        "db-west: {role: replica}\n      db-dr: {role: replica, upstream: db-west}",
        "db-west: {role: replica, aliases: ['127.254.3.1:15432']}\n"
        "      db-dr: {role: replica, upstream: db-west, aliases: ['127.254.3.1:15432']}",
        "'127.254.3.1:15432']}\n  users",
        "alias 127.254.3.1:15432 of member 'db-dr' is already an alias of 'db-west'",
    ),
    (
        "an unknown member key",
        "upstream: db-west}",
        "upstrem: db-west}",
        "upstrem",
        "unknown key 'upstrem' in member 'db-dr' of 'orders-db' (did you mean 'upstream'?)",
    ),
]


@pytest.mark.parametrize(("case", "old", "new", "marker", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_topology_is_a_located_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
    old: str,
    new: str,
    marker: str,
    words: str,
) -> None:
    if words == "never":  # the gtid-domain-on-postgres case is built from two edits
        text = INVENTORY.replace(
            "      db-east: {role: primary}\n      db-west: {role: replica}\n"
            "      db-dr: {role: replica, upstream: db-west}",
            "      db-east: {role: primary, unit: a, gtid_domain: 7}\n"
            "      db-west: {role: primary, unit: b}\n      db-dr: {role: replica}",
        ).replace(old, new, 1)
        marker, words = "7}", "GTID domains are MySQL/MariaDB's (service 'orders-db' is postgres)"
    else:
        assert old in INVENTORY, case
        text = INVENTORY.replace(old, new, 1)
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    index = text.index(marker)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    place = f"{path}:{line}:{col}: "
    found = [ln for ln in err.splitlines() if ln.startswith(place) and words in ln]
    assert found, (place, words, err)
