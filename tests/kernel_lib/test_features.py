"""Feature layer: known answers on a hand-made frame, the cut-off, degenerate inputs, OULAD."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.events import (
    HINT_LADDER_KEY,
    EventValidationError,
    empty_event_frame,
    validate_frame,
)
from learnpulse.features import (
    COUNTED_CORRECT,
    FEATURE_COLUMNS,
    FEATURE_DESCRIPTIONS,
    KEYS,
    learner_features,
    with_evidence,
)

T0 = datetime(2024, 9, 2, 9, tzinfo=timezone.utc)


def _event(n: int, day: float, kind: str, learner: str = "a", **fields) -> dict:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "ts": T0 + timedelta(days=day),
        "learner_id": learner,
        "course_id": "c",
        "kind": kind,
        **fields,
    }


def _frame(rows: list[dict]) -> pl.DataFrame:
    return validate_frame(pl.DataFrame(rows, infer_schema_length=None))


@pytest.fixture
def events() -> pl.DataFrame:
    """Learner a: registered day 0, three attempts at three items (2 right, 3 hints) in two
    sessions on two days, two scored submissions (60 then 80; the second 1 day late); one more
    attempt on day 10. Learner b: only a registration on day 1."""
    late = json.dumps({"late": True})
    rows = [
        _event(1, 0, "registration"),
        _event(2, 1, "attempt", item_id="q1", correct=True, hints_used=1, session_id="s1"),
        _event(3, 1.1, "attempt", item_id="q2", correct=False, hints_used=0, session_id="s1"),
        _event(4, 2, "attempt", item_id="q3", correct=True, hints_used=2, session_id="s2"),
        _event(5, 3, "assessment_submitted", item_id="t1", score=60.0),
        _event(6, 4, "assessment_submitted", item_id="t2", score=80.0, payload=late),
        _event(7, 10, "attempt", item_id="q", correct=False, hints_used=5, session_id="s3"),
        _event(8, 1, "registration", learner="b"),
    ]
    return _frame(rows)


def _row(frame: pl.DataFrame, learner: str = "a") -> dict:
    return frame.filter(pl.col("learner_id") == learner).row(0, named=True)


def test_known_answers(events):
    at = T0 + timedelta(days=5)
    row = _row(learner_features(events, at=at))
    expected = {
        "n_attempt": 3,
        "n_assessment_submitted": 2,
        "n_events": 5,
        "active_days": 4,  # days 1, 2, 3, 4 (two attempts share day 1)
        "n_sessions": 2,
        "n_late": 1,
        "n_scored": 2,
        "withdrawn": 0,
    }
    assert {k: row[k] for k in expected} == expected
    assert row["accuracy"] == pytest.approx(2 / 3)
    assert row["hints_per_attempt"] == pytest.approx(1.0)
    assert row["mean_score"] == pytest.approx(70.0)
    assert row["last_score"] == pytest.approx(80.0)
    assert row["score_trend"] == pytest.approx(20.0)
    assert row["days_since_last_activity"] == pytest.approx(1.0)
    assert row["days_since_last_submission"] == pytest.approx(1.0)
    assert row["days_registered"] == pytest.approx(5.0)
    assert row["n_due"] is None  # no due dates given
    assert list(learner_features(events, at=at).columns) == [*KEYS, *FEATURE_COLUMNS]
    assert set(FEATURE_COLUMNS) == set(FEATURE_DESCRIPTIONS)


def test_accuracy_counts_the_evidence_not_the_practice():
    """One item answered wrong, right, then right 18 times more: 19 of 20 right counted as
    95% accuracy before; the repeats of the solved item are practice (activity still counts
    them), and a right answer after the whole hint ladder counts as wrong."""
    ladder = json.dumps({HINT_LADDER_KEY: 2})
    rows = [
        _event(1, 0, "attempt", item_id="q", correct=False),
        *(_event(2 + n, 0.01 * (n + 1), "attempt", item_id="q", correct=True) for n in range(19)),
        _event(30, 1, "attempt", item_id="r", correct=True, hints_used=2, payload=ladder),
        _event(31, 1.1, "hint", item_id="r", hints_used=2),
    ]
    events = _frame(rows)
    row = _row(learner_features(events))
    assert row["accuracy"] == pytest.approx(1 / 3)
    assert (row["n_attempt"], row["n_events"]) == (21, 22)
    marked = with_evidence(events.sample(fraction=1.0, shuffle=True, seed=2)).sort("ts")
    assert marked[COUNTED_CORRECT].to_list() == [False, True, *[None] * 18, False, None]
    assert with_evidence(marked) is marked  # already marked: not marked again
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['kind'\]"):
        with_evidence(events.drop("kind"))


def test_hints_per_attempt_counts_the_evidence_not_the_practice():
    """Two hints, then item q solved at the second attempt (the widget records the hints
    opened so far); practising it 8 times more carries those 2 hints each time: 19 hints in
    10 attempts read as 1.9 hints per attempt, where the evidence is 3 hints in 2 attempts."""
    rows = [
        _event(1, 0, "attempt", item_id="q", correct=False, hints_used=1),
        _event(2, 0.1, "attempt", item_id="q", correct=True, hints_used=2),
        *(
            _event(3 + n, 0.2 + 0.01 * n, "attempt", item_id="q", correct=True, hints_used=2)
            for n in range(8)
        ),
        _event(21, 1, "attempt", learner="p", item_id="q", correct=True, hints_used=2),
        *(_event(22 + n, 2 + n, "attempt", learner="p", item_id="q", correct=True) for n in (0, 1)),
    ]
    features = learner_features(_frame(rows))
    assert _row(features)["hints_per_attempt"] == pytest.approx(1.5)
    assert _row(features)["n_attempt"] == 10  # activity still counts every attempt
    assert _row(features, "p")["hints_per_attempt"] == pytest.approx(2.0)


def test_cut_excludes_later_events(events):
    """Features at day 5 ignore the day-10 attempt: leaking it would change accuracy,
    hints, counts and recency."""
    at = T0 + timedelta(days=5)
    cut = learner_features(events, at=at)
    earlier_only = learner_features(events.filter(pl.col("ts") < at), at=at)
    assert cut.equals(earlier_only)
    everything = _row(learner_features(events))
    assert everything["n_attempt"] == 4 and _row(cut)["n_attempt"] == 3
    assert everything["accuracy"] == pytest.approx(0.5)
    # An event exactly at the cut-off is excluded too (strictly before).
    assert _row(learner_features(events, at=T0 + timedelta(days=4)))["n_late"] == 0


def test_due_dates_and_cutoff_frame(events):
    due = pl.DataFrame(
        {
            "course_id": ["c", "c", "c"],
            "item_id": ["t1", "t2", "t3"],
            "due": [T0 + timedelta(days=d) for d in (3.5, 3.0, 4.5)],
        }
    )
    # One cut-off per learner: a at day 5, b at day 2.
    at = pl.DataFrame({"learner_id": ["a", "b"], "at": [T0 + timedelta(days=d) for d in (5, 2)]})
    frame = learner_features(events, at=at, due=due)
    a, b = _row(frame), _row(frame, "b")
    assert a["mean_lateness_days"] == pytest.approx((-0.5 + 1.0) / 2)
    assert (a["n_due"], a["n_missed"], a["missed_latest_due"]) == (3, 1, 1)
    assert a["missed_rate"] == pytest.approx(1 / 3)
    assert (b["n_due"], b["n_missed"], b["days_registered"]) == (0, 0, pytest.approx(1.0))


def test_degenerate_inputs(events):
    empty = learner_features(empty_event_frame())
    assert empty.height == 0 and list(empty.columns) == [*KEYS, *FEATURE_COLUMNS]
    one = learner_features(events.filter(pl.col("learner_id") == "b"))
    assert one.height == 1 and one.row(0, named=True)["n_events"] == 0
    nobody = pl.DataFrame({"course_id": ["c"], "learner_id": ["z"]})
    row = learner_features(events, learners=nobody).row(0, named=True)
    assert row["n_events"] == 0 and row["accuracy"] is None and row["mean_score"] is None
    # The cut-off before every event: learners asked for still get a row.
    early = learner_features(events, at=T0 - timedelta(days=1), learners=events.select(KEYS))
    assert early.height == 2 and early.get_column("n_events").sum() == 0


def test_an_event_column_of_the_wrong_type_is_named(events):
    with pytest.raises(EventValidationError, match="'score': must be Float64, not String"):
        learner_features(events.with_columns(pl.col("score").cast(pl.String)))


def test_attempt_scores_stay_out_of_the_score_columns(events):
    """An attempt's score is its correctness (0/1): averaged with 0-100 assessment scores it
    would drag mean_score to nonsense, so only the submissions (60, 80) count."""
    at = T0 + timedelta(days=5)
    graded = events.with_columns(
        score=pl.when(pl.col("kind") == "attempt")
        .then(pl.col("correct").cast(pl.Float64))
        .otherwise(pl.col("score"))
    )
    row = _row(learner_features(graded, at=at))
    assert row["n_scored"] == 2
    assert row["mean_score"] == pytest.approx(70.0)
    assert row["last_score"] == pytest.approx(80.0)
    assert row["score_trend"] == pytest.approx(20.0)
    assert row["accuracy"] == pytest.approx(2 / 3)  # correctness still counts here


@pytest.mark.parametrize(
    "at",
    [
        datetime(2024, 10, 1),
        "2024-10-01",
        pl.DataFrame({"course_id": ["c"], "at": [datetime(2024, 10, 1)]}),
    ],
)
def test_a_cut_off_without_a_timezone_is_refused(at):
    """Event times are UTC: a naive cut-off was silently read as UTC (or a polars error)."""
    with pytest.raises(ValueError, match="timezone-aware"):
        learner_features(empty_event_frame(), at=at)


def test_a_nan_score_is_no_score():
    events = simulate_course(SimulationConfig(n_learners=20, weeks=3, seed=5)).events
    scored = pl.col("score").is_not_null() & (pl.col("kind") == "assessment_submitted")
    first = events.filter(scored).row(0, named=True)["id"]
    with_nan = events.with_columns(
        score=pl.when(pl.col("id") == first).then(float("nan")).otherwise(pl.col("score"))
    )
    without = events.filter(pl.col("id") != first)
    columns = ["n_scored", "mean_score", "last_score", "score_trend"]
    got = learner_features(with_nan).select(columns)
    assert not any(got.select(pl.col(columns[1:]).is_nan().any()).row(0))
    assert got.equals(learner_features(without).select(columns))


@pytest.mark.parametrize("odd", ['{"late": {"by": 2}}', '{"late": [1]}', '{"is_banked": {}}'])
def test_payload_flags_read_alike_whatever_the_other_payloads_hold(odd):
    """The late and banked flags are JSON booleans (or the text "true"/"false"); a number,
    an object or an array is no flag. One such payload among the others changes nothing for
    them (it makes the parse of every payload at once fail: each flag is then matched on its
    own)."""
    payloads = [
        {"late": True, "is_banked": True},
        {"late": "true"},
        {"late": 1, "is_banked": "false"},
        {"late": False},
        {},
    ]
    rows = [
        _event(n, n / 10, "assessment_submitted", item_id=f"t{n}", payload=json.dumps(p))
        for n, p in enumerate(payloads, 1)
    ]
    plain = _row(learner_features(_frame(rows)))
    assert (plain["n_late"], plain["n_banked"]) == (2, 1)
    odd_row = _event(9, 0.9, "assessment_submitted", item_id="t9", payload=odd)
    with_odd = _row(learner_features(_frame([*rows, odd_row])))
    assert (with_odd["n_late"], with_odd["n_banked"]) == (2, 1)
    assert with_odd["n_assessment_submitted"] == 6
