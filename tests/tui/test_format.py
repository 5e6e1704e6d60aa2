"""Pure formatting: words and symbols for every state, unknown never shown as zero."""

from __future__ import annotations

from console.tui.format import (
    HEALTH_LABEL,
    SPARK_BARS,
    SPARK_UNKNOWN,
    STEP_LABEL,
    fmt_age,
    fmt_bytes_compact,
    fmt_clock,
    fmt_objective,
    fmt_seconds,
    health_label,
    shorten,
    sparkline,
    step_label,
)


def test_every_health_and_step_state_has_a_symbol_and_a_word() -> None:
    for table in (HEALTH_LABEL, STEP_LABEL):
        symbols = [symbol for symbol, _ in table.values()]
        assert len(set(symbols)) == len(symbols), "two states share a symbol"
        for symbol, word in table.values():
            assert symbol.strip() and word.strip()
    assert health_label("down") == "▼ DOWN"
    assert health_label("unknown") == "? UNKNOWN"
    assert step_label("skipped") == "↷ skipped"
    assert step_label("waiting") == "◆ waiting"


def test_unknown_numbers_are_question_marks_not_zero() -> None:
    assert fmt_seconds(None) == "?"
    assert fmt_seconds(0) == "0s"
    assert fmt_seconds(1.25) == "1.2s" or fmt_seconds(1.25) == "1.3s"
    assert fmt_seconds(35) == "35s"
    assert fmt_seconds(125) == "2m05s"
    assert fmt_seconds(7322) == "2h02m"


def test_compact_bytes_fit_five_characters() -> None:
    assert fmt_bytes_compact(None) == "?"
    assert fmt_bytes_compact(0) == "0B"
    assert fmt_bytes_compact(512) == "512B"
    assert fmt_bytes_compact(4096) == "4.0K"
    assert fmt_bytes_compact(123 * 1024 * 1024) == "123M"
    assert all(len(fmt_bytes_compact(10**n)) <= 5 for n in range(13))


def test_ages_and_clocks() -> None:
    assert fmt_age(None) == "never"
    assert fmt_age(0.4) == "now"
    assert fmt_age(14.2) == "14s ago"
    assert fmt_age(130) == "2m ago"
    assert fmt_clock(None) == "--:--"
    assert fmt_clock(7.9) == "00:07"
    assert fmt_clock(3723) == "1:02:03"
    assert fmt_objective(300) == "5m"
    assert fmt_objective(0) == "0s"
    assert fmt_objective(None) == "none"


def test_sparkline_draws_unknown_as_a_dot_and_scales_to_the_ceiling() -> None:
    assert sparkline([], 4) == "    "
    line = sparkline([0.0, None, 15.0, 30.0, 60.0], 5, ceiling=30.0)
    assert line[0] == SPARK_BARS[0]
    assert line[1] == SPARK_UNKNOWN
    assert line[3] == SPARK_BARS[-1] and line[4] == SPARK_BARS[-1]
    assert SPARK_BARS.index(line[2]) in (3, 4)
    # a small non-zero lag is never drawn as the zero bar
    assert sparkline([0.01], 1, ceiling=30.0) == SPARK_BARS[1]
    # more values than width: buckets keep the worst (max) value
    assert len(sparkline([float(i) for i in range(100)], 10)) == 10
    assert sparkline([0.0] * 50 + [9.0] + [0.0] * 49, 10).count(SPARK_BARS[-1]) == 1
    # the newest value has its own column: a member that just went dark shows its dot
    assert sparkline([0.0] * 99 + [None], 10)[-1] == SPARK_UNKNOWN


def test_shorten_keeps_one_line() -> None:
    assert shorten("a\nb   c", 10) == "a b c"
    assert shorten("abcdefghijk", 5) == "abcd…"
