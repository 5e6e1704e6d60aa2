"""Whole-site drills built on playbook composition, on the real lab: ``site-evacuation`` moves
every primary (orders-db, catalog-db, sessions) from east to west in one run, ``site-return``
brings them home; twice, with the acknowledged-write check of every run.

Each run is one run id and one audit chain whose steps are the included playbooks' steps
(``orders/...``, ``catalog/...``, ``sessions/...``), with one RTO from the first fence to the
last service's end, and a report with a section per included playbook; the servers are then
asked where their primaries are, independently of the engine.
"""

from __future__ import annotations

import json

import pytest

from tests.drills_other.common import measured_without_loss, succeeded
from tests.drills_other.support import DrillLab, requires_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, requires_lab]

SERVICES = ("orders-db", "catalog-db", "sessions")


def primary_sites(lab: DrillLab) -> dict[str, str | None]:
    """Where ``drconsole status`` observes each service's writable primary."""
    ran = lab.drconsole("status", "-i", str(lab.inventory), "--json")
    doc = json.loads(ran.stdout)
    return {s["service"]: s["primary_site"] for s in doc["services"] if s["service"] in SERVICES}


def check_composed_run(lab: DrillLab, run_id: str, parts: tuple[str, ...]) -> float:
    """One run of a composed playbook: no acknowledged write lost, one RTO, a report section
    per included playbook (each done), every step id under its include."""
    m = measured_without_loss(lab, run_id)
    with lab.store() as store:
        assert [r.run_id for r in store.runs() if r.run_id == run_id] == [run_id]
    report = lab.drconsole("report", run_id, "--format", "json")
    doc = json.loads(report.stdout)
    assert [p["id"] for p in doc["parts"]] == list(parts)
    assert all(p["outcome"] == "done" for p in doc["parts"]), doc["parts"]
    main = [s["id"] for s in doc["steps"] if not s["rollback"]]
    assert main and all(s.split("/", 1)[0] in parts for s in main), main
    md = lab.drconsole("report", run_id, "--format", "md").stdout
    assert f"## Included playbooks ({len(parts)})" in md
    return m.rto_seconds


@pytest.mark.timeout(3600)
def test_evacuate_the_site_and_return_twice(drill_lab: DrillLab) -> None:
    lab = drill_lab
    assert primary_sites(lab) == dict.fromkeys(SERVICES, "east")
    rtos = []
    for _ in range(2):
        run_id = succeeded(lab.run("site-evacuation"))
        rtos.append(
            ("site-evacuation", check_composed_run(lab, run_id, ("orders", "catalog", "sessions")))
        )
        assert primary_sites(lab) == dict.fromkeys(SERVICES, "west")
        run_id = succeeded(lab.run("site-return"))
        rtos.append(
            ("site-return", check_composed_run(lab, run_id, ("orders", "catalog", "sessions")))
        )
        assert primary_sites(lab) == dict.fromkeys(SERVICES, "east")
    print("\nsite drills (playbook, RTO s):", rtos)
