"""The commands ``serve`` starts per browser, and its bad input (no server started)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pytest

from console.cli import main
from console.serve import console_command


def _args(**extra: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "audit": Path("/var/lib/drconsole/audit.db"),
        "operator": "ops lead@war-room",
        "mode": "incident",
        "inventory": Path("inventory/lab.yaml"),
        "playbooks": Path("playbooks"),
        "refresh": 2.0,
        "notify": [],
        "notify_timeout": 5.0,
    }
    base.update(extra)
    return argparse.Namespace(**base)


def test_the_observer_console_is_read_only_and_the_operator_s_is_not() -> None:
    observer = shlex.split(console_command(_args(), read_only=True))
    operator = shlex.split(console_command(_args(), read_only=False))
    assert observer[:3] == [sys.executable, "-m", "console"]
    assert observer[-1] == "--read-only" and "--read-only" not in operator
    assert operator[operator.index("--operator") + 1] == "ops lead@war-room"
    assert operator[operator.index("--mode") + 1] == "incident"
    assert operator[operator.index("tui") :] == [
        "tui",
        "-i",
        "inventory/lab.yaml",
        "-p",
        "playbooks",
        "--refresh",
        "2",
    ]


def test_the_consoles_get_the_team_store_its_fallback_and_the_lease() -> None:
    args = _args(
        audit=Path("/home/ops/fallback.db"),
        audit_team_store="postgresql://drconsole@127.0.0.1:5432/audit",
        audit_fallback="/home/ops/fallback.db",
        lease="90s",
    )
    argv = shlex.split(console_command(args, read_only=False))
    # the server fell back at its start; each console tries the team store again itself
    assert argv[argv.index("--audit") + 1] == "postgresql://drconsole@127.0.0.1:5432/audit"
    assert argv[argv.index("--audit-fallback") + 1] == "/home/ops/fallback.db"
    assert argv.index("--audit-fallback") < argv.index("tui")  # a global option
    assert argv[argv.index("--lease") + 1] == "90s" and argv.index("--lease") > argv.index("tui")
    plain = shlex.split(console_command(_args(), read_only=False))
    assert "--audit-fallback" not in plain and "--lease" not in plain


def test_notify_urls_stay_off_the_command_line() -> None:
    line = console_command(
        _args(notify=["json://u:s3cret@h/x"], notify_timeout=2.5), read_only=True
    )
    argv = shlex.split(line)
    assert "s3cret" not in line and "--notify" not in argv
    assert argv[argv.index("--notify-timeout") + 1] == "2.5"


def test_the_tui_takes_notify_urls_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from console.notify.targets import NOTIFY_ENV, environment_urls

    monkeypatch.setenv(NOTIFY_ENV, "json://u:s3cret@127.0.0.1:9/x\n\njson://127.0.0.1:9/y\n")
    assert environment_urls() == ["json://u:s3cret@127.0.0.1:9/x", "json://127.0.0.1:9/y"]
    monkeypatch.setenv(NOTIFY_ENV, "nope://x")
    (tmp_path / "inv.yaml").write_text(
        "version: 1\nname: x\nsites:\n  a:\n    role: primary\n    hosts:\n"
        "      h: {address: 127.0.0.1}\n"
    )
    code = main(["--audit", str(tmp_path / "a.db"), "tui", "-i", str(tmp_path / "inv.yaml")])
    assert code == 2  # a bad URL there is refused like a bad --notify, before the console opens


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--port", "0"], "--port 0: must be 1-65535"),
        (["-i", "no-such.yaml"], "no-such.yaml: no such inventory file"),
        (["--notify", "nope://x"], "--notify: unknown notification scheme 'nope'"),
        (["--lease", "2s"], "--lease 2s: a lease lasts from 3s to 1d"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inv.yaml").write_text(
        "version: 1\nname: x\nsites:\n  a:\n    role: primary\n    hosts:\n"
        "      h: {address: 127.0.0.1}\n"
    )
    code = main(["--audit", str(tmp_path / "a.db"), "serve", "-i", "inv.yaml", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
