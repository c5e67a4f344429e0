"""Slices of the models' predictions for an API or a dashboard: some models, some learners.

``predictions`` is what :func:`learnpulse.models.predict_all` returns: model name -> polars
frame with at least ``learner_id``, ``model``, ``confidence`` and ``reason``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import polars as pl

#: The predictions key holding the alerts.
ALERTS = "alerts"
#: How ``predict_all`` starts the reason of a learner who already withdrew (retention risk 1
#: as a fact: they are no longer "at risk").
WITHDRAWN_REASON_PREFIX = "withdrew"
#: Risk from which a learner is at risk in rows without ``at_risk`` (the default of
#: ``learnpulse.models.RuleSettings.dropout_risk``).
DEFAULT_DROPOUT_RISK = 0.5


def withdrawn(reason: pl.Expr) -> pl.Expr:
    """Rows of learners who withdrew before the cut-off, from their ``reason``."""
    return reason.fill_null("").str.starts_with(WITHDRAWN_REASON_PREFIX)


def marked_at_risk(risk: pl.DataFrame) -> pl.DataFrame:
    """``retention_risk`` rows with their ``at_risk`` column; rows from before
    ``predict_all`` marked them are marked by the default dropout threshold (learners who
    withdrew are not at risk)."""
    if "at_risk" in risk.columns:
        return risk
    marked = (pl.col("value") >= DEFAULT_DROPOUT_RISK) & ~withdrawn(pl.col("reason"))
    return risk.with_columns(marked.alias("at_risk"))


def at_risk_count(predictions: Mapping[str, pl.DataFrame]) -> int | None:
    """Learners ``predict_all`` marked ``at_risk`` (a retention risk at or above the course
    settings' dropout threshold; learners who withdrew are not at risk). None without a
    retention-risk value (no fitted model)."""
    risk = predictions.get("retention_risk")
    if risk is None or "value" not in risk.columns or risk["value"].drop_nulls().is_empty():
        return None
    return int(marked_at_risk(risk).get_column("at_risk").sum())


def learner_ids(predictions: Mapping[str, pl.DataFrame]) -> list[str]:
    """Every learner with a row in any model's frame, sorted."""
    columns = [f["learner_id"] for f in predictions.values() if "learner_id" in f.columns]
    if not columns:
        return []
    return pl.concat(columns).drop_nulls().unique().sort().to_list()


def select_models(predictions: Mapping[str, pl.DataFrame], wanted: str) -> list[str]:
    """``[wanted]``, or every model for ``"all"``.

    Raises
    ------
    KeyError
        If no model has that name; the message lists the known ones.
    """
    if wanted == "all":
        return list(predictions)
    if wanted not in predictions:
        raise KeyError(f"no model {wanted!r}; known: all, {', '.join(predictions)}")
    return [wanted]


def rows_of(frame: pl.DataFrame, learners: Collection[str] | None) -> pl.DataFrame:
    """The rows of ``learners`` (all rows when None)."""
    if learners is None:
        return frame
    return frame.filter(pl.col("learner_id").is_in(list(learners)))


def prediction_page(
    predictions: Mapping[str, pl.DataFrame],
    models: Sequence[str],
    *,
    learners: Collection[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """The predictions of ``models`` for one page of learners.

    Parameters
    ----------
    learners : collection of str, optional
        The learners to page through (default: every learner with a prediction).
    offset, limit
        The page: learners ``offset .. offset + limit`` in sorted order.

    Returns
    -------
    dict
        ``learners``: {``total``, ``offset``, ``limit``, ``ids`` of the page, ``next_offset``
        (None on the last page)}; ``predictions``: model -> polars frame of the page's rows
        (:func:`learnpulse.analytics.jsonable.dumps` writes it as JSON).
    """
    universe = sorted(set(learners)) if learners is not None else learner_ids(predictions)
    end = len(universe) if limit is None else offset + limit
    page = universe[offset:end]
    return {
        "learners": {
            "total": len(universe),
            "offset": offset,
            "limit": limit,
            "ids": page,
            "next_offset": end if end < len(universe) else None,
        },
        "predictions": {m: rows_of(predictions[m], page) for m in models},
    }


def alerts_of(
    predictions: Mapping[str, pl.DataFrame], learners: Collection[str] | None
) -> pl.DataFrame:
    """The alert rows of ``learners`` (all when None), in the models' order.

    Raises
    ------
    KeyError
        If the predictions have no ``alerts``.
    """
    if ALERTS not in predictions:
        raise KeyError(f"the predictions have no {ALERTS!r}; models: {', '.join(predictions)}")
    return rows_of(predictions[ALERTS], learners)
