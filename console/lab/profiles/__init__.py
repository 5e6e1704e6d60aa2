"""The lab's profiles by name: the one place that knows every profile.

``drconsole lab up --profile NAME`` and ``drconsole lab profiles`` ask here. Adding a profile
means adding its module (a :class:`~console.lab.profiles.base.Profile` subclass) and one line in
:data:`PROFILES`.
"""

from __future__ import annotations

from console.errors import InputError
from console.lab.layout import LabLayout
from console.lab.profiles.active_active import ActiveActiveProfile
from console.lab.profiles.base import Profile, StartContext
from console.lab.profiles.default import DefaultProfile
from console.lab.profiles.managed import ManagedProfile
from console.lab.profiles.three_center import ThreeCenterProfile

PROFILES: tuple[Profile, ...] = (
    DefaultProfile(),
    ManagedProfile(),
    ThreeCenterProfile(),
    ActiveActiveProfile(),
)
"""Every profile, the default first."""

DEFAULT_PROFILE = PROFILES[0].name
"""The profile ``up`` starts when none is named (the first-stage lab)."""


def profile_names() -> list[str]:
    """The names, in listing order."""
    return [p.name for p in PROFILES]


def get_profile(name: str | None) -> Profile:
    """The profile called ``name`` (None: the default).

    Raises:
        InputError: No profile has that name (exit 2), naming the ones that exist.
    """
    wanted = name or DEFAULT_PROFILE
    for profile in PROFILES:
        if profile.name == wanted:
            return profile
    raise InputError(
        f"unknown lab profile {wanted!r}: the profiles are {', '.join(profile_names())}"
    )


def every_port(layout: LabLayout) -> list[tuple[str, int]]:
    """Every ``(address, port)`` any profile may use on this net (a net is free when none
    of them listens)."""
    seen: dict[tuple[str, int], None] = {}
    for profile in PROFILES:
        for endpoint in profile.all_ports(layout):
            seen.setdefault(endpoint, None)
    return list(seen)


def owned_entries() -> frozenset[str]:
    """Lab-directory entries some profile creates (a fresh ``up`` may delete them)."""
    out: set[str] = set()
    for profile in PROFILES:
        out |= profile.owned_entries
    return frozenset(out)


__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "Profile",
    "StartContext",
    "every_port",
    "get_profile",
    "owned_entries",
    "profile_names",
]
