"""Service leases with fencing tokens, on both stores (``console.audit.leases``).

The expiry is the database's clock (PostgreSQL's ``clock_timestamp()``, the file's machine
clock); tokens only ever grow; a fenced append is refused, with nothing written, once the
run's lease expired or passed to another run; a renewal does not bring an expired lease back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from console.audit import AuditStore
from console.audit.leases import LeaseLost
from console.errors import LockHeld

SHORT = 0.4
"""A lease's length in these tests (seconds)."""


def _intent(store: AuditStore, run_id: str, fence: dict[str, int]) -> None:
    store.append(
        run_id,
        "command_intent",
        {"command": "promote", "attempt": 1, "fence": fence},
        operator="alice",
        host="h-west",
        step_id="promote",
        durable=True,
        fence=fence,
    )


def _count(store: AuditStore, run_id: str) -> int:
    return len(store.events(run_id))


def test_tokens_grow_and_the_expiry_is_the_databases_clock(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    a, b = start_run(), start_run()
    clock, live = store.live_leases()
    assert live == []
    _lock, first, broken = store.take_lease("orders-db", a, "alice", 60.0)
    assert broken is None
    clock, live = store.live_leases()
    assert [lease.run_id for lease in live] == [a]
    assert 59.0 < first.expires_at - clock <= 60.0
    assert abs(clock - time.time()) < 5.0  # the same clock as this machine's, on loopback
    _lock, other, _ = store.take_lease("catalog-db", b, "bob", 60.0)
    assert other.token > first.token
    assert store.release_lease("orders-db", a, first.token)
    store.release_lock("orders-db", a)
    _lock, again, broken = store.take_lease("orders-db", b, "bob", 60.0)
    assert again.token > other.token > first.token
    assert broken is None  # a released lease is not taken over: it is free


def test_a_live_lease_is_refused_and_an_expired_one_taken_over(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    a, b = start_run(operator="alice"), start_run(operator="bob")
    _lock, lease_a, _ = store.take_lease("orders-db", a, "alice", SHORT)
    with pytest.raises(LockHeld, match=f"locked by run {a} .*; its lease \\(token"):
        store.take_lease("orders-db", b, "bob", 60.0)
    time.sleep(SHORT + 0.3)
    _lock, lease_b, broken = store.take_lease("orders-db", b, "bob", 60.0)
    assert broken is not None and broken.run_id == a  # alice's lock row, taken over
    assert lease_b.token > lease_a.token
    holder = store.lock_holder("orders-db")
    assert holder is not None and holder.run_id == b


def test_a_fenced_intent_is_refused_once_the_lease_expired(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    a = start_run()
    _lock, lease, _ = store.take_lease("orders-db", a, "alice", SHORT)
    fence = {"orders-db": lease.token}
    _intent(store, a, fence)  # held: recorded
    before = _count(store, a)
    time.sleep(SHORT + 0.3)
    with pytest.raises(LeaseLost, match=r"expired \d+\.\ds ago"):
        _intent(store, a, fence)
    assert _count(store, a) == before, "a refused intent writes nothing"
    assert store.renew_leases(a, fence, 60.0) == ["orders-db"], "an expired lease stays lost"
    with pytest.raises(LeaseLost):
        _intent(store, a, fence)
    assert store.verify().ok


def test_an_intent_after_another_run_took_the_lease_names_it(
    store: AuditStore, start_run: Callable[..., str]
) -> None:
    a, b = start_run(operator="alice"), start_run(operator="bob")
    _lock, lease_a, _ = store.take_lease("orders-db", a, "alice", SHORT)
    time.sleep(SHORT + 0.3)
    _lock, lease_b, _ = store.take_lease("orders-db", b, "bob", 60.0)
    with pytest.raises(LeaseLost, match=f"passed to run {b} of bob \\(token {lease_b.token}\\)"):
        _intent(store, a, {"orders-db": lease_a.token})
    _intent(store, b, {"orders-db": lease_b.token})  # the new holder acts


def test_renewal_keeps_a_lease_alive(store: AuditStore, start_run: Callable[..., str]) -> None:
    a = start_run()
    _lock, lease, _ = store.take_lease("orders-db", a, "alice", 1.0)
    fence = {"orders-db": lease.token}
    for _ in range(4):  # 1.6 s in all: longer than the lease, renewed each 0.4 s
        time.sleep(0.4)
        assert store.renew_leases(a, fence, 1.0) == []
    _intent(store, a, fence)
