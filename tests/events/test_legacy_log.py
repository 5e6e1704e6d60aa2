"""A log written before the typed vocabulary reads exactly as it did.

``data/legacy/audit.db`` was recorded with main's code before ``console.events`` existed
(``record_legacy_log.py`` says how); ``data/legacy/expected/`` holds what main's code printed
for it. Here the current code verifies the chain, and every report (all four formats), the
history, ``audit show`` (text and JSON) and ``audit list`` of it must be byte-identical to those
outputs, except for the corrections listed in ``CORRECTIONS`` (bugs of the dict readers that
typed events fixed, each stated).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.cli import main
from console.events import KINDS, UnknownEvent

DATA = Path(__file__).parent / "data" / "legacy"
EXPECTED = DATA / "expected"
RUNS: dict[str, str] = json.loads((DATA / "runs.json").read_text())
REPORT_FORMATS = ("md", "html", "json", "junit")

CORRECTIONS: dict[str, list[tuple[str, str]]] = {
    # main's audit show read the host of ``host_key_accepted`` from the payload, where it never
    # is (it is on the event row): it printed "?"; the typed event has the row's host.
    "show-host_accepted.txt": [
        ("accepted new host key of ?:", "accepted new host key of lab-west:"),
    ],
}
"""Deliberate differences from main's output: (what main printed, what is printed now)."""

NEWER_KINDS = frozenset(
    {
        "notification_failed",
        "run_imported",
        "approval_requested",
        "approval",
        "commit_awaited",
        "commit",
        "commit_expired",
        "approval_refused",
        "commit_refused",
    }
)
"""Kinds added after the legacy log was recorded, which it therefore cannot hold
(``notification_failed`` from the notifications, ``run_imported`` written by ``audit push``,
``approval_requested``, ``approval`` and ``approval_refused`` of the two-person rule, the
``commit_*`` kinds of the commit-or-roll-back window)."""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the legacy database (reading may add WAL files; the fixture stays pristine)."""
    target = tmp_path_factory.mktemp("legacy") / "audit.db"
    shutil.copyfile(DATA / "audit.db", target)
    return target


def expected(name: str) -> str:
    text = (EXPECTED / name).read_text()
    for old, new in CORRECTIONS.get(name, []):
        assert old in text, f"{name}: the correction {old!r} no longer applies"
        text = text.replace(old, new)
    return text


def cli(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> str:
    capsys.readouterr()
    code = main(["--audit", str(db), *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")


def test_the_legacy_log_verifies(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, db, "audit", "verify") == expected("verify.txt")
    with AuditStore(db, create=False) as store:
        for run_id in RUNS.values():
            assert store.verify(run_id).ok


ADDED_SINCE = frozenset({"error", "parts", "fence", "token", "lease_seconds"})


def test_every_legacy_event_decodes_into_its_class(db: Path) -> None:
    """Nothing of the old log is unknown, guessed or left over (only the keys added since are
    absent, and read as None: ``error`` of a command result, ``parts`` of a composed run's
    plan, ``fence`` of an intent and ``token``/``lease_seconds`` of a lock, from the leases)."""
    seen: set[str] = set()
    with AuditStore(db, create=False) as store:
        for run_id in RUNS.values():
            for event in store.events(run_id):
                payload = event.payload
                assert not isinstance(payload, UnknownEvent)
                assert type(payload) is KINDS[event.kind]
                assert not payload.extra, (event.kind, payload.extra)
                assert payload.defaulted <= ADDED_SINCE, (event.kind, payload.defaulted)
                seen.add(event.kind)
    assert seen == set(KINDS) - NEWER_KINDS, set(KINDS) - NEWER_KINDS - seen


@pytest.mark.parametrize("scenario", sorted(RUNS))
@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_reports_are_byte_identical(
    db: Path, capsys: pytest.CaptureFixture[str], scenario: str, fmt: str
) -> None:
    got = cli(capsys, db, "report", RUNS[scenario], "--format", fmt)
    assert got == expected(f"report-{scenario}.{fmt}")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_history_is_byte_identical(db: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    assert cli(capsys, db, "report", "--history", "--format", fmt) == expected(f"history.{fmt}")


@pytest.mark.parametrize("scenario", sorted(RUNS))
def test_audit_show_is_identical(
    db: Path, capsys: pytest.CaptureFixture[str], scenario: str
) -> None:
    run_id = RUNS[scenario]
    assert cli(capsys, db, "audit", "show", run_id) == expected(f"show-{scenario}.txt")
    assert cli(capsys, db, "audit", "show", run_id, "--json") == expected(f"show-{scenario}.jsonl")


def test_audit_list_is_identical(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, db, "audit", "list") == expected("list.txt")
    assert cli(capsys, db, "audit", "list", "--json") == expected("list.json")
