"""``drconsole schedule``: the units it prints, the files it installs, and the run they make.

The ExecStart line is taken back apart and run (in this process, on the scripted transport):
the scheduled run happens, headless with --yes, and its failure is notified to a local receiver.
"""

from __future__ import annotations

import shlex
import sys

import pytest

from console.cli import main
from tests.engine.scripted_env import ScriptedEstate
from tests.support.scripted import Reply
from tests.support.webhook import Receiver

VERIFY = """
version: 1
name: weekly-verify
kind: restore-verification
title: Weekly restore test
steps:
  - id: restore
    on: h-east
    run: restore-cmd
    confirm: true
"""


def _exec_start(text: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("$$", "$").replace("%%", "%"))


def test_prints_a_service_and_a_timer(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = est.playbook("weekly-verify", VERIFY)
    proc = est.run(
        "schedule",
        str(pb),
        "-i",
        str(est.inventory),
        "--every",
        "7d",
        "--notify",
        "json://127.0.0.1:9/dr",
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "# drconsole-weekly-verify-engine-test.service" in out
    assert "# drconsole-weekly-verify-engine-test.timer" in out
    assert "Type=oneshot" in out and "Persistent=true" in out
    assert "OnUnitActiveSec=604800s" in out and "every 7d" in out
    argv = _exec_start(out)
    assert argv[:3] == [sys.executable, "-m", "console"]
    assert argv[argv.index("--audit") + 1] == str(est.audit.resolve())
    tail = argv[argv.index("run") :]
    assert tail == [
        "run",
        str(pb.resolve()),
        "-i",
        str(est.inventory.resolve()),
        "--yes",
        "--notify",
        "json://127.0.0.1:9/dr",
        "--notify-failures-only",
    ]


def test_the_scheduled_run_runs_headless_and_notifies_its_failure(
    scripted: ScriptedEstate, monkeypatch: pytest.MonkeyPatch
) -> None:
    est = scripted
    est.transport.on("restore-cmd", Reply(stderr="checksum mismatch", exit_status=1))
    pb = est.playbook("weekly-verify", VERIFY)
    with Receiver() as hook:
        made = est.run(
            "schedule",
            str(pb),
            "-i",
            str(est.inventory),
            "--every",
            "1d",
            "--notify",
            hook.url("weekly"),
        )
        assert made.returncode == 0, made.stderr
        argv = _exec_start(made.stdout)
        code = main(argv[3:])  # what the timer would run (after `python -m console`)
        titles = hook.titles()
    assert code == 1
    # failures only: no "run started"; the failed step and the failed run
    assert titles == [
        "[drill] weekly-verify: step restore FAILED",
        "[drill] weekly-verify: run FAILED (exit 1)",
    ]
    evs = est.events()
    confirm = [e for e in evs if e["kind"] == "decision"]
    assert confirm and confirm[0]["action"] == "confirm" and confirm[0]["auto"] is True


def test_install_writes_the_units(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = est.playbook("weekly-verify", VERIFY)
    units = est.base / "units"
    units.mkdir()
    proc = est.run(
        "schedule",
        str(pb),
        "-i",
        str(est.inventory),
        "--every",
        "12h",
        "--install",
        "--unit-dir",
        str(units),
    )
    assert proc.returncode == 0, proc.stderr
    service = units / "drconsole-weekly-verify-engine-test.service"
    timer = units / "drconsole-weekly-verify-engine-test.timer"
    assert "ExecStart=" in service.read_text()
    assert "OnUnitActiveSec=43200s" in timer.read_text()
    assert "systemctl enable --now drconsole-weekly-verify-engine-test.timer" in proc.stdout


def test_cron(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = est.playbook("weekly-verify", VERIFY)
    weekly = est.run("schedule", str(pb), "-i", str(est.inventory), "--every", "7d", "--cron")
    assert weekly.returncode == 0
    assert weekly.stdout.startswith("17 3 * * 0 root ")
    assert "run " + str(pb.resolve()) in weekly.stdout and "--yes" in weekly.stdout
    odd = est.run("schedule", str(pb), "-i", str(est.inventory), "--every", "7m", "--cron")
    assert odd.returncode == 2 and "cron cannot run at that interval" in odd.stderr
    cron_dir = est.base / "cron.d"
    cron_dir.mkdir()
    est.run(
        "schedule",
        str(pb),
        "-i",
        str(est.inventory),
        "--every",
        "2h",
        "--cron",
        "--install",
        "--cron-dir",
        str(cron_dir),
    )
    written = (cron_dir / "drconsole-weekly-verify-engine-test").read_text()
    assert "17 */2 * * * root " in written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "soon"], "--every soon: "),
        (["--every", "10s"], "--every 10s: at least 1m between scheduled runs"),
        (["--every", "1d", "--notify", "nope://x"], "--notify: unknown notification scheme"),
        (["--every", "1d", "--var", "nope=1"], "nope"),
    ],
)
def test_bad_input_is_one_line(scripted: ScriptedEstate, args: list[str], message: str) -> None:
    est = scripted
    pb = est.playbook("weekly-verify", VERIFY)
    proc = est.run("schedule", str(pb), "-i", str(est.inventory), *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_a_playbook_the_inventory_refuses_makes_no_schedule(scripted: ScriptedEstate) -> None:
    est = scripted
    pb = est.playbook(
        "bad",
        """
        version: 1
        name: bad
        kind: custom
        steps:
          - id: x
            on: h-nowhere
            run: "true"
        """,
    )
    proc = est.run("schedule", str(pb), "-i", str(est.inventory), "--every", "1d")
    assert proc.returncode == 2
    assert f"{pb}:" in proc.stderr and "h-nowhere" in proc.stderr


def test_a_scheduled_run_that_succeeds_posts_nothing_unless_notify_all(
    scripted: ScriptedEstate,
) -> None:
    est = scripted
    est.transport.on("restore-cmd", Reply(stdout="restored"))
    pb = est.playbook("weekly-verify", VERIFY)
    with Receiver() as hook:
        for extra, expected in (([], []), (["--notify-all"], ["run started", "run SUCCEEDED"])):
            hook.received.clear()
            made = est.run(
                "schedule",
                str(pb),
                "-i",
                str(est.inventory),
                "--every",
                "1d",
                "--notify",
                hook.url(),
                *extra,
            )
            assert made.returncode == 0, made.stderr
            assert main(_exec_start(made.stdout)[3:]) == 0
            got = [t.split(": ", 1)[1].split(" by ")[0].split(" (")[0] for t in hook.titles()]
            assert got == expected
