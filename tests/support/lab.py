"""A real DR lab for tests: three sites of real servers, up once per test session.

Any test that needs the whole estate (the status command, probes against live servers, the
engine running a playbook, the TUI demo) takes the session-scoped ``lab`` fixture. It starts a
lab with :class:`console.lab.lab.Lab` in a fresh directory under /tmp (pytest's ``tmp_path`` is
root-only and the lab user must read it) on a free ``--net`` between 10 and 19, yields a
:class:`RunningLab`, and takes the lab down at the end of the session, even when tests failed.

Use it from a test module or a conftest (or :func:`running_lab` for a lab of your own)::

    from tests.support.lab import lab, requires_lab, RunningLab  # noqa: F401  (the fixture)

    @requires_lab
    def test_something(lab: RunningLab) -> None:
        inv = lab.inventory                       # absolute path of the written inventory
        lab.addresses["west"]                     # "127.1x.2.1"
        out = lab.ssh("west", "psql -XAtc 'SELECT pg_is_in_recovery()'")   # real OpenSSH
        lab.lab.chaos_down("west"); ...; lab.lab.chaos_up("west")          # always restore!

Tests that change the lab (chaos, latency, failover) must put it back as they found it, since
the lab is shared by the whole session.

Another profile (``drconsole lab profiles``) comes up once per test module with a fixture
made by :func:`profile_lab`::

    from tests.support.lab import profile_lab, requires_profile

    managed = profile_lab("managed")          # a module-scoped fixture named ``managed``
    pytestmark = [requires_profile("managed")]

    def test_x(managed: RunningLab) -> None: ...

Environment knobs:

* ``DRCONSOLE_TEST_LAB_NET``: force a net (default: the first free one in 10..19, reserved
  with a lock file so that parallel test sessions never share one).
* ``DRCONSOLE_TEST_LAB_SCALE``: multiply every lab timeout (default 3: CI machines are busy).
* ``DRCONSOLE_TEST_LAB_KEEP=1``: keep the lab directory (logs) after the session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from console.lab import nets
from console.lab.binaries import find_binaries
from console.lab.errors import MissingBinaries
from console.lab.lab import Lab, UpResult
from console.lab.layout import SITES, SSH_PORT
from console.lab.profiles import DEFAULT_PROFILE, get_profile

TEST_NETS = range(10, 20)
"""The nets the lab helper's tests may use (127.10.0.0/16 .. 127.19.0.0/16)."""


def _missing_binaries() -> str | None:
    try:
        find_binaries()
    except MissingBinaries as exc:
        return str(exc)
    if not shutil.which("ssh"):
        return "the OpenSSH client (ssh) is not installed: apt-get install openssh-client"
    return None


_MISSING = _missing_binaries()

requires_lab = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")
"""Skips a test (with the apt-get line) when the lab's server binaries are not installed."""


def _missing_programs(profile: str) -> str | None:
    if _MISSING is not None:
        return _MISSING
    try:
        get_profile(profile).find_programs()
    except MissingBinaries as exc:
        return str(exc)
    return None


def requires_profile(profile: str) -> pytest.MarkDecorator:
    """Skips a test when the programs of ``profile`` (etcd, Patroni ...) are not installed."""
    missing = _missing_programs(profile)
    return pytest.mark.skipif(missing is not None, reason=missing or "")


def reserve_net(preferred: int | None = None) -> tuple[int, IO[str]]:
    """Reserve a free test net (``preferred``, or the first free one of :data:`TEST_NETS`).

    Returns it and the open lock file that holds it (see :func:`console.lab.nets.reserve_net`).

    Raises:
        RuntimeError: When every candidate net is taken.
    """
    return nets.reserve_net([preferred] if preferred is not None else TEST_NETS)


def make_lab_dir(prefix: str = "drlab-") -> Path:
    """A fresh, short, world-traversable directory under /tmp for a lab and its inventory."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@dataclass(frozen=True)
class RunningLab:
    """A lab that is up, as the ``lab`` fixture yields it."""

    lab: Lab
    """The lab API (``chaos_down``, ``chaos_up``, ``chaos_latency``, ``status``, ...)."""
    net: int
    """Its net (second octet of every address)."""
    root: Path
    """The temporary directory holding the lab directory and the inventory."""
    inventory: Path
    """The inventory ``up`` wrote (absolute)."""
    known_hosts: Path
    """Its known_hosts (absolute): strict host-key checking against it works."""
    identity: Path
    """The generated ed25519 user key."""
    user: str
    """The OS user that owns every server and that SSH logs in as."""
    addresses: dict[str, str]
    """Site name -> loopback address (``east``, ``west``, ``dr``)."""
    up: UpResult
    """What ``up`` reported (``up.seconds`` is how long it took)."""
    profile: str = DEFAULT_PROFILE
    """The lab profile that runs."""

    def ssh_argv(self, site: str, command: str) -> list[str]:
        """OpenSSH client argv that runs ``command`` on ``site`` with strict host keys."""
        return [
            "ssh",
            "-p",
            str(SSH_PORT),
            "-i",
            str(self.identity),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "KexAlgorithms=curve25519-sha256",
            "-o",
            "LogLevel=ERROR",
            f"{self.user}@{self.addresses[site]}",
            command,
        ]

    def ssh(
        self, site: str, command: str, *, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on ``site`` over real SSH; raises on a non-zero exit with ``check``."""
        done = subprocess.run(
            self.ssh_argv(site, command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"ssh {site} {command!r} exited {done.returncode}: {done.stderr}{done.stdout}"
            )
        return done


def start_test_lab(
    root: Path, net: int, scale: float, profile: str = DEFAULT_PROFILE
) -> RunningLab:
    """Bring a lab up under ``root`` on ``net`` (what the fixture does; usable on its own).

    The caller must take it down (``result.lab.down()``), also when this raises half-way:
    ``Lab.up`` already stops what it started when it fails.
    """
    lab = Lab(root / "lab", net, timeout_scale=scale, profile=profile)
    result = lab.up(root / "inventory" / get_profile(profile).inventory_name)
    state = result.state
    return RunningLab(
        lab=lab,
        net=net,
        root=root,
        inventory=result.inventory,
        known_hosts=result.known_hosts,
        identity=lab.layout.identity_file,
        user=state.user,
        addresses={s: lab.address(s) for s in SITES},
        up=result,
        profile=profile,
    )


@contextlib.contextmanager
def running_lab(
    net: int | None = None, scale: float | None = None, profile: str = DEFAULT_PROFILE
) -> Iterator[RunningLab]:
    """Bring up a lab of your own for a ``with`` block, and always take it down after.

    For tests that break the lab on purpose (a failover that is not undone, a killed server):
    use this in a module-scoped fixture instead of sharing the session's ``lab``.

    Args:
        net: A net to use (default: the first free one in 10..19, reserved for the block).
        scale: Timeout multiplier (default ``$DRCONSOLE_TEST_LAB_SCALE`` or 3).
        profile: The lab profile to start.

    Raises:
        RuntimeError: When ``down`` leaves a listener behind.
    """
    forced = os.environ.get("DRCONSOLE_TEST_LAB_NET")
    chosen, lock = reserve_net(net if net is not None else int(forced) if forced else None)
    factor = scale if scale is not None else float(os.environ.get("DRCONSOLE_TEST_LAB_SCALE", "3"))
    root = make_lab_dir()
    lab_api = Lab(root / "lab", chosen, timeout_scale=factor, profile=profile)
    try:
        yield start_test_lab(root, chosen, factor, profile)
    finally:
        try:
            if lab_api.state() is not None:
                result = lab_api.down()
                if result.leftovers:
                    raise RuntimeError(f"lab down left listeners: {result.leftovers}")
        finally:
            lock.close()
            if not os.environ.get("DRCONSOLE_TEST_LAB_KEEP"):
                shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def lab() -> Iterator[RunningLab]:
    """A running three-site lab for the whole test session (see the module docstring)."""
    if _MISSING is not None:
        pytest.skip(_MISSING)
    with running_lab() as running:
        yield running


def profile_lab(profile: str, scope: str = "module") -> Any:
    """A fixture that brings up ``profile`` on a reserved net once per module (or ``scope``).

    Assign it to a module-level name; that name is the fixture's name::

        managed = profile_lab("managed")
    """

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _fixture() -> Iterator[RunningLab]:
        missing = _missing_programs(profile)
        if missing is not None:
            pytest.skip(missing)
        with running_lab(profile=profile) as running:
            yield running

    return _fixture
