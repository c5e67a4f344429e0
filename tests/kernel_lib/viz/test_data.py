"""The dashboard frames: KPI rows, the overview reshaped, and its JSON round trip."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from learnpulse.analytics import course_overview, to_json
from learnpulse.viz import data

FRAMES = ("kpis", "daily", "topics", "tutor_questions", "tutor_agents", "hint_levels")


def test_kpi_rows_follow_the_cards_order_and_show_shares_as_percentages(course):
    overview = course_overview(course.events, range="month", at_risk=(7, None))
    rows = data.kpi_rows(overview["kpis"])
    assert rows["kpi"].to_list() == list(data.KPI_LABELS)
    share = overview["kpis"].filter(pl.col("kpi") == "accuracy")["value"][0]
    assert rows.filter(pl.col("kpi") == "accuracy")["value"][0] == pytest.approx(share * 100)
    at_risk = rows.filter(pl.col("kpi") == "at_risk").row(0, named=True)
    assert (at_risk["value"], at_risk["previous"], at_risk["change"]) == (7, None, None)
    assert rows.filter(pl.col("kpi") != "at_risk")["previous"].null_count() == 0


def test_summary_has_the_columns_the_components_draw(course):
    summary = data.summary_from_overview(course_overview(course.events, range="quarter"))
    assert summary["daily"].columns == [
        "date", "sessions", "active_learners", "avg_session_minutes", "accuracy",
    ]  # fmt: skip
    assert summary["daily"]["sessions"].sum() > 0
    assert 0 < summary["topics"]["accuracy"].max() <= 100
    assert summary["tutor_agents"].columns == ["agent", "messages"]
    assert summary["hint_levels"]["level"].to_list() == sorted(summary["hint_levels"]["level"])


def test_topics_are_named_as_the_course_names_its_skills(course):
    overview = course_overview(course.events, range="quarter", skills=course.skills)
    topics = data.summary_from_overview(overview)["topics"]
    names = dict(course.skills.select("skill_id", "name").iter_rows())
    assert topics["skill"].to_list() == [names[s] for s in topics["skill_id"]]
    assert set(topics["skill"]).isdisjoint(names)  # no id shown where the course has a name
    # Without the course's skills (e.g. events imported alone), the ids stand in.
    bare = data.summary_from_overview(course_overview(course.events, range="quarter"))
    assert bare["topics"]["skill"].to_list() == bare["topics"]["skill_id"].to_list()


def test_skills_sharing_a_name_stay_apart(course):
    skills = course.skills.with_columns(pl.lit("Python basics").alias("name"))
    overview = course_overview(course.events, range="quarter", skills=skills)
    shown = data.summary_from_overview(overview)["topics"]["skill"]
    assert shown.n_unique() == shown.len() and shown[0].startswith("Python basics (")


def test_tutor_questions_are_the_learners_messages_not_the_tutors_replies(course):
    overview = course_overview(course.events, range="course")
    summary = data.summary_from_overview(overview)
    asked = overview["tutor"]["agents"]["learner_messages"].sum()
    assert asked < overview["tutor"]["daily"]["tutor_messages"].sum()  # replies too
    assert summary["tutor_questions"]["questions"].sum() == asked
    assert summary["tutor_agents"]["messages"].sum() == asked


def test_summary_read_back_from_json_equals_the_one_computed_here(course):
    overview = course_overview(course.events, range="month")
    here = data.summary_from_overview(overview)
    body = json.loads(json.dumps(to_json(overview)))
    there = data.summary_from_overview(data.overview_from_json(body))
    for key in FRAMES:
        assert_frame_equal(here[key], there[key], check_dtypes=False)
    assert there["period"]["end"] == overview["period"]["end"]


def test_an_empty_period_gives_empty_frames_with_their_columns(course):
    before_course = course.events["ts"].min() - timedelta(days=30)
    overview = course_overview(course.events, range="week", at=before_course)
    body = json.loads(json.dumps(to_json(overview)))
    summary = data.summary_from_overview(data.overview_from_json(body))
    assert summary["topics"].is_empty()
    assert summary["topics"].columns == [
        "skill", "skill_id", "events", "attempts", "learners", "accuracy"
    ]  # fmt: skip
    assert summary["tutor_agents"].columns == ["agent", "messages"]
