"""``drconsole report`` in a real process: stdout or -o, --latest, --history, and every bad
input as one line with exit 2 (never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.audit.store import AuditStore
from tests.report.checks import check_html, check_json, check_junit
from tests.report.conftest import Drills, copy_db, run_cli

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]


@pytest.fixture
def db(drills: Drills, tmp_path: Path) -> Path:
    """A private copy of the drills' database."""
    return copy_db(drills.audit, tmp_path / "audit.db")


def test_report_to_stdout_in_every_format(drills: Drills, db: Path) -> None:
    run_id = drills.runs["failed"]
    md = run_cli(db, "report", run_id, "--format", "md")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Drill report: Check orders-db, fail a check, roll back\n")
    assert md.stderr == ""
    default = run_cli(db, "report", run_id)
    assert default.stdout == md.stdout, "md is the default format"
    check_json(run_cli(db, "report", run_id[:10], "--format", "json").stdout)
    check_junit(run_cli(db, "report", run_id, "--format", "junit").stdout)
    check_html(run_cli(db, "report", run_id, "--format", "html").stdout)


def test_latest_and_output_file(drills: Drills, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "latest.html"
    done = run_cli(db, "report", "--latest", "--format", "html", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert f"wrote html report of run {drills.runs['succeeded']} to {out}" in done.stderr
    assert drills.runs["succeeded"] in check_html(out.read_text())
    folder = tmp_path / "reports"
    folder.mkdir()
    done = run_cli(db, "report", drills.runs["human"], "--format", "junit", "-o", str(folder))
    assert done.returncode == 0, done.stderr
    written = list(folder.iterdir())
    assert [p.name for p in written] == [f"drill-report-human-{drills.runs['human']}.xml"]
    check_junit(written[0].read_text())


def test_history_md_and_html(drills: Drills, db: Path, tmp_path: Path) -> None:
    md = run_cli(db, "report", "--history", "--format", "md")
    assert md.returncode == 0, md.stderr
    for name in ("pg-failover", "pg-failback", "report-fail", "report-slow", "report-human"):
        assert f"\n## {name} (" in md.stdout, name
    for run_id in drills.runs.values():
        assert run_id in md.stdout
    assert "7 run(s)." in md.stdout
    only = run_cli(db, "report", "--history", "--playbook", "pg-failover", "--since", "1d")
    assert only.returncode == 0, only.stderr
    assert "## pg-failover (" in only.stdout and "## report-fail" not in only.stdout
    assert "2 run(s): 1 stopped, 1 succeeded" in only.stdout
    future = run_cli(db, "report", "--history", "--since", "2999-01-01")
    assert future.returncode == 0 and "No runs recorded in this window." in future.stdout
    out = tmp_path / "history.html"
    html = run_cli(db, "report", "--history", "--format", "html", "-o", str(out))
    assert html.returncode == 0, html.stderr
    text = check_html(out.read_text())
    assert "Drill history" in text and "RTO per run" in out.read_text()
    folder = tmp_path / "hist"
    folder.mkdir()
    done = run_cli(db, "report", "--history", "--playbook", "report-fail", "-o", str(folder))
    assert done.returncode == 0, done.stderr
    assert (folder / "history-report-fail.md").read_text().startswith("# Drill history")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "which run? give a RUN_ID, --latest, or --history"),
        (("NOSUCHRUN",), "no run 'NOSUCHRUN' in the audit log"),
        (("--latest", "01"), "give a RUN_ID or --latest, not both"),
        (("--history", "--format", "junit"), "--history makes md or html, not junit"),
        (("--history", "--format", "json"), "--history makes md or html, not json"),
        (("--history", "--latest"), "--history lists every run"),
        (("--history", "--since", "lately"), "--since 'lately': use a duration like 90d"),
        (("--latest", "--since", "9d"), "--playbook and --since go with --history"),
        (("--latest", "--format", "pdf"), "invalid choice: 'pdf'"),
        (("--latest", "-o", "/nonexistent/dir/r.md"), "folder /nonexistent/dir does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(db: Path, args: tuple[str, ...], message: str) -> None:
    done = run_cli(db, "report", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_no_database_and_empty_database(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    done = run_cli(missing, "report", "--latest")
    assert done.returncode == 2
    assert "no audit database here" in done.stderr
    assert not missing.exists(), "a read command never creates the database"
    empty = tmp_path / "empty.db"
    AuditStore(empty).close()
    done = run_cli(empty, "report", "--latest")
    assert done.returncode == 2 and "no runs recorded yet" in done.stderr
    history = run_cli(empty, "report", "--history")
    assert history.returncode == 0 and "0 run(s)." in history.stdout
