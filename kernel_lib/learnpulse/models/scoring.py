"""Learner scores for dashboards and tutors: the multi-dimensional score and progress category.

Every function returns one row per learner with ``learner_id``, its value columns,
``confidence`` (0..1), ``model`` and a human-readable ``reason``.

**Score** (:func:`learner_scores`): a weighted mean of four dimensions, each 0-100
(weights :class:`ScoreWeights`, default accuracy 0.35, speed 0.25, consistency 0.20,
progress 0.20; a missing dimension is left out and the others' weights renormalised):

- *accuracy*: 100 x share of the learner's attempts that are evidence counted right (each
  item's attempts until it is solved; a right answer after the whole hint ladder counts as
  wrong; later attempts at a solved item are practice: :func:`learnpulse.features.with_evidence`,
  the rule mastery follows);
- *speed*: per attempt that is evidence, ``log2(median duration of that item's evidence
  attempts in the course / duration)`` clipped to +-``speed_octaves``; the learner's median of
  it mapped linearly onto 0..100, so the course's typical pace is 50, ``speed_octaves`` times
  faster 100, that much slower 0 (a quick repeat of a solved item is no faster answer);
- *consistency*: 100 x (``regularity_share`` x regularity + the rest x steadiness), with
  regularity = weeks with graded attempts (practice included: it is study) / weeks since the
  learner's first attempt and steadiness = 1 - 2 x standard deviation of weekly accuracy
  (weeks with at least ``min_week_attempts`` attempts that are evidence; 0.5 is a
  proportion's largest deviation); regularity alone when fewer than two such weeks;
- *progress*: 100 x mean over the course's skills of ``min(1, P(known) / mastery
  threshold)`` for skills the learner attempted (0 for the others).

**Progress category** (:func:`progress_categories`): the score now minus the score one
``progress_window`` earlier (events before then; the mastery a week earlier if given,
otherwise today's progress dimension for both, which the reason says) -> Rapid Improvement /
Steady Progress / Stable / Needs Attention by :class:`CategoryThresholds`.

Readiness and peer comparison are in :mod:`learnpulse.models.standing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

import polars as pl

from learnpulse import __version__
from learnpulse.events import check_frame_dtypes, id_dtype
from learnpulse.features import COUNTED_CORRECT, with_evidence
from learnpulse.models.knowledge_tracing.sequences import (
    MASTERY_THRESHOLD,
    check_mastery_threshold,
)

#: The ``model`` column of each function's rows.
SCORE_MODEL = f"learner-score {__version__}"
PROGRESS_MODEL = f"progress-category {__version__}"
#: The score's dimensions, in display order.
DIMENSIONS = ("accuracy", "speed", "consistency", "progress")
#: Progress categories, best first.
CATEGORIES = ("Rapid Improvement", "Steady Progress", "Stable", "Needs Attention")
_WEEK = timedelta(days=7)
_JUST_AFTER = timedelta(microseconds=1)


@dataclass(frozen=True)
class ScoreWeights:
    """Weight of each score dimension (renormalised over the dimensions a learner has)."""

    accuracy: float = 0.35
    speed: float = 0.25
    consistency: float = 0.20
    progress: float = 0.20

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        bad = {k: v for k, v in values.items() if not v >= 0}
        if bad or not sum(values.values()) > 0:
            raise ValueError(f"score weights must be >= 0 with a positive sum, got {values}")


@dataclass(frozen=True)
class CategoryThresholds:
    """Weekly score change (points out of 100) separating the progress categories.

    A change >= ``rapid`` is Rapid Improvement, >= ``steady`` Steady Progress, > ``attention``
    Stable, anything lower Needs Attention. Calibrated on the simulated course at day 50,
    where the weekly change of the (cumulative) score has quartiles of about -2 and +1 points
    and deciles of about -5 and +3 (earlier in a course scores move more).
    """

    rapid: float = 4.0
    steady: float = 1.0
    attention: float = -3.0

    def __post_init__(self) -> None:
        if not self.rapid > self.steady > self.attention:
            raise ValueError(f"need rapid > steady > attention, got {self}")


@dataclass(frozen=True)
class ScoreSettings:
    """Settings of the score and the progress category."""

    #: Weights of the dimensions.
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    #: Speed: a learner this many doublings faster (slower) than the median scores 100 (0).
    speed_octaves: float = 1.0
    #: Consistency: share of regularity (the rest is steadiness of weekly accuracy).
    regularity_share: float = 0.5
    #: Consistency: attempts a week needs to count in the steadiness of weekly accuracy.
    min_week_attempts: int = 3
    #: Confidence of a score resting on n attempts: n / (n + this) x share of weight present.
    evidence_half_attempts: float = 10.0
    #: Time between the two scores compared by the progress category.
    progress_window: timedelta = _WEEK
    #: Thresholds of the progress categories.
    categories: CategoryThresholds = field(default_factory=CategoryThresholds)

    def __post_init__(self) -> None:
        # Plain mappings are accepted for the nested settings, e.g. weights={"accuracy": 0.5}
        # (unnamed dimensions keep their default weight).
        for name, kind in (("weights", ScoreWeights), ("categories", CategoryThresholds)):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                unknown = set(value) - {f.name for f in fields(kind)}
                if unknown:
                    raise ValueError(
                        f"unknown {name} {sorted(unknown)}; "
                        f"choose from {[f.name for f in fields(kind)]}"
                    )
                object.__setattr__(self, name, kind(**value))
            elif not isinstance(value, kind):
                raise TypeError(
                    f"{name} must be a {kind.__name__} or a dict, not {type(value).__name__}"
                )


# -- shared inputs -------------------------------------------------------------------------


def cutoff_of(events: pl.DataFrame, at: datetime | None) -> datetime | None:
    """``at`` when given (must be timezone-aware), else just after the latest event (so that
    "events before the cut-off" are all of them); None without events. A column of the
    wrong type is named (:func:`~learnpulse.events.check_frame_dtypes`)."""
    check_frame_dtypes(events)
    if at is not None:
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValueError(f"at must be a timezone-aware datetime, not {at!r}")
        return at
    return events.get_column("ts").max() + _JUST_AFTER if events.height else None


def graded_attempts(events: pl.DataFrame, at: datetime | None = None) -> pl.DataFrame:
    """Attempts with a known ``correct`` before ``at``, in time order (ties: input order),
    each marked with how it counts as evidence.

    Per-learner aggregations (``group_by``, ``over``) keep that order within each learner,
    which is what "the last n attempts" needs; events already in time order (as the store
    and the simulator give them) are not sorted again.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 5)
        Needs ``learner_id``, ``ts``, ``kind``, ``correct``; ``item_id``, ``skills``,
        ``duration_ms``, ``hints_used``, ``payload`` are used when present.
    at : datetime, optional

    Returns
    -------
    polars.DataFrame, shape (n_attempts, 8)
        ``learner_id``, ``ts``, ``item_id``, ``skills``, ``correct`` (the answer),
        ``duration_ms``, ``hints_used`` (null columns when absent from ``events``) and
        :data:`~learnpulse.features.COUNTED_CORRECT` (how it counts as evidence; null:
        practice on a solved item): accuracies, the score and the rules read that column,
        activity counts every row.
    """
    events = with_evidence(events)  # checks the columns it needs
    optional = {
        "item_id": pl.String,
        "skills": pl.List(pl.String),
        "duration_ms": pl.Int64,
        "hints_used": pl.Int32,
    }
    keep = (pl.col("kind") == "attempt") & pl.col("correct").is_not_null()
    if at is not None:
        keep &= pl.col("ts") < at
    frame = (
        events.lazy()
        .filter(keep)
        .select(
            "learner_id",
            "ts",
            *(
                pl.col(c) if c in events.columns else pl.lit(None, t).alias(c)
                for c, t in optional.items()
            ),
            "correct",
            COUNTED_CORRECT,
        )
        .collect()
    )
    in_order = frame.get_column("ts").is_sorted()
    return frame if in_order else frame.sort("ts", maintain_order=True)


def course_skill_count(mastery: pl.DataFrame | None, skills: pl.DataFrame | None) -> int:
    """Number of skills in the course: the skill frame's, else those in the mastery frame."""
    if skills is not None:
        return skills.get_column("skill_id").n_unique()
    if mastery is not None and mastery.height:
        return mastery.get_column("skill").n_unique()
    return 0


def mastery_progress(
    mastery: pl.DataFrame | None, n_skills: int, mastery_threshold: float = MASTERY_THRESHOLD
) -> pl.DataFrame:
    """Progress dimension per learner (see the module docstring): a skill's credit is its
    P(known) as a share of ``mastery_threshold``.

    Returns
    -------
    polars.DataFrame, shape (n_learners, 2)
        ``learner_id``, ``progress`` (0-100).
    """
    schema = {"learner_id": id_dtype(mastery), "progress": pl.Float64}
    if mastery is None or not mastery.height or not n_skills:
        return pl.DataFrame(schema=schema)
    tried = pl.col("n_attempts") > 0 if "n_attempts" in mastery.columns else pl.lit(True)
    credit = pl.when(tried).then((pl.col("p_known") / mastery_threshold).clip(0, 1))
    return mastery.group_by("learner_id").agg(progress=100 * credit.fill_null(0).sum() / n_skills)


# -- score -----------------------------------------------------------------------------------


#: Attempts that are evidence (the others are practice on a solved item).
_COUNTED = pl.col(COUNTED_CORRECT).is_not_null()


def _speed_ratios(attempts: pl.DataFrame, octaves: float) -> pl.DataFrame:
    """Attempts with ``_ratio``: log2(item median duration / duration), clipped to +-octaves,
    on the attempts that are evidence (null on practice)."""
    timed = (pl.col("duration_ms") > 0) & _COUNTED
    median = pl.col("duration_ms").filter(timed).median().over("item_id")
    ratio = (median / pl.col("duration_ms")).log(2).clip(-octaves, octaves)
    return attempts.with_columns(_ratio=pl.when(timed).then(ratio))


def _dimensions(attempts: pl.DataFrame, cutoff: datetime, s: ScoreSettings) -> pl.DataFrame:
    """Accuracy, speed and consistency (0-100) and the number of attempts that are evidence
    per learner (practice on solved items counts in regularity only)."""
    week = ((pl.lit(cutoff) - pl.col("ts")).dt.total_seconds() // _WEEK.total_seconds()).alias(
        "_week"
    )
    rows = _speed_ratios(attempts, s.speed_octaves).with_columns(week)
    counted = pl.col(COUNTED_CORRECT)
    weekly = (
        rows.filter(_COUNTED)
        .group_by("learner_id", "_week")
        .agg(n=pl.len(), acc=counted.mean())
        .filter(pl.col("n") >= s.min_week_attempts)
        .sort("learner_id", "_week")  # the std below sums in this order: the same every run
        .group_by("learner_id")
        .agg(steadiness=pl.when(pl.len() > 1).then(1 - 2 * pl.col("acc").std()))
    )
    weeks_seen = (pl.col("_week").max() + 1).cast(pl.Float64)
    per = rows.group_by("learner_id").agg(
        n_attempts=counted.count().cast(pl.Int64),
        accuracy=100 * counted.mean(),
        speed=50 + 50 * pl.col("_ratio").median() / s.speed_octaves,
        regularity=pl.col("_week").n_unique() / weeks_seen,
    )
    share = s.regularity_share
    consistency = 100 * pl.when(pl.col("steadiness").is_null()).then(
        pl.col("regularity")
    ).otherwise(share * pl.col("regularity") + (1 - share) * pl.col("steadiness").clip(0, 1))
    return per.join(weekly, on="learner_id", how="left").select(
        "learner_id", "n_attempts", "accuracy", "speed", consistency.alias("consistency")
    )


def _combine(frame: pl.DataFrame, s: ScoreSettings) -> pl.DataFrame:
    """Add ``score`` (weighted mean of present dimensions), ``confidence`` and ``reason``."""
    weights = {d: getattr(s.weights, d) for d in DIMENSIONS}
    present = [pl.col(d).is_not_null() for d in DIMENSIONS]
    weight = pl.sum_horizontal(
        pl.when(p).then(weights[d]).otherwise(0.0) for d, p in zip(DIMENSIONS, present, strict=True)
    )
    total = pl.sum_horizontal(pl.col(d).fill_null(0) * w for d, w in weights.items())
    score = pl.when(weight > 0).then(total / weight)
    n = pl.col("n_attempts").cast(pl.Float64)
    evidence = n / (n + s.evidence_half_attempts) * weight / sum(weights.values())
    shown = [pl.col(d).round(0).cast(pl.Int64).cast(pl.String).fill_null("n/a") for d in DIMENSIONS]
    weakest = (
        pl.concat_list(pl.col(d).fill_null(float("inf")) for d in DIMENSIONS)
        .list.arg_min()
        .replace_strict(list(range(len(DIMENSIONS))), list(DIMENSIONS), return_dtype=pl.String)
    )
    reason = pl.format(
        "accuracy {}, speed {}, consistency {}, progress {} (of 100; weights {}); weakest: {}",
        *shown,
        pl.lit("/".join(f"{w:g}" for w in weights.values())),
        weakest,
    )
    return frame.with_columns(score=score, confidence=evidence.fill_null(0.0), reason=reason)


def _score_at(
    attempts: pl.DataFrame,
    progress: pl.DataFrame,
    cutoff: datetime,
    s: ScoreSettings,
) -> pl.DataFrame:
    """Score rows from attempts before ``cutoff`` and a progress frame."""
    dims = _dimensions(attempts.filter(pl.col("ts") < cutoff), cutoff, s)
    frame = dims.join(progress, on="learner_id", how="full", coalesce=True)
    frame = frame.with_columns(pl.col("n_attempts").fill_null(0))
    return _combine(frame, s)


_SCORE_SCHEMA = {
    "learner_id": pl.String,
    "value": pl.Float64,
    "score": pl.Float64,
    **dict.fromkeys(DIMENSIONS, pl.Float64),
    "n_attempts": pl.Int64,
    "confidence": pl.Float64,
    "model": pl.String,
    "reason": pl.String,
}


def learner_scores(
    events: pl.DataFrame,
    mastery: pl.DataFrame | None = None,
    *,
    skills: pl.DataFrame | None = None,
    at: datetime | None = None,
    settings: ScoreSettings | None = None,
    attempts: pl.DataFrame | None = None,
    mastery_threshold: float = MASTERY_THRESHOLD,
) -> pl.DataFrame:
    """Multi-dimensional score of every learner (see the module docstring).

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 5)
        Event frame of one course.
    mastery : polars.DataFrame, optional
        Mastery rows (``learner_id``, ``skill``, ``p_known``, [``n_attempts``]), e.g. from
        ``course_mastery``; without it the progress dimension is missing.
    skills : polars.DataFrame, optional
        The course's skill frame (``skill_id``): the progress denominator.
    at : datetime, optional
        Timezone-aware cut-off (default: the latest event).
    settings : ScoreSettings, optional
    attempts : polars.DataFrame, optional
        :func:`graded_attempts` of ``events`` if already computed (saves a pass).
    mastery_threshold : float
        P(known) that earns a skill full credit in the progress dimension, in (0, 1].

    Returns
    -------
    polars.DataFrame, shape (n_learners, 11)
        ``learner_id``, ``value`` (= ``score``), ``score``, ``accuracy``, ``speed``,
        ``consistency``, ``progress`` (0-100, null when unknown), ``n_attempts`` (the
        attempts that are evidence, which accuracy counts), ``confidence``, ``model``,
        ``reason``; learners with an attempt or a mastery row.
    """
    s = settings or ScoreSettings()
    threshold = check_mastery_threshold(mastery_threshold)
    cutoff = cutoff_of(events, at)
    if cutoff is None:
        return pl.DataFrame(schema=_SCORE_SCHEMA)
    attempts = graded_attempts(events, at) if attempts is None else attempts
    progress = mastery_progress(mastery, course_skill_count(mastery, skills), threshold)
    frame = _score_at(attempts, progress, cutoff, s)
    return (
        frame.with_columns(value=pl.col("score"), model=pl.lit(SCORE_MODEL))
        .select(list(_SCORE_SCHEMA))
        .sort("learner_id")
    )


# -- progress category -------------------------------------------------------------------------


def _category(change: pl.Expr, t: CategoryThresholds) -> pl.Expr:
    return (
        pl.when(change >= t.rapid)
        .then(pl.lit(CATEGORIES[0]))
        .when(change >= t.steady)
        .then(pl.lit(CATEGORIES[1]))
        .when(change > t.attention)
        .then(pl.lit(CATEGORIES[2]))
        .otherwise(pl.lit(CATEGORIES[3]))
    )


def _progress_reason(days: float, held: bool) -> pl.Expr:
    """Reason of a progress row: both scores and the change, or why there is no change."""
    note = " (progress dimension held: no earlier mastery given)" if held else ""
    return (
        pl.when(pl.col("score_before").is_null())
        .then(pl.format("no score {} days earlier: change unknown", pl.lit(f"{days:g}")))
        .otherwise(
            pl.format(
                "score {} now vs {} {} days earlier ({} points){}",
                pl.col("score").round(1),
                pl.col("score_before").round(1),
                pl.lit(f"{days:g}"),
                (pl.col("score") - pl.col("score_before")).round(1),
                pl.lit(note),
            )
        )
    )


def progress_categories(
    events: pl.DataFrame,
    mastery: pl.DataFrame | None = None,
    *,
    skills: pl.DataFrame | None = None,
    at: datetime | None = None,
    mastery_before: pl.DataFrame | None = None,
    settings: ScoreSettings | None = None,
    scores: pl.DataFrame | None = None,
    attempts: pl.DataFrame | None = None,
    mastery_threshold: float = MASTERY_THRESHOLD,
) -> pl.DataFrame:
    """Progress category of every learner from the change of their score over a week.

    Parameters
    ----------
    events, mastery, skills, at, settings, attempts, mastery_threshold
        As for :func:`learner_scores`.
    mastery_before : polars.DataFrame, optional
        Mastery one ``progress_window`` before the cut-off; without it the progress dimension
        of today is used for both scores, so the change comes from accuracy, speed and
        consistency alone (the reason says so).
    scores : polars.DataFrame, optional
        :func:`learner_scores` output for the same inputs, if already computed.

    Returns
    -------
    polars.DataFrame, shape (n_learners, 8)
        ``learner_id``, ``value`` (one of :data:`CATEGORIES`), ``score``, ``score_before``,
        ``weekly_change`` (points; null for a learner without a score a week earlier, whose
        category is then Stable with confidence 0), ``confidence``, ``model``, ``reason``.
    """
    s = settings or ScoreSettings()
    threshold = check_mastery_threshold(mastery_threshold)
    cutoff = cutoff_of(events, at)
    schema = {
        "learner_id": pl.String,
        "value": pl.String,
        "score": pl.Float64,
        "score_before": pl.Float64,
        "weekly_change": pl.Float64,
        "confidence": pl.Float64,
        "model": pl.String,
        "reason": pl.String,
    }
    if cutoff is None:
        return pl.DataFrame(schema=schema)
    attempts = graded_attempts(events, at) if attempts is None else attempts
    if scores is None:
        scores = learner_scores(
            events,
            mastery,
            skills=skills,
            at=at,
            settings=s,
            attempts=attempts,
            mastery_threshold=threshold,
        )
    n_skills = course_skill_count(mastery, skills)
    held = mastery_before is None
    progress = mastery_progress(mastery if held else mastery_before, n_skills, threshold)
    earlier = _score_at(attempts, progress, cutoff - s.progress_window, s).filter(
        pl.col("n_attempts") > 0
    )
    frame = scores.select("learner_id", "score", "confidence").join(
        earlier.select("learner_id", score_before="score", _conf="confidence"),
        on="learner_id",
        how="left",
    )
    change = pl.col("score") - pl.col("score_before")
    reason = _progress_reason(s.progress_window.total_seconds() / 86_400, held)
    return (
        frame.with_columns(weekly_change=change)
        .select(
            "learner_id",
            value=_category(pl.col("weekly_change").fill_null(0.0), s.categories),
            score="score",
            score_before="score_before",
            weekly_change="weekly_change",
            confidence=pl.when(pl.col("_conf").is_not_null())
            .then(pl.min_horizontal("confidence", "_conf"))
            .otherwise(0.0),
            model=pl.lit(PROGRESS_MODEL),
            reason=reason,
        )
        .sort("learner_id")
    )
