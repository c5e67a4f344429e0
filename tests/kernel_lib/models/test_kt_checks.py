"""Bad knowledge-tracing settings and malformed DKT sequences are refused by name, before
any fitting (learnpulse.models.knowledge_tracing.checks)."""

from __future__ import annotations

import numpy as np
import pytest

from learnpulse.models.knowledge_tracing import BKT, PFA
from learnpulse.models.knowledge_tracing.checks import Bound, check_pairs
from learnpulse.models.knowledge_tracing.dkt import DKT

GOOD = [(np.array([0, 1, 0, 1]), np.array([1, 0, 1, 1]))] * 6


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hidden_size": 0}, "DKT hidden_size must be an integer >= 1, not 0"),
        ({"hidden_size": 2.5}, "DKT hidden_size must be an integer >= 1, not 2.5"),
        ({"window": 0}, "DKT window must be an integer >= 1, not 0"),
        ({"batch_size": 0}, "DKT batch_size must be an integer >= 1, not 0"),
        ({"learning_rate": -1}, "DKT learning_rate must be a number > 0, not -1"),
        ({"validation_fraction": 1.0}, "validation_fraction must be a number in [0, 1), not 1.0"),
        ({"dropout": float("nan")}, "DKT dropout must be a number in [0, 1), not nan"),
        ({"max_seconds": 0}, "DKT max_seconds must be None or a number > 0, not 0"),
        ({"patience": True}, "DKT patience must be an integer >= 1, not True"),
        ({"cell": "rnn"}, "DKT cell must be one of ('lstm', 'gru'), not 'rnn'"),
        ({"device": "bogus"}, "DKT device must be 'auto', 'cpu', 'cuda'"),
    ],
)
def test_dkt_refuses_bad_settings_by_name(settings, message):
    model = DKT(progress=False, max_epochs=1, **settings)
    with pytest.raises(ValueError) as error:
        model.fit(GOOD)
    assert message in str(error.value)
    assert not hasattr(model, "net_")  # refused before anything was built


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"min_prob": 0.5}, "BKT min_prob must be a number in [0, 0.5), not 0.5"),
        ({"max_guess": 0.0}, "BKT max_guess must be a number in (0.0001, 1], not 0.0"),
        ({"max_slip": 1.5}, "BKT max_slip must be a number in (0.0001, 1], not 1.5"),
        ({"n_init": 0}, "BKT n_init must be an integer >= 1, not 0"),
        ({"max_iter": -1}, "BKT max_iter must be an integer >= 0, not -1"),
        ({"max_fit_length": 0}, "BKT max_fit_length must be None or an integer >= 1, not 0"),
    ],
)
def test_bkt_refuses_bad_settings_by_name(settings, message):
    model = BKT(**settings)
    with pytest.raises(ValueError) as error:
        model.fit(GOOD)
    assert message in str(error.value)
    assert not hasattr(model, "params_")


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (
            [GOOD[0], (np.array([0, 1]), np.array([1, 2]))],
            "learner 1: correctness must be 0 or 1, not 2",
        ),
        ([(np.array([0, 1, 2]), np.array([1, 0]))], "learner 0: skill ids and correctness must be"),
        ([(np.array([0.5, 1.0]), np.array([1, 0]))], "learner 0: skill ids must be integers"),
        ([(np.array([[0, 1]]), np.array([[1, 0]]))], "must be 1-D and of equal length"),
        ([(np.array([0, 1]),)], "learner 0: a DKT sequence is a pair (skill ids, correct)"),
    ],
)
@pytest.mark.parametrize("model", [BKT, PFA, lambda: DKT(progress=False, max_epochs=1)])
def test_malformed_sequences_are_refused_by_learner(pairs, message, model):
    with pytest.raises(ValueError) as error:
        model().fit(pairs)
    assert message in str(error.value)


def test_good_sequences_pass_unchanged_and_booleans_count_as_0_1():
    checked = check_pairs([(np.array([3, 1]), np.array([True, False])), ([], [])])
    assert checked[0][0].tolist() == [3, 1] and checked[0][1].tolist() == [1, 0]
    assert checked[0][0].dtype == np.int64 and checked[0][1].dtype == np.int8
    assert len(checked[1][0]) == 0


def test_bound_descriptions():
    assert Bound(low=0, high=1, high_open=True).describe() == "a number in [0, 1)"
    assert Bound(low=1, integer=True, optional=True).describe() == "None or an integer >= 1"
    assert Bound(high=3).describe() == "a number <= 3"
    assert Bound(low=1, integer=True).holds(np.int64(4)) and not Bound(integer=True).holds(1.0)
