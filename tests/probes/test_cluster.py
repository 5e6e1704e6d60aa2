"""The Redis Cluster probe's parser and judgement, on recorded output of the lab's cluster.

The files under ``cluster_output/`` are ``CLUSTER NODES`` / ``CLUSTER INFO`` of the managed
lab on net 23, recorded by hand: healthy; east's master frozen (SIGSTOP) as seen by west's
master, first suspected (pfail), then failed with its slots uncovered, then its replica in
west promoted; after the frozen master came back (masters piled up in west); and with the
east master's only replica moved into east (``CLUSTER REPLICATE``).
"""

from __future__ import annotations

from pathlib import Path

from console.probes.cluster import (
    ClusterAnswer,
    Place,
    judge_cluster,
    parse_info,
    parse_nodes,
    ranges,
)
from console.probes.sample import Health

DATA = Path(__file__).parent / "cluster_output"
SITES = {"1": "east", "2": "west", "3": "dr"}
PLACES = {
    f"127.23.{o}.1:{p}": Place(f"lab-{s}:{p}", s) for o, s in SITES.items() for p in (16700, 16701)
}
ALL = [p.node for p in PLACES.values()]


def _answer(name: str, info: str | None = None) -> ClusterAnswer:
    text = (DATA / f"{name}.nodes").read_text()
    return ClusterAnswer(
        tuple(parse_nodes(text)), parse_info((DATA / f"{info or name}.info").read_text())
    )


def _judge(answers: dict[str, ClusterAnswer | str]) -> tuple[Health, list[str], dict[str, object]]:
    view = judge_cluster("carts", answers, PLACES, 1.0)
    return view.health, [f"{f.health.value} {f.reason}" for f in view.findings], dict(view.details)


def test_parse_nodes_of_a_healthy_cluster() -> None:
    nodes = parse_nodes((DATA / "healthy.nodes").read_text())
    assert len(nodes) == 6
    masters = sorted((n.endpoint, n.slot_count, ranges(n.slots)) for n in nodes if n.is_master)
    assert masters == [
        ("127.23.1.1:16700", 5461, "0-5460"),
        ("127.23.2.1:16700", 5462, "5461-10922"),
        ("127.23.3.1:16700", 5461, "10923-16383"),
    ]
    me = next(n for n in nodes if "myself" in n.flags)  # recorded from west's master
    assert me.endpoint == "127.23.2.1:16700" and me.master_id is None
    east = next(n for n in nodes if n.endpoint == "127.23.1.1:16700")
    replica = next(n for n in nodes if n.endpoint == "127.23.2.1:16701")
    assert not replica.is_master and replica.master_id == east.node_id and replica.slots == ()
    assert parse_info((DATA / "healthy.info").read_text())["cluster_state"] == "ok"


def test_parse_hostname_single_slots_and_migrating_entries() -> None:
    line = (
        "abc 127.0.9.1:7000@17000,cache-1 myself,master - 0 0 4 connected 0-10 12 "
        "[13->-def] [14-<-ghi]\n"
        "garbage line\n"
    )
    (node,) = parse_nodes(line)
    assert node.endpoint == "127.0.9.1:7000"
    assert node.slots == ((0, 10), (12, 12)) and node.slot_count == 12
    assert node.epoch == 4 and node.link == "connected"


def test_healthy_cluster_is_ok_with_every_master_and_its_replica_site() -> None:
    health, findings, details = _judge({n: _answer("healthy") for n in ALL})
    assert health is Health.OK, findings
    assert details["slots_served"] == 16384
    assert str(details["summary"]).startswith("16384 of 16384 slots served, cluster_state ok")
    placed = {(m["site"], tuple(r["site"] for r in m["replicas"])) for m in details["masters"]}  # type: ignore[attr-defined]
    assert placed == {("east", ("west",)), ("west", ("dr",)), ("dr", ("east",))}


def test_suspected_master_is_a_warning_naming_who_suspects() -> None:
    answers: dict[str, ClusterAnswer | str] = {n: "no answer within 2s" for n in ALL}
    answers["lab-west:16700"] = _answer("pfail")
    health, findings, details = _judge(answers)
    assert health is Health.WARN
    assert "warn node lab-east:16700 (east) is suspected down (pfail) by lab-west:16700" in findings
    assert any("cluster node lab-east:16700 does not answer (1 of 6)" in f for f in findings)
    assert details["slots_served"] == 16384


def test_failed_master_leaves_slots_uncovered_and_cluster_state_fail() -> None:
    health, findings, details = _judge({"lab-west:16700": _answer("fail")})
    assert health is Health.CRIT
    assert details["slots_served"] == 10923
    assert any(f.startswith("crit 5461 of 16384 slots are not served (0-5460)") for f in findings)
    assert any(
        "crit cluster_state is not ok on 1 node(s) (lab-west:16700: fail)" in f for f in findings
    )
    assert "crit master lab-east:16700 (east) is marked failed (fail)" in findings


def test_promoted_replica_then_no_replica_and_masters_piled_in_west() -> None:
    health, findings, details = _judge({"lab-west:16700": _answer("promoted")})
    assert health is Health.WARN, findings
    assert details["slots_served"] == 16384
    assert any(
        "master lab-west:16701 (west) has no working replica: if it fails, slots 0-5460" in f
        for f in findings
    )
    assert any(f.startswith("warn site west holds 2 of 3 masters") for f in findings)
    # the failed old master holds no slots now: a warning, not a crit
    assert "warn master lab-east:16700 (east) is marked failed (fail)" in findings


def test_returned_master_rejoins_as_replica_but_west_still_holds_two_masters() -> None:
    health, findings, _ = _judge({"lab-west:16700": _answer("piled", "healthy")})
    assert health is Health.WARN
    assert len(findings) == 1 and "site west holds 2 of 3 masters" in findings[0]


def test_master_whose_only_replica_is_in_its_own_site() -> None:
    health, findings, _ = _judge({"lab-dr:16701": _answer("samesite")})
    assert health is Health.WARN
    assert findings == [
        "warn master lab-east:16700 (east) has its only replica in its own site: losing east "
        "loses slots 0-5460"
    ]


def test_no_node_answers_is_crit() -> None:
    view = judge_cluster("carts", {n: "connection refused" for n in ALL}, PLACES, 1.0)
    assert view.health is Health.CRIT
    assert view.findings[0].reason.startswith("no cluster node answered (lab-east:16700: conn")
    assert view.summary == "no cluster node answered"


def test_nodes_that_disagree_about_the_slots_are_named() -> None:
    answers: dict[str, ClusterAnswer | str] = {
        "lab-east:16700": _answer("healthy"),
        "lab-dr:16700": _answer("healthy"),
        "lab-west:16700": _answer("promoted"),
    }
    _, findings, details = _judge(answers)
    assert details["view_of"] == "lab-east:16700"
    assert any(
        "the nodes disagree about which master serves which slots (lab-west:16700 differ" in f
        for f in findings
    )


def test_a_node_the_inventory_does_not_name() -> None:
    places = {k: v for k, v in PLACES.items() if k != "127.23.3.1:16701"}
    view = judge_cluster("carts", {"lab-east:16700": _answer("healthy")}, places, 1.0)
    assert "cluster node 127.23.3.1:16701 is not in the inventory" in [
        f.reason for f in view.findings
    ]
