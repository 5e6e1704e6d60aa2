"""An audit location that is not a usable path is refused, never taken as one (issue 11 item 7).

``--audit postgresql://user@host:5432/db`` used to create a folder named ``postgresql:`` in
the working directory and "succeed" into a SQLite file there. Now every command that opens
the audit log refuses another URL and a path whose folder does not exist, with exit 2 and one
line, and creates nothing; a ``postgresql://`` URL names a team store (issue 16), and one that
cannot be reached is exit 2 with the reason, before anything is done. Each case runs the real
CLI in a fresh empty working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.cli import AUDIT_COMMANDS, AUDIT_CREATORS, main
from tests.model.cases import INVENTORY, PLAYBOOK

COMMANDS = {
    "run": ["run", "pb.yaml", "-i", "inv.yaml", "--yes"],
    "tui": ["tui", "-i", "inv.yaml"],
    "audit list": ["audit", "list"],
    "audit show": ["audit", "show", "01ABC"],
    "audit verify": ["audit", "verify"],
    "approve": ["approve", "01ABC"],
    "commit": ["commit", "01ABC"],
    "report": ["report", "--latest"],
    "replay": ["replay", "01ABC"],
    "serve": ["serve", "-i", "inv.yaml"],
    "schedule": ["schedule", "pb.yaml", "-i", "inv.yaml", "--every", "7d"],
}

BAD = {
    "unreachable postgresql URL": (
        "postgresql://drill@127.0.0.1:1/audit",
        "cannot reach the audit store",
    ),
    "sqlite URL": ("sqlite:///tmp/audit.db", "sqlite://"),
    "missing folder": ("no-such-folder/deeper/audit.db", "does not exist"),
}


def test_every_audit_command_is_covered() -> None:
    assert {c.split()[0] for c in COMMANDS} == set(AUDIT_COMMANDS)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bad_audit_location_is_refused_and_nothing_is_created(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
    bad: str,
    how: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inv.yaml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "pb.yaml").write_text(PLAYBOOK, encoding="utf-8")
    before = _tree(tmp_path)
    value, words = BAD[bad]
    if how == "option":
        monkeypatch.delenv("DRCONSOLE_AUDIT", raising=False)
        argv = ["--audit", value, *COMMANDS[command]]
    else:
        monkeypatch.setenv("DRCONSOLE_AUDIT", value)
        argv = COMMANDS[command]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    if bad == "missing folder" and command.split(maxsplit=1)[0] not in AUDIT_CREATORS:
        # a command that only reads says there is no database there (and creates nothing)
        assert (
            lines[0] == f"{value}: no audit database here (nothing has run yet, or wrong --audit)"
        )
    elif bad.startswith("unreachable"):
        # a team store URL is taken; the store then says why it cannot be used
        assert lines[0].startswith(f"{value}: cannot reach the audit store: ")
        assert "Connection refused" in lines[0]
    else:
        assert words in lines[0]
        assert ("--audit " if how == "option" else "DRCONSOLE_AUDIT=") + value in lines[0]
    if bad == "sqlite URL":
        assert "use a path to the SQLite audit database" in lines[0]
    assert "Traceback" not in err
    assert _tree(tmp_path) == before, "nothing may be created"
    assert not os.path.exists("postgresql:")


def test_the_default_location_is_still_created_on_first_use(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The default's folder ($XDG_STATE_HOME/drconsole) is drconsole's own to create. The
    run reaches no host (nothing listens on its addresses): its preflight fails, exit 3, and
    the run is recorded in the default database."""
    monkeypatch.delenv("DRCONSOLE_AUDIT", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inv.yaml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "pb.yaml").write_text(
        PLAYBOOK.replace("canary: {service: orders-db, every: 1s}\n", ""), encoding="utf-8"
    )
    code = main(["run", "pb.yaml", "-i", "inv.yaml", "--yes"])
    out, err = capsys.readouterr()
    assert code == 3, (out, err)
    assert (tmp_path / "state" / "drconsole" / "audit.db").is_file()


def test_an_existing_folder_is_accepted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A path whose folder exists passes the check (here audit list then says there is no
    database yet, the existing behaviour)."""
    monkeypatch.delenv("DRCONSOLE_AUDIT", raising=False)
    code = main(["--audit", str(tmp_path / "audit.db"), "audit", "list"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "does not exist" not in err and "not supported" not in err
