"""Occlusion reasons of the tabular models: which cells can matter, and the words for them.

:mod:`learnpulse.models.predictive` computes a feature's contribution as the change in a
model's raw score when the feature is replaced by its training median. This module holds the
two parts that do not depend on the model's kind: :func:`splits_crossed` (which cells a
gradient-boosting model's trees can score differently from the median, so that only those are
recomputed) and :func:`word_reasons` (the largest contributions of each row, as people read
them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import polars as pl

from learnpulse.features import FEATURE_FORMATS, FEATURE_PHRASES, YES_NO_FEATURES

#: The reason of a row whose contributions are all 0.
ALL_TYPICAL = "all features typical"


def splits_crossed(model, used: np.ndarray, medians: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Where moving a value to its median can change a gradient-boosting raw score.

    A tree sends a number left when it is <= the split's threshold, so a value and the median
    on the same side of every threshold on their feature take the same path in every tree:
    their contribution is exactly 0 (on a simulated course, about half of the cells of a
    4-leaf model, a tenth for 15 leaves). Missing values and categories may go either way;
    other models (logistic, constant) are not pruned.

    Parameters
    ----------
    model : fitted estimator
        A ``HistGradientBoosting*`` model is pruned (it reads sklearn's ``_predictors`` and
        ``is_categorical_``); anything else gives all True.
    used : numpy.ndarray, shape (n_features,), bool
        The features the model was given, in its column order.
    medians : numpy.ndarray, shape (n_features,)
        The value each feature is moved to.
    X : numpy.ndarray, shape (n_samples, n_features)

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_features), bool
    """
    trees = getattr(model, "_predictors", None)
    crosses = np.ones(X.shape, dtype=bool)
    if trees is None:
        return crosses
    nodes = np.concatenate([tree.nodes for per_class in trees for tree in per_class])
    splits = nodes[nodes["is_leaf"] == 0]
    used = np.flatnonzero(used)
    categorical = getattr(model, "is_categorical_", None)
    if categorical is None:
        categorical = np.zeros(used.size, dtype=bool)
    # With categories, the trees see them first, then the numbers (sklearn's encoder).
    tree_column = np.empty(used.size, dtype=int)
    tree_column[np.r_[np.flatnonzero(categorical), np.flatnonzero(~categorical)]] = np.arange(
        used.size
    )
    for k in np.flatnonzero(~categorical):
        j = used[k]
        on_k = splits["feature_idx"] == tree_column[k]
        thresholds = np.unique(splits["num_threshold"][on_k])
        x = X[:, j]
        side = np.searchsorted(thresholds, np.nan_to_num(x), side="left")
        median_side = np.searchsorted(thresholds, medians[j], side="left")
        crosses[:, j] = np.isnan(x) | (side != median_side)
    return crosses


def word_reasons(
    names: Sequence[str],
    X: np.ndarray,
    contrib: np.ndarray,
    n_reasons: int,
    up: str,
    down: str,
) -> list[str]:
    """Per row, the ``n_reasons`` features with the largest contributions, in words.

    Parameters
    ----------
    names : sequence of str, length n_features
        Feature names; :data:`~learnpulse.features.FEATURE_PHRASES` words the known ones,
        others read ``name=value``.
    X : numpy.ndarray, shape (n_samples, n_features)
        The feature values (NaN: missing).
    contrib : numpy.ndarray, shape (n_samples, n_features)
        The contributions; a feature with 0 is not named.
    n_reasons : int
        How many features a reason names at most.
    up, down : str
        What a positive / negative contribution does, e.g. "raises risk".

    Returns
    -------
    list of str, length n_samples
        E.g. "58 days since the last submission (raises risk); accuracy 45% (raises risk)",
        or :data:`ALL_TYPICAL`.
    """
    if n_reasons < 1:
        return [ALL_TYPICAL] * X.shape[0]
    order = np.argsort(-np.abs(contrib), axis=1)[:, :n_reasons]
    rows = np.arange(X.shape[0])[:, None]
    effects = contrib[rows, order]
    names = [str(c) for c in names]
    wordings = [FEATURE_PHRASES.get(c, (f"{c}={{}}", f"{c} missing")) for c in names]
    templates, unknown = (np.array(w) for w in zip(*wordings, strict=True))
    singular = np.array([singular_template(t) for t in templates])  # "1 submission"
    yes_no = np.array([c in YES_NO_FEATURES for c in names])
    specs = [None, *sorted(set(FEATURE_FORMATS.values()))]
    spec_of = np.array([specs.index(FEATURE_FORMATS.get(c)) for c in names])
    columns = {}
    for k in range(order.shape[1]):
        j, values = order[:, k], X[rows[:, 0], order[:, k]]
        # only values a reason shows are formatted (a 0 effect is not named)
        text = np.full(values.shape, "", dtype=object)
        shown = (effects[:, k] != 0) & ~np.isnan(values) & ~yes_no[j]
        for spec in np.unique(spec_of[j[shown]]):
            of_spec = shown & (spec_of[j] == spec)
            text[of_spec] = _fmt_all(values[of_spec], specs[spec])
        text = np.where(yes_no[j], np.where(values == 1, "yes", "no"), text)
        text = np.where(np.isnan(values), unknown[j], text)
        template = np.where(text == "1", singular[j], templates[j])
        columns[f"template{k}"] = np.where(np.isnan(values), "{}", template)
        columns[f"value{k}"] = text.astype(str)
        columns[f"effect{k}"] = effects[:, k]
    parts = [
        pl.when(pl.col(f"effect{k}") != 0).then(
            pl.format(
                "{} ({})",
                pl.col(f"template{k}").str.replace("{}", pl.col(f"value{k}"), literal=True),
                pl.when(pl.col(f"effect{k}") > 0).then(pl.lit(up)).otherwise(pl.lit(down)),
            )
        )
        for k in range(order.shape[1])
    ]
    joined = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    reason = pl.when(joined == "").then(pl.lit(ALL_TYPICAL)).otherwise(joined)
    return pl.DataFrame(columns).select(reason).to_series().to_list()


def singular_template(template: str) -> str:
    """``template`` for the value 1: its first plural word after ``{}`` in the singular
    ("{} days since the last submission" -> "{} day since the last submission")."""
    head, mark, tail = template.partition("{}")
    return head + mark + re.sub(r"\b(\w+?)s\b", r"\1", tail, count=1)


def _fmt_all(values: np.ndarray, spec: str | None = None) -> np.ndarray:
    """Numbers (not NaN) as a reason shows them, shape (n,): with ``spec``, else whole ones
    without decimals and others with two; formatted once per distinct value."""
    distinct, index = np.unique(values, return_inverse=True)
    if spec is None:
        words = [f"{v:.0f}" if v.is_integer() else f"{v:.2f}" for v in distinct.tolist()]
    else:
        words = [format(v, spec) for v in distinct.tolist()]
    return np.array(words, dtype=object)[index.ravel()]
