"""``audit:`` in ``$XDG_CONFIG_HOME/drconsole/config.yaml`` names the audit store (issue 16),
after ``--audit`` and ``DRCONSOLE_AUDIT``; a bad config file is ``file:line:col: message``."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.audit import AuditStore
from console.cli import main
from tests.audit.conftest import run_start


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("DRCONSOLE_AUDIT", raising=False)
    path = tmp_path / "config" / "drconsole" / "config.yaml"
    path.parent.mkdir(parents=True)
    return path


def test_the_config_file_names_the_store(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "team.db"
    run = run_start()
    with AuditStore(db) as store:
        store.create_run(run)
    config.write_text(f"# the team's store\naudit: {db}\n")
    assert main(["audit", "list", "--json"]) == 0
    assert run.run_id in capsys.readouterr().out
    # the environment and the option still come first
    monkeypatch.setenv("DRCONSOLE_AUDIT", str(tmp_path / "other.db"))
    assert main(["audit", "list"]) == 2
    assert "other.db: no audit database here" in capsys.readouterr().err


def test_a_configured_team_store_that_cannot_be_reached_is_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text("audit: postgresql://drill@127.0.0.1:1/audit\n")
    assert main(["audit", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("postgresql://drill@127.0.0.1:1/audit: cannot reach the audit store")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("audit: [a, b]\n", "1:8", "audit must be a path or a postgresql:// URL"),
        ("audit: ''\n", "1:8", "audit must be a path or a postgresql:// URL"),
        ("\naudti: x.db\n", "2:1", "unknown key 'audti' in the config file (known: audit)"),
        ("- audit\n", "1:1", "the config file must be a mapping"),
        ("audit: [\n", "2:1", "not valid YAML"),
        ("audit: sqlite:///x.db\n", "1:8", "audit sqlite:///x.db: sqlite:// audit stores"),
    ],
)
def test_a_bad_config_file_is_refused_at_its_place(
    config: Path, capsys: pytest.CaptureFixture[str], text: str, where: str, message: str
) -> None:
    config.write_text(text)
    assert main(["audit", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{config}:{where}: {message}"), err
    assert "Traceback" not in err
