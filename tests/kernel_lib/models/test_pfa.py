"""Performance Factors Analysis: features, degenerate inputs, persistence, real data.

scikit-learn's ``check_estimator`` does not apply: PFA takes response sequences (an event
frame or DKT sequences) and builds its own features from the order of the responses, so a
2-D array with a target, what the checks generate, is not an input it accepts. The tabular
part is scikit-learn's own ``LogisticRegression``; ``clone``/``get_params`` are tested here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from learnpulse.datasets import read_dkt_sequences
from learnpulse.events import EVENT_FRAME_SCHEMA
from learnpulse.models.knowledge_tracing import PFA, response_frame
from learnpulse.models.knowledge_tracing.pfa import SHARED_FEATURES, features

START = datetime(2024, 9, 2, tzinfo=timezone.utc)


def events(rows: list[tuple[str, list[str], bool]]) -> pl.DataFrame:
    """An event frame of attempts (learner, skills, correct), one minute apart."""
    schema = {k: EVENT_FRAME_SCHEMA[k] for k in ("learner_id", "ts", "kind", "skills", "correct")}
    return pl.DataFrame(
        {
            "learner_id": [r[0] for r in rows],
            "ts": [START + timedelta(minutes=i) for i in range(len(rows))],
            "kind": ["attempt"] * len(rows),
            "skills": [r[1] for r in rows],
            "correct": [r[2] for r in rows],
        },
        schema=schema,
    )


def test_features_count_only_earlier_responses():
    frame = events(
        [("l", ["a"], True), ("l", ["b"], False), ("l", ["a", "b"], False), ("l", ["a"], True)]
    )
    design = features(response_frame(frame), ["a", "b"]).toarray()
    shared = dict(zip(SHARED_FEATURES, design[:, 6:].T, strict=True))
    # columns: one-hot a, b | log1p successes a, b | log1p failures a, b | shared
    np.testing.assert_allclose(design[:, 2], np.log1p([0, 0, 1, 0, 1]))  # successes on a
    np.testing.assert_allclose(design[:, 5], np.log1p([0, 0, 0, 1, 0]))  # failures on b
    # both copies of the multi-skill attempt see the same totals: 2 earlier attempts, 1 right
    np.testing.assert_allclose(shared["total"], np.log1p([0, 1, 2, 2, 3]))
    np.testing.assert_allclose(shared["total_right"], np.log1p([0, 1, 1, 1, 1]))
    np.testing.assert_allclose(shared["first"], [1, 1, 0, 0, 0])
    np.testing.assert_allclose(shared["gap"], np.log1p([0, 0, 1, 0, 0]))


def test_fit_returns_self_and_unfitted_raises():
    frame = events([("l", ["a"], True), ("l", ["a"], False), ("m", ["a"], True)])
    model = PFA()
    with pytest.raises(NotFittedError):
        model.predict_proba(frame)
    assert model.fit(frame) is model
    assert clone(model).set_params(C=0.5).get_params()["C"] == 0.5


@pytest.mark.parametrize(
    "rows",
    [
        [("only", ["s"], True)],  # one learner, one response
        [("only", ["s"], True), ("only", ["s"], True)],  # all correct
        [("x", ["s"], False), ("y", ["s"], False)],  # all wrong
    ],
)
def test_degenerate_inputs(rows):
    frame = events(rows)
    p = PFA().fit(frame).predict_proba(frame)
    assert p.shape == (len(rows),) and np.all((p > 0) & (p < 1))
    assert (p > 0.5).all() == rows[0][2]


def test_empty_frame_and_unseen_skill():
    empty = pl.DataFrame(schema=EVENT_FRAME_SCHEMA)
    assert PFA().fit(empty).predict_proba(empty).shape == (0,)
    frame = events([("l", ["a"], True), ("l", ["a"], False), ("m", ["a"], True)])
    p = PFA().fit(frame).predict_proba(events([("n", ["zzz"], True)]))
    assert p.shape == (1,) and 0 < p[0] < 1


def test_save_load_and_rows(tmp_path):
    rows = [(f"l{i % 5}", [f"s{i % 3}"], bool((i * 7) % 3)) for i in range(50)]
    frame = events(rows)
    model = PFA().fit(frame)
    model.save(tmp_path / "pfa.json")
    loaded = PFA.load(tmp_path / "pfa.json")
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    out = loaded.predict_frame(frame)
    assert out.get_column("model").str.starts_with("pfa@").all()
    assert out.get_column("reason")[3] == "1 earlier attempts on skill s0, 0 correct"


def test_quality_on_assistments(shared_data):
    sequences = read_dkt_sequences(shared_data / "assistments2009" / "builder_train.csv")
    order = np.random.default_rng(1).permutation(len(sequences))[:1200]
    train, test = [sequences[i] for i in order[:960]], [sequences[i] for i in order[960:]]
    y = response_frame(test).get_column("correct").to_numpy()
    p = PFA().fit(train).predict_proba(test)
    assert roc_auc_score(y, p) > 0.72
