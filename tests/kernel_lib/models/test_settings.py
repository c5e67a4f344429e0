"""Course settings: one object tunes every output; a bad setting is named on the way in."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.models import CourseSettings, ReadinessSettings, RuleSettings, ScoreWeights
from learnpulse.models.course import predict_all
from learnpulse.models.course_fit import fit_course_models
from learnpulse.models.knowledge_tracing import mastery_label
from learnpulse.models.knowledge_tracing.sequences import mastery_labels
from learnpulse.models.settings import course_settings

#: A threshold below the Proficient bound (0.80): that label has no room left.
LOW = 0.7


@pytest.fixture(scope="module")
def course():
    return simulate_course(SimulationConfig(n_learners=120, seed=21))


@pytest.fixture(scope="module")
def fitted():
    return fit_course_models(simulate_course(SimulationConfig(n_learners=300, seed=22)))


def run(course, fitted, settings=None):
    tables = {"skills": course.skills, "items": course.items, "fitted": fitted}
    return predict_all(course.events, **tables, settings=settings)


@pytest.fixture(scope="module")
def default(course, fitted):
    return run(course, fitted)


@pytest.fixture(scope="module")
def lowered(course, fitted):
    # risks are low at the end of a simulated course: 0.01 is above some, below others
    return run(course, fitted, {"mastery_threshold": LOW, "rules": {"dropout_risk": 0.01}})


def test_labels_follow_the_threshold():
    p = np.array([0.96, 0.9, 0.75, 0.6, 0.3])
    assert list(mastery_label(p)) == [
        "Mastered",
        "Proficient",
        "Developing",
        "Developing",
        "Needs Focus",
    ]
    assert list(mastery_label(p, 0.85)) == [
        "Mastered",
        "Mastered",
        "Developing",
        "Developing",
        "Needs Focus",
    ]
    assert list(mastery_label(p, LOW)) == [
        "Mastered",
        "Mastered",
        "Mastered",
        "Developing",
        "Needs Focus",
    ]
    assert [label for _, label in mastery_labels(LOW)] == ["Mastered", "Developing"]


def test_defaults_change_nothing(course, fitted, default):
    same = run(course, fitted, CourseSettings())
    for key, frame in default.items():
        assert frame.equals(same[key]), key


def test_the_mastery_threshold_reaches_every_output(default, lowered):
    mastery = lowered["mastery"]
    mastered = mastery.get_column("p_known") >= LOW
    assert mastery.get_column("mastered").equals(mastered, check_names=False)
    assert set(mastery.filter(mastered).get_column("label")) == {"Mastered"}
    assert "Proficient" not in set(mastery.get_column("label"))
    newly = mastery.filter(mastered & (pl.col("p_known") < 0.95))
    assert newly.height > 0, "the simulated class has skills between the two thresholds"
    # fewer skills left, less mastery needed, and more progress credit
    for frame, column in (("time_to_completion", "mastery_needed"), ("score", "progress")):
        before, after = default[frame].get_column(column), lowered[frame].get_column(column)
        if column == "progress":
            assert (after >= before - 1e-9).all() and (after > before).any(), frame
        else:
            assert (after <= before + 1e-9).all() and (after < before).any(), frame
    assert lowered["knowledge_gaps"].height < default["knowledge_gaps"].height
    # a skill mastered under the lower threshold is never a gap, nor recommended to learn
    mastered_pairs = newly.select("learner_id", "skill")
    assert mastered_pairs.join(lowered["knowledge_gaps"], on=["learner_id", "skill"]).is_empty()
    assert not lowered["recommendations"].equals(default["recommendations"])
    assert "< 0.7," in lowered["knowledge_gaps"].item(0, "reason")


def test_rule_settings_reach_the_alerts(default, lowered):
    risk = lowered["retention_risk"].filter(~pl.col("reason").str.starts_with("withdrew"))

    def dropout(out):
        return out["alerts"].filter(pl.col("rule") == "dropout_risk")

    expected = risk.filter(pl.col("value") >= 0.01).height
    assert dropout(lowered).height == expected > dropout(default).height
    assert 0 < expected < risk.height
    # the retention rows say who is at risk by the same threshold; never one who withdrew
    marked = lowered["retention_risk"].filter(pl.col("at_risk"))
    assert marked.height == expected
    assert not default["retention_risk"].filter(pl.col("at_risk"))["value"].lt(0.5).any()


def test_score_weights_reach_the_score(course, fitted, default):
    weights = {"speed": 0, "consistency": 0, "progress": 0}
    only_accuracy = run(course, fitted, {"score": {"weights": weights}})
    scored = only_accuracy["score"].filter(pl.col("accuracy").is_not_null())
    assert np.allclose(scored["score"], scored["accuracy"])
    assert not default["score"].equals(only_accuracy["score"])


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"mastery_threshold": 1.5}, "mastery_threshold must be a number in (0, 1], not 1.5"),
        ({"mastery_threshold": "high"}, "mastery_threshold: expected a number, got 'high'"),
        ({"mastery_treshold": 0.9}, "unknown setting(s) ['mastery_treshold']"),
        ({"rules": {"dropout_risk": "high"}}, "rules.dropout_risk: expected a number"),
        ({"rules": {"dropout_risk": 1.2}}, "dropout_risk must be in [0, 1]"),
        ({"rules": {"recent_window": 0}}, "recent_window must be at least 1"),
        ({"rules": {"recent_window": 2.5}}, "rules.recent_window: expected a whole number"),
        ({"rules": {"milestones": [0.5, 2]}}, "milestones must be shares in (0, 1]"),
        ({"score": {"weights": {"acc": 1}}}, "unknown setting(s) ['score.weights.acc']"),
        ({"score": {"weights": {"accuracy": -1}}}, "score weights must be >= 0"),
        ({"score": 5}, "score: expected a ScoreSettings or a dict, got 5"),
        ({"readiness": {"ready_at": 0.5, "almost_at": 0.7}}, "almost_at <= ready_at"),
        ({"readiness": {"mastery_weight": 0, "accuracy_weight": 0}}, "positive sum"),
    ],
)
def test_a_bad_setting_is_named(settings, named):
    with pytest.raises(ValueError) as info:
        CourseSettings.from_mapping(settings)
    assert named in str(info.value)


def test_mappings_and_objects_are_equivalent():
    built = course_settings(
        {
            "mastery_threshold": 0.9,
            "score": {"progress_window": 14, "weights": {"speed": 0.5}},
            "rules": {"milestones": [0.5, 1]},
        }
    )
    assert built.mastery_threshold == 0.9
    assert built.score.progress_window == timedelta(days=14)
    assert built.score.weights == ScoreWeights(speed=0.5)
    assert built.rules == RuleSettings(milestones=(0.5, 1.0))
    assert built.readiness == ReadinessSettings()
    assert course_settings(None) == CourseSettings()
    with pytest.raises(TypeError, match="settings must be CourseSettings or a dict"):
        course_settings(0.9)


def test_predict_all_names_a_bad_setting(course):
    with pytest.raises(ValueError, match="unknown setting"):
        predict_all(course.events, settings={"colour": "red"})
