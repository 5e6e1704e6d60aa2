"""The context shape the validator checks templates against is the one the engine renders with.

``console.model.usage`` describes the names a template sees without importing the engine; if
the engine's context gains or loses a key, this test fails until both agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console.engine.context import StepOutputs, base_context, target_view
from console.model.inventory import load_inventory
from console.model.playbook import load_playbook
from console.model.usage import AllOf, Closed, UsageChecker, Use, references
from tests.model.cases import INVENTORY, PLAYBOOK


def _load(tmp_path: Path) -> tuple[Any, Any]:
    (tmp_path / "inv.yaml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "pb.yaml").write_text(PLAYBOOK, encoding="utf-8")
    return load_inventory(tmp_path / "inv.yaml"), load_playbook(tmp_path / "pb.yaml")


def _same(shape: Any, actual: Any, path: str) -> None:
    if isinstance(shape, AllOf):
        if actual is None:  # service.primary before any sample: no observed primary yet
            return
        for alt in shape.alternatives:
            _same(alt, actual, path)
        return
    if not isinstance(shape, Closed):
        return
    assert isinstance(actual, dict), path
    assert set(shape.fields) == set(actual), (path, set(shape.fields) ^ set(actual))
    for key, sub in shape.fields.items():
        _same(sub, actual[key], f"{path}.{key}")


def test_the_shape_matches_the_engines_context(tmp_path: Path) -> None:
    inventory, playbook = _load(tmp_path)
    values = {n: p.default or "" for n, p in playbook.params.items()}
    ctx = base_context(
        inventory=inventory,
        playbook=playbook,
        params=values,
        run_id="01TEST",
        mode="drill",
        operator="op",
        snapshot=None,
        outputs=StepOutputs(),
    )
    ctx["step"] = {"id": "fence", "attempt": 1}
    checker = UsageChecker(inventory, playbook.service, playbook.params, values)
    step = playbook.steps[0]
    assert step.run is not None
    shape = checker.context(Use(step.run, True, False, ("db-east-1",)))
    ctx["target"] = target_view(inventory, playbook, "db-east-1", ctx)
    fields = dict(shape.fields)
    fields.pop("steps")  # the outputs of earlier steps: checked against the playbook
    ctx.pop("steps")
    _same(Closed("context", fields), ctx, "ctx")


def test_references_skip_locals_and_see_guards(tmp_path: Path) -> None:
    _, playbook = _load(tmp_path)
    tpl = playbook.steps[0].run
    assert tpl is not None
    chains = {(r.root, r.keys) for r in references(tpl)}
    assert ("target", ("vars", "stop_cmd")) in chains
    assert ("target", ("vars", "pgdata")) in chains
