"""OULAD modelling frames: day-T cut-offs, due dates, outcomes, the leakage-safe day frame."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import polars as pl
import pytest

from learnpulse.datasets import load_oulad, load_oulad_tables
from learnpulse.datasets.oulad_features import (
    oulad_cutoffs,
    oulad_day_frame,
    oulad_due_dates,
    oulad_outcomes,
)
from learnpulse.features import KEYS


def test_oulad_cutoffs_and_due_dates():
    cut = oulad_cutoffs(["AAA-2013J", "BBB-2014B", "AAA-2013J"], 60)
    assert cut.rows() == [
        ("AAA-2013J", datetime(2013, 11, 30, tzinfo=timezone.utc)),
        ("BBB-2014B", datetime(2014, 4, 2, tzinfo=timezone.utc)),
    ]
    items = pl.DataFrame(
        {
            "course_id": ["AAA-2013J", "AAA-2013J"],
            "item_id": ["1", "2"],
            "skills": [["AAA"], ["AAA"]],
            "difficulty": [None, None],
            "attributes": ['{"date": 19, "weight": 10}', '{"date": null, "weight": 100}'],
        }
    )
    assert oulad_due_dates(items).rows() == [
        ("AAA-2013J", "1", datetime(2013, 10, 20, tzinfo=timezone.utc))
    ]


@pytest.fixture(scope="module")
def oulad(shared_data):
    return load_oulad(shared_data / "oulad"), load_oulad_tables(shared_data / "oulad")


def test_oulad_day_frame_uses_nothing_after_day(oulad):
    """Submission counts equal an independent count of non-exam submissions before day 60,
    and nobody who unregistered by day 60 is left."""
    data, tables = oulad
    frame = oulad_day_frame(data, 60)
    sub = tables["studentAssessment"].join(tables["assessments"], on="id_assessment")
    expected = (
        sub.filter((pl.col("date_submitted") < 60) & (pl.col("assessment_type") != "Exam"))
        .group_by("code_module", "code_presentation", "id_student")
        .len()
        .select(
            course_id=pl.format("{}-{}", "code_module", "code_presentation"),
            learner_id="oulad-" + pl.col("id_student").cast(pl.String),
            expected=pl.col("len").cast(pl.Int64),
        )
    )
    got = frame.join(expected, on=KEYS, how="left").with_columns(pl.col("expected").fill_null(0))
    assert (got["n_assessment_submitted"] == got["expected"]).all()
    reg = tables["studentRegistration"].select(
        course_id=pl.format("{}-{}", "code_module", "code_presentation"),
        learner_id="oulad-" + pl.col("id_student").cast(pl.String),
        gone=pl.col("date_unregistration"),
    )
    kept = frame.join(reg, on=KEYS)
    assert kept.height == frame.height and not (kept["gone"] <= 60).any()
    assert frame.height < data.learners.height  # some did unregister early
    assert kept.filter(pl.col("gone").is_not_null()).height > 0  # later withdrawals stay
    assert frame["days_since_last_activity"].drop_nulls().min() > 0
    outcomes = oulad_outcomes(data.learners)
    assert math.isclose(outcomes["y_at_risk"].mean(), 0.53, abs_tol=0.05)


@pytest.mark.parametrize("day", [float("inf"), float("nan"), "60"])
def test_oulad_cut_off_day_must_be_a_finite_number(day):
    with pytest.raises(ValueError, match="day must be a finite number of days"):
        oulad_cutoffs(["AAA-2013J"], day)
