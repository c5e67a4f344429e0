"""Occlusion reasons in words (models/occlusion.py)."""

from __future__ import annotations

import numpy as np

from learnpulse.models.occlusion import ALL_TYPICAL, word_reasons

NAMES = ["n_recent_submissions", "days_since_last_activity", "n_attempt", "mean_score"]


def _reasons(row: list[float], effects: list[float]) -> str:
    X, contrib = np.array([row], dtype=float), np.array([effects], dtype=float)
    return word_reasons(NAMES, X, contrib, 3, "raises risk", "lowers risk")[0]


def test_a_count_of_one_is_worded_in_the_singular():
    # "1 submissions in the last 14 days" before
    one = _reasons([1, 1, 1, 1], [0.3, 0.2, 0.1, 0.0])
    assert one == (
        "1 submission in the last 14 days (raises risk); 1 day since the last activity "
        "(raises risk); 1 attempt (raises risk)"
    )
    two = _reasons([2, 2, 2, 1], [-0.3, -0.2, -0.1, 0.0])
    assert two.startswith("2 submissions in the last 14 days (lowers risk); 2 days since")
    assert _reasons([1, 1, 1, 1], [0.0, 0.0, 0.0, 0.0]) == ALL_TYPICAL
