"""Which steps wait for a fresh status sweep before they render, and of which services
(``fresh_services``): those that select hosts by role (the services the selector names) and
those whose templates read something observed of ``service`` (its own service) or
``services`` (every service the run touches): the primary, the replicas, a member's observed
role, lag or position. A step that reads only static members (addresses, ports, vars) renders
the same from any snapshot and does not pay for a sweep (city-return's gaps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.engine.steps import fresh_services
from console.model.playbook import load_playbook

PLAYBOOK = """\
version: 1
name: fresh
kind: failover
service: orders-db
steps:
  - id: static-address
    on: service:orders-db and site:east
    run: "echo {{ services['orders-db'].at['west'].address }}:{{ service.at['west'].port }}"
  - id: static-vars
    on: service:orders-db and site:east
    run: >-
      {% set db = services['orders-db'] -%}
      echo {{ db.at['west'].vars.pgdata }} {{ db.members.keys() | join(' ') }}
  - id: primary
    on: service:orders-db and site:east
    run: "echo {{ service.primary.address }}"
  - id: replicas-in-when
    on: service:orders-db and site:east
    when: "{{ services['orders-db'].replicas | length > 0 }}"
    run: "true"
  - id: observed-by-map
    on: service:orders-db and site:east
    run: "echo {{ service.members.values() | map(attribute='observed') | join(',') }}"
  - id: lag-by-key
    on: service:orders-db and site:east
    run: "echo {{ service.at['west']['lag_bytes'] }}"
  - id: by-role
    on: service:orders-db and role:primary
    run: "true"
  - id: by-role-anywhere
    on: role:primary and site:east
    run: "true"
  - id: own-and-by-role-of-another
    on: service:sessions and role:replica
    run: "echo {{ service.primary.address }}"
  - id: no-service
    on: service:orders-db and site:east
    run: "echo {{ target.address }}"
"""

TOUCHED = ("orders-db", "sessions", "catalog-db")
"""What the run touches (the playbook is read alone here: these stand for its includes)."""

EXPECTED: dict[str, tuple[str, ...]] = {
    "static-address": (),
    "static-vars": (),
    "primary": ("orders-db",),
    "replicas-in-when": TOUCHED,
    "observed-by-map": ("orders-db",),
    "lag-by-key": ("orders-db",),
    "by-role": ("orders-db",),
    "by-role-anywhere": TOUCHED,
    "own-and-by-role-of-another": ("sessions", "orders-db"),
    "no-service": (),
}


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = Path(tmp_path_factory.mktemp("fresh")) / "fresh.yaml"
    path.write_text(PLAYBOOK)
    return {s.id: s for s in load_playbook(path).steps}


@pytest.mark.parametrize(("step_id", "fresh"), EXPECTED.items())
def test_a_step_waits_for_fresh_status_only_of_the_services_whose_state_it_reads(
    steps: dict[str, object], step_id: str, fresh: tuple[str, ...]
) -> None:
    assert fresh_services(steps[step_id], "orders-db", TOUCHED) == fresh  # type: ignore[arg-type]


def test_city_return_renders_most_steps_without_a_sweep() -> None:
    """The shipped city-return: only the steps that select by role (or read the primary)
    wait for a sweep; before, every one of its steps that read ``services`` did."""
    pb = load_playbook(
        Path(__file__).resolve().parents[2] / "playbooks/three-center/city-return.yaml"
    )
    touched = pb.services_touched()
    fresh = {
        s.id: fresh_services(s, (s.scope or pb).service, touched)
        for s in pb.steps
        if fresh_services(s, (s.scope or pb).service, touched)
    }
    reads = [
        s.id
        for s in pb.steps
        if any(
            t is not None and t.names & {"service", "services"}
            for t in (s.run, s.manual, s.title, s.description, s.when)
        )
    ]
    assert len(reads) >= 30 and len(fresh) <= 5, (len(reads), fresh)
    # and none of them sweeps all three services: each reads its own
    assert all(len(services) == 1 for services in fresh.values()), fresh
