"""Model outputs for the dashboards: :func:`learnpulse.models.predict_all`, reshaped.

``predict_all`` returns one frame per model (``learner_id``, ``value``, ``model``,
``confidence``, ``reason``...). The functions here turn those frames into what a panel shows:
the at-risk table, the peer ranking, the clusters scatter's axes. They work the same on frames
computed in this process and on frames read back from ``GET analytics/predictive``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from learnpulse.analytics import predictions as analytics_predictions
from learnpulse.analytics.predictions import withdrawn


def course_predictions(
    events: pl.DataFrame, at: datetime | None = None, **tables: Any
) -> dict[str, pl.DataFrame]:
    """``predict_all(events, at=at, **tables)`` (``skills``, ``items``, ``learners``,
    ``fitted``, ``settings`` are passed on)."""
    # Imported here: the models (scikit-learn...) take seconds to import, and a dashboard
    # reading through the server never needs them.
    from learnpulse.models import predict_all

    return dict(predict_all(events, at=at, **tables))


def cluster_points(predictions: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    """One point per clustered learner: ``learner_id``, ``cluster`` (its description),
    ``accuracy`` (%) and ``attempts`` from the ``score`` output; None without clusters."""
    clusters = predictions.get("clusters")
    if clusters is None or clusters.is_empty():
        return None
    score = predictions.get("score")
    if score is None or score.is_empty():
        axes = pl.DataFrame(
            schema={"learner_id": pl.String, "accuracy": pl.Float64, "attempts": pl.Int64}
        )
    else:
        axes = score.select("learner_id", "accuracy", pl.col("n_attempts").alias("attempts"))
    return clusters.select("learner_id", "cluster").join(axes, on="learner_id", how="left")


def at_risk_count(predictions: dict[str, pl.DataFrame]) -> float | None:
    """Learners ``predict_all`` marked at risk (by the course settings' dropout threshold;
    never those who withdrew); None without model output or a learner with a risk value."""
    count = analytics_predictions.at_risk_count(predictions)
    return None if count is None else float(count)


def _value(frame: pl.DataFrame | None, name: str, reason: str | None = None) -> pl.DataFrame:
    columns = {"learner_id": pl.String, name: pl.Float64}
    if reason:
        columns[reason] = pl.String
    if frame is None or frame.is_empty():
        return pl.DataFrame(schema=columns)
    selected = [pl.col("value").cast(pl.Float64).alias(name)]
    if reason:
        selected.append(pl.col("reason").alias(reason))
    return frame.select("learner_id", *selected)


#: Columns of :func:`risk_table`.
RISK_TABLE_SCHEMA = {
    "learner_id": pl.String,
    "status": pl.String,
    "at_risk": pl.Boolean,
    "retention_risk": pl.Float64,
    "success_probability": pl.Float64,
    "engagement": pl.String,
    "confidence": pl.Float64,
    "reason": pl.String,
    "model": pl.String,
}


def risk_table(predictions: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    """One row per learner: ``learner_id``, ``status`` (enrolled / withdrawn), ``at_risk``
    (counted on the at-risk card: a risk at or above the course's dropout threshold, as
    ``predict_all`` marks it; null without a risk value), ``retention_risk``,
    ``success_probability``, ``engagement`` (trend), ``confidence``, ``reason`` (both
    models' reasons), ``model``; enrolled learners first, riskiest first
    (without a risk value last). None without retention risk output; no rows (with these
    columns) without a learner.
    """
    risk = predictions.get("retention_risk")
    if risk is None:
        return None
    if risk.is_empty():  # a course without events: no value column to read
        return pl.DataFrame(schema=RISK_TABLE_SCHEMA)
    table = (
        analytics_predictions.marked_at_risk(risk)
        .select(
            "learner_id",
            pl.when(pl.col("value").is_not_null()).then(pl.col("at_risk")).alias("at_risk"),
            pl.col("value").cast(pl.Float64).alias("retention_risk"),
            "confidence",
            pl.col("reason").alias("risk_reason"),
            "model",
        )
        .join(
            _value(predictions.get("success"), "success_probability", "success_reason"),
            on="learner_id",
            how="left",
        )
    )
    engagement = predictions.get("engagement")
    if engagement is not None and not engagement.is_empty():
        table = table.join(
            engagement.select("learner_id", pl.col("value").alias("engagement")),
            on="learner_id",
            how="left",
        )
    else:
        table = table.with_columns(engagement=pl.lit(None, pl.String))
    reason = pl.concat_str(
        [pl.col("risk_reason"), pl.col("success_reason")], separator="; ", ignore_nulls=True
    )
    status = pl.when(withdrawn(pl.col("risk_reason"))).then(pl.lit("withdrawn"))
    return table.select(
        "learner_id",
        status.otherwise(pl.lit("enrolled")).alias("status"),
        "at_risk",
        "retention_risk",
        "success_probability",
        "engagement",
        "confidence",
        reason.alias("reason"),
        "model",
    ).sort(
        ["status", "retention_risk", "learner_id"],
        descending=[False, True, False],
        nulls_last=True,
    )


def peer_ranking(predictions: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    """Learners ranked by their overall score among peers (the ``peers`` model's output).

    Returns
    -------
    polars.DataFrame or None
        ``rank`` (1 = best), ``learner_id``, ``score`` (0-100), ``percentile`` (of the
        score), ``accuracy_percentile``, ``mastery_percentile``; None without ``peers``.
    """
    peers = predictions.get("peers")
    if peers is None or peers.is_empty():
        return None
    ranked = peers.select(
        pl.col("score_rank").alias("rank"),
        "learner_id",
        pl.col("score_percentile").alias("percentile"),
        "accuracy_percentile",
        "mastery_percentile",
    )
    scores = _value(predictions.get("score"), "score")
    return (
        ranked.join(scores, on="learner_id", how="left")
        .select(
            "rank", "learner_id", "score", "percentile", "accuracy_percentile", "mastery_percentile"
        )
        .sort("rank", "learner_id")
    )
