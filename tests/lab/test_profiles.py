"""Lab profiles: the registry, ``lab profiles``, and one lab per directory.

The refusal of a second profile runs against the session's real default lab: ``up`` of
another profile in its directory must exit 2 naming the running profile and change nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.errors import InputError
from console.lab.lab import Lab
from console.lab.layout import LabLayout
from console.lab.profiles import PROFILES, every_port, get_profile, profile_names
from console.lab.state import LabState
from tests.support.lab import RunningLab, requires_lab

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )


def test_registry_names_default_first() -> None:
    assert profile_names()[0] == "default"
    assert get_profile(None).name == "default"
    assert get_profile("default").default_inventory == Path("inventory/lab.yaml")
    for profile in PROFILES[1:]:
        assert profile.default_inventory == Path(f"inventory/lab-{profile.name}.yaml")


def test_unknown_profile_is_input_error_naming_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"unknown lab profile 'nope'.*default"):
        get_profile("nope")


def test_cli_unknown_profile_exits_2_without_traceback(tmp_path: Path) -> None:
    done = _cli("lab", "--dir", str(tmp_path / "lab"), "up", "--net", "23", "--profile", "nope")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown lab profile 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "lab").exists() or not any((tmp_path / "lab").iterdir())


def test_cli_lab_profiles_lists_every_profile() -> None:
    done = _cli("lab", "profiles")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == profile_names()
    assert "(default)" in lines[0] and "inventory/lab.yaml" in lines[0]


def test_every_port_covers_each_profile() -> None:
    layout = LabLayout.create(Path("/tmp/x"), 12)
    ports = set(every_port(layout))
    for profile in PROFILES:
        assert set(profile.all_ports(layout)) <= ports
        assert all(addr.startswith("127.12.") for addr, _p in profile.all_ports(layout))


def test_state_written_before_profiles_reads_as_default(tmp_path: Path) -> None:
    state = LabState(directory=str(tmp_path), net=3, user="drlab", phase="up")
    data = json.loads(state.to_json())
    del data["profile"]
    old = LabState.from_json(json.dumps(data))
    assert old.profile == "default"


@requires_lab
@pytest.mark.lab
def test_up_of_another_profile_while_one_runs_exits_2(lab: RunningLab) -> None:
    others = [p.name for p in PROFILES if p.name != lab.profile]
    if not others:
        pytest.skip("only one profile exists")
    state_file = lab.lab.directory / "state.json"
    before = state_file.read_bytes()
    with pytest.raises(InputError, match=r"already runs profile 'default'"):
        Lab(lab.lab.directory, lab.net, profile=others[0]).up()
    done = _cli(
        "lab", "--dir", str(lab.lab.directory), "up", "--net", str(lab.net), "--profile", others[0]
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "already runs profile 'default'" in done.stderr and "down" in done.stderr
    assert state_file.read_bytes() == before
    assert all(s.state.value == "alive" for s in lab.lab.status())
