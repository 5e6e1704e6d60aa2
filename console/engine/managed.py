"""The refusal of raw playbooks on a managed service, as the engine uses it.

The rule itself is pure and lives in :mod:`console.model.refusal`, so that ``validate``
(model layer) and ``run`` (engine) apply the very same one.
"""

from __future__ import annotations

from console.model.refusal import GATE_TITLE, INSTEAD, ROLE_NEUTRAL_KIND, manager_refusal

__all__ = ["GATE_TITLE", "INSTEAD", "ROLE_NEUTRAL_KIND", "manager_refusal"]
