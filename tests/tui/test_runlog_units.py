"""The run log's lines for engine events (pure)."""

from __future__ import annotations

from console import events as ev
from console.tui.runlog import event_lines


def _finished(ok: bool, poll: bool) -> ev.CommandFinished:
    return ev.CommandFinished(
        step_id="w",
        host="h1",
        exit_status=0,
        signal=None,
        duration=0.01,
        timed_out=False,
        ok=ok,
        reason="stdout does not contain 't'",
        poll=poll,
    )


def test_an_unmet_poll_is_not_yet_and_a_failure_is_a_failure() -> None:
    (poll,) = event_lines(_finished(False, True), {}, 0)
    assert "h1: not yet (stdout does not contain 't')" in poll and "✗" not in poll
    (failed,) = event_lines(_finished(False, False), {}, 0)
    assert "✗ h1: stdout does not contain 't'" in failed
    assert event_lines(_finished(True, True), {}, 0) == []
