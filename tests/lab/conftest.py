"""The lab tests share one running lab per session (``tests/support/lab.py``)."""

from tests.support.lab import lab  # noqa: F401  (the session fixture)
