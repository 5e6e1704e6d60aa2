"""The manager's view judged against the databases': pure, no server (the same cases made for
real on the managed lab are in ``tests/managed/test_manager_status.py``)."""

from __future__ import annotations

from typing import Any

from console.probes.managers import SentinelAnswer, judge_patroni, judge_sentinel, parse_cluster
from console.probes.sample import Health, ProbeTarget, ReplicationSample, Role, blank_sample

WHERE = {"a": "127.88.1.1:5432", "b": "127.88.2.1:5432", "c": "127.88.3.1:5432"}


def _sample(host: str, role: Role, kind: str = "postgres") -> ReplicationSample:
    address, port = WHERE[host].split(":")
    target = ProbeTarget("db", "s", host, kind, address, int(port))
    return blank_sample(target, role, None, 0.0)


def _cluster(leader: str = "pa", *, pause: bool = False, tl_b: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = {
        "members": [
            {
                "name": "pa",
                "host": "127.88.1.1",
                "port": 5432,
                "role": "replica",
                "state": "streaming",
                "timeline": 1,
                "lag": 0,
            },
            {
                "name": "pb",
                "host": "127.88.2.1",
                "port": 5432,
                "role": "replica",
                "state": "streaming",
                "timeline": tl_b,
                "lag": 16,
            },
            {
                "name": "pc",
                "host": "127.88.3.1",
                "port": 5432,
                "role": "replica",
                "state": "streaming",
                "timeline": 1,
                "lag": 0,
                "tags": {"nofailover": True},
            },
        ],
        "scope": "x",
    }
    for m in data["members"]:
        if m["name"] == leader:
            m.update(role="leader", state="running")
            m.pop("lag")
    if pause:
        data["pause"] = True
    return data


HEALTHY = [_sample("a", Role.PRIMARY), _sample("b", Role.REPLICA), _sample("c", Role.REPLICA)]


def _reasons(view: Any) -> list[str]:
    return [f"{f.health.value}: {f.reason}" for f in view.findings]


def test_parse_cluster_reads_roles_lag_timeline_tags() -> None:
    members, paused, pending = parse_cluster(_cluster())
    assert [(m.name, m.role) for m in members] == [
        ("pa", "leader"),
        ("pb", "replica"),
        ("pc", "replica"),
    ]
    assert members[1].lag_bytes == 16 and members[0].lag_bytes is None
    assert members[2].nofailover and not members[1].nofailover
    assert not paused and pending is None


def test_agreement_is_ok() -> None:
    view = judge_patroni("db", {"http://x": _cluster()}, HEALTHY, WHERE, 0.0)
    assert view.health is Health.OK, _reasons(view)
    assert view.leader == "pa"
    assert (
        "leader pa" in view.summary
        and "pc replica streaming tl 1 lag 0 B (nofailover)" in view.summary
    )


def test_leader_whose_database_is_in_recovery_is_crit() -> None:
    samples = [_sample("a", Role.REPLICA), _sample("b", Role.REPLICA), _sample("c", Role.REPLICA)]
    view = judge_patroni("db", {"http://x": _cluster()}, samples, WHERE, 0.0)
    assert view.health is Health.CRIT
    assert "crit: Patroni says leader pa, but its database (a) is in recovery" in _reasons(view)


def test_writable_database_that_is_not_the_leader_is_crit() -> None:
    samples = [_sample("a", Role.PRIMARY), _sample("b", Role.PRIMARY), _sample("c", Role.REPLICA)]
    view = judge_patroni("db", {"http://x": _cluster()}, samples, WHERE, 0.0)
    assert any(
        "database on b is a writable primary, but Patroni's leader is pa" in r
        for r in _reasons(view)
    )


def test_paused_is_warn_and_timeline_mismatch_is_named() -> None:
    view = judge_patroni("db", {"http://x": _cluster(pause=True, tl_b=2)}, HEALTHY, WHERE, 0.0)
    assert view.health is Health.WARN and view.paused
    reasons = _reasons(view)
    assert any("paused (maintenance mode)" in r for r in reasons)
    assert any("pb is on timeline 2, the leader on 1" in r for r in reasons)
    assert "PAUSED" in view.summary


def test_apis_that_disagree_or_stay_silent() -> None:
    replies: dict[str, Any] = {
        "http://e": _cluster("pa"),
        "http://w": _cluster("pa"),
        "http://d": "no answer within 2s",
    }
    view = judge_patroni("db", replies, HEALTHY, WHERE, 0.0)
    assert view.health is Health.WARN
    assert _reasons(view) == ["warn: Patroni API http://d does not answer: no answer within 2s"]
    replies["http://d"] = _cluster("pb")
    view = judge_patroni("db", replies, HEALTHY, WHERE, 0.0)
    assert view.leader == "pa" and view.health is Health.CRIT
    assert any(
        "APIs disagree on the leader" in r and "http://d says pb" in r for r in _reasons(view)
    )


def test_no_api_answering_is_crit() -> None:
    view = judge_patroni("db", {"http://e": "connection refused"}, HEALTHY, WHERE, 0.0)
    assert view.health is Health.CRIT and view.leader is None
    assert "no Patroni REST API answered (http://e: connection refused)" in _reasons(view)[0]


REDIS = {"a": "127.88.1.1:6379", "b": "127.88.2.1:6379"}


def _rsample(host: str, role: Role, good: str | None = "1") -> ReplicationSample:
    """A Redis sample; a master's INFO has ``min_slaves_good_slaves: good`` (None: the
    guard is not set, so the line is absent)."""
    address, port = REDIS[host].split(":")
    details = {"min_slaves_good_slaves": good} if role is Role.PRIMARY and good else {}
    target = ProbeTarget("r", "s", host, "redis", address, int(port))
    return blank_sample(target, role, None, 0.0, details)


def _answer(
    master: str = "127.88.1.1:6379", flags: str = "master", ck: str = "OK 3 usable Sentinels"
) -> SentinelAnswer:
    return SentinelAnswer(master, flags, 2, ck, (("127.88.2.1:6379", "slave"),))


RHEALTHY = [_rsample("a", Role.PRIMARY), _rsample("b", Role.REPLICA)]


def test_sentinels_that_agree_are_ok() -> None:
    answers = {"s1:1": _answer(), "s2:1": _answer(), "s3:1": _answer()}
    view = judge_sentinel("r", answers, RHEALTHY, REDIS, 0.0)
    assert view.health is Health.OK, _reasons(view)
    assert view.summary.startswith("master 127.88.1.1:6379 per 3 of 3 Sentinels (quorum 2)")


def test_two_sentinels_naming_different_masters_is_crit() -> None:
    answers = {"s1:1": _answer(), "s2:1": _answer(), "s3:1": _answer("127.88.2.1:6379")}
    view = judge_sentinel("r", answers, RHEALTHY, REDIS, 0.0)
    assert view.health is Health.CRIT
    assert any(
        "name different masters" in r and "s3:1 names 127.88.2.1:6379" in r for r in _reasons(view)
    )


def test_quorum_lost_and_ckquorum_refused() -> None:
    answers: dict[str, Any] = {
        "s1:1": _answer(ck="NOQUORUM 1 usable Sentinels"),
        "s2:1": "no answer within 2s",
        "s3:1": "connection refused",
    }
    view = judge_sentinel("r", answers, RHEALTHY, REDIS, 0.0)
    reasons = _reasons(view)
    assert any("only 1 of 3 Sentinels answer, fewer than the quorum 2" in r for r in reasons)
    assert any("CKQUORUM says NOQUORUM" in r for r in reasons)


def test_master_that_reports_replica_and_a_second_writable_master() -> None:
    samples = [_rsample("a", Role.REPLICA), _rsample("b", Role.PRIMARY)]
    answers = {"s1:1": _answer(), "s2:1": _answer()}
    reasons = _reasons(judge_sentinel("r", answers, samples, REDIS, 0.0))
    assert any(
        "names master 127.88.1.1:6379 (a), but that Redis reports role replica" in r
        for r in reasons
    )
    assert any(
        "Redis on b is a writable master, but Sentinel names 127.88.1.1:6379" in r for r in reasons
    )


def test_master_flagged_down() -> None:
    answers = {"s1:1": _answer(flags="master,s_down,o_down"), "s2:1": _answer()}
    reasons = _reasons(judge_sentinel("r", answers, RHEALTHY, REDIS, 0.0))
    assert any("flags master 127.88.1.1:6379 o_down+s_down" in r for r in reasons)


def test_master_without_the_write_guard_is_warn_and_one_refusing_writes_is_crit() -> None:
    answers = {"s1:1": _answer(), "s2:1": _answer(), "s3:1": _answer()}
    unguarded = [_rsample("a", Role.PRIMARY, None), _rsample("b", Role.REPLICA)]
    view = judge_sentinel("r", answers, unguarded, REDIS, 0.0)
    assert view.health is Health.WARN
    assert _reasons(view) == [
        "warn: master 127.88.1.1:6379 (a) has min-replicas-to-write 0: it acknowledges writes "
        "no replica has, which a failover loses (also a late write to an old master back "
        "before Sentinel demotes it); set min-replicas-to-write 1 and min-replicas-max-lag "
        "below down-after-milliseconds"
    ]
    refusing = [_rsample("a", Role.PRIMARY, "0"), _rsample("b", Role.REPLICA)]
    view = judge_sentinel("r", answers, refusing, REDIS, 0.0)
    assert view.health is Health.CRIT
    assert _reasons(view) == [
        "crit: master 127.88.1.1:6379 (a) refuses writes (NOREPLICAS): no replica acknowledged "
        "within min-replicas-max-lag"
    ]
