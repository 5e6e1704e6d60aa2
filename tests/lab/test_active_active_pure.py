"""The ``active-active`` profile and the unit load generator, without servers.

The inventory the profile writes (rendered from a layout, loaded by the real loader): users-db
multi-primary with a unit and a GTID domain per member, each writer's command line in its own
domain and key half, sessions primary in west; the members' ``route_cmd`` really rewrites a
unit's endpoint file (run by ``sh``); the load generator's files and counts, with a stand-in
client (a shell script, named as such) for the acknowledged / refused / failed cases.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.lab import inventory as inventory_file
from console.lab.layout import LabLayout
from console.lab.profiles import get_profile
from console.lab.profiles.active_active import (
    declare_active_active,
    endpoint_file,
    route_cmd,
    units_dir,
)
from console.lab.unitload import UnitLoad, read_acks, read_endpoint
from console.model.inventory import load_inventory
from tests.lab.test_units import FAKE_BINS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A short directory in /tmp: pytest's own (deeper still under xdist) makes the layout's
    socket paths longer than a unix socket allows, which the layout rightly refuses."""
    path = Path(tempfile.mkdtemp(prefix="aa-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _inventory(tmp_path: Path) -> Path:
    layout = LabLayout.create(tmp_path / "lab", 25)
    inv = tmp_path / "lab-active-active.yaml"
    kh = inventory_file.known_hosts_path(inv)
    text = inventory_file.render(layout, FAKE_BINS, "drlab", inv, kh)
    inv.write_text(declare_active_active(text, layout, FAKE_BINS, "drlab"), encoding="utf-8")
    kh.write_text("", encoding="utf-8")
    return inv


def test_the_profile_is_registered() -> None:
    profile = get_profile("active-active")
    assert profile.default_inventory == Path("inventory/lab-active-active.yaml")
    assert "units" in profile.owned_entries
    layout = LabLayout.create(Path("/tmp/x-lab"), 25)
    assert units_dir(layout) in profile.directories(layout)


def test_its_inventory_declares_two_writers_and_mutual_backup(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path))
    assert inv.name == "lab-active-active"
    assert list(inv.services) == ["orders-db", "users-db", "sessions"]
    users = inv.services["users-db"]
    assert users.kind == "mysql" and users.topology.shape == "multi-primary"
    assert {h: (u.name, u.gtid_domain) for h, u in users.topology.units.items()} == {
        "lab-east": ("unit-east", 1),
        "lab-west": ("unit-west", 2),
    }
    for host, domain, offset in (("lab-east", 1, 1), ("lab-west", 2, 2)):
        member = users.members[host]
        assert member.role == "primary"
        argv = shlex.split(member.vars["server_cmd"])
        assert f"--gtid-domain-id={domain}" in argv
        assert "--auto-increment-increment=2" in argv
        assert f"--auto-increment-offset={offset}" in argv
        assert "--read-only=1" not in shlex.split(member.vars["start_cmd"])
        assert member.vars["unit_user"] == f"unit_{host[4:]}"
    assert inv.services["orders-db"].expected_primary == "lab-east"
    sessions = inv.services["sessions"]
    assert sessions.expected_primary == "lab-west"
    assert "--replicaof 127.25.2.1 16379" in sessions.members["lab-east"].vars["start_cmd"]
    assert "--replicaof" not in sessions.members["lab-west"].vars["start_cmd"]


def test_the_lab_inventory_validates_with_the_active_active_playbooks(tmp_path: Path) -> None:
    inv = _inventory(tmp_path)
    books = sorted((REPO / "playbooks" / "active-active").glob("*.yaml"))
    done = subprocess.run(
        [sys.executable, "-m", "console", "validate", "-i", str(inv), *map(str, books)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no problems" in done.stdout


def test_route_cmd_rewrites_the_unit_s_endpoint_file(tmp_path: Path) -> None:
    layout = LabLayout.create(tmp_path / "lab", 25)
    units_dir(layout).mkdir(parents=True)
    for site in ("west", "east"):
        done = subprocess.run(
            f"{route_cmd(layout, site)} unit-west",
            shell=True,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert f"unit-west writers now go to {site}" in done.stdout
        assert read_endpoint(endpoint_file(layout, "unit-west")) == (
            layout.site(site).address,
            13306,
        )
    assert sorted(p.name for p in units_dir(layout).iterdir()) == ["unit-west.endpoint"]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("127.25.1.1:13306\n", ("127.25.1.1", 13306)),
        ("  127.0.0.1:1  ", ("127.0.0.1", 1)),
        ("10.0.0.1:13306", None),
        ("127.25.1.1", None),
        ("", None),
        ("127.25.1.1:13306; rm -rf /", None),
    ],
)
def test_read_endpoint(tmp_path: Path, text: str, want: tuple[str, int] | None) -> None:
    f = tmp_path / "e"
    f.write_text(text, encoding="utf-8")
    assert read_endpoint(f) == want
    assert read_endpoint(tmp_path / "missing") is None


def test_read_acks_skips_a_torn_last_line(tmp_path: Path) -> None:
    f = tmp_path / "acks"
    f.write_text("1\n2\n3\n4", encoding="utf-8")
    assert read_acks(f) == [1, 2, 3, 4]
    f.write_text("1\n2\n3\n", encoding="utf-8")
    with f.open("a") as out:
        out.write("1x")
    assert read_acks(f) == [1, 2, 3]
    assert read_acks(tmp_path / "none") == []


@pytest.mark.parametrize(
    "kwargs",
    [{"unit": "unit'west"}, {"unit": ""}, {"user": "a b"}, {"writer": "w'); DROP TABLE x; --"}],
)
def test_bad_names_are_refused(tmp_path: Path, kwargs: dict[str, str]) -> None:
    args: dict[str, str] = {"unit": "unit-west", **kwargs}
    with pytest.raises(ValueError, match="bad"):
        UnitLoad(endpoint_file=tmp_path / "e", ack_file=tmp_path / "a", **args)  # type: ignore[arg-type]


def _stand_in_client(tmp_path: Path) -> Path:
    """A stand-in for the mariadb client (a fake, named so): answers as the endpoint's port
    says: 1 acknowledged, 2 refused (ERROR 1142), 3 connection refused; logs its argv."""
    script = tmp_path / "fake-mariadb"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/argv\n'
        'case "$*" in\n'
        '  *"-P 1 "*) exit 0;;\n'
        '  *"-P 2 "*) echo "ERROR 1142 (42000): INSERT command denied" >&2; exit 1;;\n'
        '  *) echo "ERROR 2002 (HY000): Can\'t connect" >&2; exit 1;;\n'
        "esac\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def test_only_acknowledged_writes_are_recorded(tmp_path: Path) -> None:
    endpoint = tmp_path / "unit-west.endpoint"
    acks = tmp_path / "acks"
    load = UnitLoad(
        unit="unit-west",
        endpoint_file=endpoint,
        ack_file=acks,
        writer="w1",
        client=str(_stand_in_client(tmp_path)),
    )
    assert not load.write_once()  # no endpoint file yet
    for port, ok in ((1, True), (1, True), (2, False), (3, False), (1, True)):
        endpoint.write_text(f"127.25.2.1:{port}\n", encoding="utf-8")
        assert load.write_once() is ok
    c = load.counts
    assert (c.acknowledged, c.refused, c.failed) == (3, 1, 2)
    assert read_acks(acks) == [2, 3, 6]
    assert c.by_endpoint == {"127.25.2.1:1": 3}
    argv = (tmp_path / "argv").read_text(encoding="utf-8").splitlines()
    assert len(argv) == 5 and all("-u unit_west" in a for a in argv)
    assert "VALUES ('unit-west', 'w1', 2, @@server_id)" in argv[0]


def test_the_command_line_refuses_a_bad_unit(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "console.lab.unitload", "--unit", "x'y"),
            *("--endpoint-file", str(tmp_path / "e"), "--ack-file", str(tmp_path / "a")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "bad unit name" in done.stderr
