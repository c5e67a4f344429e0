"""OULAD loader: the real tables' facts, and small malformed copies."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.datasets.base import DatasetFormatError
from learnpulse.datasets.oulad import (
    load_oulad,
    load_oulad_tables,
    presentation_lengths,
    presentation_start,
)
from learnpulse.events import validate_frame

KEYS = ["id_assessment", "id_student"]


@pytest.fixture(scope="module")
def oulad_dir(shared_data):
    return shared_data / "oulad"


@pytest.fixture(scope="module")
def tables(oulad_dir):
    return load_oulad_tables(oulad_dir)


@pytest.fixture(scope="module")
def course(oulad_dir):
    return load_oulad(oulad_dir)


def _csv_rows(path) -> list[dict[str, str]]:
    """The file read by the csv module: an independent check of the polars reader."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _kind(course, kind: str) -> pl.DataFrame:
    return course.events.filter(pl.col("kind") == kind)


def test_tables_are_typed(tables):
    assert tables["studentInfo"].height == 21_333
    assert tables["studentRegistration"].schema["date_unregistration"] == pl.Int32
    assert tables["studentAssessment"].schema["is_banked"] == pl.Boolean
    assert tables["studentAssessment_scored_subset"].schema["score"] == pl.Float64
    assert tables["assessments"].height == 149 and tables["vle"].height == 4694
    # Exams without a date and empty imd_band are null, not empty strings.
    assert tables["assessments"].get_column("date").null_count() > 0
    assert tables["studentInfo"].get_column("imd_band").null_count() > 0
    assert (tables["studentInfo"].get_column("imd_band") != "").all()


def test_learners_and_courses(course, oulad_dir):
    assert course.learners.height == 21_333
    assert course.skills.height == 15
    courses = set(course.learners.get_column("course_id"))
    assert len(courses) == 15 and "AAA-2013J" in courses
    attributes = [json.loads(a) for a in course.learners.get_column("attributes")]
    assert set(attributes[0]) == {
        "gender", "region", "highest_education", "imd_band", "age_band",
        "num_of_prev_attempts", "studied_credits", "disability", "final_result",
    }  # fmt: skip
    assert {a["final_result"] for a in attributes} == {"Pass", "Fail", "Withdrawn", "Distinction"}
    no_imd = sum(r["imd_band"] in ("", "?") for r in _csv_rows(oulad_dir / "studentInfo.csv"))
    assert sum(a["imd_band"] is None for a in attributes) == no_imd > 0


def test_events_are_valid_with_unique_ids(course):
    events = validate_frame(course.events)
    assert events.get_column("id").n_unique() == events.height
    assert set(events.get_column("kind")) == {"registration", "withdrawal", "assessment_submitted"}


def test_registration_and_withdrawal_counts(course, oulad_dir):
    rows = _csv_rows(oulad_dir / "studentRegistration.csv")
    assert _kind(course, "withdrawal").height == sum(r["date_unregistration"] != "" for r in rows)
    assert _kind(course, "registration").height == sum(r["date_registration"] != "" for r in rows)
    assert _kind(course, "withdrawal").height == 6333  # a fact of this copy, checked by hand


def test_timestamps_use_the_nominal_presentation_start(course):
    event = (
        _kind(course, "registration")
        .filter(pl.col("learner_id") == "oulad-11391")
        .row(0, named=True)
    )
    # studentRegistration: AAA,2013J,11391,-159 -> 159 days before 2013-10-01.
    assert event["course_id"] == "AAA-2013J"
    assert event["ts"] == datetime(2013, 10, 1, tzinfo=timezone.utc) - timedelta(days=159)
    assert presentation_start("2014B") == datetime(2014, 2, 1, tzinfo=timezone.utc)


def test_submissions_carry_scores_exactly_from_the_scored_subset(course, tables):
    submitted = _kind(course, "assessment_submitted").with_columns(
        id_assessment=pl.col("item_id").cast(pl.Int64),
        id_student=pl.col("learner_id").str.strip_prefix("oulad-").cast(pl.Int64),
    )
    assert submitted.height == tables["studentAssessment"].height == 121_738
    scored = tables["studentAssessment_scored_subset"]
    joined = submitted.join(scored.select(*KEYS, expected=pl.col("score")), on=KEYS, how="left")
    in_subset = joined.join(scored.select(KEYS), on=KEYS, how="semi")
    assert in_subset.height == scored.height == 19_928
    assert (in_subset.get_column("score") == in_subset.get_column("expected")).all()
    assert in_subset.get_column("score").null_count() == scored.get_column("score").null_count()
    outside = joined.join(scored.select(KEYS), on=KEYS, how="anti")
    assert outside.get_column("score").null_count() == outside.height


def test_submission_payload_and_skills(course, tables):
    row = _kind(course, "assessment_submitted").filter(
        (pl.col("learner_id") == "oulad-11391") & (pl.col("item_id") == "1752")
    )
    event = row.row(0, named=True)
    assert json.loads(event["payload"]) == {"is_banked": False, "assessment_type": "TMA"}
    assert event["skills"] == ["AAA"] and event["score"] == 78.0
    assert event["ts"] == datetime(2013, 10, 19, tzinfo=timezone.utc)  # date_submitted 18
    banked = _kind(course, "assessment_submitted").filter(
        pl.col("payload").str.json_path_match("$.is_banked") == "true"
    )
    assert banked.height == tables["studentAssessment"].get_column("is_banked").sum()


def test_items(course):
    items = course.items
    assert items.height == 149 + 4694
    assert items.select("course_id", "item_id").is_unique().all()
    assessment = items.filter(pl.col("item_id") == "1752").row(0, named=True)
    assert json.loads(assessment["attributes"]) == {
        "assessment_type": "TMA",
        "date": 19,
        "weight": 10.0,
    }
    assert assessment["skills"] == ["AAA"]
    vle = items.filter(pl.col("item_id") == "vle-546943").row(0, named=True)
    assert json.loads(vle["attributes"])["activity_type"] == "resource"
    assert vle["course_id"] == "AAA-2013J" and vle["skills"] == ["AAA"]


def test_ids_are_deterministic(course, oulad_dir):
    again = load_oulad(oulad_dir, presentations=["AAA-2013J"])
    subset = course.events.filter(pl.col("course_id") == "AAA-2013J")
    assert again.events.sort("id").get_column("id").equals(subset.sort("id").get_column("id"))
    assert again.learners.height == 383


def test_presentation_filter(oulad_dir):
    course = load_oulad(oulad_dir, presentations=["2013J"])
    courses = set(course.events.get_column("course_id"))
    assert courses and all(c.endswith("-2013J") for c in courses)
    assert set(course.items.get_column("course_id")) == courses
    with pytest.raises(ValueError, match="2019B"):
        load_oulad(oulad_dir, presentations=["2019B"])


# --- small hand-made copies ------------------------------------------------------------------

TINY = {
    "studentInfo": (
        "code_module,code_presentation,id_student,gender,region,highest_education,imd_band,"
        "age_band,num_of_prev_attempts,studied_credits,disability,final_result\n"
        "AAA,2013J,1,M,Wales,A Level,?,0-35,0,60,N,Pass\n"
        "AAA,2013J,2,F,Wales,A Level,10-20,0-35,1,120,Y,Withdrawn\n"
    ),
    "studentRegistration": (
        "code_module,code_presentation,id_student,date_registration,date_unregistration\n"
        'AAA,2013J,1,-10,""\n'
        "AAA,2013J,2,,30\n"
    ),
    "assessments": (
        "code_module,code_presentation,id_assessment,assessment_type,date,weight\n"
        "AAA,2013J,7,TMA,20,50\n"
        'AAA,2013J,8,Exam,"",100\n'
    ),
    "studentAssessment": (
        "id_assessment,id_student,date_submitted,is_banked\n7,1,19,0\n7,2,21,1\n8,1,200,0\n"
    ),
    "studentAssessment_scored_subset": (
        "id_assessment,id_student,date_submitted,is_banked,score\n7,1,19,0,88\n"
    ),
}


@pytest.fixture
def tiny(tmp_path):
    for name, text in TINY.items():
        (tmp_path / f"{name}.csv").write_text(text)
    return tmp_path


def test_tiny_copy(tiny):
    course = load_oulad(tiny)
    kinds = course.events.group_by("kind").len().sort("kind").rows()
    # Learner 2 has no registration date: a withdrawal but no registration event.
    assert kinds == [("assessment_submitted", 3), ("registration", 1), ("withdrawal", 1)]
    scores = dict(
        _kind(course, "assessment_submitted")
        .select(pl.format("{}/{}", "learner_id", "item_id"), "score")
        .rows()
    )
    assert scores == {"oulad-1/7": 88.0, "oulad-2/7": None, "oulad-1/8": None}
    assert json.loads(course.learners.get_column("attributes")[0])["imd_band"] is None
    assert course.items.height == 2  # vle.csv is optional


def test_a_file_or_a_missing_folder_is_named(tiny):
    """Both said "<path>/studentInfo.csv: file: not found"."""
    for path, problem in (
        (tiny / "courses", "folder: not found"),
        (tiny / "studentInfo.csv", "folder: is a file, not the folder of the OULAD CSV files"),
    ):
        with pytest.raises(DatasetFormatError) as info:
            load_oulad(path)
        assert str(info.value) == f"{path}: {problem}"


def test_presentation_lengths(oulad_dir, tiny):
    lengths = presentation_lengths(oulad_dir)
    assert len(lengths) == 15 and lengths["BBB-2014B"] == 234 and lengths["AAA-2013J"] == 268
    assert presentation_lengths(tiny) == {}  # courses.csv is optional


def test_scores_from_a_score_column_when_there_is_no_subset(tiny):
    (tiny / "studentAssessment_scored_subset.csv").unlink()
    (tiny / "studentAssessment.csv").write_text(
        "id_assessment,id_student,date_submitted,is_banked,score\n7,1,19,0,55\n7,2,21,1,?\n"
    )
    scores = _kind(load_oulad(tiny), "assessment_submitted").get_column("score").to_list()
    assert sorted(scores, key=str) == [55.0, None]


def _replace(tiny, name: str, old: str, new: str) -> None:
    path = tiny / f"{name}.csv"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("name", "old", "new", "where", "words"),
    [
        ("studentRegistration", "date_registration,", "date_reg,", "line 1", "date_registration"),
        ("studentRegistration", "2,,30", "2,,soon", "line 3", "'soon'"),
        ("studentRegistration", "1,-10,", "1,-1.5,", "line 2", "whole number"),
        ("studentAssessment", "7,2,21,1", "7,2,tomorrow,1", "line 3", "date_submitted"),
        ("studentAssessment", "7,2,21,1", "7,2,21,2", "line 3", "0 or 1"),
        ("studentAssessment", "8,1,200,0", "9,1,200,0", "line 4", "not in assessments"),
        ("assessments", "AAA,2013J,8,", "AAA,2013X,8,", "line 3", "code_presentation"),
        ("studentInfo", "AAA,2013J,2,", "AAA,2013J,,", "line 3", "'id_student' is empty"),
        ("assessments", ",50\n", ",heavy\n", "line 2", "weight"),
        # an outcome nobody defined, and a learner listed twice (counted twice before)
        ("studentInfo", "N,Pass\n", "N,Maybe\n", "line 2", "'Maybe' is not like ^(Pass|Fail"),
        ("studentInfo", "AAA,2013J,2,", "AAA,2013J,1,", "line 3", "a second row for"),
        ("studentRegistration", "AAA,2013J,2,", "AAA,2013J,1,", "line 3", "id_student=1"),
        ("assessments", "AAA,2013J,8,", "AAA,2013J,7,", "line 3", "id_assessment=7"),
        # a second submission had the first one's event id (the store kept one of them), and
        # one without a date failed validation without naming the file
        ("studentAssessment", "8,1,200,0", "7,2,25,0", "line 4", "id_assessment=7, id_stu"),
        ("studentAssessment", "7,2,21,1", "7,2,,1", "line 3", "'date_submitted' is empty"),
    ],
)
def test_malformed_tables_name_file_and_line(tiny, name, old, new, where, words):
    _replace(tiny, name, old, new)
    with pytest.raises(DatasetFormatError) as info:
        load_oulad(tiny)
    assert info.value.path == str(tiny / f"{name}.csv")
    assert info.value.where == where
    assert words in info.value.problem


@pytest.mark.parametrize("name", ["studentInfo", "studentRegistration", "studentAssessment"])
def test_missing_required_file(tiny, name):
    (tiny / f"{name}.csv").unlink()
    with pytest.raises(DatasetFormatError, match="not found") as info:
        load_oulad_tables(tiny)
    assert info.value.path == str(tiny / f"{name}.csv")
