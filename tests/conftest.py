"""The suite's order: its longest modules first.

`make pytest` runs `-n 2 --dist loadfile`: each worker takes the next module as it finishes
one. A long module taken last leaves the other worker idle while it runs (the fresh-clone run
of stop 22 ended on such a tail). Collected first, the long modules run side by side and the
short ones fill the gaps. The managed modules stay together (an entry may be a directory):
they share one lab per worker for the package, which a module of another package between
them would take down and bring up again. The list names the modules that took over a minute in the
fresh-clone run (`--durations` in README's performance section); a module missing from it only
runs later, so the list is a hint and never hides a test.
"""

from __future__ import annotations

import pytest

LONGEST_FIRST = (
    "tests/managed/test_cluster_failover.py",
    "tests/managed/test_patroni_unplanned.py",
    "tests/managed/",
    "tests/lab/test_city_return.py",
    "tests/drills_pg/test_unplanned.py",
    "tests/tui/test_run_flows.py",
    "tests/lab/test_active_active.py",
    "tests/managed/test_sentinel_unplanned.py",
    "tests/serve/test_serve_protocol.py",
    "tests/report/test_cli.py",
    "tests/drills_other/test_sites.py",
    "tests/drills_pg/test_planned.py",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next(
        (rank for rank, entry in enumerate(LONGEST_FIRST) if path.startswith(entry)),
        len(LONGEST_FIRST),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: a module's tests keep their order and stay together.
    items.sort(key=_rank)
