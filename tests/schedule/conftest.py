"""The schedule tests' estate: the engine's scripted one (milliseconds, no SSH)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.scripted import use_in_cli


@pytest.fixture
def scripted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedEstate]:
    """The estate on a scripted transport (``tests/engine/scripted_env.py``)."""
    est = make_estate(tmp_path)
    with use_in_cli(monkeypatch, est.transport):
        yield est
    assert not est.transport.unmatched, [c.command for c in est.transport.unmatched]
