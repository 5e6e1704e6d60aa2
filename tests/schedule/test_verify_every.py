"""``verify_every``: a service's restore verification is due that often; the board says WARN."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Static

from console.audit.store import AuditStore
from console.audit.verification import verifications
from console.model.inventory import load_inventory
from console.tui.app import DrConsoleApp, TuiConfig
from console.tui.synthetic import FixedStatusSource
from tests.engine.scripted_env import ScriptedEstate
from tests.support.scripted import Reply

VERIFY = """
version: 1
name: svc-verify
kind: restore-verification
service: svc
steps:
  - id: restore
    on: h-east
    run: {command}
"""

DAY = 86400.0


def _with_verify_every(est: ScriptedEstate, value: str) -> None:
    text = est.inventory.read_text()
    est.inventory.write_text(
        text.replace("    thresholds:", f"    verify_every: {value}\n    thresholds:", 1)
    )


def _verify(est: ScriptedEstate, ok: bool) -> None:
    command = "restore-ok" if ok else "restore-bad"
    est.transport.on(command, Reply(stdout="restored", exit_status=0 if ok else 1))
    pb = est.playbook("svc-verify", VERIFY.format(command=command))
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--yes")
    assert proc.returncode == (0 if ok else 1), proc.stdout + proc.stderr


def _records(audit: Path) -> list:  # type: ignore[type-arg]
    with AuditStore(audit, create=False) as store:
        return store.runs()


def test_due_after_verify_every_and_only_successes_count(scripted: ScriptedEstate) -> None:
    est = scripted
    _with_verify_every(est, "7d")
    inv = load_inventory(est.inventory)
    assert inv.services["svc"].verify_every == 7 * DAY
    _verify(est, ok=False)
    [never] = verifications(inv, _records(est.audit))
    assert never.last_at is None and never.overdue(time.time())
    assert never.describe(time.time()) == "svc: restore NEVER verified (required every 7d)"
    _verify(est, ok=True)
    [v] = verifications(inv, _records(est.audit))
    now = time.time()
    assert v.last_at is not None and now - v.last_at < 600
    assert not v.overdue(now) and v.playbook == "svc-verify"
    assert v.describe(now).startswith("svc: restore verified ")
    assert v.overdue(v.last_at + 8 * DAY)
    assert v.describe(v.last_at + 8 * DAY) == (
        "svc: OVERDUE: last verified 8d ago by svc-verify (every 7d)"
    )
    # the same service name in another estate proves nothing here
    other = load_inventory(est.inventory)
    other = type(other)(**{**other.__dict__, "name": "another-estate"})
    [elsewhere] = verifications(other, _records(est.audit))
    assert elsewhere.last_at is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "'verify_every' in service 'svc': "),
        ("0s", "verify_every of 'svc' must be more than 0"),
    ],
)
def test_a_bad_verify_every_is_located(scripted: ScriptedEstate, value: str, message: str) -> None:
    est = scripted
    _with_verify_every(est, value)
    line = next(
        i + 1
        for i, x in enumerate(est.inventory.read_text().splitlines())
        if x.startswith("    verify_every:")
    )
    proc = est.run("validate", str(est.inventory))
    assert proc.returncode == 2
    assert f"{est.inventory}:{line}:19: " in proc.stderr + proc.stdout
    assert message in proc.stderr + proc.stdout


@pytest.fixture
def never_verified(scripted: ScriptedEstate) -> ScriptedEstate:
    _with_verify_every(scripted, "7d")
    _verify(scripted, ok=False)
    return scripted


async def test_the_board_warns_of_a_restore_never_verified(
    never_verified: ScriptedEstate,
) -> None:
    est = never_verified
    config = TuiConfig(
        inventory_path=est.inventory,
        playbooks_dir=est.base,
        audit_path=est.audit,
        operator="tester@tui",
    )
    app = DrConsoleApp(
        config,
        load_inventory(est.inventory),
        source_factory=lambda inv, _pool: FixedStatusSource(inv, []),
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#verification", Static)
        assert panel.display
        assert panel.border_title == "restore verification: 1 WARN"
        text = str(panel.render())
        assert "▲ WARN svc: restore NEVER verified" in text
