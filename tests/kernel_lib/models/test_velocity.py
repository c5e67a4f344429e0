"""Learning velocity: known gains and active time, trends, degenerate inputs, simulator."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.models.velocity import (
    MAX_SESSION_HOURS,
    learning_velocity,
    session_hours,
    weekly_progress,
)
from tests.kernel_lib.models.test_mastery import (
    START,
    attempt,
    chain_model,
    event,
    expected_p_known,
    frame,
    problem,
)

DAY = 24 * 60  # minutes


def test_known_gain_and_active_time():
    model = chain_model()
    raw = [
        event("session_start", "bob", 0, session_id="s1"),
        problem("bob", 5, "A", True, session_id="s1", duration_ms=60_000),
        problem("bob", 10, "A", False, session_id="s1", duration_ms=60_000),
        problem("bob", 15, "A", True, session_id="s1", duration_ms=60_000),
        event("session_end", "bob", 30, session_id="s1", duration_ms=1_800_000),
    ]
    row = learning_velocity(frame(raw), model=model).row(0, named=True)
    # Demonstrated mastery: a skill's gains add up to its final P(known).
    gained = expected_p_known(model, [True, False, True])
    assert row["mastery_gained"] == pytest.approx(gained)
    assert row["active_hours"] == pytest.approx(0.5)
    assert row["value"] == row["per_active_hour"] == pytest.approx(gained / 0.5)
    assert row["weeks"] == 1 and row["per_week"] == pytest.approx(gained)
    assert row["attempts"] == 3 and row["trend"] == "steady"
    assert "less than" in row["reason"] and row["model"].startswith("learning-velocity")


def test_session_time_takes_the_longest_measure_and_is_capped():
    raw = [
        attempt("a", 0, "A", True, session_id="s", duration_ms=20 * 60_000),  # 20 min of work
        attempt("a", 5, "A", True, session_id="s", duration_ms=20 * 60_000),  # span: 5 min
        attempt("b", 0, "A", True, session_id="t"),
        attempt("b", 11 * 60, "A", True, session_id="t"),  # an 11-hour "session"
        attempt("c", 0, "A", True, duration_ms=90_000),  # no session: its own duration
    ]
    hours = dict(session_hours(frame(raw)).select("learner_id", "hours").iter_rows())
    assert hours == pytest.approx({"a": 40 / 60, "b": MAX_SESSION_HOURS, "c": 90 / 3600})


def test_trends():
    model = chain_model()
    raw = [problem("early", i, "A", True) for i in range(3)]
    raw += [event("resource_view", "early", 34 * DAY, item_id="video-A")]
    raw += [event("resource_view", "late", 0, item_id="video-A")]
    raw += [problem("late", 33 * DAY + i, "A", True) for i in range(3)]
    # One first correct attempt on a fresh skill every week: identical gains, steady.
    raw += [attempt("even", 7 * DAY * w, s, True) for w, s in enumerate("ABCDE")]
    raw += [attempt("even", 34 * DAY, "F", True)]
    at = START + timedelta(days=35)
    rows = learning_velocity(frame(raw), model=model, at=at)
    trend = dict(rows.select("learner_id", "trend").iter_rows())
    assert trend == {"early": "slowing", "even": "steady", "late": "accelerating"}
    weekly = weekly_progress(frame(raw), model=model, at=at).filter(learner_id="even")
    assert weekly.height == 6 and weekly["gain"].n_unique() == 1 and weekly["gain"][0] > 0


def test_degenerate_inputs():
    empty = learning_velocity(frame([]))
    assert empty.is_empty() and "trend" in empty.columns
    one = learning_velocity(frame([attempt("a", 0, "A", True)])).row(0, named=True)
    assert one["value"] is None  # 1.5 s of activity: too little for a per-hour rate
    assert one["per_week"] > 0 and one["attempts"] == 1
    idle = learning_velocity(frame([event("registration", "a", 0)]), model=chain_model())
    assert idle["mastery_gained"][0] == 0 and idle["value"][0] is None


def test_progress_can_be_reused():
    raw = [attempt("a", i, "A", i % 2 == 0, session_id="s") for i in range(4)]
    events, model = frame(raw), chain_model()
    progress = weekly_progress(events, model=model)
    again = learning_velocity(events, progress=progress)
    assert again.equals(learning_velocity(events, model=model))


def test_higher_ability_learns_faster():
    course = simulate_course(SimulationConfig(n_learners=600, weeks=8, seed=11))
    velocity = learning_velocity(course.events)
    ability = course.learners.select(
        "learner_id", ability=pl.col("attributes").str.json_path_match("$.ability").cast(float)
    )
    # Per active hour: per week also measures how much a learner studies, not how fast.
    joined = velocity.join(ability, on="learner_id").drop_nulls("value")
    rho = joined.select(pl.corr("value", "ability", method="spearman")).item()
    assert rho > 0.15, f"rank correlation of ability and velocity only {rho:.2f}"
    assert set(velocity["trend"]) <= {"accelerating", "steady", "slowing"}
    assert velocity["confidence"].is_between(0, 1).all()


def test_weekly_progress_on_one_named_skill():
    """A skill named by a string is that skill, not its letters."""
    from learnpulse.models.mastery import fit_mastery_model

    events = simulate_course(SimulationConfig(n_learners=30, seed=4)).events
    model = fit_mastery_model(events)
    one = weekly_progress(events, model=model, skills="loops")
    assert one.equals(weekly_progress(events, model=model, skills=["loops"]))
    assert one["gain"].sum() > 0 and one["attempts"].sum() > 0
