"""Questions riding in the same exec as a member's probe (``console.probes.riders``).

The framing is run through a real ``/bin/sh`` (what sshd starts for an exec); the window's
questions riding on the real lab's probes, in the probes' own psql / mariadb sessions and
after redis-cli, are in ``test_riders_lab.py``.
"""

from __future__ import annotations

import subprocess

from console.probes.riders import MARK, mysql_riding, pg_riding, ride_along, split_ride


def _sh(command: str) -> tuple[int, list[str]]:
    proc = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )
    return proc.returncode, proc.stdout.splitlines()


def test_a_shell_rider_answers_after_the_probe_which_keeps_its_output_and_status() -> None:
    code, out = _sh(ride_along("printf 'a\\nb\\n'; (exit 4)", ["echo x; echo y >&2; exit 3"]))
    assert code == 4  # the probe's status, not the rider's
    probe, (status, _), answers = split_ride(out, 1)
    assert probe == ["a", "b"] and status == 4
    assert answers == [(3, "x")]


def test_a_rider_that_exits_or_changes_directory_stays_in_its_subshell() -> None:
    code, out = _sh(ride_along("printf 'no newline'", ["cd /; exit 0", "pwd; echo two"]))
    probe, (status, _), answers = split_ride(out, 2)
    assert code == 0 and probe == ["no newline"] and status == 0
    assert answers[0] == (0, "") and answers[1][0] == 0
    assert answers[1][1].splitlines()[1] == "two" and answers[1][1].splitlines()[0] != "/"


def test_output_cut_off_leaves_the_rest_unanswered() -> None:
    _, out = _sh(ride_along("echo p", ["echo q"]))
    cut = out[:-1]  # the rider's end line never came (the exec timed out)
    probe, (status, _), answers = split_ride(cut, 1)
    assert probe == ["p"] and status == 0 and answers == [(None, "q")]
    probe, (status, _), answers = split_ride(["p", "partial"], 1)
    assert status is None and answers == [(None, "")]


def test_no_riders_is_the_probe_command_unchanged() -> None:
    assert ride_along("psql -c x", []) == "psql -c x"
    assert split_ride(["a"], 0) == (["a"], (None, ""), [])


def test_database_riders_end_each_answer_with_a_mark_row() -> None:
    psql = pg_riding("psql -c 'SELECT 1'", ["SELECT 2"])
    assert psql.count(f"{MARK} 0") == 2 and "-c 'SELECT 2'" in psql
    statements = mysql_riding("SELECT 1\\G", ["SHOW BINARY LOGS"])
    assert statements.endswith(f"SHOW BINARY LOGS; SELECT 0 AS `{MARK}`\\G ")
    # the client's ends: psql's tuple and mariadb's vertical row
    out = ["{}", f"{MARK} 0", "row", "*************************** 1. row ***", f"{MARK}: 0"]
    probe, (status, _), answers = split_ride(out, 1)
    assert probe == ["{}"] and status == 0
    assert answers == [(0, "row\n*************************** 1. row ***")]
