"""Feedback and alert rules: each fires on its signal and not just across its threshold."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from learnpulse.events import events_to_frame, validate_events
from learnpulse.models.rules import (
    ALERT_RULES,
    FEEDBACK_RULES,
    SIGNAL_DESCRIPTIONS,
    Rule,
    RuleSettings,
    evaluate_rules,
    learner_signals,
)
from learnpulse.models.scoring import graded_attempts, learner_scores

S = RuleSettings()
#: Signals of a learner no built-in rule fires on.
NEUTRAL = {
    "n_attempts": 30,
    "accuracy": 65.0,
    "speed": 50.0,
    "score": 60.0,
    "score_change": 0.0,
    "recent_accuracy": 60.0,
    "earlier_accuracy": 65.0,
    "recent_hints": 0.2,
    "days_inactive": 1.0,
    "last_streak_days": 2,
    "days_since_active_day": 1,
    "mastered_pct": 40.0,
    "mastered_before_pct": 40.0,
    "milestone": None,
    "readiness": "almost",
    "readiness_before": "almost",
    "retention_risk": 0.1,
    "retention_confidence": 0.9,
    "withdrawn": False,
    "confidence": 0.75,
    "score_change_abs": 0.0,
    "recent_hints_per_10": 2.0,
    "retention_risk_pct": 10.0,
}
SCHEMA = {
    **{k: pl.Float64 for k in NEUTRAL},
    "n_attempts": pl.Int64,
    "last_streak_days": pl.Int64,
    "days_since_active_day": pl.Int64,
    "readiness": pl.String,
    "readiness_before": pl.String,
    "withdrawn": pl.Boolean,
}
#: rule -> (signals that fire it, the same just on the other side of the threshold)
CASES = {
    "speed_practice": ({"accuracy": 90.0, "speed": 20.0}, {"accuracy": 90.0, "speed": 35.0}),
    "take_a_break": (
        {"recent_accuracy": 40.0, "earlier_accuracy": 80.0},
        {"recent_accuracy": 60.0, "earlier_accuracy": 80.0},
    ),
    "review_explanation": ({"recent_hints": 1.5}, {"recent_hints": 0.9}),
    "slow_down": ({"speed": 80.0, "accuracy": 40.0}, {"speed": 80.0, "accuracy": 50.0}),
    "level_up": (
        {"accuracy": 90.0, "speed": 80.0, "recent_accuracy": 100.0},
        {"accuracy": 90.0, "speed": 65.0, "recent_accuracy": 100.0},
    ),
    "performance_drop": ({"score_change": -8.0}, {"score_change": -4.0}),
    "streak_broken": (
        {"last_streak_days": 4, "days_since_active_day": 2},
        {"last_streak_days": 4, "days_since_active_day": 1},
    ),
    "milestone_reached": ({"milestone": 50.0}, {"milestone": None}),
    "readiness_reached": (
        {"readiness": "ready", "readiness_before": "almost"},
        {"readiness": "ready", "readiness_before": "ready"},
    ),
    "struggling_learner": (
        {"accuracy": 40.0, "n_attempts": 25},
        {"accuracy": 40.0, "n_attempts": 19},
    ),
    "inactivity": ({"days_inactive": 7.5}, {"days_inactive": 6.5}),
    "dropout_risk": ({"retention_risk": 0.7}, {"retention_risk": 0.4}),
}


def signals(**learners: dict) -> pl.DataFrame:
    rows = [{"learner_id": name, **NEUTRAL, **changes} for name, changes in learners.items()]
    return pl.DataFrame(rows, schema={"learner_id": pl.String, **SCHEMA})


def test_neutral_learner_fires_nothing_and_cases_cover_every_rule():
    assert evaluate_rules(signals(n=NEUTRAL), FEEDBACK_RULES + ALERT_RULES).is_empty()
    assert set(CASES) == {r.name for r in FEEDBACK_RULES + ALERT_RULES}
    assert set(SIGNAL_DESCRIPTIONS) <= set(NEUTRAL)


@pytest.mark.parametrize("name", list(CASES))
def test_rule_fires_and_does_not_fire(name):
    fires, stays = CASES[name]
    rule = next(r for r in FEEDBACK_RULES + ALERT_RULES if r.name == name)
    frame = evaluate_rules(signals(yes=fires, no=stays), FEEDBACK_RULES + ALERT_RULES)
    fired = frame.filter(pl.col("rule") == name)
    assert fired.get_column("learner_id").to_list() == ["yes"]
    row = fired.row(0, named=True)
    assert row["urgency"] == rule.urgency and row["message"] and row["reason"]
    assert 0 <= row["confidence"] <= 1 and row["model"].startswith("rules")
    assert "{" not in row["message"] + row["reason"]  # every template field was filled


def test_rows_sorted_by_urgency_and_withdrawn_learners_skipped():
    frame = evaluate_rules(
        signals(
            a={"days_inactive": 9.0, "milestone": 25.0},
            b={"score_change": -9.0},
            gone={"days_inactive": 30.0, "withdrawn": True},
        ),
        ALERT_RULES,
    )
    assert frame.select("learner_id", "rule", "urgency").rows() == [
        ("b", "performance_drop", "high"),
        ("a", "inactivity", "medium"),
        ("a", "milestone_reached", "low"),
    ]
    assert "Inactive for 9 days" in frame.row(1, named=True)["message"]


def test_custom_rule_and_settings():
    careless = Rule(
        "careless",
        lambda s: (pl.col("speed") > 80) & (pl.col("accuracy") < 60),
        "Read each question twice.",
        "speed {speed}, accuracy {accuracy}%",
        urgency="medium",
    )
    frame = evaluate_rules(signals(x={"speed": 90.0, "accuracy": 55.0}), [careless])
    assert frame.row(0, named=True)["reason"] == "speed 90, accuracy 55%"
    lenient = RuleSettings(inactivity_days=10.0)
    quiet = signals(x={"days_inactive": 8.0})
    assert evaluate_rules(quiet, ALERT_RULES).height == 1
    assert evaluate_rules(quiet, ALERT_RULES, lenient).is_empty()
    with pytest.raises(ValueError, match="urgency"):
        Rule("x", lambda s: pl.lit(True), "m", "r", urgency="urgent")
    bad = Rule("x", lambda s: pl.lit(True), "{no_such_signal}", "r")
    with pytest.raises(ValueError, match="no_such_signal"):
        evaluate_rules(signals(x={}), [bad])


MONDAY = datetime(2024, 9, 2, tzinfo=timezone.utc)


def test_signals_from_events_known_answers():
    # 3 active days in a row (Mon-Wed), cut-off Friday noon: the streak broke on Thursday.
    correct = [True] * 8 + [False] * 5  # 8 right, then the last 5 wrong, each a new exercise
    raw = [
        {
            "id": str(uuid.uuid4()),
            "ts": MONDAY + timedelta(days=i // 5, hours=10 + i % 5),
            "learner_id": "ann",
            "course_id": "c",
            "kind": "attempt",
            "item_id": f"i{i}",
            "skills": ["s1"],
            "correct": c,
            "duration_ms": 1000,
            "hints_used": 2 if i >= 10 else 0,
        }
        for i, c in enumerate(correct)
    ]
    # bob registered 12 days before the cut-off and never did anything
    joined = {"id": str(uuid.uuid4()), "learner_id": "bob", "course_id": "c"}
    raw.append({**joined, "kind": "registration", "ts": MONDAY - timedelta(days=7, hours=12)})
    events = events_to_frame(validate_events(raw))
    at = MONDAY + timedelta(days=4, hours=12)
    attempts = graded_attempts(events, at)
    mastery = pl.DataFrame(
        {"learner_id": ["ann", "bob"], "skill": "s1", "p_known": [0.5, 0.3], "n_attempts": [13, 0]}
    )
    scores = learner_scores(events, mastery, at=at, attempts=attempts)
    frame = learner_signals(events, attempts, at=at, scores=scores, mastery=mastery, n_skills=1)
    ann, bob = frame.sort("learner_id").rows(named=True)
    shuffled = events.sample(fraction=1.0, shuffle=True, seed=3)  # order must not matter
    again = learner_signals(
        shuffled, graded_attempts(shuffled, at), at=at, scores=scores, mastery=mastery, n_skills=1
    )
    assert_frame_equal(again.sort("learner_id"), frame.sort("learner_id"))
    assert bob["days_inactive"] == pytest.approx(12) and bob["n_attempts"] == 0
    assert evaluate_rules(frame, ALERT_RULES).filter(pl.col("learner_id") == "bob").get_column(
        "rule"
    ).to_list() == ["inactivity"]
    assert ann["recent_accuracy"] == 0 and ann["earlier_accuracy"] == 100
    assert ann["recent_hints"] == pytest.approx(6 / 10)
    assert ann["last_streak_days"] == 3 and ann["days_since_active_day"] == 2
    last_attempt = raw[len(correct) - 1]["ts"]
    assert ann["days_inactive"] == pytest.approx((at - last_attempt).total_seconds() / 86400)
    fired = set(
        evaluate_rules(
            frame.filter(pl.col("learner_id") == "ann"), FEEDBACK_RULES + ALERT_RULES
        ).get_column("rule")
    )
    assert {"take_a_break", "streak_broken"} <= fired
    assert "inactivity" not in fired and "milestone_reached" not in fired


def test_milestone_from_mastery_now_and_a_week_earlier():
    raw = [
        {
            "id": str(uuid.uuid4()),
            "ts": MONDAY + timedelta(hours=h),
            "learner_id": who,
            "course_id": "c",
            "kind": "attempt",
            "item_id": "i1",
            "skills": ["s1"],
            "correct": True,
        }
        for who, h in (("ann", 1), ("bob", 1), ("bob", 200))
    ]
    events = events_to_frame(validate_events(raw))
    at = MONDAY + timedelta(days=10)
    rows = {"learner_id": ["ann", "ann", "bob"], "skill": ["s1", "s2", "s1"]}
    now = pl.DataFrame({**rows, "p_known": [0.96, 0.2, 0.97], "n_attempts": [1, 1, 2]})
    # a week earlier: ann already had s1; bob had no attempt yet (no rows)
    earlier = pl.DataFrame({"learner_id": ["ann"], "skill": ["s1"], "p_known": [0.96]})
    attempts = graded_attempts(events, at)
    scores = learner_scores(events, now, at=at, attempts=attempts)
    frame = learner_signals(
        events, attempts, at=at, scores=scores, mastery=now, mastery_before=earlier, n_skills=2
    )
    got = dict(frame.select("learner_id", "milestone").rows())
    assert got == {"ann": None, "bob": 50.0}  # bob crossed 25% and 50%: the larger one counts
    alerts = evaluate_rules(frame, ALERT_RULES).filter(pl.col("rule") == "milestone_reached")
    assert alerts.get_column("message").to_list() == [
        "Milestone reached: 50% of the course's skills mastered."
    ]


def test_practice_on_solved_exercises_fires_no_rule():
    """Trying things out on exercises already solved is practice: ann, who solved 20, then
    answered 5 of them wrong, was told to take a break (recent accuracy 0% against 100%); bob,
    who solved 10 and then answered them wrong 20 times, was "Struggling" (33% over 30
    attempts). The rules read the attempts that count, as mastery does."""
    raw = []
    for who, solved, wrong_after in (("ann", 20, 5), ("bob", 10, 20)):
        for n in range(solved + wrong_after):
            raw.append(
                {
                    "id": str(uuid.uuid4()),
                    "ts": MONDAY + timedelta(minutes=10 * n),
                    "learner_id": who,
                    "course_id": "c",
                    "kind": "attempt",
                    "item_id": f"i{n % solved}",  # from n = solved on: a solved exercise again
                    "skills": ["s1"],
                    "correct": n < solved,
                    "duration_ms": 1000,
                }
            )
    events = events_to_frame(validate_events(raw))
    at = MONDAY + timedelta(days=1)
    attempts = graded_attempts(events, at)
    scores = learner_scores(events, at=at, attempts=attempts)
    signals = learner_signals(events, attempts, at=at, scores=scores)
    got = {row["learner_id"]: row for row in signals.iter_rows(named=True)}
    assert (got["ann"]["accuracy"], got["ann"]["recent_accuracy"]) == (100, 100)
    assert (got["bob"]["accuracy"], got["bob"]["n_attempts"]) == (100, 10)
    fired = evaluate_rules(signals, FEEDBACK_RULES + ALERT_RULES).get_column("rule").to_list()
    assert "take_a_break" not in fired and "struggling_learner" not in fired
