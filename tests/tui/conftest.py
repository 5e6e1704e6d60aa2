"""Fixtures for the TUI tests: a real lab on the TUI's own nets, and an audit database.

The TUI's tests own the nets 50 to 53 (127.50.0.0/16 .. 127.53.0.0/16; 54 is kept for
``make screenshots``), so they never share servers with another area's tests. The lab is
session-scoped: tests that change it (chaos, failover) put it back as they found it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.lab.lab import Lab
from tests.support.lab import (
    _MISSING,
    RunningLab,
    make_lab_dir,
    reserve_net,
    start_test_lab,
)

TUI_NETS = (50, 51, 52, 53)
"""The lab nets these tests may use."""


def _reserve() -> tuple[int, object]:
    last: Exception | None = None
    for net in TUI_NETS:
        try:
            return reserve_net(net)
        except RuntimeError as exc:
            last = exc
    raise RuntimeError(f"no free TUI lab net among {TUI_NETS}: {last}")


@pytest.fixture(scope="session")
def tui_lab() -> Iterator[RunningLab]:
    """A running three-site lab on one of the TUI's nets, for the whole session."""
    if _MISSING is not None:
        pytest.skip(_MISSING)
    net, lock = _reserve()
    scale = float(os.environ.get("DRCONSOLE_TEST_LAB_SCALE", "3"))
    root = make_lab_dir("drtui-")
    lab_api = Lab(root / "lab", net, timeout_scale=scale)
    try:
        yield start_test_lab(root, net, scale)
    finally:
        try:
            if lab_api.state() is not None:
                lab_api.down()
        finally:
            lock.close()  # type: ignore[attr-defined]
            if not os.environ.get("DRCONSOLE_TEST_LAB_KEEP"):
                shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    """A fresh audit database path for one test."""
    return tmp_path / "audit.db"


@pytest.fixture
def audit(audit_path: Path) -> Iterator[AuditStore]:
    """A fresh audit store for one test."""
    store = AuditStore(audit_path)
    try:
        yield store
    finally:
        store.close()
