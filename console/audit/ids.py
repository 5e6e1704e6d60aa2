"""Run identifiers: ULIDs, written here because they are ten lines and need no dependency.

A run id must sort by creation time (so ``audit list`` and "the latest run" need no extra
column), be unique across laptops without coordination, and be short enough to type a prefix
of. A ULID is all three: 48 bits of milliseconds and 80 random bits, in 26 characters of
Crockford base32. Ids made in the same millisecond by one process still sort in creation order:
the random part is incremented instead of redrawn (the ULID spec's "monotonic" variant).
"""

from __future__ import annotations

import secrets
import threading
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""The 32 symbols of Crockford's base32, in value order (no I, L, O, U)."""

ULID_LENGTH = 26
"""Characters in a ULID: 10 for the time, 16 for the randomness."""

_RANDOM_BITS = 80
_state_lock = threading.Lock()
_last: tuple[int, int] = (-1, 0)


def encode_ulid(millis: int, randomness: int) -> str:
    """Encode a timestamp in milliseconds and 80 random bits as a 26-character ULID.

    Args:
        millis: Milliseconds since the Unix epoch; must fit in 48 bits.
        randomness: The random part; must fit in 80 bits.

    Returns:
        The ULID, upper-case Crockford base32.

    Raises:
        ValueError: If either part is out of range.
    """
    if not 0 <= millis < 1 << 48 or not 0 <= randomness < 1 << _RANDOM_BITS:
        raise ValueError("ULID time or randomness out of range")
    value = millis << _RANDOM_BITS | randomness
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(ULID_LENGTH)))


def new_run_id() -> str:
    """A new ULID, later than (or, within a millisecond, after) every one this process made."""
    global _last  # noqa: PLW0603 - one monotonic clock per process is the point
    with _state_lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, randomness = last_millis, last_random + 1
            if randomness >= 1 << _RANDOM_BITS:  # 2**80 ids in one millisecond: wait it out
                millis, randomness = last_millis + 1, secrets.randbits(_RANDOM_BITS)
        else:
            randomness = secrets.randbits(_RANDOM_BITS)
        _last = (millis, randomness)
    return encode_ulid(millis, randomness)


def normalize_run_id(text: str) -> str:
    """A run id (or prefix) as a person typed it, in canonical form.

    Crockford base32 is case-insensitive and reads ``I``/``L`` as 1 and ``O`` as 0, so a prefix
    copied by eye from a report still finds its run.
    """
    return text.strip().upper().translate(str.maketrans("ILO", "110"))
