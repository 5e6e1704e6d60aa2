"""Durations as operators write them: ``500ms``, ``5s``, ``2m``, ``1h``, ``1d``, ``1m30s``, or
plain seconds. One parser for every file, flag and option, so they all agree."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


class DurationError(ValueError):
    """The text is not a duration; the message says what one looks like."""


def parse_duration(value: object) -> float:
    """Return seconds for ``value`` (a number of seconds or a duration string).

    Raises:
        DurationError: negative, malformed, or not a number/string.
    """
    if isinstance(value, bool) or value is None:
        raise DurationError(f"expected a duration like 500ms, 5s, 2m, 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text.startswith("-"):
            raise DurationError(f"a duration cannot be negative: {value!r}")
        elif _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise DurationError(
                f"malformed duration {value!r}: use a number of seconds or 500ms, 5s, 2m, 1h, 1d"
            )
    else:
        raise DurationError(f"expected a duration like 500ms, 5s, 2m, 1h, got {value!r}")
    if seconds < 0:
        raise DurationError(f"a duration cannot be negative: {value!r}")
    if not math.isfinite(seconds):
        raise DurationError(f"a duration must be finite: {value!r}")
    return seconds


def format_duration(seconds: float | None, unknown: str = "-") -> str:
    """Short human form: ``850ms``, ``12.3s``, ``4m05s``, ``2h03m``; ``unknown`` for None."""
    if seconds is None:
        return unknown
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m}m{s:02d}s"
    h, rem = divmod(round(seconds), 3600)
    return f"{h}h{rem // 60:02d}m"
