"""One-line summaries of engine event kinds in ``audit show``."""

from __future__ import annotations

from console.audit.render import SUMMARIES


def test_a_wait_poll_that_is_not_met_reads_not_yet() -> None:
    line = SUMMARIES["command_result"](
        {
            "exit_status": 0,
            "duration": 0.01,
            "ok": False,
            "poll": True,
            "reason": "stdout does not contain 't'",
        }
    )
    assert line == "exit 0 in 0.01s: not yet — stdout does not contain 't'"
    failed = SUMMARIES["command_result"]({"exit_status": 1, "duration": 0.01, "ok": False})
    assert failed == "exit 1 in 0.01s: FAILED"


def test_the_run_plan_lists_step_ids() -> None:
    line = SUMMARIES["run_plan"](
        {"steps": [{"id": "fence"}, {"id": "promote"}], "rollback": [{"id": "undo"}]}
    )
    assert line == "plan: 2 step(s): fence, promote; 1 rollback step(s)"
