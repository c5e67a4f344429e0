"""ASSISTments DKT-format loader: the real file's published facts, and malformed files."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from learnpulse.datasets.assistments import (
    ASSISTMENTS_NAMESPACE,
    RESPONSE_INTERVAL,
    STUDENT_OFFSET,
    load_assistments_dkt,
    read_dkt_sequences,
)
from learnpulse.datasets.base import DatasetFormatError, uuid5_ids
from learnpulse.events import validate_frame

GOOD = "2\n1,2\n1,0\n"


@pytest.fixture(scope="module")
def dkt_path(shared_data):
    return shared_data / "assistments2009" / "builder_train.csv"


@pytest.fixture(scope="module")
def timed_course(dkt_path):
    started = time.perf_counter()
    course = load_assistments_dkt(dkt_path)
    return course, time.perf_counter() - started


@pytest.fixture(scope="module")
def course(timed_course):
    return timed_course[0]


def test_real_file_matches_the_published_counts(course):
    assert course.learners.height == 3361
    assert course.events.height == 407_967
    assert course.skills.height == 124
    assert course.items.height == 124
    assert course.events.get_column("correct").mean() == pytest.approx(0.677, abs=0.001)
    assert course.events.get_column("learner_id").n_unique() == 3361


def test_real_file_loads_well_under_five_seconds(timed_course):
    assert timed_course[1] < 5.0


def test_real_file_events_are_valid_attempts(course):
    events = validate_frame(course.events)
    assert events.get_column("kind").unique().to_list() == ["attempt"]
    assert events.get_column("id").n_unique() == events.height
    skills = events.get_column("skills")
    assert (skills.list.len() == 1).all()
    items = events.get_column("item_id")
    assert (items == "skill-" + skills.list.first()).all()


def test_ids_are_deterministic_uuid5(course, dkt_path):
    again = load_assistments_dkt(dkt_path)
    assert again.events.get_column("id").equals(course.events.get_column("id"))
    row = course.events.row(1, named=True)  # the second student's first response
    assert row["learner_id"] == "as09-00001"
    expected = uuid.uuid5(ASSISTMENTS_NAMESPACE, "assistments2009/as09-00001/0")
    assert row["id"] == str(expected)


def test_sequences_match_the_events(dkt_path, course):
    sequences = read_dkt_sequences(dkt_path)
    assert len(sequences) == 3361
    assert sum(len(s) for s, _ in sequences) == 407_967
    skills, correct = sequences[1]
    assert skills.dtype == np.int64 and correct.dtype == np.int8
    assert skills.tolist() == [82] * 7 and correct.tolist() == [0] * 7
    attributes = course.learners.filter(pl.col("learner_id") == "as09-00001")["attributes"]
    assert json.loads(attributes[0]) == {"student_index": 1, "n_responses": 7}
    first = course.events.filter(pl.col("learner_id") == "as09-00001")
    assert first.get_column("attempt").to_list() == list(range(1, 8))


def test_small_file_semantics(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("4\n3,5,3,3,\n1,0,0,1,\n0\n\n\n2\n5,3\n1,1\n")
    start = datetime(2020, 1, 1, 8, tzinfo=timezone.utc)
    course = load_assistments_dkt(path, course_id="demo", start=start)
    events = course.events
    assert events.get_column("learner_id").to_list() == ["as09-00000"] * 4 + ["as09-00002"] * 2
    assert events.get_column("attempt").to_list() == [1, 1, 2, 3, 1, 1]
    assert events.get_column("correct").to_list() == [True, False, False, True, True, True]
    assert events.get_column("course_id").unique().to_list() == ["demo"]
    assert events.get_column("ts").to_list()[3] == start + 3 * RESPONSE_INTERVAL
    assert events.get_column("ts").to_list()[4] == start + 2 * STUDENT_OFFSET
    assert course.learners.height == 3  # the student with no responses is still a learner
    assert course.skills.get_column("skill_id").to_list() == [str(i) for i in range(6)]
    assert [len(s) for s, _ in read_dkt_sequences(path)] == [4, 0, 2]


@pytest.mark.parametrize("text", [GOOD + "\n\n", GOOD + "0\n\n\n", GOOD + "0\n\n\n\n"])
def test_trailing_blank_lines_are_padding_or_an_empty_student(tmp_path, text):
    path = tmp_path / "padded.csv"
    path.write_text(text)
    students = text.count("\n") // 3
    assert [len(s) for s, _ in read_dkt_sequences(path)] == [2, 0][:students]


def test_naive_start_is_rejected(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("1\n0\n1\n")
    with pytest.raises(ValueError, match="timezone"):
        load_assistments_dkt(path, start=datetime(2009, 9, 1))


def test_uuid5_ids_equals_the_standard_library():
    names = pl.Series("n", ["", "a", "é/漢", "x" * 300])
    expected = [str(uuid.uuid5(ASSISTMENTS_NAMESPACE, n)) for n in names]
    assert uuid5_ids(ASSISTMENTS_NAMESPACE, names).to_list() == expected


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("two\n1,2\n1,0\n", 1, "count"),
        (GOOD + "1.5\n1\n1\n", 4, "count"),
        (GOOD + "-1\n\n\n", 4, "count"),
        ("2\n1,2,3\n1,0\n", 2, "count line says 2"),
        ("2\n1,2\n1,0,1\n", 3, "count line says 2"),
        ("2\n1,2\n1,2\n", 3, "correctness"),
        ("2\n1,2\n1,yes\n", 3, "correctness"),
        (GOOD + "2\n7,x\n1,1\n", 5, "skill id 'x'"),
        (GOOD + "2\n7,-3\n1,1\n", 5, "skill id"),
        # a raw database id, not a dense index: it asked for 745 GiB
        (GOOD + "2\n7,99999999999\n1,1\n", 5, "skill id '99999999999'"),
        ("2\n1,,\n1,0\n", 2, "skill id"),
        (GOOD + "2\n1,2\n", 6, "ends early"),
        (GOOD + "2\n", 5, "ends early"),
        # The first bad line wins, whatever its problem.
        (GOOD + "2\n1,x\n1,9\n", 5, "skill id"),
        ("2\n1,2\n1,5\n2\nx,1\n1,1\n", 3, "correctness"),
        ("2\n1,x\n1,0\nfoo\n1\n1\n", 2, "skill id"),
    ],
)
def test_malformed_files_name_the_line(tmp_path, text, line, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    for read in (load_assistments_dkt, read_dkt_sequences):
        with pytest.raises(DatasetFormatError) as info:
            read(path)
        assert info.value.where == f"line {line}"
        assert info.value.path == str(path)
        assert str(path) in str(info.value) and words in info.value.problem


#: The header of ASSISTments' skill_builder_data.csv, the same data in its own format.
SKILL_BUILDER_HEADER = (
    "order_id,assignment_id,user_id,assistment_id,problem_id,original,correct,attempt_count,"
    "ms_first_response,tutor_mode,answer_type,sequence_id,student_class_id,position,type,"
    "base_sequence_id,skill_id,skill_name,teacher_id,school_id,hint_count,hint_total"
)


@pytest.mark.parametrize(
    "text",
    [
        SKILL_BUILDER_HEADER + "\n33022537,277618,64525,33139,51424,1,1,1,32454,tutor\n",
        SKILL_BUILDER_HEADER + "\n" + "33022537,277618,64525,33139,51424,1,1\n" * 5,
        "uid,questions,concepts,responses,selectmasks,is_repeat\n",  # pyKT's CSV header
        "1,3\n5,6,7\n10,10,11\n1,0,1\nNA\nNA\n",  # pyKT's six lines per learner
    ],
)
def test_a_file_of_another_format_is_named_as_such(tmp_path, text):
    """A CSV of another ASSISTments version, or of pyKT: a file of one or two lines was
    'file ends early: the correctness line of the last student is missing', as if cut short,
    and a header line was quoted whole (400 characters)."""
    path = tmp_path / "other.csv"
    path.write_text(text)
    for read in (load_assistments_dkt, read_dkt_sequences):
        with pytest.raises(DatasetFormatError) as info:
            read(path)
        assert info.value.where == "line 1"
        assert info.value.problem.startswith("response count '")
        assert "this is not the DKT format of three lines per learner" in info.value.problem
        assert len(info.value.problem) < 400


def test_an_empty_file_has_no_learner(tmp_path):
    """read_dkt_sequences gave one learner without responses ("1 learner(s)" in the kt
    benchmark's error), where load_assistments_dkt found none."""
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert read_dkt_sequences(path) == []
    assert load_assistments_dkt(path).learners.height == 0


def test_missing_file(tmp_path):
    with pytest.raises(DatasetFormatError, match="not found") as info:
        load_assistments_dkt(tmp_path / "nope.csv")
    assert "nope.csv" in str(info.value)


def test_synthetic_clock_spreads_students(course):
    last = course.events.select(pl.col("ts").max()).item()
    assert last < datetime(2009, 9, 1, tzinfo=timezone.utc) + timedelta(days=365)
    per_student = course.events.group_by("learner_id").agg(
        (pl.col("ts").diff().drop_nulls() > timedelta(0)).all().alias("ok")
    )
    assert per_student.get_column("ok").all()
