"""Line splitting and the bounded output buffer (pure, no SSH)."""

from __future__ import annotations

import pytest

from console.ssh.output import MAX_LINE_CHARS, OutputCollector
from console.ssh.result import OutputLine


def _collector(max_lines: int = 10) -> tuple[OutputCollector, list[OutputLine]]:
    seen: list[OutputLine] = []
    return OutputCollector("h", max_lines, seen.append), seen


def test_lines_split_across_chunks_and_streams_apart() -> None:
    c, seen = _collector()
    c.feed("stdout", "he")
    c.feed("stderr", "oops\nhalf")
    c.feed("stdout", "llo\r\nwor")
    c.feed("stdout", "ld\n")
    c.flush()
    assert [(s.stream, s.text) for s in seen] == [
        ("stderr", "oops"),
        ("stdout", "hello"),
        ("stdout", "world"),
        ("stderr", "half"),
    ]
    r = c.result(
        "cmd", exit_status=0, signal=None, duration=1.0, timed_out=False, reconnected=False
    )
    assert r.stdout == ("hello", "world") and r.stderr == ("oops", "half")
    assert not r.truncated


def test_empty_lines_are_kept() -> None:
    c, seen = _collector()
    c.feed("stdout", "a\n\nb\n")
    assert [s.text for s in seen] == ["a", "", "b"]


def test_only_the_last_lines_are_kept() -> None:
    c, seen = _collector(max_lines=3)
    c.feed("stdout", "".join(f"{i}\n" for i in range(10)))
    r = c.result("x", exit_status=0, signal=None, duration=0, timed_out=False, reconnected=False)
    assert r.stdout == ("7", "8", "9") and r.truncated
    assert len(seen) == 10


def test_zero_max_lines_keeps_nothing_but_streams_everything() -> None:
    c, seen = _collector(max_lines=0)
    c.feed("stdout", "a\nb\n")
    r = c.result("x", exit_status=0, signal=None, duration=0, timed_out=False, reconnected=False)
    assert r.stdout == () and r.truncated and len(seen) == 2
    with pytest.raises(ValueError, match="max_lines"):
        OutputCollector("h", -1, None)


def test_long_lines_are_cut_into_bounded_pieces() -> None:
    c, seen = _collector()
    c.feed("stdout", "x" * (MAX_LINE_CHARS + 5))  # no newline yet: a piece is emitted anyway
    assert [len(s.text) for s in seen] == [MAX_LINE_CHARS]
    c.feed("stdout", "y" * (2 * MAX_LINE_CHARS) + "\n")
    assert [len(s.text) for s in seen] == [MAX_LINE_CHARS, MAX_LINE_CHARS, MAX_LINE_CHARS, 5]


def test_callback_error_stops_calls_and_is_raised_later() -> None:
    calls: list[str] = []

    def broken(line: OutputLine) -> None:
        calls.append(line.text)
        raise KeyError("boom")

    c = OutputCollector("h", 10, broken)
    c.feed("stdout", "1\n2\n")
    assert calls == ["1"]
    r = c.result("x", exit_status=0, signal=None, duration=0, timed_out=False, reconnected=False)
    assert r.stdout == ("1", "2")
    with pytest.raises(KeyError, match="boom"):
        c.raise_callback_error()
