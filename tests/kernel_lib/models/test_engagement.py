"""Engagement patterns with known answers on a hand-made log, and on a simulated course."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import polars as pl
from polars.testing import assert_frame_equal

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.events import events_to_frame, validate_events
from learnpulse.models.activity import learner_days, session_spans
from learnpulse.models.engagement import engagement_patterns

MONDAY = datetime(2024, 9, 2, tzinfo=timezone.utc)


def _log(rows):
    """rows: (learner, day offset, hour, session) -> one 'hint' event each."""
    return events_to_frame(
        validate_events(
            [
                {
                    "id": str(uuid.uuid4()),
                    "ts": MONDAY + timedelta(days=d, hours=h),
                    "learner_id": who,
                    "course_id": "c",
                    "kind": "hint",
                    "item_id": "ex",
                    "session_id": s,
                }
                for who, d, h, s in rows
            ]
        )
    )


def test_known_answers():
    rows = [("ann", d, 19, f"s{d}") for d in (0, 1, 2, 5, 6, 7)]  # runs of 3 and 3
    rows += [("ann", 7, 19.5, "s7")]  # 30 min session
    rows += [("bob", d, 8, f"b{d}") for d in (0, 7, 7, 14, 14, 14, 21, 21, 21, 21)]
    frame = engagement_patterns(_log(rows), at=MONDAY + timedelta(days=22))
    ann, bob = frame.row(0, named=True), frame.row(1, named=True)
    assert (ann["learner_id"], bob["learner_id"]) == ("ann", "bob")
    assert ann["sessions"] == 6 and ann["mean_session_minutes"] == 5.0
    assert ann["peak_hour"] == 19 and bob["peak_hour"] == 8
    assert bob["preferred_day"] == "Monday"
    assert ann["longest_streak_days"] == 3 and ann["current_streak_days"] == 0
    assert bob["longest_streak_days"] == 1 and bob["current_streak_days"] == 1
    assert bob["value"] == "improving"  # 1, 2, 3, 4 events in successive weeks
    assert ann["value"] == "declining"  # active early, silent for two weeks
    assert frame["model"][0].startswith("engagement-patterns")
    assert "sessions" in ann["reason"] and "streak" in ann["reason"]


def test_cut_off_excludes_later_events():
    rows = [("ann", d, 10, "s") for d in range(10)]
    early = engagement_patterns(_log(rows), at=MONDAY + timedelta(days=3))
    assert early["active_days"][0] == 3
    assert early["current_streak_days"][0] == 3


def test_empty_and_only_registrations():
    assert engagement_patterns(_log([]).head(0)).is_empty()
    frame = _log([("ann", 0, 9, "s")]).with_columns(pl.lit("registration").alias("kind"))
    assert engagement_patterns(frame).is_empty()


def test_simulated_dropouts_decline():
    data = simulate_course(SimulationConfig(n_learners=200, weeks=8, seed=5))
    frame = engagement_patterns(data.events, at=data.events["ts"].max())
    dropped = data.learners.filter(
        pl.col("attributes").str.json_path_match("$.final_result") == "Withdrawn"
    )["learner_id"]
    trend = frame.with_columns(pl.col("learner_id").is_in(dropped.implode()).alias("dropped"))
    share = trend.group_by("dropped").agg((pl.col("value") == "declining").mean()).sort("dropped")
    stayed, left = share["value"].to_list()
    assert left > stayed  # withdrawn learners' activity fades more often
    assert frame["confidence"].is_between(0, 1).all()


def test_shared_session_and_day_frames_give_the_same_rows():
    """predict_all hands engagement the per-session and per-day frames it shares with other
    models: the rows must be those engagement computes on its own."""
    data = simulate_course(SimulationConfig(n_learners=60, weeks=4, seed=5))
    at = data.events["ts"].min() + timedelta(days=20)
    early = data.events.filter(pl.col("ts") < at)
    alone = engagement_patterns(data.events, at=at)
    shared = engagement_patterns(
        data.events, at=at, sessions=session_spans(early), days=learner_days(early)
    )
    assert alone.height > 0
    assert_frame_equal(alone, shared, check_exact=False)


def test_session_spans_known_answers_and_shared_session_ids():
    """Spans per (learner, session); an id two learners share stays two sessions."""
    rows = [("ann", 0, 9, "s1"), ("ann", 0, 10, "s1"), ("bob", 0, 11, "s2"), ("bob", 1, 9, None)]
    spans = session_spans(_log(rows)).sort("session_id")
    assert spans["learner_id"].to_list() == ["ann", "bob"]
    assert (spans["end"] - spans["start"]).dt.total_hours().to_list() == [1, 0]
    shared = _log([*rows, ("bob", 2, 9, "s1")])
    spans = session_spans(shared).sort("learner_id", "session_id")
    assert spans.select("learner_id", "session_id").rows() == [
        ("ann", "s1"),
        ("bob", "s1"),
        ("bob", "s2"),
    ]
    assert learner_days(shared).height == 4  # ann day 0; bob days 0, 1, 2
