"""``assess`` and ``topology``: thresholds, stale samples, divergence, split brain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.errors import InputError
from console.probes import (
    Health,
    Link,
    ReplicaInfo,
    ReplicationSample,
    Role,
    Thresholds,
    assess,
    reconcile,
    topology,
)

NOW = 1_800_000_000.0
T = Thresholds(lag_warn=5.0, lag_crit=30.0)


def sample(
    role: Role = Role.REPLICA,
    *,
    service: str = "orders-db",
    site: str = "west",
    host: str = "db-west-1",
    link: Link | None = None,
    lag_seconds: float | None = 0.0,
    lag_bytes: int | None = 0,
    read_only: bool | None = None,
    error: str | None = None,
    age: float = 1.0,
    replicas: tuple[ReplicaInfo, ...] = (),
    endpoint: str = "127.0.2.1:5432",
    kind: str = "postgres",
) -> ReplicationSample:
    if link is None:
        link = Link.UP if role is Role.REPLICA else Link.NONE
    if role is not Role.REPLICA:
        lag_seconds = lag_bytes = None
    return ReplicationSample(
        service=service,
        site=site,
        host=host,
        kind=kind,
        role=role,
        upstream="127.0.1.1:5432" if role is Role.REPLICA else None,
        link=link,
        lag_seconds=lag_seconds,
        lag_bytes=lag_bytes,
        position=None,
        read_only=read_only if read_only is not None else role is Role.REPLICA,
        replicas=replicas,
        error=error,
        sampled_at=NOW - age,
        details={"endpoint": endpoint},
    )


def health(s: ReplicationSample, thresholds: Thresholds = T, expected: str | None = None):
    return assess(s, thresholds, expected, now=NOW, stale_after=30.0)


# ------------------------------------------------------------------------------ assess


def test_healthy_replica_is_ok() -> None:
    verdict = health(sample(lag_seconds=1.0, lag_bytes=100))
    assert verdict.health is Health.OK
    assert verdict.reasons == ()
    assert not verdict.diverged
    assert verdict.divergence is None


@pytest.mark.parametrize(
    ("lag", "expected"),
    [(5.0, Health.OK), (5.1, Health.WARN), (30.0, Health.WARN), (30.5, Health.CRIT)],
)
def test_lag_thresholds_in_seconds(lag: float, expected: Health) -> None:
    assert health(sample(lag_seconds=lag, lag_bytes=10)).health is expected


def test_lag_reason_sentences() -> None:
    assert health(sample(lag_seconds=12.0)).reasons == (
        "lag 12.0 s is above the warning limit 5.0 s",
    )
    assert health(sample(lag_seconds=300.0)).reasons == (
        "lag 300 s is above the critical limit 30.0 s",
    )


def test_lag_thresholds_in_bytes() -> None:
    limits = Thresholds(lag_warn=None, lag_crit=None, lag_bytes_warn=1000, lag_bytes_crit=10_000)
    assert health(sample(lag_seconds=None, lag_bytes=999), limits).health is Health.OK
    assert health(sample(lag_seconds=None, lag_bytes=5000), limits).health is Health.WARN
    verdict = health(sample(lag_seconds=None, lag_bytes=20_000), limits)
    assert verdict.health is Health.CRIT
    assert verdict.reasons == ("lag 20000 bytes is above the critical limit 10000 bytes",)


def test_worst_of_seconds_and_bytes_wins() -> None:
    limits = Thresholds(lag_warn=5, lag_crit=30, lag_bytes_warn=10, lag_bytes_crit=100)
    verdict = health(sample(lag_seconds=6.0, lag_bytes=500), limits)
    assert verdict.health is Health.CRIT
    assert len(verdict.reasons) == 2


def test_unknown_lag_is_never_ok() -> None:
    verdict = health(sample(lag_seconds=None, lag_bytes=None))
    assert verdict.health is Health.WARN
    assert verdict.reasons == ("lag is unknown",)
    # even with no thresholds at all
    assert health(sample(lag_seconds=None, lag_bytes=None), Thresholds(None, None)).health is (
        Health.WARN
    )


def test_bytes_known_seconds_unknown() -> None:
    # caught up in bytes: the missing seconds do not matter
    assert health(sample(lag_seconds=None, lag_bytes=0)).health is Health.OK
    # behind in bytes, seconds unknown, a limit in seconds: cannot say it is within it
    verdict = health(sample(lag_seconds=None, lag_bytes=4096))
    assert verdict.health is Health.WARN
    assert verdict.reasons == ("lag in seconds is unknown (4096 bytes behind)",)
    # no limit in seconds: bytes alone judge
    assert (
        health(sample(lag_seconds=None, lag_bytes=4096), Thresholds(None, None)).health is Health.OK
    )


def test_broken_link_is_critical_even_with_zero_lag() -> None:
    verdict = health(sample(link=Link.DOWN, lag_seconds=0.0, lag_bytes=0))
    assert verdict.health is Health.CRIT
    assert verdict.reasons == ("replication link to 127.0.1.1:5432 is down",)


def test_unknown_link_is_unknown() -> None:
    verdict = health(sample(link=Link.UNKNOWN))
    assert verdict.health is Health.UNKNOWN
    assert verdict.reasons == ("replication link state is unknown",)


def test_replication_error_is_critical() -> None:
    verdict = health(sample(error="SQL thread error 1062: Duplicate entry"))
    assert verdict.health is Health.CRIT
    assert verdict.reasons == ("SQL thread error 1062: Duplicate entry",)


def test_down_and_unknown_members() -> None:
    down = health(sample(Role.DOWN, link=Link.UNKNOWN, error="connection refused (x:1)"))
    assert down.health is Health.DOWN
    assert down.reasons == ("connection refused (x:1)",)
    unknown = health(sample(Role.UNKNOWN, link=Link.UNKNOWN, error="auth failed for user x"))
    assert unknown.health is Health.UNKNOWN
    assert unknown.reasons == ("auth failed for user x",)


def test_stale_sample_is_unknown_even_if_it_said_ok() -> None:
    verdict = health(sample(age=45.0))
    assert verdict.health is Health.UNKNOWN
    assert verdict.reasons == ("the last sample is 45 s old (stale after 30 s)",)
    assert health(sample(age=29.0)).health is Health.OK


def test_primary_ok_and_fenced_primary_warns() -> None:
    assert health(sample(Role.PRIMARY)).health is Health.OK
    fenced = health(sample(Role.PRIMARY, read_only=True))
    assert fenced.health is Health.WARN
    assert fenced.reasons == ("the primary is read-only (fenced?)",)


def test_divergence_is_reported_not_an_error() -> None:
    promoted = health(sample(Role.PRIMARY), expected="replica")
    assert promoted.health is Health.OK
    assert promoted.diverged
    assert promoted.divergence == "expected replica, observed primary"
    demoted = health(sample(Role.REPLICA), expected="primary")
    assert demoted.divergence == "expected primary, observed replica"
    same = health(sample(Role.REPLICA), expected="replica")
    assert not same.diverged


def test_no_divergence_claimed_for_an_unseen_member() -> None:
    verdict = health(sample(Role.DOWN, error="timed out"), expected="primary")
    assert not verdict.diverged
    assert verdict.divergence is None


def test_bad_expected_role_is_input_error() -> None:
    with pytest.raises(InputError, match="neither primary nor replica"):
        health(sample(), expected="standby")


def test_samples_are_frozen() -> None:
    s = sample()
    with pytest.raises(AttributeError):
        s.lag_seconds = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.details["endpoint"] = "x"  # type: ignore[index]
    assert hash(s) == hash(replace(s))


# ---------------------------------------------------------------------------- topology


def test_topology_one_primary_one_replica() -> None:
    primary = sample(Role.PRIMARY, site="east", host="db-east-1")
    replica = sample(lag_seconds=0.5, lag_bytes=128)
    (topo,) = topology([replica, primary])
    assert topo.service == "orders-db"
    assert topo.kind == "postgres"
    assert topo.primary is primary
    assert topo.primary_site == "east"
    assert topo.primary_host == "db-east-1"
    assert topo.replicas == (replica,)
    assert not topo.split_brain
    assert topo.summary == (
        "orders-db: primary db-east-1 (east); replicas db-west-1 (west) link up, lag 0.5 s / 128 B"
    )


def test_topology_split_brain_said_plainly() -> None:
    east = sample(Role.PRIMARY, site="east", host="db-east-1")
    west = sample(Role.PRIMARY, site="west", host="db-west-1")
    (topo,) = topology([east, west])
    assert topo.split_brain
    assert topo.primary is None
    assert topo.primary_site is None
    assert topo.summary == (
        "orders-db: SPLIT BRAIN: 2 members accept writes: db-east-1 (east), db-west-1 (west)"
    )


def test_topology_fenced_old_primary_is_not_split_brain() -> None:
    old = sample(Role.PRIMARY, site="east", host="db-east-1", read_only=True)
    new = sample(Role.PRIMARY, site="west", host="db-west-1", read_only=False)
    (topo,) = topology([old, new])
    assert not topo.split_brain
    assert topo.primary_site == "west"
    assert topo.fenced == (old,)
    assert topo.summary == (
        "orders-db: primary db-west-1 (west); read-only primary db-east-1 (east)"
    )


def test_topology_no_primary_and_unreachable_members() -> None:
    down = sample(Role.DOWN, site="east", host="db-east-1", error="refused")
    lost = sample(link=Link.DOWN, lag_seconds=None, lag_bytes=None)
    (topo,) = topology([down, lost])
    assert topo.primary is None
    assert not topo.split_brain
    assert topo.unreachable == (down,)
    assert topo.summary == (
        "orders-db: NO PRIMARY: no member accepts writes; replicas db-west-1 (west) link down, "
        "lag unknown; not seen db-east-1 (east) down"
    )


def test_topology_groups_and_sorts_services() -> None:
    samples = [
        sample(Role.PRIMARY, service="sessions", kind="redis", site="east", host="r1"),
        sample(Role.PRIMARY, service="billing", kind="mysql", site="east", host="m1"),
        sample(service="billing", kind="mysql", site="west", host="m2"),
    ]
    result = topology(samples)
    assert [t.service for t in result] == ["billing", "sessions"]
    assert [t.kind for t in result] == ["mysql", "redis"]
    assert result[0].replicas[0].host == "m2"
    assert topology([]) == ()


def test_reconcile_fills_only_unknown_lag_from_matching_primary() -> None:
    info = ReplicaInfo("127.0.0.1:6380", "127.0.0.1", "online", 1.0, 512, "1000")
    primary = sample(
        Role.PRIMARY, site="east", host="r1", kind="redis", replicas=(info,),
        endpoint="127.0.1.1:6379",
    )  # fmt: skip
    lone = sample(kind="redis", lag_seconds=None, lag_bytes=None, endpoint="127.0.2.1:6380")
    other_port = sample(
        kind="redis", host="r3", lag_seconds=None, lag_bytes=None, endpoint="127.0.2.1:6390"
    )
    known = sample(kind="redis", host="r4", lag_seconds=3.0, lag_bytes=None,
                   endpoint="127.0.2.1:6380")  # fmt: skip
    cut = sample(kind="redis", host="r5", link=Link.DOWN, lag_seconds=None, lag_bytes=None,
                 endpoint="127.0.2.1:6380")  # fmt: skip
    out = reconcile([primary, lone, other_port, known, cut])
    assert out[0] is primary
    assert (out[1].lag_seconds, out[1].lag_bytes) == (1.0, 512)
    assert out[1].details["lag_source"] == "as seen by r1"
    assert out[2] is other_port  # no primary lists its port: stays unknown
    assert out[3] is known  # already knows its lag
    assert out[4] is cut  # link down: the primary's last view is not its lag


def test_reconcile_ambiguous_port_prefers_address_else_gives_up() -> None:
    a = ReplicaInfo("127.0.99.2:6379", "127.0.99.2", "online", 0.0, 0, "5")
    b = ReplicaInfo("127.0.99.3:6379", "127.0.99.3", "online", 9.0, 900, "1")
    primary = sample(Role.PRIMARY, host="r1", kind="redis", replicas=(a, b))
    second = sample(kind="redis", host="r3", lag_seconds=None, lag_bytes=None,
                    endpoint="127.0.99.3:6379")  # fmt: skip
    nowhere = sample(kind="redis", host="r9", lag_seconds=None, lag_bytes=None,
                     endpoint="127.0.0.1:6379")  # fmt: skip
    _, matched, unmatched = reconcile([primary, second, nowhere])
    assert (matched.lag_seconds, matched.lag_bytes) == (9.0, 900)
    assert unmatched.lag_seconds is None
    assert unmatched.lag_bytes is None
