"""OULAD modelling frames: the event features of :mod:`learnpulse.features` at day T of a
presentation, with demographics and outcomes.

:func:`oulad_cutoffs` expresses "day T of a presentation" as timestamps,
:func:`oulad_due_dates` turns assessment due days into due timestamps, and learner attributes
become numeric demographics (:func:`oulad_demographics`) and outcome labels
(:func:`oulad_outcomes`). :func:`oulad_day_frame` puts them together under the leakage-safe
protocol of ``../shared/data/README.md``. Everything is vectorised polars.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

import polars as pl

from learnpulse.datasets.base import CourseData
from learnpulse.datasets.oulad import presentation_start
from learnpulse.features import DAY_US, FEATURE_COLUMNS, KEYS, learner_features

#: Ordinal codes of OULAD's ordered categorical attributes (unknown values -> null).
OULAD_ORDINALS: dict[str, dict[str, int]] = {
    "highest_education": {
        "No Formal quals": 0,
        "Lower Than A Level": 1,
        "A Level or Equivalent": 2,
        "HE Qualification": 3,
        "Post Graduate Qualification": 4,
    },
    "age_band": {"0-35": 0, "35-55": 1, "55<=": 2},
    "imd_band": {
        band: i
        for i, band in enumerate(
            [
                "0-10%",
                "10-20",
                "20-30%",
                "30-40%",
                "40-50%",
                "50-60%",
                "60-70%",
                "70-80%",
                "80-90%",
                "90-100%",
            ]
        )
    },
}
#: Numeric demographic columns of :func:`oulad_demographics`.
OULAD_DEMOGRAPHIC_COLUMNS = (
    "num_of_prev_attempts",
    "studied_credits",
    *OULAD_ORDINALS,
    "gender_male",
    "disability",
)


def oulad_cutoffs(course_ids: Iterable[str], day: float) -> pl.DataFrame:
    """Timestamp of day ``day`` of each OULAD presentation (see ``presentation_start``).

    Parameters
    ----------
    course_ids : iterable of str
        Course ids like ``"AAA-2013J"`` (repeats are fine).
    day : float
        Day from the presentation start (OULAD's day 0).

    Returns
    -------
    polars.DataFrame
        Shape (n_distinct_courses, 2): ``course_id``, ``at`` (Datetime UTC), usable as the
        ``at`` of :func:`learner_features`; events on days ``< day`` are then kept.
    """
    if isinstance(day, bool) or not isinstance(day, int | float) or not math.isfinite(day):
        raise ValueError(f"day must be a finite number of days, not {day!r}")
    unique = sorted(set(course_ids))
    try:
        starts = [presentation_start(c.rsplit("-", 1)[-1]) + timedelta(days=day) for c in unique]
    except OverflowError:  # past year 9999 (or timedelta's own limit)
        raise ValueError(f"day {day!r} is beyond the calendar's range") from None
    return pl.DataFrame(
        {"course_id": unique, "at": starts},
        schema={"course_id": pl.String, "at": pl.Datetime("us", "UTC")},
    )


def oulad_due_dates(items: pl.DataFrame) -> pl.DataFrame:
    """Due timestamps of OULAD assessments from ``items.attributes`` (``date`` = due day).

    Parameters
    ----------
    items : polars.DataFrame
        Item frame of :func:`learnpulse.datasets.load_oulad`, shape (n_items, 5).

    Returns
    -------
    polars.DataFrame
        Shape (n_dated, 3): ``course_id``, ``item_id``, ``due`` (Datetime UTC), for items
        with a due day (exams without a date and VLE resources are left out).
    """
    dated = items.select(
        "course_id",
        "item_id",
        _day=pl.col("attributes").str.json_path_match("$.date").cast(pl.Float64),
    ).filter(pl.col("_day").is_not_null())
    starts = oulad_cutoffs(dated.get_column("course_id"), 0).rename({"at": "_start"})
    return dated.join(starts, on="course_id").select(
        "course_id",
        "item_id",
        due=pl.col("_start") + pl.duration(microseconds=(pl.col("_day") * DAY_US).cast(pl.Int64)),
    )


def _attribute(name: str) -> pl.Expr:
    return pl.col("attributes").str.json_path_match(f"$.{name}")


def oulad_demographics(learners: pl.DataFrame) -> pl.DataFrame:
    """Numeric demographics per learner from OULAD ``learners.attributes``.

    ``final_result`` (the outcome) is never included.

    Parameters
    ----------
    learners : polars.DataFrame
        Learner frame of :func:`learnpulse.datasets.load_oulad`, shape (n_learners, 3).

    Returns
    -------
    polars.DataFrame
        Shape (n_learners, 2 + 7): keys then :data:`OULAD_DEMOGRAPHIC_COLUMNS` (Float64;
        ordinal codes of :data:`OULAD_ORDINALS`, ``gender_male`` and ``disability`` 0/1,
        null when unknown).
    """
    return learners.select(
        *KEYS,
        *(_attribute(c).cast(pl.Float64).alias(c) for c in OULAD_DEMOGRAPHIC_COLUMNS[:2]),
        *(
            _attribute(c).replace_strict(codes, default=None, return_dtype=pl.Float64).alias(c)
            for c, codes in OULAD_ORDINALS.items()
        ),
        gender_male=(_attribute("gender") == "M").cast(pl.Float64),
        disability=(_attribute("disability") == "Y").cast(pl.Float64),
    )


def oulad_outcomes(learners: pl.DataFrame) -> pl.DataFrame:
    """``final_result`` per learner, plus 0/1 labels ``y_withdrawn``, ``y_at_risk``, ``y_passed``.

    Returns
    -------
    polars.DataFrame
        Shape (n_learners, 6): keys, ``final_result`` and the three Int8 labels (at risk =
        Fail or Withdrawn; passed = Pass or Distinction).
    """
    result = _attribute("final_result")
    return learners.select(
        *KEYS,
        final_result=result,
        y_withdrawn=(result == "Withdrawn").cast(pl.Int8),
        y_at_risk=result.is_in(["Fail", "Withdrawn"]).cast(pl.Int8),
        y_passed=result.is_in(["Pass", "Distinction"]).cast(pl.Int8),
    )


#: Features left out of OULAD outcome models: only the 2013J scored subset has scores, so a
#: model trained with them would meet all-null scores on other presentations.
OULAD_SCORE_COLUMNS = ("n_scored", "mean_score", "last_score", "score_trend")
#: Everything an OULAD model may use at day T besides the event features' score columns.
OULAD_MODEL_COLUMNS = (
    *(c for c in FEATURE_COLUMNS if c not in OULAD_SCORE_COLUMNS and c != "withdrawn"),
    *OULAD_DEMOGRAPHIC_COLUMNS,
    "module",
)


def oulad_without_exams(events: pl.DataFrame) -> pl.DataFrame:
    """Events minus exam submissions (an exam is the outcome, never a feature)."""
    exam = pl.col("payload").str.json_path_match("$.assessment_type") == "Exam"
    return events.filter(~exam.fill_null(False))


def oulad_day_frame(data: CourseData, day: float) -> pl.DataFrame:
    """Leakage-safe OULAD modelling frame at day ``day`` of each presentation.

    Features use only non-exam events before day ``day`` (never ``date_unregistration`` or
    later submissions); learners who unregistered on or before that day are removed.

    Parameters
    ----------
    data : CourseData
        From :func:`learnpulse.datasets.load_oulad`.
    day : float
        Prediction day, counted from each presentation's start.

    Returns
    -------
    polars.DataFrame
        Shape (n_still_registered, ...): keys, ``presentation`` (e.g. ``"2014B"``),
        :data:`FEATURE_COLUMNS`, :data:`OULAD_DEMOGRAPHIC_COLUMNS`, ``module`` (category code
        0 = AAA, 1 = BBB, ...), and the labels of :func:`oulad_outcomes`.
    """
    at = oulad_cutoffs(data.learners.get_column("course_id"), day)
    features = learner_features(
        oulad_without_exams(data.events),
        at=at,
        learners=data.learners,
        due=oulad_due_dates(data.items),
    )
    gone = (
        data.events.filter(pl.col("kind") == "withdrawal")
        .join(at, on="course_id")
        .filter(pl.col("ts") <= pl.col("at"))
        .select(KEYS)
    )
    letters = {chr(ord("A") + i): i for i in range(26)}
    return (
        features.join(gone, on=list(KEYS), how="anti")
        .join(oulad_demographics(data.learners), on=list(KEYS), how="left")
        .join(oulad_outcomes(data.learners), on=list(KEYS), how="left")
        .with_columns(
            presentation=pl.col("course_id").str.split("-").list.last(),
            module=pl.col("course_id")
            .str.slice(0, 1)
            .replace_strict(letters, default=None, return_dtype=pl.Int64),
        )
    )
