"""Where a learner stands: exam/course readiness and comparison with the course's peers.

**Readiness** (:func:`readiness`): ``mastery_weight`` x mean P(known) of the assessed skills
+ ``accuracy_weight`` x accuracy of the last ``recent_attempts`` attempts that are evidence
(answers to an exercise already solved are practice: :func:`learnpulse.features.with_evidence`)
-> ready / almost / not yet by :class:`ReadinessSettings`.

**Peers** (:func:`peer_comparison`): percentile (share of peers below, ties half) and rank
(1 = best) within the course for score, accuracy, mastery and activity.

Both return one row per learner with ``learner_id``, value columns, ``confidence``, ``model``
and ``reason``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from learnpulse import __version__
from learnpulse.features import COUNTED_CORRECT
from learnpulse.models.scoring import cutoff_of, graded_attempts

#: The ``model`` column of each function's rows.
READINESS_MODEL = f"readiness {__version__}"
PEERS_MODEL = f"peer-comparison {__version__}"
#: Readiness statuses, best first.
READINESS_STATUSES = ("ready", "almost", "not yet")


@dataclass(frozen=True)
class ReadinessSettings:
    """How readiness combines mastery and recent accuracy, and its status bounds."""

    #: Weight of the mean P(known) of the assessed skills.
    mastery_weight: float = 0.7
    #: Weight of the accuracy of the last ``recent_attempts`` attempts (that are evidence).
    accuracy_weight: float = 0.3
    #: Number of latest attempts (that are evidence) whose accuracy counts.
    recent_attempts: int = 20
    #: Readiness at or above which a learner is "ready".
    ready_at: float = 0.80
    #: Readiness at or above which a learner is "almost" ready.
    almost_at: float = 0.60

    def __post_init__(self) -> None:
        weights = (self.mastery_weight, self.accuracy_weight)
        if min(weights) < 0 or not sum(weights) > 0:
            raise ValueError(f"readiness weights must be >= 0 with a positive sum, got {weights}")
        if not 0 <= self.almost_at <= self.ready_at <= 1:
            raise ValueError(
                f"need 0 <= almost_at <= ready_at <= 1, got {self.almost_at}, {self.ready_at}"
            )
        if self.recent_attempts < 1:
            raise ValueError(f"recent_attempts must be at least 1, not {self.recent_attempts}")


#: Peer metrics: column -> what it is (higher is better for each).
PEER_METRICS: dict[str, str] = {
    "score": "multi-dimensional score (0-100)",
    "accuracy": "share of the attempts that are evidence counted right (0-100)",
    "mastery": "mean P(known) over the course's skills",
    "activity": "number of activity events",
}
#: Confidence of a percentile among n peers: n / (n + this).
PEER_HALF_LEARNERS = 10.0


# -- readiness -------------------------------------------------------------------------------


def assessed_skills_of(
    items: pl.DataFrame | None, skills: pl.DataFrame | None, mastery: pl.DataFrame | None
) -> list[str]:
    """Skills an assessment covers: those of the course's assessment items (items whose
    ``attributes`` JSON has ``"type": "assessment"``), else every skill of the course."""
    if items is not None and items.height and "attributes" in items.columns:
        kind = pl.col("attributes").str.json_path_match("$.type")
        assessed = items.filter(kind == "assessment").get_column("skills").explode().drop_nulls()
        if assessed.len():
            return sorted(assessed.unique().to_list())
    if skills is not None:
        return sorted(skills.get_column("skill_id").unique().to_list())
    if mastery is not None:
        return sorted(mastery.get_column("skill").unique().to_list())
    return []


def _checked_skills(assessed: str | Iterable[str], skills: pl.DataFrame | None) -> list[str]:
    """``assessed`` as a sorted list (a string is one skill), each a skill of ``skills``."""
    wanted = sorted({assessed} if isinstance(assessed, str) else set(assessed))
    if skills is not None:
        unknown = sorted(set(wanted) - set(skills.get_column("skill_id").to_list()))
        if unknown:
            raise ValueError(f"assessed_skills not in the course's skill frame: {unknown}")
    return wanted


def _evidence(
    mastery: pl.DataFrame, attempts: pl.DataFrame, assessed: list[str], recent: int
) -> pl.DataFrame:
    """Per learner: mean P(known) and confidence over the assessed skills (tried skills only
    count), accuracy and number of the last ``recent`` attempts that are evidence."""
    n = max(len(assessed), 1)
    tried = pl.col("skill").is_in(assessed)
    if "n_attempts" in mastery.columns:
        tried = tried & (pl.col("n_attempts") > 0)
    sure = pl.col("confidence") if "confidence" in mastery.columns else pl.lit(0.0)
    # every learner of the mastery frame keeps a row, with or without assessed skills
    known = mastery.group_by("learner_id").agg(
        mastery=pl.col("p_known").filter(tried).sum() / n,
        confidence=sure.filter(pl.col("skill").is_in(assessed)).sum() / n,
    )
    counted = pl.col(COUNTED_CORRECT)
    latest = (
        attempts.filter(counted.is_not_null())  # practice on a solved item is no evidence
        .group_by("learner_id")
        .agg(
            recent_accuracy=counted.tail(recent).mean(),
            n_recent=pl.len().clip(upper_bound=recent),
        )
    )
    return known.join(latest, on="learner_id", how="full", coalesce=True).with_columns(
        pl.col("mastery", "confidence").fill_null(0.0)
    )


def readiness(
    events: pl.DataFrame,
    mastery: pl.DataFrame,
    *,
    items: pl.DataFrame | None = None,
    skills: pl.DataFrame | None = None,
    assessed_skills: Iterable[str] | None = None,
    at: datetime | None = None,
    settings: ReadinessSettings | None = None,
    attempts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Exam/course readiness of every learner: ready / almost / not yet.

    Parameters
    ----------
    events : polars.DataFrame
        Event frame of one course.
    mastery : polars.DataFrame
        Mastery rows (``learner_id``, ``skill``, ``p_known``, ``confidence``).
    items, skills : polars.DataFrame, optional
        Define the assessed skills when ``assessed_skills`` is not given
        (see :func:`assessed_skills_of`).
    assessed_skills : str or iterable of str, optional
        Skills the exam covers (a string is one skill); with ``skills``, each must be one of
        its skills.
    at : datetime, optional
    settings : ReadinessSettings, optional
    attempts : polars.DataFrame, optional
        :func:`graded_attempts` of ``events``, if already computed.

    Returns
    -------
    polars.DataFrame, shape (n_learners, 9)
        ``learner_id``, ``value`` (ready / almost / not yet), ``probability`` (0..1),
        ``mastery`` (mean P(known) of the assessed skills; a skill never attempted, or
        without a row, counts 0: readiness needs evidence, not the model's prior),
        ``recent_accuracy`` (0..1, null without attempts that are evidence),
        ``n_assessed_skills``, ``confidence`` (mean confidence of the assessed skills'
        mastery rows), ``model``, ``reason``.
    """
    s = settings or ReadinessSettings()
    cutoff_of(events, at)
    assessed = (
        _checked_skills(assessed_skills, skills)
        if assessed_skills is not None
        else assessed_skills_of(items, skills, mastery)
    )
    attempts = graded_attempts(events, at) if attempts is None else attempts
    frame = _evidence(mastery, attempts, assessed, s.recent_attempts)
    has_recent = pl.col("recent_accuracy").is_not_null()
    weight = s.mastery_weight + pl.when(has_recent).then(s.accuracy_weight).otherwise(0.0)
    p = (
        s.mastery_weight * pl.col("mastery")
        + s.accuracy_weight * pl.col("recent_accuracy").fill_null(0.0)
    ) / weight
    status = (
        pl.when(pl.col("probability") >= s.ready_at)
        .then(pl.lit("ready"))
        .when(pl.col("probability") >= s.almost_at)
        .then(pl.lit("almost"))
        .otherwise(pl.lit("not yet"))
    )
    reason = pl.format(
        "mean P(known) {} over {} assessed skills; last {} counted attempts {}% correct",
        pl.col("mastery").round(2),
        pl.lit(len(assessed)),
        pl.col("n_recent").fill_null(0),
        (100 * pl.col("recent_accuracy")).round(0).cast(pl.Int64).cast(pl.String).fill_null("n/a"),
    )
    return (
        frame.with_columns(probability=p)
        .select(
            "learner_id",
            value=status,
            probability="probability",
            mastery="mastery",
            recent_accuracy="recent_accuracy",
            n_assessed_skills=pl.lit(len(assessed), pl.Int64),
            confidence="confidence",
            model=pl.lit(READINESS_MODEL),
            reason=reason,
        )
        .sort("learner_id")
    )


# -- peers -----------------------------------------------------------------------------------


def peer_metrics(
    scores: pl.DataFrame,
    mastery: pl.DataFrame | None = None,
    activity: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The :data:`PEER_METRICS` per learner from earlier outputs.

    Parameters
    ----------
    scores : polars.DataFrame
        :func:`learner_scores` output.
    mastery : polars.DataFrame, optional
        Mastery rows (``learner_id``, ``p_known``): mean P(known) per learner.
    activity : polars.DataFrame, optional
        ``learner_id``, ``n_events`` (e.g. :func:`learnpulse.features.learner_features`).

    Returns
    -------
    polars.DataFrame
        ``learner_id``, ``score``, ``accuracy``, and ``mastery``/``activity`` when given.
    """
    frame = scores.select("learner_id", "score", "accuracy")
    if mastery is not None:
        means = mastery.group_by("learner_id").agg(mastery=pl.col("p_known").mean())
        frame = frame.join(means, on="learner_id", how="full", coalesce=True)
    if activity is not None:
        counts = activity.select("learner_id", activity=pl.col("n_events").cast(pl.Float64))
        frame = frame.join(counts, on="learner_id", how="full", coalesce=True)
    return frame


def peer_comparison(metrics: pl.DataFrame) -> pl.DataFrame:
    """Percentile and rank of every learner among the course's learners, per metric.

    Percentile = 100 x (peers below + half the peers tied, oneself included) / peers with a
    value; rank = 1 + number of peers strictly better. Higher is better for every metric.

    Parameters
    ----------
    metrics : polars.DataFrame, shape (n_learners, >= 2)
        ``learner_id`` and any of the :data:`PEER_METRICS` columns (from :func:`peer_metrics`).

    Returns
    -------
    polars.DataFrame, shape (n_learners, 6 + 2 x n_metrics)
        ``learner_id``, ``value`` (the first metric's percentile), ``<metric>_percentile``
        (0-100) and ``<metric>_rank`` (Int64) for each metric (null where the learner has no
        value), ``n_peers``, ``confidence`` (n_peers / (n_peers + PEER_HALF_LEARNERS)),
        ``model``, ``reason``.
    """
    present = [m for m in PEER_METRICS if m in metrics.columns]
    if not present:
        raise ValueError(f"metrics need at least one of {list(PEER_METRICS)}")
    columns = []
    for m in present:
        x = pl.col(m).cast(pl.Float64).fill_nan(None)
        n = x.count()
        columns += [
            (100 * (x.rank("average") - 0.5) / n).alias(f"{m}_percentile"),
            x.rank("min", descending=True).cast(pl.Int64).alias(f"{m}_rank"),
        ]
    n_peers = pl.len().cast(pl.Int64)
    parts = [
        pl.format(
            "{} at percentile {} (rank {})",
            pl.lit(m),
            pl.col(f"{m}_percentile").round(0).cast(pl.Int64).cast(pl.String).fill_null("n/a"),
            pl.col(f"{m}_rank").cast(pl.String).fill_null("n/a"),
        )
        for m in present
    ]
    reason = pl.format(
        "among {} learners: {}", pl.col("n_peers"), pl.concat_str(parts, separator=", ")
    )
    n = pl.col("n_peers").cast(pl.Float64)
    return (
        metrics.select("learner_id", *columns, n_peers=n_peers)
        .with_columns(
            value=pl.col(f"{present[0]}_percentile"),
            confidence=n / (n + PEER_HALF_LEARNERS),
            model=pl.lit(PEERS_MODEL),
            reason=reason,
        )
        .select(
            "learner_id",
            "value",
            *(c for m in present for c in (f"{m}_percentile", f"{m}_rank")),
            "n_peers",
            "confidence",
            "model",
            "reason",
        )
        .sort("learner_id")
    )
