"""The custom probe: the service's own command prints one JSON object.

For backends drconsole does not know, the inventory names a command (``probe: {command:
...}``) that prints ``{"role": "primary"|"replica", "upstream": ..., "link": "up"|"down",
"lag_seconds": ..., "lag_bytes": ..., "position": ..., "read_only": ...}``. Only ``role``
is required. The command is the operator's own shell text, run as given under ``sh -c``
with a time limit; nothing is interpolated into it. Values of the wrong type are refused
(the sample becomes UNKNOWN naming the field), never coerced: a lag of ``"0"`` or ``true``
is not a lag.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from console.probes.base import Probe
from console.probes.sample import Link, ProbeTarget, ReplicationSample, Role

FIELDS = ("role", "upstream", "link", "lag_seconds", "lag_bytes", "position", "read_only")
"""The keys a custom command may print."""


def _json_object(stdout: str) -> dict[str, Any]:
    text = stdout.strip()
    candidates = [text] + [line.strip() for line in reversed(text.splitlines())]
    for candidate in candidates:
        if not candidate.startswith("{"):
            continue
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError("no JSON object in the output")


def _number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, got {value!r}")
    if value < 0:
        raise ValueError(f"{key} must not be negative, got {value!r}")
    return float(value)


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{key} must be a string, got {value!r}")
    return str(value)


class CustomProbe(Probe):
    """Runs the service's own command and reads the JSON it prints."""

    kind = "custom"
    tool = "custom probe command"

    def command(self, target: ProbeTarget) -> str:
        """``timeout -k 2 N sh -c COMMAND``."""
        if not target.command:
            raise ValueError(f"{target.service}/{target.host}: no probe command")
        return self.timeout_prefix() + "sh -c " + shlex.quote(target.command)

    def parse_output(
        self, target: ProbeTarget, stdout: str, sampled_at: float
    ) -> ReplicationSample:
        """Validate and convert the printed object."""
        obj = _json_object(stdout)
        role_text = obj.get("role")
        if role_text not in ("primary", "replica"):
            raise ValueError(f"role must be 'primary' or 'replica', got {role_text!r}")
        role = Role(role_text)
        link_text = obj.get("link")
        if link_text is None:
            link = Link.NONE if role is Role.PRIMARY else Link.UNKNOWN
        elif link_text in ("up", "down"):
            link = Link(link_text)
        else:
            raise ValueError(f"link must be 'up' or 'down', got {link_text!r}")
        lag_bytes_value = _number(obj, "lag_bytes")
        if lag_bytes_value is not None and not lag_bytes_value.is_integer():
            raise ValueError(f"lag_bytes must be a whole number, got {obj['lag_bytes']!r}")
        read_only = obj.get("read_only")
        if read_only is not None and not isinstance(read_only, bool):
            raise ValueError(f"read_only must be true or false, got {read_only!r}")
        extra = {
            key: json.dumps(value) if not isinstance(value, str) else value
            for key, value in obj.items()
            if key not in FIELDS
        }
        return ReplicationSample(
            service=target.service,
            site=target.site,
            host=target.host,
            kind=target.kind,
            role=role,
            upstream=_text(obj, "upstream"),
            link=link,
            lag_seconds=_number(obj, "lag_seconds"),
            lag_bytes=None if lag_bytes_value is None else int(lag_bytes_value),
            position=_text(obj, "position"),
            read_only=read_only,
            replicas=(),
            error=None,
            sampled_at=sampled_at,
            details=extra,
        )
