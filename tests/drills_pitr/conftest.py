"""The ``pitr`` fixture: a fresh lab of real servers per test module (see ``lab.py``)."""

from tests.drills_pitr.lab import pitr  # noqa: F401  (the module-scoped fixture)
