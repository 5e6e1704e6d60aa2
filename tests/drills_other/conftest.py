"""The drill tests share one lab per module (``tests/drills_other/support.py``)."""

from tests.drills_other.support import drill_lab  # noqa: F401  (the module fixture)
