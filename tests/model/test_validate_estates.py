"""``validate`` with several estates: a bare ``drconsole validate`` of this repository (five
inventories of different shapes, thirty playbooks) is clean because each playbook fits one
estate; a playbook that fits none prints every pair's problems; a playbook the service's HA
manager refuses is a located note, not a problem (run stops it in preflight, exit 3)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _validate(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "validate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _estates(tmp_path: Path) -> Path:
    """A copy of the shipped inventories and playbooks, without the lab's own inventories
    (written by ``lab up``, present or not in a checkout)."""
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "playbooks", work / "playbooks")
    (work / "inventory").mkdir(parents=True)
    for inv in (ROOT / "inventory").glob("example*.yaml"):
        shutil.copy(inv, work / "inventory" / inv.name)
    return work


def test_bare_validate_of_the_repository_is_clean(tmp_path: Path) -> None:
    work = _estates(tmp_path)
    done = _validate(cwd=work)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    shipped = len(list((work / "playbooks").rglob("*.yaml")))
    assert shipped >= 30
    summary = f"4 inventories, {shipped} playbook(s); no problems (each playbook fits one of them)"
    assert summary in done.stdout, done.stdout


def test_a_playbook_that_fits_no_estate_prints_every_pair(tmp_path: Path) -> None:
    work = _estates(tmp_path)
    city_loss = work / "playbooks" / "three-center" / "city-loss.yaml"
    done = _validate(
        "inventory/example.yaml", "inventory/example-active-active.yaml", str(city_loss), cwd=work
    )
    assert done.returncode == 2, done.stdout
    lines = done.stderr.splitlines()
    assert any("inventory 'example'" in line for line in lines), lines
    assert any("inventory 'example-active-active'" in line for line in lines), lines
    # each located in the playbook or in a playbook it includes
    assert all(line.startswith(str(work / "playbooks")) for line in lines[:-1]), lines
    # the same playbook with its own estate among the inventories: it fits, nothing printed
    done = _validate(
        "inventory/example.yaml", "inventory/example-three-center.yaml", str(city_loss), cwd=work
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_one_inventory_checks_every_playbook_against_it(tmp_path: Path) -> None:
    """One estate named: every playbook must run on it (the strict check a CI of one estate
    wants); the redis-cluster playbooks of the managed estate are refused on the plain one."""
    work = _estates(tmp_path)
    done = _validate(
        "inventory/example.yaml",
        "playbooks/pg-failover.yaml",
        "playbooks/redis-cluster-site-failover.yaml",
        cwd=work,
    )
    assert done.returncode == 2, done.stdout
    assert "playbooks/redis-cluster-site-failover.yaml:" in done.stderr
    assert "pg-failover.yaml:" not in done.stderr


def test_a_playbook_the_manager_refuses_is_a_located_note(tmp_path: Path) -> None:
    work = _estates(tmp_path)
    done = _validate("inventory/example-managed.yaml", "playbooks/pg-failover.yaml", cwd=work)
    assert done.returncode == 0, done.stderr
    note = done.stderr.strip()
    assert note.startswith("playbooks/pg-failover.yaml:30:10: note: a run on "), note
    assert "stops in preflight (exit 3)" in note and "use patroni-switchover" in note
    assert "1 note(s): a playbook its service's HA manager refuses" in done.stdout
