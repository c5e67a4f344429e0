"""Scores, progress categories (scoring), readiness and peers (standing): known answers."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.events import events_to_frame, validate_events
from learnpulse.models.scoring import (
    CategoryThresholds,
    ScoreSettings,
    ScoreWeights,
    learner_scores,
    progress_categories,
)
from learnpulse.models.standing import ReadinessSettings, peer_comparison, readiness

MONDAY = datetime(2024, 9, 2, tzinfo=timezone.utc)


def attempts(rows) -> pl.DataFrame:
    """rows: (learner, hours after MONDAY, correct, duration_ms[, skill]) -> attempt events,
    each at the item of its hour (every attempt of a learner is a new exercise: answering a
    solved one again would be practice)."""
    return events_to_frame(
        validate_events(
            [
                {
                    "id": str(uuid.uuid4()),
                    "ts": MONDAY + timedelta(hours=row[1]),
                    "learner_id": row[0],
                    "course_id": "c",
                    "kind": "attempt",
                    "item_id": f"i{row[1]}",
                    "skills": [row[4] if len(row) > 4 else "s1"],
                    "correct": row[2],
                    "duration_ms": row[3],
                }
                for row in rows
            ]
        )
    )


def mastery_rows(rows) -> pl.DataFrame:
    """rows: (learner, skill, p_known, n_attempts) -> a mastery frame."""
    frame = pl.DataFrame(
        rows, schema=["learner_id", "skill", "p_known", "n_attempts"], orient="row"
    )
    return frame.with_columns(confidence=pl.col("n_attempts") / (pl.col("n_attempts") + 5))


SKILLS = pl.DataFrame({"skill_id": ["s1", "s2"]})
# Item median duration 2000 ms: ann at the median, bob twice as fast, cid twice as slow.
LOG = [
    ("ann", 1, True, 2000),
    ("ann", 2, False, 2000),
    ("bob", 1, True, 1000),
    ("bob", 2, True, 1000),
    ("cid", 1, False, 4000),
    ("cid", 2, False, 4000),
]


def test_score_dimensions_and_weights_known_answers():
    mastery = mastery_rows([("ann", "s1", 0.95, 2), ("ann", "s2", 0.475, 1)])
    scores = learner_scores(attempts(LOG), mastery, skills=SKILLS).rows_by_key("learner_id")
    columns = ["value", "score", "accuracy", "speed", "consistency", "progress"]
    ann, bob, cid = (
        dict(zip(columns, scores[k][0][:6], strict=True)) for k in ["ann", "bob", "cid"]
    )
    assert (ann["accuracy"], bob["accuracy"], cid["accuracy"]) == (50, 100, 0)
    assert (ann["speed"], bob["speed"], cid["speed"]) == pytest.approx((50, 100, 0))
    assert ann["consistency"] == 100  # one week, practised: regularity 1, no steadiness yet
    assert ann["progress"] == pytest.approx(100 * (1 + 0.5) / 2)
    assert ann["score"] == pytest.approx(0.35 * 50 + 0.25 * 50 + 0.20 * 100 + 0.20 * 75)
    # bob has no mastery rows: progress is missing and the other weights are renormalised
    assert bob["progress"] is None
    assert bob["score"] == pytest.approx((0.35 * 100 + 0.25 * 100 + 0.20 * 100) / 0.80)
    assert ann["value"] == ann["score"]


def test_configurable_weights():
    only_accuracy = ScoreSettings(weights=ScoreWeights(1.0, 0.0, 0.0, 0.0))
    scores = learner_scores(attempts(LOG), settings=only_accuracy)
    assert scores.get_column("score").to_list() == scores.get_column("accuracy").to_list()
    with pytest.raises(ValueError, match="weights"):
        ScoreWeights(accuracy=-1.0)
    as_dict = ScoreSettings(weights={"speed": 0.0, "consistency": 0, "progress": 0})
    assert as_dict.weights == ScoreWeights(0.35, 0.0, 0.0, 0.0)
    by_dict = learner_scores(attempts(LOG), settings=as_dict)
    assert by_dict.get_column("score").to_list() == scores.get_column("accuracy").to_list()
    with pytest.raises(ValueError, match=r"unknown weights \['acuracy'\]; choose from"):
        ScoreSettings(weights={"acuracy": 1.0})
    with pytest.raises(TypeError, match="weights must be a ScoreWeights or a dict, not list"):
        ScoreSettings(weights=[1.0, 0.0, 0.0, 0.0])


def test_speed_is_relative_to_item_median_and_clipped():
    log = [("ann", 1, True, 1000), ("bob", 1, True, 1000), ("cid", 1, True, 100_000)]
    speed = learner_scores(attempts(log)).select("learner_id", "speed").rows()
    # median 1000 ms: ann and bob at the median; cid 100x slower, clipped to one octave
    assert speed == [("ann", 50.0), ("bob", 50.0), ("cid", 0.0)]
    wide = ScoreSettings(speed_octaves=8.0)
    cid = learner_scores(attempts(log), settings=wide).row(2, named=True)
    assert cid["speed"] == pytest.approx(50 + 50 * -math.log2(100) / 8)


def _two_weeks(before_correct: list[bool], after_correct: list[bool], who: str):
    """Attempts 10 days before the cut-off, then 2 days before it."""
    return [(who, 4 * 24 + i, c, 1000) for i, c in enumerate(before_correct)] + [
        (who, 12 * 24 + i, c, 1000) for i, c in enumerate(after_correct)
    ]


def test_progress_category_thresholds():
    at = MONDAY + timedelta(days=14)
    log = (
        _two_weeks([True] * 4, [False] * 4, "ann")  # 100 -> 50
        + _two_weeks([False] * 4, [True] * 4, "bob")  # 0 -> 50
        + _two_weeks([True, False] * 2, [True, False] * 2, "cid")  # 50 -> 50
        + [("dan", 13 * 24, True, 1000)]  # new this week
    )
    accuracy_only = ScoreSettings(weights=ScoreWeights(1.0, 0.0, 0.0, 0.0))
    frame = progress_categories(attempts(log), at=at, settings=accuracy_only)
    got = {r["learner_id"]: r for r in frame.iter_rows(named=True)}
    assert got["ann"]["weekly_change"] == pytest.approx(-50)
    assert got["bob"]["weekly_change"] == pytest.approx(50)
    assert [got[k]["value"] for k in ("ann", "bob", "cid")] == [
        "Needs Attention",
        "Rapid Improvement",
        "Stable",
    ]
    assert got["dan"]["value"] == "Stable" and got["dan"]["confidence"] == 0
    assert got["dan"]["weekly_change"] is None and "unknown" in got["dan"]["reason"]
    # the bounds are settings: +50 is only Steady Progress when rapid needs 60 (>= is inclusive)
    for rapid, expected in ((60.0, "Steady Progress"), (50.0, "Rapid Improvement")):
        bounds = CategoryThresholds(rapid=rapid, steady=40.0, attention=-60.0)
        settings = ScoreSettings(weights=accuracy_only.weights, categories=bounds)
        frame = progress_categories(attempts(log), at=at, settings=settings)
        values = dict(frame.select("learner_id", "value").rows())
        assert values["bob"] == expected and values["ann"] == "Stable"
    with pytest.raises(ValueError, match="rapid > steady > attention"):
        CategoryThresholds(rapid=1.0, steady=2.0)


def test_readiness_known_answers():
    log = [("ann", 1, True, 1000), ("ann", 2, True, 1000), ("bob", 1, True, 1000)]
    mastery = mastery_rows(
        [("ann", "s1", 0.9, 3), ("ann", "s2", 0.7, 2), ("bob", "s1", 0.9, 0)]  # bob: prior only
    )
    frame = readiness(attempts(log), mastery, assessed_skills=["s1", "s2"])
    got = {r["learner_id"]: r for r in frame.iter_rows(named=True)}
    assert got["ann"]["probability"] == pytest.approx(0.7 * 0.8 + 0.3 * 1.0)
    assert got["ann"]["value"] == "ready"
    # a skill never attempted counts 0, whatever the model's prior says
    assert got["bob"]["mastery"] == 0 and got["bob"]["probability"] == pytest.approx(0.3)
    assert got["bob"]["value"] == "not yet"
    strict = ReadinessSettings(ready_at=0.9, almost_at=0.85)
    assert (
        readiness(attempts(log), mastery, assessed_skills=["s1", "s2"], settings=strict).row(
            0, named=True
        )["value"]
        == "almost"
    )


def test_readiness_names_its_skills_and_keeps_every_learner():
    """A string is one skill (it was split into letters), a skill the course lacks is named,
    and a learner with no assessed skill still gets a row (they were dropped)."""
    log = [("ann", 1, True, 1000), ("ann", 2, True, 1000)]
    mastery = mastery_rows([("ann", "s1", 0.9, 3), ("ann", "s2", 0.7, 2), ("cid", "s2", 0.6, 0)])
    one = readiness(attempts(log), mastery, assessed_skills="s1")
    assert one["n_assessed_skills"].to_list() == [1, 1]
    assert one["learner_id"].to_list() == ["ann", "cid"]
    assert one.row(0, named=True)["mastery"] == pytest.approx(0.9)
    skills = pl.DataFrame({"skill_id": ["s1", "s2"]})
    with pytest.raises(ValueError, match=r"not in the course's skill frame: \['s9'\]"):
        readiness(attempts(log), mastery, skills=skills, assessed_skills=["s1", "s9"])


def test_peer_percentiles_and_ranks():
    metrics = pl.DataFrame({"learner_id": list("abcde"), "score": [10.0, 20.0, 20.0, 40.0, None]})
    frame = peer_comparison(metrics)
    assert frame.get_column("score_percentile").to_list() == [12.5, 50.0, 50.0, 87.5, None]
    assert frame.get_column("score_rank").to_list() == [4, 2, 2, 1, None]
    assert frame.get_column("value").to_list() == frame.get_column("score_percentile").to_list()
    assert "rank 1" in frame.row(3, named=True)["reason"]
    one = peer_comparison(pl.DataFrame({"learner_id": ["a"], "accuracy": [70.0]}))
    assert one.row(0, named=True)["accuracy_percentile"] == 50.0
    with pytest.raises(ValueError, match="at least one"):
        peer_comparison(pl.DataFrame({"learner_id": ["a"]}))


def test_empty_and_single_learner_inputs():
    empty = attempts([])
    assert learner_scores(empty).is_empty()
    assert progress_categories(empty).is_empty()
    one = attempts([("ann", 1, True, 1000)])
    scores = learner_scores(one)
    assert scores.height == 1 and scores.row(0, named=True)["speed"] == 50
    assert progress_categories(one).height == 1
    with pytest.raises(ValueError, match="timezone-aware"):
        learner_scores(one, at=datetime(2024, 9, 3))
