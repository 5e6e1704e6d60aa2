"""Which steps wait for a fresh status sweep before they render (``_needs_fresh_status``):
those that select hosts by role and those whose templates read something observed of
``service``/``services`` (the primary, the replicas, a member's observed role, lag or
position); a step that reads only static members (addresses, ports, vars) renders the same
from any snapshot and does not pay for a sweep of every service (city-return's gaps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.engine.steps import _needs_fresh_status
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
  - id: no-service
    on: service:orders-db and site:east
    run: "echo {{ target.address }}"
"""

EXPECTED = {
    "static-address": False,
    "static-vars": False,
    "primary": True,
    "replicas-in-when": True,
    "observed-by-map": True,
    "lag-by-key": True,
    "by-role": True,
    "no-service": False,
}


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = Path(tmp_path_factory.mktemp("fresh")) / "fresh.yaml"
    path.write_text(PLAYBOOK)
    return {s.id: s for s in load_playbook(path).steps}


@pytest.mark.parametrize(("step_id", "fresh"), EXPECTED.items())
def test_a_step_waits_for_fresh_status_only_when_it_reads_observed_state(
    steps: dict[str, object], step_id: str, fresh: bool
) -> None:
    assert _needs_fresh_status(steps[step_id]) is fresh  # type: ignore[arg-type]


def test_city_return_renders_most_steps_without_a_sweep() -> None:
    """The shipped city-return: only the steps that select by role (or read the primary)
    wait for a sweep; before, every one of its steps that read ``services`` did."""
    pb = load_playbook(
        Path(__file__).resolve().parents[2] / "playbooks/three-center/city-return.yaml"
    )
    fresh = [s.id for s in pb.steps if _needs_fresh_status(s)]
    reads = [
        s.id
        for s in pb.steps
        if any(
            t is not None and t.names & {"service", "services"}
            for t in (s.run, s.manual, s.title, s.description, s.when)
        )
    ]
    assert len(reads) >= 30 and len(fresh) <= 5, (len(reads), fresh)
