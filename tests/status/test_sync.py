"""Synchronous replication on real probe outputs recorded by ``tests/status/record_shapes.py
sync``: PostgreSQL's ``sync_state`` per standby and ``synchronous_standby_names``, MariaDB's
semi-sync status; a primary configured synchronous with no synchronous replica now is WARN
with its reason, and the standby that commits wait for says ``sync`` (``semi-sync``)."""

from __future__ import annotations

import json
from pathlib import Path

from console.probes import ProbeTarget, probe_for
from console.probes.health import Thresholds, assess
from console.probes.sample import Health, ReplicationSample, Role
from console.probes.topology import reconcile, sync_word, topology

DATA = Path(__file__).parent / "data"
NO_LIMITS = Thresholds(lag_warn=None, lag_crit=None)


def recorded(kind: str, scenario: str) -> ReplicationSample:
    """The sample the real parser makes of one recording."""
    data = json.loads((DATA / kind / f"{scenario}.json").read_text())
    target = ProbeTarget(**data["target"])
    assert data["exit_status"] == 0, scenario
    return probe_for(target.kind).parse_output(target, data["stdout"], data["sampled_at"])


def judged(sample: ReplicationSample, role: str) -> tuple[Health, tuple[str, ...]]:
    verdict = assess(sample, NO_LIMITS, role, sample.sampled_at, 30.0)
    return verdict.health, verdict.reasons


def test_a_postgres_synchronous_standby_is_read_and_shown_as_sync() -> None:
    primary = recorded("postgres", "sync_primary")
    standby = recorded("postgres", "sync_standby")
    assert primary.details["synchronous_standby_names"] == "standby1"
    assert [(r.name, r.sync_state) for r in primary.replicas] == [("standby1", "sync")]
    assert standby.details["application_name"] == "standby1"
    assert judged(primary, "primary") == (Health.OK, ())
    _, seen = reconcile([primary, standby])
    assert seen.details["sync_state"] == "sync" and sync_word(seen) == "sync"
    (topo,) = topology([primary, standby])
    assert topo.summary.endswith(", sync"), topo.summary


def test_a_postgres_primary_without_its_synchronous_standby_is_warn() -> None:
    lost = recorded("postgres", "sync_lost_primary")
    assert lost.role is Role.PRIMARY and lost.replicas == ()
    assert judged(lost, "primary") == (
        Health.WARN,
        (
            "no synchronous standby: synchronous_standby_names is 'standby1' but no standby "
            "is connected; commits wait until one is back",
        ),
    )


def test_a_postgres_primary_not_configured_synchronous_is_not_judged_on_it() -> None:
    """The cascade's primary has an asynchronous standby and no synchronous_standby_names:
    nothing to say about sync, and its standby gets no sync word."""
    east = recorded("postgres", "cascade_east")
    assert "synchronous_standby_names" not in east.details
    assert [r.sync_state for r in east.replicas] == ["async"]
    assert judged(east, "primary") == (Health.OK, ())
    _, west = reconcile([east, recorded("postgres", "cascade_west")])
    assert "sync_state" not in west.details and sync_word(west) is None


def test_mariadb_semi_sync_on_is_ok_and_its_replica_says_semi_sync() -> None:
    primary = recorded("mysql", "semi_sync_primary")
    replica = recorded("mysql", "semi_sync_replica")
    assert {k: primary.details[k] for k in ("semi_sync_enabled", "semi_sync_status")} == {
        "semi_sync_enabled": "ON",
        "semi_sync_status": "ON",
    }
    assert primary.details["semi_sync_clients"] == "1"
    assert judged(primary, "primary") == (Health.OK, ())
    assert replica.details["semi_sync_replica"] == "ON" and sync_word(replica) == "semi-sync"


def test_mariadb_semi_sync_fallen_back_to_async_is_warn_with_its_reason() -> None:
    fallback = recorded("mysql", "semi_sync_fallback_primary")
    assert judged(fallback, "primary") == (
        Health.WARN,
        (
            "semi-sync fell back to asynchronous: Rpl_semi_sync_master_status is OFF with 0 "
            "semi-sync replica(s); 1 commit(s) not acknowledged by any replica",
        ),
    )


def test_a_mariadb_primary_without_semi_sync_is_not_judged_on_it() -> None:
    plain = recorded("mysql", "mp_east_healthy")
    assert plain.details.get("semi_sync_enabled") in (None, "OFF")
    assert sync_word(plain) is None
