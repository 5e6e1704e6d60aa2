"""The ``drill`` fixture: a fresh lab of real servers per test module (see ``drill.py``)."""

from tests.drills_pg.drill import drill  # noqa: F401  (the module-scoped fixture)
