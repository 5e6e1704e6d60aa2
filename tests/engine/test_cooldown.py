"""The anti-flap cooldown (``cooldown: 1h`` on an inventory service), team-wide.

Two operators on one PostgreSQL team store (a real server, one per module): the second
failover within the hour is refused at preflight, exit 3, naming the first run, its operator
and when it finished, and its command is never sent; ``--override-cooldown "reason"`` lets
it go on and is recorded. The real CLI and engine; SSH is the scripted transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.audit import AuditStore
from console.cli import main
from tests.engine.scripted_env import ScriptedEstate, make_estate, run_id_of
from tests.support.pgserver import PgServer, pg_server_fixture
from tests.support.scripted import Reply, use_in_cli

FAILOVER = """
version: 1
name: svc-failover
kind: failover
service: svc
steps:
  - id: promote
    on: h-west
    run: promote-west
"""

CUSTOM = """
version: 1
name: svc-check
kind: custom
service: svc
steps:
  - id: look
    on: h-west
    run: look-west
"""


pg_server = pg_server_fixture("module")


@pytest.fixture
def estate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_server: PgServer
) -> Iterator[ScriptedEstate]:
    est = make_estate(tmp_path)
    text = est.inventory.read_text()
    est.inventory.write_text(
        text.replace("    kind: custom\n", "    kind: custom\n    cooldown: 1h\n")
    )
    est.audit = pg_server.new_database()  # type: ignore[assignment]
    est.transport.on("promote-west", Reply(stdout="promoted"))
    est.transport.on("look-west", Reply(stdout="fine"))
    with use_in_cli(monkeypatch, est.transport):
        yield est


def _run(est: ScriptedEstate, operator: str, playbook: Path, *extra: str) -> tuple[int, str]:
    est.operator = operator
    proc = est.run("run", str(playbook), "-i", str(est.inventory), "--yes", *extra)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_second_failover_within_the_cooldown_is_refused_team_wide(
    estate: ScriptedEstate,
) -> None:
    pb = estate.playbook("svc-failover", FAILOVER)
    code, out = _run(estate, "alice@laptop1", pb)
    assert code == 0, out
    first = run_id_of(out)
    with AuditStore(str(estate.audit), create=False) as store:
        first_run = store.get_run(first)
    assert first_run is not None and first_run.finished_at is not None

    code, out = _run(estate, "bob@laptop2", pb)
    assert code == 3, out
    assert "preflight gate failed: cooldown of svc (1h): the previous failover" in out
    assert f"run {first} (svc-failover) of alice@laptop1, finished at {first_run.finished_at}" in (
        out
    )
    assert '--override-cooldown "REASON"' in out
    assert len(estate.transport.calls_to("promote-west")) == 1  # the second one never sent
    refused = run_id_of(out)

    # A run refused at preflight changed nothing: it does not start a cooldown of its own.
    code, out = _run(estate, "carol@laptop3", pb)
    assert code == 3 and f"run {first} (svc-failover)" in out and refused not in out

    # Other kinds of playbook are not held back.
    code, out = _run(estate, "bob@laptop2", estate.playbook("svc-check", CUSTOM))
    assert code == 0, out


def test_the_override_lets_it_go_on_and_is_recorded(estate: ScriptedEstate) -> None:
    pb = estate.playbook("svc-failover", FAILOVER)
    assert _run(estate, "alice@laptop1", pb)[0] == 0
    code, out = _run(estate, "bob@laptop2", pb, "--override-cooldown", "primary site is flooding")
    assert code == 0, out
    assert len(estate.transport.calls_to("promote-west")) == 2
    evs = estate.events(run_id_of(out))
    gates = [e for e in evs if e["kind"] == "gate_result"]
    assert len(gates) == 1 and gates[0]["ok"] is True
    assert str(gates[0]["detail"]).startswith(
        "overridden by bob@laptop2 (--override-cooldown): primary site is flooding; "
        "cooldown of svc (1h): the previous failover"
    )
    notices = [e for e in evs if e["kind"] == "notice" and "overridden" in str(e["message"])]
    assert notices and notices[0]["level"] == "warning"


def test_an_empty_override_reason_is_exit_2(estate: ScriptedEstate) -> None:
    pb = estate.playbook("svc-failover", FAILOVER)
    code, out = _run(estate, "bob", pb, "--override-cooldown", "  ")
    assert code == 2
    assert '--override-cooldown needs a reason: --override-cooldown "why"' in out
    assert not estate.transport.calls


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "'cooldown' in service 'svc': malformed duration 'soon'"),
        ("-5m", "'cooldown' in service 'svc': a duration cannot be negative: '-5m'"),
        (
            "true",
            "'cooldown' in service 'svc': expected a duration like 500ms, 5s, 2m, 1h, got True",
        ),
    ],
)
def test_a_bad_cooldown_is_refused_at_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    est = make_estate(tmp_path)
    text = est.inventory.read_text()
    est.inventory.write_text(
        text.replace("    kind: custom\n", f"    kind: custom\n    cooldown: {value}\n")
    )
    line = next(
        i
        for i, row in enumerate(est.inventory.read_text().splitlines(), 1)
        if "    cooldown:" in row
    )
    pb = est.playbook("svc-failover", FAILOVER)
    for argv in (
        ["validate", "-i", str(est.inventory), str(pb)],
        ["--audit", str(tmp_path / "a.db"), "run", str(pb), "-i", str(est.inventory)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{est.inventory}:{line}:15: {message}" in err, err
        assert "Traceback" not in err
