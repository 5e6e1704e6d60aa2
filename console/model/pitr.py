"""The recovery target of a ``point-in-time-restore`` playbook: exactly one, well formed.

A point-in-time recovery stops at one target: a time (``target_time``, ISO 8601 with a zone,
because a time without one means something else on every host that reads it), a restore point
(``target_name``, made with ``pg_create_restore_point``), a transaction id (``target_xid``) or,
for MariaDB, a GTID (``target_gtid``). A malformed target, two targets or none are bad input:
``run`` and ``validate`` both refuse them here (called from ``bind_params``), located at the
parameter's declaration, exit 2. Whether the target lies inside the recoverable window needs
the live repository and is the playbook's preflight (exit 3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from console.errors import InputError, Location
from console.model.params import Param

KIND = "point-in-time-restore"
"""The playbook kind these checks apply to."""
TARGET_PARAMS = ("target_time", "target_name", "target_xid", "target_gtid")
"""The parameters that name a recovery target (a playbook declares those its tool has)."""
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)\Z",
)
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,63}\Z")
_XID = re.compile(r"[1-9][0-9]{0,19}\Z")
_GTID = re.compile(r"\d+-\d+-\d+(,\d+-\d+-\d+)*\Z")


def parse_target_time(value: str) -> datetime | None:
    """``value`` as an aware datetime, or None when it is not ISO 8601 with a zone."""
    if not _ISO.match(value):
        return None
    text = value.replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _why(name: str, value: str) -> str | None:
    if name == "target_time" and parse_target_time(value) is None:
        return (
            f"target_time={value!r} is not an ISO 8601 time with a zone "
            "(such as 2026-12-02T14:01:00Z or 2026-12-02 22:01:00+08:00)"
        )
    if name == "target_name" and not _NAME.match(value):
        return (
            f"target_name={value!r} is not a restore point name (1 to 63 letters, digits, "
            "'_', '.', ':' or '-')"
        )
    if name == "target_xid" and not _XID.match(value):
        return f"target_xid={value!r} is not a transaction id (a positive integer)"
    if name == "target_gtid" and not _GTID.match(value):
        return f"target_gtid={value!r} is not a GTID (domain-server-sequence, such as 0-1-42)"
    return None


def check_targets(
    kind: str,
    params: Mapping[str, Param],
    values: Mapping[str, str],
    overrides: Mapping[str, str],
    *,
    require: bool,
    playbook_loc: Location | None = None,
) -> list[InputError]:
    """Every problem with the recovery target of a run (empty for other kinds).

    Args:
        kind: The playbook's kind.
        params: Its parameters.
        values: The bound values (defaults overridden by ``--var``).
        overrides: The ``--var`` values (a message says ``--var`` for those).
        require: A run (True): exactly one target must be given. ``validate`` without
            ``--var`` (False) checks only the form of the values it has.
        playbook_loc: Where to report a playbook that declares no target parameter.
    """
    if kind != KIND:
        return []
    declared = [n for n in TARGET_PARAMS if n in params]
    if not declared:
        return [
            InputError(
                f"a {KIND} playbook declares at least one of the parameters "
                f"{', '.join(TARGET_PARAMS)}",
                playbook_loc,
            )
        ]
    errors: list[InputError] = []
    given = [n for n in declared if values.get(n, "").strip()]
    for name in given:
        why = _why(name, values[name].strip())
        if why is not None:
            prefix = "--var " if name in overrides else ""
            errors.append(InputError(prefix + why, params[name].loc))
    if not require:
        return errors
    where = params[given[1] if len(given) > 1 else declared[0]].loc
    if not given:
        errors.append(
            InputError(
                f"no recovery target: pass exactly one of --var {'=... / --var '.join(declared)}"
                "=...",
                where,
            )
        )
    elif len(given) > 1:
        errors.append(
            InputError(
                f"two recovery targets ({', '.join(given)}): a recovery stops at exactly one; "
                "pass only one of them",
                where,
            )
        )
    return errors
