"""Performance Factors Analysis (Pavlik, Cen & Koedinger 2009): a logistic baseline.

P(correct) of a response is a logistic regression (scikit-learn ``LogisticRegression``) on

- the skill (one-hot: its easiness);
- the learner's earlier successes and failures on that skill, as ``log1p`` counts, each with a
  slope per skill (the PFA "learning rates");
- recency: ``log1p`` of the learner's attempts since the last one on that skill, a
  first-attempt flag, and exponentially weighted means of the earlier outcomes on the skill
  (one per :data:`RECENT_DECAYS`, as in recent-performance PFA, Galyardt & Goldin 2015);
- totals: ``log1p`` of the learner's earlier attempts, successes and failures on any skill.

Only earlier responses enter a response's features, counted per attempt, so the copies of a
multi-skill attempt (see :mod:`~learnpulse.models.knowledge_tracing.sequences`) never see each
other's outcome. A skill unseen in training gets no skill terms, only the shared ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from learnpulse.files import write_text
from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.knowledge_tracing.checks import read_model_file

#: Smoothing factors (alpha) of the exponentially weighted means of earlier outcomes on a
#: skill: 0.7 follows the last response or two, 0.3 the last several.
RECENT_DECAYS = (0.7, 0.3)
#: Inverse L2 regularisation strength of the logistic regression.
DEFAULT_C = 1.0
#: Iteration budget of the lbfgs solver.
DEFAULT_MAX_ITER = 1000
#: P(correct) of the constant model fitted when every training response is wrong (and
#: 1 - this when every one is right): logistic regression needs both classes.
CONSTANT_P = 1e-3
#: Names of the dense (shared) feature columns, after the three per-skill blocks.
SHARED_FEATURES = (
    "gap",
    "first",
    *(f"recent_{a}" for a in RECENT_DECAYS),
    "total",
    "total_right",
    "total_wrong",
)


def _totals(responses: pl.DataFrame) -> pl.DataFrame:
    """Earlier attempts, successes and failures of the learner on any skill, per attempt."""
    attempts = responses.unique(["learner_id", "position"], keep="first", maintain_order=True)
    right = pl.col("correct").cast(pl.Int64)
    earlier = right.cum_sum().shift(1, fill_value=0).over("learner_id")
    return attempts.select(
        "learner_id",
        "position",
        total=pl.col("position"),
        total_right=earlier,
        total_wrong=pl.col("position") - earlier,
    )


def features(responses: pl.DataFrame, skills: list[str]) -> sp.csr_matrix:
    """The PFA design matrix of a response frame.

    Parameters
    ----------
    responses : polars.DataFrame
        A response frame (:func:`sequences.response_frame`), n rows.
    skills : list of str, length S
        The skills with their own columns.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, 3 * S + len(SHARED_FEATURES))
        Skill one-hot, per-skill ``log1p`` successes, per-skill ``log1p`` failures, then
        :data:`SHARED_FEATURES`.
    """
    keys = ["learner_id", "skill"]
    right = pl.col("correct").cast(pl.Float64)
    earlier = pl.int_range(pl.len()).over(keys)
    recent = {
        f"recent_{a}": right.ewm_mean(alpha=a, adjust=False).shift(1).over(keys).fill_null(0.0)
        for a in RECENT_DECAYS
    }
    frame = responses.with_columns(
        right=right.cum_sum().shift(1, fill_value=0.0).over(keys),
        earlier=earlier,
        gap=(pl.col("position") - pl.col("position").shift(1).over(keys) - 1).fill_null(0),
        first=(earlier == 0).cast(pl.Float64),
        **recent,
    ).join(_totals(responses), on=["learner_id", "position"], how="left", maintain_order="left")
    log1p = ["gap", "total", "total_right", "total_wrong"]
    frame = frame.with_columns(pl.col(log1p).cast(pl.Float64).log1p())
    n, n_skills = frame.height, len(skills)
    skill = sq.codes(frame.get_column("skill"), skills)
    known = np.flatnonzero(skill >= 0)
    success = np.log1p(frame.get_column("right").to_numpy())
    failure = np.log1p(
        frame.get_column("earlier").to_numpy() - frame.get_column("right").to_numpy()
    )
    values = np.r_[np.ones(known.size), success[known], failure[known]]
    rows = np.tile(known, 3)
    columns = np.r_[skill[known], skill[known] + n_skills, skill[known] + 2 * n_skills]
    per_skill = sp.csr_matrix((values, (rows, columns)), shape=(n, 3 * n_skills))
    shared = frame.select(SHARED_FEATURES).to_numpy().astype(float)
    return sp.hstack([per_skill, sp.csr_matrix(shared)], format="csr")


class PFA(BaseEstimator):
    """Performance Factors Analysis with recency, scikit-learn style, on response sequences.

    Parameters
    ----------
    C : float, default :data:`DEFAULT_C`
    max_iter : int, default :data:`DEFAULT_MAX_ITER`

    Attributes
    ----------
    skills_ : list of str
    scale_ : numpy.ndarray, shape (n_features,)
        Root-mean-square of each feature column in training; the regression sees the
        features divided by it.
    model_ : sklearn.linear_model.LogisticRegression
    """

    name = "pfa"

    def __init__(self, C: float = DEFAULT_C, max_iter: int = DEFAULT_MAX_ITER) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: sq.Inputs, y: None = None) -> PFA:
        """Fit the logistic regression on every response of ``X``.

        Parameters
        ----------
        X : polars.DataFrame or sequence of (skills, correct)
            An event frame or DKT sequences (see :func:`sequences.response_frame`).
        y : None
            Ignored: the outcomes are in ``X``.

        Returns
        -------
        PFA
            self, fitted.
        """
        responses = sq.response_frame(X)
        self.skills_ = sorted(responses.get_column("skill").unique().to_list())
        target = responses.get_column("correct").to_numpy()
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        design = features(responses, self.skills_)
        # Columns scaled to unit root-mean-square: lbfgs converges several times faster.
        squares = np.asarray(design.multiply(design).sum(axis=0)).ravel()
        rms = np.sqrt(squares / max(design.shape[0], 1))
        self.scale_ = np.where(rms > 0, rms, 1.0)
        if np.unique(target).size < 2:  # one class: a constant model of that class
            self.model_.classes_ = np.array([0, 1])
            self.model_.coef_ = np.zeros((1, design.shape[1]))
            self.model_.intercept_ = np.array([_constant_logit(target)])
        else:
            self.model_.fit(design @ sp.diags(1 / self.scale_), target)
        return self

    def _predict(self, X: sq.Inputs) -> tuple[pl.DataFrame, np.ndarray]:
        check_is_fitted(self, "model_")
        responses = sq.response_frame(X)
        if not responses.height:
            return responses, np.zeros(0)
        design = features(responses, self.skills_)
        logit = design @ (self.model_.coef_[0] / self.scale_) + self.model_.intercept_[0]
        return responses, 1 / (1 + np.exp(-logit))

    def predict_proba(self, X: sq.Inputs) -> np.ndarray:
        """Next-step P(correct) of every response given the learner's earlier ones.

        Returns
        -------
        numpy.ndarray, shape (n_responses,)
            In the order of :func:`sequences.response_frame`.
        """
        return self._predict(X)[1]

    def predict_frame(self, X: sq.Inputs) -> pl.DataFrame:
        """:meth:`predict_proba` as rows with ``confidence`` and ``model`` (see BKT)."""
        responses, p_correct = self._predict(X)
        return sq.prediction_rows(responses, p_correct, self.name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the fitted model (see :meth:`from_dict`)."""
        check_is_fitted(self, "model_")
        return {
            "model": self.name,
            "format": 1,
            "settings": self.get_params(),
            "skills": self.skills_,
            "scale": self.scale_.tolist(),
            "coef": self.model_.coef_[0].tolist(),
            "intercept": float(self.model_.intercept_[0]),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PFA:
        """The model :meth:`to_dict` described, predicting identically."""
        model = cls(**data["settings"])
        model.skills_ = list(data["skills"])
        model.scale_ = np.asarray(data["scale"], dtype=float)
        model.model_ = LogisticRegression(C=model.C, max_iter=model.max_iter)
        model.model_.classes_ = np.array([0, 1])
        model.model_.coef_ = np.asarray([data["coef"]], dtype=float)
        model.model_.intercept_ = np.asarray([data["intercept"]], dtype=float)
        return model

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON (whole or not at all)."""
        write_text(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> PFA:
        """Read a model :meth:`save` wrote."""
        return read_model_file(path, cls.from_dict, "PFA")


def _constant_logit(target: np.ndarray) -> float:
    """Logit of :data:`CONSTANT_P` (all wrong or no data) or of 1 - it (all right)."""
    p = 1 - CONSTANT_P if target.size and target.mean() > 0.5 else CONSTANT_P
    return float(np.log(p / (1 - p)))
