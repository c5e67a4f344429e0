"""Learner clusters: k by silhouette, clusters described in words, on made-up and simulated data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import silhouette_samples

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.features import learner_features
from learnpulse.models.clusters import LearnerClusters, reference_silhouettes


def _groups(sizes_and_centres, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for n, (accuracy, attempts, days, hints) in sizes_and_centres:
        for _ in range(n):
            rows.append(
                {
                    "accuracy": accuracy + rng.normal(0, 0.02),
                    "n_attempt": attempts + rng.normal(0, 3),
                    "active_days": days + rng.normal(0, 1),
                    "hints_per_attempt": hints + rng.normal(0, 0.02),
                }
            )
    frame = pl.DataFrame(rows)
    return frame.with_columns(pl.Series("learner_id", [f"l{i}" for i in range(frame.height)]))


def test_separable_groups_are_found_and_described():
    features = _groups(
        [(60, (0.9, 200, 30, 0.05)), (60, (0.4, 200, 30, 0.6)), (60, (0.65, 20, 3, 0.3))]
    )
    model = LearnerClusters().fit(features)
    assert model.n_clusters_ == 3
    assert max(model.silhouettes_, key=model.silhouettes_.get) == 3
    labels = model.predict(features)
    for block in range(3):  # every made-up group lands in one cluster of its own
        assert len(set(labels[block * 60 : (block + 1) * 60])) == 1
    assert len(set(labels)) == 3
    described = [model.descriptions_[labels[i]] for i in (0, 60, 120)]
    assert "accurate" in described[0] and "independent" in described[0]
    assert "struggling" in described[1] or "hint-reliant" in described[1]
    assert "rarely active" in described[2] or "irregular" in described[2]


def test_predict_frame_carries_model_confidence_and_reason():
    features = _groups([(40, (0.9, 150, 25, 0.1)), (40, (0.3, 30, 4, 0.7))])
    frame = LearnerClusters().fit(features).predict_frame(features)
    assert frame.columns == ["learner_id", "value", "cluster", "confidence", "model", "reason"]
    assert frame["confidence"].is_between(0, 1).all()
    assert frame["confidence"].mean() > 0.7  # well separated
    assert frame["model"][0].startswith("learner-clusters")
    assert frame["reason"].str.contains("accuracy|n_attempt|active_days").all()


def test_degenerate_inputs():
    one = _groups([(1, (0.5, 10, 2, 0.1))])
    frame = LearnerClusters().fit(one).predict_frame(one)
    assert frame["value"].to_list() == [0] and frame["cluster"][0] == "typical of the class"
    no_accuracy = _groups([(5, (0.5, 10, 2, 0.1))]).with_columns(accuracy=pl.lit(None))
    assert LearnerClusters().fit(no_accuracy).predict(no_accuracy).shape == (5,)
    with pytest.raises(NotFittedError):
        LearnerClusters().predict(one)
    with pytest.raises(ValueError, match="lack the columns"):
        LearnerClusters().fit(one.drop("accuracy"))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['learner_id'\]"):
        LearnerClusters().fit(one).predict_frame(one.drop("learner_id"))


def test_simulated_course_splits_by_ability():
    data = simulate_course(SimulationConfig(n_learners=300, weeks=6, seed=3))
    features = learner_features(data.events).filter(pl.col("n_attempt") > 0)
    frame = LearnerClusters().fit(features).predict_frame(features)
    assert frame["value"].n_unique() >= 2
    ability = data.learners.select(
        "learner_id", pl.col("attributes").str.json_path_match("$.ability").cast(pl.Float64)
    )
    by_cluster = (
        frame.join(ability, on="learner_id").group_by("value").agg(pl.col("attributes").mean())
    )
    spread = by_cluster["attributes"].max() - by_cluster["attributes"].min()
    assert spread > 0.3  # clusters differ in the simulator's hidden ability


def test_descriptions_join_strengths_and_weaknesses_with_but():
    model = LearnerClusters()
    assert model._describe(np.array([-1.2, 0.1, 0.9, 0.0])) == "struggling but persistent"
    assert model._describe(np.array([0.1, -1.5, -0.8, 0.0])) == "rarely active and irregular"
    assert model._describe(np.array([0.1, 0.2, -0.1, 0.3])) == "typical of the class"


def test_reference_silhouettes_exact_with_everyone_and_close_with_a_sample():
    features = _groups(
        [(300, (0.9, 200, 30, 0.05)), (300, (0.4, 120, 20, 0.6)), (300, (0.65, 20, 3, 0.3))],
        seed=1,
    )
    model = LearnerClusters().fit(features)
    Z = model.scaler_.transform(model._matrix(features))
    labels = model.predict(features)
    exact = silhouette_samples(Z, labels)
    np.testing.assert_allclose(reference_silhouettes(Z, labels, reference_size=None), exact)
    sampled = reference_silhouettes(Z, labels, reference_size=200, random_state=1)
    assert np.abs(sampled - exact).mean() < 0.05
    assert not np.allclose(sampled, exact)  # it is an estimate, not the exact value
    # a point alone in its cluster has silhouette 0, as in scikit-learn
    lonely = np.array([0, 1, 1, 1])
    points = np.array([[0.0], [5.0], [6.0], [7.0]])
    assert reference_silhouettes(points, lonely)[0] == 0.0
    frame = model.predict_frame(features, reference_size=None)
    np.testing.assert_allclose(frame["confidence"].to_numpy(), (exact + 1) / 2)


def test_a_learners_cluster_does_not_depend_on_who_else_is_scored():
    """A learner with no attempt has no accuracy: it counts as the training median, alone
    or in a batch (it was the batch's median, and 0 alone: "struggling", confidence 1)."""
    course = simulate_course(SimulationConfig(n_learners=150, seed=8))
    features = learner_features(course.events)
    model = LearnerClusters().fit(features)
    blank = features.head(1).with_columns(learner_id=pl.lit("new"), accuracy=pl.lit(None))
    alone = model.predict_frame(blank, reference_size=None)
    batch = model.predict_frame(pl.concat([features, blank]), reference_size=None)
    assert alone["cluster"].item() == batch.filter(pl.col("learner_id") == "new")["cluster"].item()
    assert model.fill_[list(model._traits).index("accuracy")] == pytest.approx(
        features["accuracy"].drop_nulls().median()
    )
