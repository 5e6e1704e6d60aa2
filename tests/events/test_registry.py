"""The event vocabulary: every kind has a class and a reader, and decoding never loses data.

mypy already refuses a reader ``match`` without a case for a kind (``assert_never``); these
tests make the same promise at run time, for each reader, with one event of every kind.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, get_args

import pytest

from console import events as ev
from console.audit.chain import canonical_json
from console.audit.model import Event as Stored
from console.audit.render import SUMMARIES, summarize
from console.audit.store import AuditStore
from console.engine.headless import HumanPrinter, JsonPrinter
from console.events.base import check_readable
from console.report.fold import Folder
from console.tui.runlog import event_lines
from tests.report.synthetic import RunWriter

TS = datetime(2030, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stored(kind: str, data: dict[str, Any], seq: int = 2) -> Stored:
    return Stored(
        gid=seq,
        run_id="R",
        seq=seq,
        ts=TS,
        kind=kind,
        operator="op",
        host="h1",
        step_id="s1",
        data=data,
        prev_hash="0" * 64,
        hash="1" * 64,
    )


def one_of_each_emitted() -> list[ev.Event]:
    """An event of every class the engine emits, with every field decoded from nothing."""
    return [ev.decode_as(cls, {}, step_id="s1", host="h1") for cls in get_args(ev.Emitted)]


def test_every_recorded_class_has_its_kind_and_nothing_else_claims_it() -> None:
    recorded = [c for c in get_args(ev.Recorded) if c is not ev.UnknownEvent]
    assert sorted(ev.KINDS) == sorted(c.kind for c in recorded)
    assert all(ev.KINDS[c.kind] is c for c in recorded)
    listener_only = {c for c in get_args(ev.Emitted) if not c.recorded}
    assert listener_only == {ev.RunStarted, ev.WaitProgress}


@pytest.mark.parametrize("kind", sorted(ev.KINDS))
def test_every_recorded_kind_has_a_summary_and_a_fold(kind: str) -> None:
    event = stored(kind, {})
    assert isinstance(summarize(event), str)
    start = stored("run_started", {"playbook": {"name": "p"}, "pid": 1, "hostname": "x"}, 1)
    folder = Folder("R", [start, event])
    folder.feed(start)
    folder.feed(event)  # an unhandled class would fail assert_never here


def test_every_emitted_kind_reaches_every_live_reader() -> None:
    out = io.StringIO()
    human, as_json = HumanPrinter(out), JsonPrinter(lambda: "R", out)
    for event in one_of_each_emitted():
        assert isinstance(event_lines(event, {}, 0), list)
        human(event)
        as_json(event)
    assert out.getvalue().count('"run_id": "R"') == len(get_args(ev.Emitted))


def test_a_live_reader_refuses_what_the_engine_never_emits() -> None:
    with pytest.raises(TypeError, match="not an event the engine emits"):
        event_lines(ev.decode_as(ev.RunCreated, {}), {}, 0)


def test_summaries_cover_exactly_the_kinds_not_shown_generically() -> None:
    generic = {"notice", "canary_check", "rollback_started", "rollback_finished"}
    assert set(SUMMARIES) == set(ev.KINDS) - generic


# -- decoding ---------------------------------------------------------------------------------


def test_unknown_kinds_and_extra_keys_survive() -> None:
    unknown = ev.decode("brand_new_kind", {"zeta": 1, "alpha": [1, 2]})
    assert isinstance(unknown, ev.UnknownEvent) and unknown.stored_kind == "brand_new_kind"
    assert unknown.data() == {"zeta": 1, "alpha": [1, 2]}
    note = ev.decode("note", {"text": "t", "by": "b", "mood": "calm"})
    assert isinstance(note, ev.NoteAdded) and note.extra == {"mood": "calm"}
    assert note.data() == {"text": "t", "by": "b", "mood": "calm"}


def test_missing_and_mistyped_values_are_defaulted_and_said_so() -> None:
    step = ev.decode("step_finished", {"outcome": "ok", "duration": "long", "attempts": True})
    assert isinstance(step, ev.StepFinished)
    assert step.duration is None and step.attempts == 0
    assert step.defaulted == {"duration", "attempts", "reason", "rollback"}
    started = ev.decode("step_started", {"title": 5, "targets": "h1", "kind": "wait"})
    assert isinstance(started, ev.StepStarted)
    assert (started.title, started.targets, started.step_kind) == ("5", ("h1",), "wait")
    assert started.attempt == 1  # the class's decode default
    assert ev.decode("run_started", "not a mapping").defaulted  # never raises


def test_an_older_spelling_is_read() -> None:
    started = ev.decode("step_started", {"step_kind": "manual"})
    assert isinstance(started, ev.StepStarted) and started.step_kind is ev.StepKind.MANUAL
    created = ev.decode("run_started", {"objectives": {"rto": 60, "rpo": 0}})
    assert isinstance(created, ev.RunCreated)
    assert (created.rto_objective, created.rpo_objective) == (60.0, 0.0)


def test_an_unknown_word_of_an_enum_is_kept() -> None:
    step = ev.decode("step_finished", {"outcome": "paused-by-a-newer-engine"})
    assert isinstance(step, ev.StepFinished)
    assert step.outcome == "paused-by-a-newer-engine" and not step.outcome.known
    assert ev.StepOutcome.OK.known
    assert canonical_json(step.data()["outcome"]) == '"paused-by-a-newer-engine"'


def test_the_payload_is_written_as_before_and_new_optional_keys_only_when_used() -> None:
    done = ev.CommandFinished(
        exit_status=0, signal=None, duration=0.5, timed_out=False, ok=True, reason=None
    )
    assert "error" not in done.data()
    refused = ev.CommandFinished(
        exit_status=None,
        signal=None,
        duration=0.1,
        timed_out=False,
        ok=False,
        reason="SECURITY: x",
        error=ev.ErrorKind.HOST_KEY,
    )
    assert canonical_json(refused.data()).count('"error":"host_key"') == 1
    assert ev.decode("command_result", refused.data()) == refused


def test_the_store_returns_a_stamped_copy(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.db")
    run_id = RunWriter(store).run_id
    note = ev.NoteAdded(text="hello", by="me", step_id="s")
    kept = store.record(run_id, note, operator="me")
    assert note.seq is None and note.ts == 0.0  # the original is untouched
    assert (
        kept.seq is not None
        and kept.ts > 0
        and kept == ev.NoteAdded(text="hello", by="me", step_id="s", seq=kept.seq, ts=kept.ts)
    )
    with pytest.raises(ValueError, match="listeners only"):
        store.record(run_id, ev.decode_as(ev.WaitProgress, {}), operator="me")
    store.close()


def test_a_field_type_without_a_reader_is_refused_when_the_class_is_checked() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Odd(ev.Event):
        kind: ClassVar[str] = "odd"
        tags: set[str]

    with pytest.raises(TypeError, match="no reader"):
        check_readable(Odd)
