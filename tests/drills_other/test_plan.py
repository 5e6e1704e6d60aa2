"""``drconsole plan`` renders every MariaDB and Redis playbook on a healthy lab.

A plan runs nothing: it resolves each step's hosts against the observed roles and renders
its commands. On a healthy lab every static gate passes, every step renders, and each run
step targets the host its playbook says (the primary's site, the replica's, or dr).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from console.model.playbook import load_playbook
from tests.drills_other.support import PLAYBOOKS, DrillLab, requires_lab

pytestmark = [pytest.mark.lab, requires_lab]

PLAYBOOK_NAMES = (
    "mariadb-failover",
    "mariadb-failback",
    "mariadb-restore-verify",
    "redis-failover",
    "redis-failback",
    "redis-restore-verify",
)


def plan(lab: DrillLab, name: str, *extra: str) -> dict[str, Any]:
    ran = lab.drconsole(
        "plan", str(PLAYBOOKS / f"{name}.yaml"), "-i", str(lab.inventory), "--json", *extra
    )
    assert ran.returncode in (0, 1), ran.output[-4000:]
    return {"returncode": ran.returncode, **json.loads(ran.stdout)}


@pytest.mark.timeout(900)
def test_every_playbook_validates() -> None:
    for name in PLAYBOOK_NAMES:
        pb = load_playbook(PLAYBOOKS / f"{name}.yaml")
        assert pb.name == name
        assert pb.steps


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "name", ["mariadb-failover", "redis-failover", "mariadb-restore-verify", "redis-restore-verify"]
)
def test_plan_renders_on_a_healthy_lab(drill_lab: DrillLab, name: str) -> None:
    got = plan(drill_lab, name)
    assert got["returncode"] == 0, got
    assert all(g["ok"] in (True, None) for g in got["gates"]), got["gates"]
    steps = got["steps"]
    assert steps and all(s["problem"] is None for s in steps), steps
    expected = {s.id for s in load_playbook(PLAYBOOKS / f"{name}.yaml").all_steps()}
    assert {s["id"] for s in steps} == expected
    for s in steps:
        for host, command in s["commands"]:
            assert host in ("lab-east", "lab-west", "lab-dr"), (s["id"], host)
            assert command.strip(), s["id"]
    by_id = {s["id"]: s for s in steps}
    if name.endswith("failover"):
        assert by_id["fence"]["targets"] == ["lab-east"]
        assert by_id["fence"]["rto"] == "start" and by_id["prove-writes"]["rto"] == "end"
        assert by_id["promote"]["targets"] == ["lab-west"]
    else:
        assert by_id["restore"]["targets"] == ["lab-dr"] and by_id["restore"]["confirm"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", ["mariadb-failback", "redis-failback"])
def test_failback_plan_on_a_healthy_lab_says_the_primary_is_not_away(
    drill_lab: DrillLab, name: str
) -> None:
    """On the original topology a failback has nothing to do: its role gate says so (exit 1).
    Planned for the other direction (home west, away east), every gate and step passes."""
    got = plan(drill_lab, name)
    assert got["returncode"] == 1, got
    failed = [g for g in got["gates"] if g["ok"] is False]
    assert failed and "away_site" in failed[0]["title"], got["gates"]
    other = plan(drill_lab, name, "--var", "home_site=west", "--var", "away_site=east")
    assert all(g["ok"] in (True, None) for g in other["gates"]), other["gates"]
    assert all(s["problem"] is None for s in other["steps"]), other["steps"]
    assert other["returncode"] == 0, other
