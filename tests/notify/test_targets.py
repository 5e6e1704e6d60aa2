"""Notification URLs: checked where they are written (validate and run alike), masked when shown."""

from __future__ import annotations

import subprocess
import sys

import pytest

from console.errors import InputError
from console.notify.targets import check_url, command_line_targets, mask_url
from tests.engine.scripted_env import ScriptedEstate

OK = """
version: 1
name: notify-ok
kind: custom
steps:
  - id: only
    on: h-east
    run: first-cmd
"""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("json://bridge:s3cr3t@127.0.0.1:8080/hook", "json://bridge:****@127.0.0.1:8080/hook"),
        ("mailto://ops:pw123@example.com", "mailto://ops:****@example.com"),
        ("slack://T1234ABCD/B5678EFGH/abcdefghijklmnopqrstuvwx/#dr", "slack://T...D/B...H/a...x"),
        ("nope://anything:secret@x", "nope://****"),
        ("json://127.0.0.1:8080/hook?token=abc", "json://127.0.0.1:8080/hook"),
    ],
)
def test_mask_url_hides_secrets_and_the_query(url: str, shown: str) -> None:
    assert mask_url(url).startswith(shown)
    assert "s3cr3t" not in mask_url(url) and "pw123" not in mask_url(url)
    assert "abcdefghijklmnopqrstuvwx" not in mask_url(url) and "token" not in mask_url(url)


def test_check_url_names_the_problem() -> None:
    assert check_url("json://127.0.0.1:9/x") is None
    assert check_url("nope://x") == "unknown notification scheme 'nope' (apprise does not know it)"
    assert "is not an apprise URL" in str(check_url("hooks.example.com/x"))
    assert check_url("") == "an empty notification URL"
    assert "apprise cannot read this slack:// URL" in str(check_url("slack://only-one-part"))


def test_a_bad_notify_option_is_one_line() -> None:
    with pytest.raises(InputError) as info:
        command_line_targets(["json://127.0.0.1:9/ok", "nope://secret@x"])
    assert str(info.value) == (
        "--notify: unknown notification scheme 'nope' (apprise does not know it)"
    )


def _inventory_with(est: ScriptedEstate, notify: str) -> None:
    est.inventory.write_text(est.inventory.read_text() + notify)


@pytest.mark.parametrize(
    ("notify", "line", "col", "message"),
    [
        (
            "notify:\n  - json://127.0.0.1:9/ok\n  - nope://x\n",
            3,
            5,
            "unknown notification scheme 'nope' (apprise does not know it)",
        ),
        (
            "notify: slack://only-one-part\n",
            1,
            9,
            "'slack://****': apprise cannot read this slack:// URL (see its wiki)",
        ),
        (
            "notify:\n  - {url: json://x}\n",
            2,
            5,
            "items of 'notify' in the inventory must be apprise URLs (strings), not a mapping",
        ),
        ("notify: {a: b}\n", 1, 9, "'notify' in the inventory must be a list, not a mapping"),
    ],
)
def test_validate_and_run_refuse_a_bad_notify_at_the_same_place(
    scripted: ScriptedEstate, notify: str, line: int, col: int, message: str
) -> None:
    est = scripted
    base = len(est.inventory.read_text().splitlines())
    _inventory_with(est, notify)
    pb = est.playbook("notify-ok", OK)
    expected = f"{est.inventory}:{base + line}:{col}: {message}"
    validated = est.run("validate", str(est.inventory))
    run = est.run("run", str(pb), "-i", str(est.inventory))
    assert validated.returncode == 2 and run.returncode == 2
    assert expected in validated.stdout + validated.stderr
    assert expected in run.stderr.splitlines()
    assert "Traceback" not in validated.stderr + run.stderr
    assert not est.audit.exists()  # refused before the audit log is opened


def test_a_bad_notify_option_is_refused_before_the_run(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = est.playbook("notify-ok", OK)
    run = est.run("run", str(pb), "-i", str(est.inventory), "--notify", "nope://x")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "--notify: unknown notification scheme 'nope' (apprise does not know it)"
    )
    assert not est.audit.exists()


def test_loading_an_inventory_without_notify_does_not_load_apprise(
    scripted: ScriptedEstate,
) -> None:
    code = (
        "import sys\n"
        "from console.model.inventory import load_inventory\n"
        f"load_inventory({str(scripted.inventory)!r})\n"
        "print('apprise' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "False"


def test_status_notify_needs_watch(scripted: ScriptedEstate) -> None:
    est = scripted
    proc = est.run("status", "-i", str(est.inventory), "--notify", "json://127.0.0.1:9/x")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "--notify with status needs --watch (it tells changes as they hold)"
    )
