"""Reading audit payloads defensively: each helper returns a value of one type, or a default.

The report must be made from any log, also one written by an older or newer engine or edited
by hand (which ``verify`` then flags): a missing key, a string where a number was expected, a
boolean where a list was, all become "absent" here instead of an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_str(value: Any, default: str = "") -> str:
    """The value as text; ``default`` for None."""
    return default if value is None else str(value)


def as_opt_str(value: Any) -> str | None:
    """The value as text, None stays None."""
    return None if value is None else str(value)


def as_num(value: Any) -> float | None:
    """A number (not a boolean) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def as_int(value: Any) -> int | None:
    """An integer (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def as_bool(value: Any) -> bool | None:
    """A boolean, else None."""
    return value if isinstance(value, bool) else None


def as_dict(value: Any) -> Mapping[str, Any]:
    """A mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """A list or tuple as a list, else an empty one."""
    return list(value) if isinstance(value, (list, tuple)) else []


def as_strs(value: Any) -> tuple[str, ...]:
    """A list of texts from a payload value (a lone string counts as one)."""
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in as_list(value))
