"""What ``run`` refuses as bad input, ``validate`` refuses first, with the same words at the
same place (issue 11, items 1-3).

Every case goes through both real commands in this process: ``drconsole validate INV PLAYBOOK
[--var ...]`` and ``drconsole run PLAYBOOK -i INV [--var ...]``. Both must exit 2 and print the
same located lines, one of them at the offending value with the expected words; the run must
not have opened the audit log (it refused before recording or connecting anything). The
inventory's hosts have nothing listening, so a run that got further could not produce this.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from console.model.enums import ENUMERATIONS
from console.model.inventory import load_inventory
from console.targets import probe_target
from tests.model.cases import CROSS_CASES, ENUM_CASES, INVENTORY, PLAYBOOK, Case


def _where(text: str, marker: str, shift: int) -> tuple[int, int]:
    index = text.index(marker) + shift
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def _errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line and "file(s) checked" not in line and "Traceback" not in line
    ]


def _write(tmp_path: Path, case: Case | None) -> tuple[Path, Path]:
    inv, pb = INVENTORY, PLAYBOOK
    if case is not None and case.file == "inventory":
        inv = case.apply(inv)
    elif case is not None:
        pb = case.apply(pb)
    (tmp_path / "inv.yaml").write_text(inv, encoding="utf-8")
    (tmp_path / "pb.yaml").write_text(pb, encoding="utf-8")
    return tmp_path / "inv.yaml", tmp_path / "pb.yaml"


def _both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, inv: Path, pb: Path, var: tuple[str, ...]
) -> tuple[tuple[int, str], tuple[int, str]]:
    var_args = [a for v in var for a in ("--var", v)]
    code_v = main(["validate", str(inv), str(pb), *var_args])
    _, err_v = capsys.readouterr()
    audit = tmp_path / "audit" / "audit.db"
    audit.parent.mkdir(exist_ok=True)
    code_r = main(["--audit", str(audit), "run", str(pb), "-i", str(inv), "--yes", *var_args])
    _, err_r = capsys.readouterr()
    assert not audit.exists(), "bad input must be refused before the audit log is opened"
    return (code_v, err_v), (code_r, err_r)


def test_the_base_pair_is_valid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    inv, pb = _write(tmp_path, None)
    assert main(["validate", str(inv), str(pb)]) == 0, capsys.readouterr().err
    assert main(["validate", "-i", str(inv), str(pb), "--var", "to_site=east"]) == 0


ALL = [*ENUM_CASES.values(), *CROSS_CASES]


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_validate_refuses_what_run_refuses_at_the_same_place(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: Case
) -> None:
    inv, pb = _write(tmp_path, case)
    (code_v, err_v), (code_r, err_r) = _both(capsys, tmp_path, inv, pb, case.var)
    assert "Traceback" not in err_v + err_r
    assert code_v == 2, err_v
    assert code_r == 2, err_r
    assert _errors(err_v) == _errors(err_r), (err_v, err_r)
    if not case.marker:
        assert any(line.startswith(case.message) for line in _errors(err_r)), err_r
        return
    where = case.located_in or case.file
    path = inv if where == "inventory" else pb
    line, col = _where(path.read_text(encoding="utf-8"), case.marker, case.shift)
    expected = f"{path}:{line}:{col}: "
    assert any(e.startswith(expected) and case.message in e for e in _errors(err_r)), (
        f"expected {expected}...{case.message}\n{err_r}"
    )


def test_every_documented_enumeration_has_a_case() -> None:
    assert set(ENUM_CASES) == set(ENUMERATIONS)


@pytest.mark.parametrize("field", sorted(ENUMERATIONS))
def test_an_unknown_enumeration_value_names_the_allowed_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, field: str
) -> None:
    case = ENUM_CASES[field]
    inv, pb = _write(tmp_path, case)
    assert main(["validate", str(inv), str(pb)]) == 2
    errors = _errors(capsys.readouterr().err)
    path = inv if case.file == "inventory" else pb
    line, col = _where(path.read_text(encoding="utf-8"), case.marker, case.shift)
    located = [e for e in errors if e.startswith(f"{path}:{line}:{col}: ")]
    assert located, errors
    allowed = ENUMERATIONS[field]
    assert any(all(word in e for word in allowed) for e in located), (allowed, located)


def test_a_custom_member_needs_no_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The defect of item 1: a custom member without ``port:`` validated, then every run
    stopped with 'port 0 is out of range'. Now it is valid and its probe target builds."""
    inv, pb = _write(tmp_path, None)
    assert main(["validate", str(inv), str(pb)]) == 0, capsys.readouterr().err
    inventory = load_inventory(inv)
    ledger = inventory.services["ledger"]
    for member in ledger.members.values():
        assert member.port is None
        target = probe_target(inventory, ledger, member)
        assert target.endpoint == inventory.hosts[member.host].address


def test_every_member_the_loader_accepts_builds_a_probe_target(tmp_path: Path) -> None:
    """The probe's own invariants (kind, port range, password_env, custom command) never
    fail at run time for an inventory that loaded: the loader checks each of them first."""
    text = INVENTORY.replace(
        "probe: {user: postgres, timeout: 2s}",
        "probe: {user: postgres, timeout: 2s, password_env: PG_PASS}",
    )
    path = tmp_path / "inv.yaml"
    path.write_text(text, encoding="utf-8")
    inventory = load_inventory(path)
    for service in inventory.services.values():
        for member in service.members.values():
            probe_target(inventory, service, member)
