"""Fuzz the loader: no input at all produces anything but success or a located error."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.errors import InputError
from console.model.validate import validate_paths

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [
    (ROOT / "inventory" / "example.yaml").read_text(),
    (ROOT / "playbooks" / "pg-failover.yaml").read_text(),
]
# Hypothesis calls a test many times within one function-scoped fixture, so the scratch
# directory is the module's own, removed when the session ends.
_DIR = Path(tempfile.mkdtemp(prefix="drconsole-fuzz-"))
atexit.register(shutil.rmtree, _DIR, True)


def _check(data: bytes) -> None:
    path = _DIR / "f.yaml"
    path.write_bytes(data)
    result = validate_paths([path])
    for err in result.errors:
        assert isinstance(err, InputError)
        assert err.location is not None
        assert err.location.path == str(path)
        assert err.location.line >= 1 and err.location.col >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.sampled_from(list("ab:{}[]-&*!|>'\"#\n \t%@`,?0123456789")), max_size=400)
)
def test_yaml_punctuation(text: str) -> None:
    _check(text.encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_real_files(seed: str, data: st.DataObject) -> None:
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 12))
        insert = data.draw(st.text(alphabet=st.sampled_from(list(":{}[]- \n'\"&*!x9")), max_size=6))
        text = text[:pos] + insert + text[pos + cut :]
    _check(text.encode())
