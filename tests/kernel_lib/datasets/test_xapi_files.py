"""xAPI statement files: the three layouts, round trips, and errors naming record or line."""

from __future__ import annotations

import json

import polars as pl
import pytest

from learnpulse.datasets.base import DatasetFormatError
from learnpulse.datasets.oulad import load_oulad
from learnpulse.datasets.xapi_files import load_xapi, write_xapi
from learnpulse.events import EventValidationError, events_to_frame, validate_events
from learnpulse.xapi import events_to_statements


def _decoded(frame: pl.DataFrame) -> list[dict]:
    """Rows with the payload decoded: payload text may differ in spacing, not in content."""
    rows = frame.to_dicts()
    for row in rows:
        row["payload"] = None if row["payload"] is None else json.loads(row["payload"])
    return rows


@pytest.fixture
def frame(make_event) -> pl.DataFrame:
    events = [
        make_event(offset_s=0),
        make_event(offset_s=5, correct=False, skills=["loops", "ifs"], difficulty=0.3),
        make_event(offset_s=9, course_id="course-b", learner_id="learner-2", item_id="ex/2",
                   score=0.5, confidence=0.9, hints_used=2, payload={"answer": [1, 2]}),
        make_event(offset_s=12, kind="tutor_message", item_id=None, correct=None, skills=None,
                   duration_ms=None, attempt=None, payload={"role": "tutor", "text": "Try é"}),
    ]  # fmt: skip
    return events_to_frame(validate_events(events))


@pytest.mark.parametrize("name", ["out.jsonl", "out.ndjson", "out.json"])
def test_round_trip(tmp_path, frame, name):
    path = write_xapi(frame, tmp_path / name)
    text = path.read_text("utf-8")
    if name == "out.json":
        assert isinstance(json.loads(text), list)
    else:
        assert len(text.splitlines()) == frame.height
    course = load_xapi(path)
    assert _decoded(course.events) == _decoded(frame)


def test_json_lines_round_trip_text_with_unicode_line_separators(tmp_path, make_event):
    # JSON strings may hold these unescaped (write_xapi writes them so); str.splitlines
    # cut the statement there and the file learnpulse wrote could not be read back.
    text = "one\u2028two\u2029three\x85four\x0bfive\x1cix"
    events = [make_event(item_id=text, payload={"answer": text}), make_event(offset_s=1)]
    frame = events_to_frame(validate_events(events))
    path = write_xapi(frame, tmp_path / "out.jsonl")
    (tmp_path / "crlf.jsonl").write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    for name in ("out.jsonl", "crlf.jsonl"):
        assert _decoded(load_xapi(tmp_path / name).events) == _decoded(frame)


def test_course_tables_come_from_the_events(tmp_path, frame):
    course = load_xapi(write_xapi(frame, tmp_path / "x.jsonl"))
    assert sorted(course.learners.select("course_id", "learner_id").rows()) == [
        ("course-a", "learner-1"),
        ("course-b", "learner-2"),
    ]
    items = {(r["course_id"], r["item_id"]): r for r in course.items.to_dicts()}
    assert set(items) == {("course-a", "ex-1"), ("course-b", "ex/2")}
    assert items["course-a", "ex-1"]["skills"] == ["loops", "ifs"]
    assert items["course-a", "ex-1"]["difficulty"] == 0.3
    assert sorted(course.skills.select("course_id", "skill_id").rows()) == [
        ("course-a", "ifs"),
        ("course-a", "loops"),
        ("course-b", "loops"),
    ]


def test_lrs_response_object_and_blank_lines(tmp_path, frame):
    statements = events_to_statements(frame)
    lrs = tmp_path / "lrs.json"
    lrs.write_text(json.dumps({"statements": statements, "more": "/xapi/statements?page=2"}))
    assert load_xapi(lrs).events.height == frame.height
    lines = tmp_path / "gaps.jsonl"
    lines.write_text("\n" + "\n\n".join(json.dumps(s) for s in statements) + "\n\n")
    assert load_xapi(lines).events.get_column("id").to_list() == frame.get_column("id").to_list()


def test_real_oulad_presentation_round_trips(tmp_path, shared_data):
    events = load_oulad(shared_data / "oulad", presentations=["AAA-2013J"]).events
    path = write_xapi(events, tmp_path / "aaa.jsonl")
    assert _decoded(load_xapi(path).events) == _decoded(events)


def test_course_id_argument_fills_statements_without_course(tmp_path, frame):
    statements = events_to_statements(frame.head(1))
    del statements[0]["context"]
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(statements))
    with pytest.raises(DatasetFormatError, match="course"):
        load_xapi(path)
    assert load_xapi(path, course_id="given").events.get_column("course_id").to_list() == ["given"]


def _write_statements(path, statements, lines: bool) -> None:
    if lines:
        path.write_text("".join(json.dumps(s) + "\n" for s in statements))
    else:
        path.write_text(json.dumps(statements, indent=2))


@pytest.mark.parametrize(("lines", "where"), [(False, "record 2"), (True, "line 3")])
def test_bad_statement_is_named_by_record_or_line(tmp_path, frame, lines, where):
    statements = events_to_statements(frame)
    statements[2]["verb"]["id"] = "http://example.org/verbs/danced"
    path = tmp_path / ("bad.jsonl" if lines else "bad.json")
    _write_statements(path, statements, lines)
    with pytest.raises(DatasetFormatError) as info:
        load_xapi(path)
    assert info.value.where == where and info.value.path == str(path)
    assert "danced" in info.value.problem


def test_invalid_event_field_is_named(tmp_path, frame):
    statements = events_to_statements(frame)
    del statements[1]["result"]["success"]  # an attempt needs 'correct'
    path = tmp_path / "bad.jsonl"
    _write_statements(path, statements, lines=True)
    with pytest.raises(DatasetFormatError) as info:
        load_xapi(path)
    assert info.value.where == "line 2" and "'correct'" in info.value.problem


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": 1}\n{"b": 2}\n{"c": \n', "line 3"),
        ('{"a": 1}\n\nnot json\n', "line 3"),
        ('[\n{"a": 1},\n{"b": 2,}\n]', "line 3"),
        ("42", "file"),
        ('{"id": 1}', "record 0"),
        ("[1]", "record 0"),
        # too deep for json.loads: a RecursionError traceback before
        ("[" * 100_000 + "]" * 100_000, "file"),
        ('{"a": 1}\n' + "[" * 100_000 + "]" * 100_000, "line 2"),
    ],
)
def test_unreadable_files(tmp_path, text, where):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(DatasetFormatError) as info:
        load_xapi(path)
    assert info.value.where == where


def test_missing_file(tmp_path):
    with pytest.raises(DatasetFormatError, match="not found"):
        load_xapi(tmp_path / "nope.jsonl")


def test_empty_file_is_an_empty_course(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    assert load_xapi(path).summary()["events"] == 0


def test_write_validates_first_and_leaves_no_file(tmp_path, frame):
    broken = frame.with_columns(confidence=pl.lit(3.0))
    path = tmp_path / "never.json"
    with pytest.raises(EventValidationError, match="confidence"):
        write_xapi(broken, path)
    assert list(tmp_path.iterdir()) == []
