"""Pure and small-OS tests of the lab's parts: names, state file, inventory text, /proc, CLI input.

None of these start a database; the ones that touch the OS use throwaway ``sleep`` processes
and sockets on 127.19.250.x (inside the lab helper's 127.10-19 range).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from console.cli import main as cli_main
from console.errors import InputError
from console.lab import inventory as inventory_file
from console.lab.binaries import Binaries, find_binaries
from console.lab.errors import MissingBinaries
from console.lab.layout import LabLayout, site_address
from console.lab.procs import (
    ProcState,
    descendants,
    is_listening,
    proc_info,
    proc_state,
    signal_tree,
    wait_gone,
)
from console.lab.state import LabState, ProcessRecord, load_state, save_state
from console.model.inventory import load_inventory
from tests.support.lab import make_lab_dir

REPO = Path(__file__).resolve().parents[2]

FAKE_BINS = Binaries(
    pgbin=Path("/usr/lib/postgresql/15/bin"),
    mariadbd=Path("/usr/sbin/mariadbd"),
    mariadb_install_db=Path("/usr/bin/mariadb-install-db"),
    mariadb=Path("/usr/bin/mariadb"),
    redis_server=Path("/usr/bin/redis-server"),
    redis_cli=Path("/usr/bin/redis-cli"),
    sshd=Path("/usr/sbin/sshd"),
)


# ----------------------------------------------------------------------------- layout


def test_site_addresses_follow_net() -> None:
    layout = LabLayout.create(Path("/tmp/x"), 0)
    assert [s.address for s in layout.sites] == ["127.0.1.1", "127.0.2.1", "127.0.3.1"]
    assert site_address(17, "dr") == "127.17.3.1"
    assert layout.site("west").host == "lab-west"


def test_ports_stay_off_packaged_defaults() -> None:
    ports = {p for _a, p in LabLayout.create(Path("/tmp/x"), 12).all_ports()}
    assert ports == {2222, 15432, 13306, 16379, 15433, 13307, 16380}
    assert not ports & {5432, 3306, 6379}


@pytest.mark.parametrize("net", [-1, 256])
def test_bad_net_is_input_error(net: int) -> None:
    with pytest.raises(InputError, match="--net"):
        LabLayout.create(Path("/tmp/x"), net)


def test_too_deep_directory_is_refused_for_socket_paths() -> None:
    deep = Path("/tmp/" + "d" * 90)
    with pytest.raises(InputError, match="too deep"):
        LabLayout.create(deep, 0)


def test_layout_relative_directory_becomes_absolute() -> None:
    assert LabLayout.create(Path(".lab"), 0).directory.is_absolute()


# ------------------------------------------------------------------------------ state


def test_state_round_trip(tmp_path: Path) -> None:
    rec = ProcessRecord("east", "postgres", 123, 456, "127.0.1.1", 15432, "/x/postmaster.pid")
    relay = ProcessRecord(
        "west", "relay:orders-db", 9, 10, "127.0.2.1", 25432, target="127.0.1.1:15432", delay_ms=50
    )
    state = LabState(directory="/x", net=3, user="drlab", phase="up").with_process(rec)
    state = state.with_process(relay)
    path = tmp_path / "state.json"
    save_state(path, state)
    assert load_state(path) == state
    assert load_state(tmp_path / "missing.json") is None
    assert rec.endpoint == "127.0.1.1:15432"


def test_state_of_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="version"):
        load_state(path)


# -------------------------------------------------------------------------- inventory


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A short directory under /tmp instead of pytest's (a lab layout refuses a directory whose
    unix-socket paths would pass 100 bytes, and pytest-xdist's temporary paths are deeper)."""
    path = make_lab_dir("drunits-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _render(tmp_path: Path) -> tuple[str, Path]:
    layout = LabLayout.create(tmp_path / "lab", 14)
    inv = tmp_path / "inventory" / "lab.yaml"
    kh = inventory_file.known_hosts_path(inv)
    return inventory_file.render(layout, FAKE_BINS, "drlab", inv, kh), inv


def test_inventory_has_the_contract_shape(tmp_path: Path) -> None:
    text, _inv = _render(tmp_path)
    data = yaml.safe_load(text)
    assert data["version"] == 1 and data["name"] == "lab"
    assert data["ssh"]["user"] == "drlab"
    assert data["ssh"]["identity_file"] == str(tmp_path / "lab" / "ssh" / "id_ed25519")
    assert data["ssh"]["known_hosts"] == str(tmp_path / "inventory" / "lab_known_hosts")
    assert data["ssh"]["connect_timeout"] == "5s"
    assert data["vars"]["pgbin"] == "/usr/lib/postgresql/15/bin"
    assert data["vars"]["lab_dir"] == str(tmp_path / "lab")
    assert {k: v["role"] for k, v in data["sites"].items()} == {
        "east": "primary",
        "west": "standby",
        "dr": "dr",
    }
    east = data["sites"]["east"]["hosts"]["lab-east"]
    assert (east["address"], east["port"]) == ("127.14.1.1", 2222)
    assert east["tags"] == ["postgres", "mariadb", "redis"]
    dr = data["sites"]["dr"]["hosts"]["lab-dr"]
    assert dr["tags"] == ["backup"]
    assert dr["vars"]["pg_scratch_port"] == 15433
    assert dr["vars"]["mysql_scratch_port"] == 13307
    assert dr["vars"]["redis_scratch_port"] == 16380
    assert dr["vars"]["backup_dir"] == str(tmp_path / "lab" / "dr" / "backups")
    services = data["services"]
    assert {k: v["kind"] for k, v in services.items()} == {
        "orders-db": "postgres",
        "catalog-db": "mysql",
        "sessions": "redis",
    }
    pg = services["orders-db"]["members"]
    assert pg["lab-east"]["role"] == "primary" and pg["lab-west"]["role"] == "replica"
    assert pg["lab-east"]["port"] == pg["lab-west"]["port"] == 15432
    assert pg["lab-west"]["vars"]["slot"] == "west"
    assert "-p 15432 -h 127.14.2.1" in pg["lab-west"]["vars"]["pg_ctl_opts"]
    assert services["orders-db"]["probe"] == {"user": "postgres", "database": "postgres"}
    my = services["catalog-db"]["members"]
    assert my["lab-east"]["vars"]["server_id"] == 1 and my["lab-west"]["vars"]["server_id"] == 2
    assert "--read-only=1" in my["lab-west"]["vars"]["start_cmd"]
    assert "--read-only=1" not in my["lab-east"]["vars"]["start_cmd"]
    assert my["lab-east"]["vars"]["server_cmd"].split()[1] == "--no-defaults"
    assert services["catalog-db"]["probe"] == {"user": "drlab"}
    rd = services["sessions"]["members"]
    assert "--replicaof 127.14.1.1 16379" in rd["lab-west"]["vars"]["start_cmd"]
    assert "--replicaof" not in rd["lab-east"]["vars"]["start_cmd"]
    for svc in services.values():
        assert svc["thresholds"] == {"lag_warn": "5s", "lag_crit": "30s"}


def test_every_var_is_documented_by_a_comment(tmp_path: Path) -> None:
    text, _inv = _render(tmp_path)
    data = yaml.safe_load(text)
    names: set[str] = set(data["vars"])
    for site in data["sites"].values():
        for host in site["hosts"].values():
            names |= set(host.get("vars", {}))
    for svc in data["services"].values():
        for member in svc["members"].values():
            names |= set(member.get("vars", {}))
    undocumented = sorted(n for n in names if f"# {n}: " not in text)
    assert not undocumented
    for service in data["services"]:  # each service documents its own commands
        block = text.split(f"\n  {service}:\n", 1)[1].split("\n    thresholds:", 1)[0]
        assert "# start_cmd: " in block and "# stop_cmd: " in block


def test_inventory_loads_with_the_model_loader(tmp_path: Path) -> None:
    text, inv = _render(tmp_path)
    inv.parent.mkdir(parents=True)
    inv.write_text(text)
    loaded = load_inventory(inv)
    assert set(loaded.sites) == {"east", "west", "dr"}
    assert loaded.services["orders-db"].expected_primary == "lab-east"
    assert loaded.hosts["lab-west"].address == "127.14.2.1"
    assert loaded.services["sessions"].members["lab-west"].port == 16379
    assert loaded.ssh.known_hosts == str(tmp_path / "inventory" / "lab_known_hosts")


def test_known_hosts_lives_next_to_the_inventory() -> None:
    got = inventory_file.known_hosts_path(Path("/a/inventory/lab.yaml"))
    assert got == Path("/a/inventory/lab_known_hosts")


# --------------------------------------------------------------------------- binaries


def test_missing_binaries_are_named_with_the_packages(tmp_path: Path) -> None:
    """Simulated fault: an empty bin directory and search path stand for a bare machine."""
    with pytest.raises(MissingBinaries) as info:
        find_binaries(pgbin=tmp_path / "pg", search_path=str(tmp_path))
    message = str(info.value)
    assert info.value.exit_code == 2
    for name in ("initdb", "mariadbd", "mariadb-install-db", "redis-server", "sshd"):
        assert name in message
    assert "apt-get install -y openssh-server postgresql redis-server mariadb-server" in message


def test_cli_up_without_binaries_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    """Simulated fault: DRCONSOLE_LAB_PATH/PGBIN point at empty directories."""
    env = dict(os.environ)
    env.update(DRCONSOLE_LAB_PATH=str(tmp_path / "bin"), DRCONSOLE_LAB_PGBIN=str(tmp_path / "pg"))
    lab_dir = tmp_path / "lab"
    done = subprocess.run(
        [sys.executable, "-m", "console", "lab", "--dir", str(lab_dir), "up", "--net", "19",
         "--inventory", str(tmp_path / "inv" / "lab.yaml")],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "openssh-server postgresql redis-server mariadb-server" in done.stderr
    assert not lab_dir.exists()
    assert not (tmp_path / "inv").exists()


# ------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["up", "--net", "300"], "--net"),
        (["chaos", "latency", "west"], "needs a delay"),
        (["chaos", "down", "north"], "unknown site"),
    ],
)
def test_cli_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code = cli_main(["lab", "--dir", str(tmp_path / "lab"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err


def test_cli_status_and_down_without_a_lab(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["lab", "--dir", str(tmp_path / "none"), "status"]) == 1
    assert "no lab in" in capsys.readouterr().out
    assert cli_main(["lab", "--dir", str(tmp_path / "none"), "down"]) == 0
    assert "nothing to stop" in capsys.readouterr().out


# ------------------------------------------------------------------------------ /proc


def test_proc_state_alive_stopped_dead() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        info = proc_info(child.pid)
        assert info is not None and info.ppid == os.getpid()
        assert proc_state(child.pid) is ProcState.ALIVE
        assert proc_state(child.pid, info.start_time + 1) is ProcState.DEAD  # a reused pid
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while proc_state(child.pid) is not ProcState.STOPPED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc_state(child.pid, info.start_time) is ProcState.STOPPED
        os.kill(child.pid, signal.SIGCONT)
        child.kill()
        assert wait_gone([child.pid], 10) == []
        assert proc_state(child.pid) is ProcState.DEAD
    finally:
        child.kill()
        child.wait(timeout=10)


def test_signal_tree_reaches_grandchildren() -> None:
    parent = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(descendants(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        kids = descendants(parent.pid)
        assert len(kids) == 2
        stopped = signal_tree(parent.pid, signal.SIGSTOP)
        assert set(stopped) == {parent.pid, *kids}
        time.sleep(0.1)
        assert all(proc_state(p) is ProcState.STOPPED for p in stopped)
        signal_tree(parent.pid, signal.SIGCONT)
        signal_tree(parent.pid, signal.SIGKILL)
        assert wait_gone(stopped, 10) == []
    finally:
        parent.kill()
        parent.wait(timeout=10)


def test_is_listening_reads_the_kernel_table() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.19.250.1", 0))
    port = sock.getsockname()[1]
    assert not is_listening("127.19.250.1", port)
    sock.listen(1)
    assert is_listening("127.19.250.1", port)
    assert not is_listening("127.19.250.2", port)
    sock.close()
    assert not is_listening("127.19.250.1", port)
