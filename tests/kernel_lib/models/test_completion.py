"""Time to completion: known paces, intervals, complete / no-progress learners, goals."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from learnpulse.models.completion import INTERVAL_Z, RECENT_WEEKS, time_to_completion
from learnpulse.models.knowledge_tracing import MASTERY_THRESHOLD
from learnpulse.models.mastery import course_mastery
from learnpulse.models.velocity import weekly_progress
from tests.kernel_lib.models.test_mastery import (
    ann_masters_a,
    chain_model,
    chain_skills,
    expected_p_known,
    frame,
    problem,
)


def _mastery(rows: dict[str, list[tuple[float, int]]]) -> pl.DataFrame:
    """learner -> [(p_known, n_attempts) for A, B, C]."""
    records = [
        {
            "learner_id": who,
            "skill": skill,
            "p_known": p,
            "mastered": p >= MASTERY_THRESHOLD,
            "n_attempts": n,
            "confidence": n / (n + 5),
        }
        for who, values in rows.items()
        for skill, (p, n) in zip("ABC", values, strict=True)
    ]
    return pl.DataFrame(records)


def _progress(gains: dict[str, list[float]], hours: float = 0.5) -> pl.DataFrame:
    """learner -> weekly gains, most recent week first."""
    rows = [
        {"learner_id": who, "weeks_back": w, "gain": g, "hours": hours, "attempts": 3}
        for who, values in gains.items()
        for w, g in enumerate(values)
    ]
    return pl.DataFrame(rows)


MASTERY = _mastery(
    {
        "done": [(0.97, 5)] * 3,
        "going": [(0.97, 5), (0.5, 3), (0.3, 0)],
        "bumpy": [(0.97, 5), (0.5, 3), (0.3, 0)],
        "stuck": [(0.6, 4), (0.3, 0), (0.3, 0)],
        "new": [(0.3, 0)] * 3,
    }
)
PROGRESS = _progress(
    {
        "done": [0.1, 0.1],
        "going": [0.35] * 4 + [2.0],  # the old week is outside the recent window
        "bumpy": [0.2, 0.4, 0.3, 0.5],
        "stuck": [0.0, 0.0, 0.0, 0.0],
    }
)


def _rows(**kwargs) -> dict[str, dict]:
    result = time_to_completion(None, MASTERY, skills=chain_skills(), progress=PROGRESS, **kwargs)
    return {row["learner_id"]: row for row in result.iter_rows(named=True)}


def test_known_pace():
    going = _rows()["going"]
    need = (MASTERY_THRESHOLD - 0.5) + MASTERY_THRESHOLD  # C never attempted: all of it
    assert going["mastery_needed"] == pytest.approx(need)
    assert going["skills_left"] == 2 and going["status"] == "in progress"
    assert going["rate_per_week"] == pytest.approx(0.35)
    assert going["value"] == going["days_left"] == pytest.approx(7 * need / 0.35)
    assert going["days_low"] == pytest.approx(going["days_left"])  # no spread, no width
    assert going["days_high"] == pytest.approx(going["days_left"])
    assert going["hours_left"] == pytest.approx(need / (0.35 / 0.5))
    assert "2 of 3 skills left" in going["reason"]


def test_interval_from_weekly_spread():
    bumpy = _rows()["bumpy"]
    gains = np.array([0.2, 0.4, 0.3, 0.5])
    se = gains.std(ddof=1) / math.sqrt(RECENT_WEEKS)
    need = bumpy["mastery_needed"]
    days = 7 * need / gains.mean()
    assert bumpy["days_left"] == pytest.approx(days)
    # the mean pace's uncertainty and the week-to-week spread's, in quadrature on a log scale
    cv2 = gains.std(ddof=1) ** 2 / (need * gains.mean())  # of a first-passage time
    wobble = INTERVAL_Z * math.sqrt(math.log1p(cv2))
    faster = math.log(days / (7 * need / (gains.mean() + INTERVAL_Z * se)))
    slower = math.log(7 * need / (gains.mean() - INTERVAL_Z * se) / days)
    assert bumpy["days_low"] == pytest.approx(days * math.exp(-math.hypot(faster, wobble)))
    assert bumpy["days_high"] == pytest.approx(days * math.exp(math.hypot(slower, wobble)))
    assert 0 < bumpy["days_low"] < days * math.exp(-faster)  # wider than the mean's part alone
    assert bumpy["days_high"] > days * math.exp(slower)
    ratio = bumpy["hours_left"] / bumpy["days_left"]
    assert bumpy["hours_high"] == pytest.approx(bumpy["days_high"] * ratio)


def test_complete_and_no_progress_are_rows_not_errors():
    rows = _rows()
    done = rows["done"]
    assert done["status"] == "complete" and done["days_left"] == 0 and done["hours_left"] == 0
    assert "all 3 target skills mastered" in done["reason"]
    for who in ("stuck", "new"):  # zero gains / no activity at all
        row = rows[who]
        assert row["status"] == "no progress" and math.isinf(row["days_left"])
        assert row["hours_left"] is None and "no mastery gained" in row["reason"]
    assert rows["new"]["confidence"] == 0.0  # no history: no confidence either way


def test_goal_skills():
    going = _rows(goal_skills=["B"])["going"]
    assert going["skills_left"] == 1
    assert going["days_left"] == pytest.approx(7 * (MASTERY_THRESHOLD - 0.5) / 0.35)
    assert _rows(goal_skills="A")["going"]["status"] == "complete"
    with pytest.raises(ValueError, match="Z"):
        _rows(goal_skills=["Z"])


def test_from_events_one_week_of_history_has_no_upper_bound():
    events, model = ann_masters_a(), chain_model()
    mastery = course_mastery(events, skills=chain_skills(), model=model)
    rows = time_to_completion(events, mastery, skills=chain_skills(), model=model)
    ann = rows.filter(learner_id="ann").row(0, named=True)
    assert ann["status"] == "in progress" and ann["skills_left"] == 2
    assert math.isfinite(ann["days_left"]) and math.isinf(ann["days_high"])
    assert rows.filter(learner_id="bob")["status"][0] == "no progress"


def test_a_goal_counts_only_the_gains_on_its_skills():
    """Gains on A bring the course nearer, not a goal of B alone: Ann, who only practises A,
    makes no progress toward B; Cai's pace toward B is what B's answers demonstrated."""
    model, skills = chain_model(), chain_skills()
    b_outcomes = [True, False, True]
    b_answers = [problem("cai", 10 + i, "B", c, session_id="s2") for i, c in enumerate(b_outcomes)]
    events = pl.concat([ann_masters_a(), frame(b_answers)])
    mastery = course_mastery(events, skills=skills, model=model)

    def rows(**goal) -> dict[str, dict]:
        result = time_to_completion(events, mastery, skills=skills, model=model, **goal)
        return {row["learner_id"]: row for row in result.iter_rows(named=True)}

    course, goal = rows(), rows(goal_skills=["B"])
    assert course["ann"]["status"] == "in progress"
    assert goal["ann"]["status"] == "no progress" and math.isinf(goal["ann"]["days_left"])
    b_gain = expected_p_known(model, b_outcomes, "B")  # a skill's gains add up to P(known)
    assert goal["cai"]["status"] == "in progress" and b_gain < MASTERY_THRESHOLD
    assert goal["cai"]["rate_per_week"] == pytest.approx(b_gain)
    assert goal["cai"]["days_left"] == pytest.approx(7 * (MASTERY_THRESHOLD - b_gain) / b_gain)
    weekly = weekly_progress(events, model=model, skills=["B"])
    assert weekly.filter(learner_id="ann")["gain"].sum() == 0
    assert weekly.filter(learner_id="ann")["hours"].sum() > 0  # hours are all active hours


def test_empty():
    empty = course_mastery(frame([]), skills=chain_skills())
    rows = time_to_completion(frame([]), empty, skills=chain_skills())
    assert rows.is_empty() and "days_left" in rows.columns
