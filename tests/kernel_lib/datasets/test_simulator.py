"""The course simulator: reproducible, valid, and shaped like real courses (OULAD, BKT)."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.datasets.simulator_params import ERROR_TYPES, OULAD_FINAL_RESULT_RATES
from learnpulse.events import EVENT_KINDS, validate_frame

#: Tolerance on outcome shares over 2,000 learners: the withdrawn share is binomial with a
#: standard deviation of about 0.01, so 0.035 fails only on a real mismatch.
RATE_TOLERANCE = 0.035
SMALL = {"n_learners": 150, "weeks": 4}


@pytest.fixture(scope="module")
def course():
    """The demo course at the size the outcome checks need."""
    return simulate_course(SimulationConfig(n_learners=2000))


@pytest.fixture(scope="module")
def learners(course) -> pl.DataFrame:
    """The learners frame with its JSON attributes as columns."""
    attributes = pl.read_ndjson(io.StringIO("\n".join(course.learners["attributes"])))
    return pl.concat([course.learners.select("learner_id"), attributes], how="horizontal")


@pytest.fixture(scope="module")
def first_attempts(course, learners) -> pl.DataFrame:
    """First attempts at each exercise, numbered per learner and (main) skill in time order."""
    return (
        course.events.filter(pl.col("kind") == "attempt", pl.col("attempt") == 1)
        .with_columns(skill=pl.col("skills").list.first())
        .with_columns(opportunity=pl.int_range(pl.len()).over("learner_id", "skill"))
        .join(learners.select("learner_id", "ability"), on="learner_id")
    )


def _sessions(events: pl.DataFrame) -> pl.DataFrame:
    starts = events.filter(pl.col("kind") == "session_start").select("session_id", start="ts")
    ends = events.filter(pl.col("kind") == "session_end").select("session_id", end="ts")
    return starts.join(ends, on="session_id", how="full", coalesce=True)


# -- reproducibility --------------------------------------------------------------------------


def test_same_config_gives_identical_frames():
    first = simulate_course(SimulationConfig(**SMALL, seed=7))
    again = simulate_course(SimulationConfig(**SMALL, seed=7))
    for name in ("events", "learners", "items", "skills"):
        assert getattr(first, name).equals(getattr(again, name)), name


def test_different_seed_or_course_gives_different_events_and_ids():
    base = simulate_course(SimulationConfig(**SMALL, seed=1)).events
    for other in (SimulationConfig(**SMALL, seed=2), SimulationConfig(**SMALL, course_id="b")):
        events = simulate_course(other).events
        assert not events.drop("id", "course_id").equals(base.drop("id", "course_id"))
        assert set(events["id"]).isdisjoint(base["id"])  # both can go to one store


# -- validity ---------------------------------------------------------------------------------


def test_events_are_valid_sorted_utc_and_have_unique_ids(course):
    events = course.events
    assert validate_frame(events).height == events.height
    assert events.schema["ts"] == pl.Datetime("us", "UTC")
    assert events["ts"].is_sorted()
    assert events["id"].n_unique() == events.height


def test_ids_are_version_7_uuids_of_the_event_time(course):
    """Time-ordered ids, as learnpulse's clients make them: a store's id index grows at its end."""
    events = course.events.sample(200, seed=0)
    for event_id, ts in zip(events["id"], events["ts"], strict=True):
        parsed = uuid.UUID(event_id)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert parsed.int >> 80 == int(ts.timestamp() * 1000)
    assert course.events["id"].str.slice(0, 13).is_sorted()  # the 48 time bits, in time order


def test_every_event_kind_occurs(course):
    assert set(course.events["kind"]) == set(EVENT_KINDS)


def test_skill_graph_is_acyclic_and_every_reference_exists(course):
    prerequisites = dict(course.skills.select("skill_id", "prerequisites").iter_rows())
    assert all(set(p) <= set(prerequisites) for p in prerequisites.values())
    remaining = dict(prerequisites)
    while remaining:  # Kahn: peel off skills whose prerequisites are all gone
        free = [s for s, p in remaining.items() if not set(p) & set(remaining)]
        assert free, f"prerequisite cycle among {sorted(remaining)}"
        for skill in free:
            del remaining[skill]
    item_skills = set(course.items["skills"].explode())
    assert item_skills <= set(prerequisites)
    used = set(course.events["item_id"].drop_nulls())
    assert used <= set(course.items["item_id"])
    assert set(course.events["learner_id"]) == set(course.learners["learner_id"])


def test_sessions_start_before_they_end_and_hold_their_events(course):
    sessions = _sessions(course.events)
    assert sessions.null_count().sum_horizontal().item() == 0  # every start has its end
    assert (sessions["start"] < sessions["end"]).all()
    in_sessions = course.events.filter(pl.col("session_id").is_not_null())
    inside = in_sessions.join(sessions, on="session_id")
    assert inside.height == course.events["session_id"].count()
    outside = inside.filter((pl.col("ts") < pl.col("start")) | (pl.col("ts") > pl.col("end")))
    assert outside.height == 0


def test_a_learners_sessions_do_not_overlap(course):
    owner = course.events.select("session_id", "learner_id").unique()
    sessions = _sessions(course.events).join(owner, on="session_id").sort("learner_id", "start")
    previous_end = pl.col("end").shift().over("learner_id")
    assert sessions.filter(pl.col("start") < previous_end).height == 0


# -- outcomes (OULAD) -------------------------------------------------------------------------


def test_final_results_match_oulad_shares(learners):
    shares = dict(learners["final_result"].value_counts(normalize=True).iter_rows())
    for result, expected in OULAD_FINAL_RESULT_RATES.items():
        assert shares.get(result, 0.0) == pytest.approx(expected, abs=RATE_TOLERANCE), result
    assert (learners["dropped_out"] == (learners["final_result"] == "Withdrawn")).all()


def test_withdrawn_learners_leave_once_and_do_nothing_afterwards(course, learners):
    events = course.events
    left = events.filter(pl.col("kind") == "withdrawal").select("learner_id", left="ts")
    assert left["learner_id"].is_unique().all()
    assert set(left["learner_id"]) == set(learners.filter("dropped_out")["learner_id"])
    later = events.join(left, on="learner_id").filter(pl.col("ts") > pl.col("left"))
    assert later.height == 0
    firsts = events.group_by("learner_id").agg(pl.col("kind").first())
    assert (firsts["kind"] == "registration").all()


def test_dropouts_fade_out_before_withdrawing(course):
    # Dropouts who stayed six weeks or more, so every one can be seen 0..5 weeks before leaving.
    stayed = pl.col("ts") >= SimulationConfig().start + timedelta(weeks=6)
    left = course.events.filter(pl.col("kind") == "withdrawal", stayed)
    starts = course.events.filter(pl.col("kind") == "session_start").join(
        left.select("learner_id", left="ts"), on="learner_id"
    )
    weeks_before = (pl.col("left") - pl.col("ts")).dt.total_days() // 7
    per_week = dict(starts.group_by(weeks_before.alias("weeks")).len().iter_rows())
    usual = sum(per_week[week] for week in (3, 4, 5)) / 3
    assert per_week[0] < 0.8 * usual


def test_quizzes_are_scored_and_some_are_late(course):
    quizzes = course.events.filter(pl.col("kind") == "assessment_submitted").with_columns(
        late=pl.col("payload").str.json_path_match("$.late") == "true",
        due=pl.col("payload").str.json_path_match("$.due").str.to_datetime(time_zone="UTC"),
    )
    assert quizzes["score"].is_between(0, 100).all()
    assert 0.05 < quizzes["late"].mean() < 0.4
    assert (quizzes["late"] == (quizzes["ts"] > quizzes["due"])).all()


def test_cell_errors_name_python_exceptions_syntax_errors_first(course):
    errors = course.events.filter(pl.col("kind") == "cell_error")
    kinds = errors["payload"].str.json_path_match("$.error_type")
    assert set(kinds) <= {e.name for e in ERROR_TYPES}
    assert kinds.mode().to_list() == ["SyntaxError"]


# -- learning (BKT) ---------------------------------------------------------------------------


def test_accuracy_on_a_skill_rises_with_practice(first_attempts):
    early = first_attempts.filter(pl.col("opportunity") <= 1)["correct"].mean()
    late = first_attempts.filter(pl.col("opportunity") >= 5)["correct"].mean()
    assert late > early + 0.04


def test_abler_learners_answer_more_accurately(first_attempts):
    per_learner = first_attempts.group_by("learner_id").agg(
        pl.col("correct").mean(), pl.col("ability").first()
    )
    low, high = per_learner["ability"].quantile(0.25), per_learner["ability"].quantile(0.75)
    weak = per_learner.filter(pl.col("ability") <= low)["correct"].mean()
    strong = per_learner.filter(pl.col("ability") >= high)["correct"].mean()
    assert strong > weak + 0.08


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_learners", 0),
        ("n_learners", -3),
        ("weeks", 0),
        ("start", datetime(2024, 9, 2)),  # naive
        ("withdrawn_rate", 1.5),
    ],
)
def test_bad_config_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SimulationConfig(**{field: value})


def test_start_in_another_timezone_is_converted_to_utc():
    paris = timezone(timedelta(hours=2))
    config = SimulationConfig(**SMALL, start=datetime(2025, 3, 3, 9, 0, tzinfo=paris))
    assert config.start == datetime(2025, 3, 3, 7, 0, tzinfo=timezone.utc)
    events = simulate_course(config).events
    assert events.filter(pl.col("kind") == "session_start")["ts"].min() >= config.start


def test_progress_bar_is_shown_only_when_asked(capsys):
    simulate_course(SimulationConfig(n_learners=20, weeks=2), progress=True)
    assert "simulating" in capsys.readouterr().err
    simulate_course(SimulationConfig(n_learners=20, weeks=2))
    assert capsys.readouterr().err == ""


def test_recorded_oulad_shares_match_the_public_data(shared_data):
    info = pl.read_csv(shared_data / "oulad" / "studentInfo.csv")
    shares = dict(info["final_result"].value_counts(normalize=True).iter_rows())
    assert shares == pytest.approx(OULAD_FINAL_RESULT_RATES, abs=1e-4)
