"""A playbook title that uses the run's values is rendered when the run starts: in the run's
record (what ``audit list`` and the report show) and in the headless output, so a report of
``return-site`` says "from west to east", not "from {{ away_site }}"."""

from __future__ import annotations

import pytest

from console.audit.store import AuditStore
from console.report.build import build_report
from tests.engine.scripted_env import ScriptedEstate, run_id_of

pytestmark = pytest.mark.timeout(60)

BOOK = """
version: 1
name: titled
kind: custom
title: {title}
params:
  to_site: {{default: west}}
steps:
  - id: one
    on: h-east
    run: say-one
"""


def _run(est: ScriptedEstate, title: str, *var: str) -> str:
    est.transport.on("say-one")
    pb = est.playbook("titled", BOOK.format(title=title))
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--yes", *var)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = run_id_of(proc.stdout)
    with AuditStore(est.audit, create=False) as store:
        return build_report(store, run_id).playbook.title


def test_a_templated_title_is_rendered_with_the_run_s_values(scripted: ScriptedEstate) -> None:
    assert _run(scripted, '"Move svc to {{ to_site }}"') == "Move svc to west"


def test_a_given_value_is_the_one_in_the_title(scripted: ScriptedEstate) -> None:
    assert _run(scripted, '"Move svc to {{ to_site }}"', "--var", "to_site=dr") == "Move svc to dr"


def test_a_plain_title_is_kept_as_written(scripted: ScriptedEstate) -> None:
    assert _run(scripted, "Move svc {west}") == "Move svc {west}"
