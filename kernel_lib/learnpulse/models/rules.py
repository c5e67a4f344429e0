"""Adaptive feedback and alert rules, declared as data so anyone can add one.

A :class:`Rule` is a name, a condition on the per-learner *signals* (a polars expression
built from :class:`RuleSettings`, so every threshold is a named setting), an urgency and
message/reason templates whose ``{column}`` fields are filled from the signals.
:func:`learner_signals` computes the signals (:data:`SIGNAL_DESCRIPTIONS`) from events and
earlier model outputs; :func:`evaluate_rules` fires every rule on every learner at once.

:data:`FEEDBACK_RULES` speak to the learner (what to do next); :data:`ALERT_RULES` speak to
the instructor (who needs attention). To add a rule, append to a copy of either list::

    careless = Rule(
        "careless", lambda s: (pl.col("speed") > 80) & (pl.col("accuracy") < 60),
        "You answer fast but often wrongly: read each question twice.",
        "speed {speed}, accuracy {accuracy}%", urgency="medium",
    )
    evaluate_rules(signals, [*FEEDBACK_RULES, careless])

Learners who withdrew get no rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import polars as pl

from learnpulse import __version__
from learnpulse.events import id_dtype
from learnpulse.features import COUNTED_CORRECT, NON_ACTIVITY_KINDS
from learnpulse.models.activity import learner_days
from learnpulse.models.knowledge_tracing.sequences import (
    MASTERY_THRESHOLD,
    check_mastery_threshold,
)

#: Urgencies, most urgent first.
URGENCIES = ("high", "medium", "low")
Urgency = Literal["high", "medium", "low"]
#: The ``model`` column of rule rows.
RULES_MODEL = f"rules {__version__}"
_DAY_S = 86_400.0


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds of the built-in rules (accuracies and scores are 0-100).

    Attempts and accuracies are those of the attempts that are evidence (each exercise's
    until it is solved, :func:`learnpulse.features.with_evidence`): answering a solved one
    again is practice.
    """

    #: Accuracy at or above which a learner is accurate.
    high_accuracy: float = 80.0
    #: Speed dimension (50 = the course's median pace) below which a learner is slow.
    slow_speed: float = 35.0
    #: Speed dimension above which a learner is fast.
    fast_speed: float = 65.0
    #: Accuracy below which fast answers look rushed.
    low_accuracy: float = 50.0
    #: Number of latest attempts whose accuracy is ``recent_accuracy``.
    recent_window: int = 5
    #: Number of attempts before those whose accuracy is ``earlier_accuracy``.
    earlier_window: int = 20
    #: Drop (points) from earlier to recent accuracy that counts as falling.
    falling_drop: float = 30.0
    #: Number of latest attempts whose hints per attempt is ``recent_hints``.
    hint_window: int = 10
    #: Hints per attempt over the latest ``hint_window`` attempts that is "many hints".
    many_hints: float = 1.0
    #: Weekly score fall (points) that is a performance drop.
    performance_drop: float = 5.0
    #: Days in a row a streak needs before its end is worth an alert.
    streak_min_days: int = 3
    #: A streak whose last day is 2 .. 1 + this many days ago has just been broken.
    streak_alert_days: int = 2
    #: Shares of the course's skills mastered that are milestones.
    milestones: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    #: Accuracy below which a learner with enough attempts is struggling.
    struggling_accuracy: float = 50.0
    #: Attempts that are evidence needed before a learner can be called struggling.
    struggling_min_attempts: int = 20
    #: Days without activity that make a learner inactive.
    inactivity_days: float = 7.0
    #: Predicted dropout probability at or above which an alert fires.
    dropout_risk: float = 0.5
    #: Confidence of a rule resting on n attempts: n / (n + this).
    evidence_half_attempts: float = 10.0

    def __post_init__(self) -> None:
        windows = ("recent_window", "earlier_window", "hint_window", "streak_min_days")
        small = [name for name in windows if getattr(self, name) < 1]
        if small:
            raise ValueError(f"{small[0]} must be at least 1, not {getattr(self, small[0])}")
        if not 0 <= self.dropout_risk <= 1:
            raise ValueError(f"dropout_risk must be in [0, 1], not {self.dropout_risk}")
        if not all(0 < m <= 1 for m in self.milestones):
            raise ValueError(f"milestones must be shares in (0, 1], not {self.milestones}")


@dataclass(frozen=True)
class Rule:
    """One feedback or alert rule.

    Parameters
    ----------
    name : str
        The ``rule`` column of the rows it fires.
    when : callable
        ``when(settings) -> polars.Expr``: boolean over the signals (null counts as false).
    message : str
        Text shown to the learner or instructor; ``{column}`` fields come from the signals
        (floats rounded to integers).
    reason : str
        Why it fired, same templating.
    urgency : {"high", "medium", "low"}
    confidence : callable, optional
        ``confidence(settings) -> polars.Expr`` in 0..1; default the signals' ``confidence``
        (evidence from the number of attempts).
    """

    name: str
    when: Callable[[RuleSettings], pl.Expr]
    message: str
    reason: str
    urgency: Urgency = "low"
    confidence: Callable[[RuleSettings], pl.Expr] | None = None

    def __post_init__(self) -> None:
        if self.urgency not in URGENCIES:
            raise ValueError(f"rule {self.name!r}: urgency must be one of {URGENCIES}")


def _col(name: str) -> pl.Expr:
    return pl.col(name)


FEEDBACK_RULES: list[Rule] = [
    Rule(
        "speed_practice",
        lambda s: (_col("accuracy") >= s.high_accuracy) & (_col("speed") < s.slow_speed),
        "You get most answers right but take longer than most: try timed practice.",
        "accuracy {accuracy}% but speed {speed} (50 = course median)",
    ),
    Rule(
        "take_a_break",
        lambda s: _col("recent_accuracy") <= _col("earlier_accuracy") - s.falling_drop,
        "Your last answers were less accurate than before: take a short break.",
        "last attempts {recent_accuracy}% correct vs {earlier_accuracy}% before",
        urgency="medium",
    ),
    Rule(
        "review_explanation",
        lambda s: _col("recent_hints") >= s.many_hints,
        "You are relying on hints: review the explanation before the next exercise.",
        "{recent_hints_per_10} hints per 10 recent attempts",
    ),
    Rule(
        "slow_down",
        lambda s: (_col("speed") > s.fast_speed) & (_col("accuracy") < s.low_accuracy),
        "You answer quickly but often wrongly: slow down and read each question carefully.",
        "speed {speed} (50 = course median) with accuracy {accuracy}%",
        urgency="medium",
    ),
    Rule(
        "level_up",
        lambda s: (
            (_col("accuracy") >= s.high_accuracy)
            & (_col("speed") > s.fast_speed)
            & (_col("recent_accuracy") >= s.high_accuracy)
        ),
        "You are fast and accurate: try harder exercises or the next topic.",
        "accuracy {accuracy}%, recent {recent_accuracy}%, speed {speed}",
    ),
]

ALERT_RULES: list[Rule] = [
    Rule(
        "performance_drop",
        lambda s: _col("score_change") <= -s.performance_drop,
        "Performance dropped this week.",
        "score {score}, {score_change_abs} points lower than a week earlier",
        urgency="high",
    ),
    Rule(
        "streak_broken",
        lambda s: (
            (_col("last_streak_days") >= s.streak_min_days)
            & _col("days_since_active_day").is_between(2, 1 + s.streak_alert_days)
        ),
        "A study streak was just broken.",
        "{last_streak_days}-day streak ended; last active {days_since_active_day} days ago",
        urgency="medium",
        confidence=lambda s: pl.lit(1.0),
    ),
    Rule(
        "milestone_reached",
        lambda s: _col("milestone").is_not_null(),
        "Milestone reached: {milestone}% of the course's skills mastered.",
        "{mastered_pct}% of skills mastered now vs {mastered_before_pct}% a week earlier",
    ),
    Rule(
        "readiness_reached",
        lambda s: (_col("readiness") == "ready") & (_col("readiness_before") != "ready"),
        "Ready for the assessment.",
        "readiness became 'ready' this week (was '{readiness_before}')",
    ),
    Rule(
        "struggling_learner",
        lambda s: (
            (_col("accuracy") < s.struggling_accuracy)
            & (_col("n_attempts") >= s.struggling_min_attempts)
        ),
        "Struggling: most answers are wrong.",
        "accuracy {accuracy}% over {n_attempts} counted attempts",
        urgency="high",
    ),
    Rule(
        "inactivity",
        lambda s: _col("days_inactive") >= s.inactivity_days,
        "Inactive for {days_inactive} days.",
        "last activity {days_inactive} days before the cut-off",
        urgency="medium",
        confidence=lambda s: pl.lit(1.0),
    ),
    Rule(
        "dropout_risk",
        lambda s: _col("retention_risk") >= s.dropout_risk,
        "High risk of dropping out.",
        "predicted dropout probability {retention_risk_pct}%",
        urgency="high",
        confidence=lambda s: pl.lit(1.0) * _col("retention_confidence"),
    ),
]

#: Signal column -> meaning (one row per learner; null when unknown).
SIGNAL_DESCRIPTIONS: dict[str, str] = {
    "n_attempts": "graded attempts that are evidence (each item's until solved)",
    "accuracy": "share of those attempts counted right (0-100)",
    "speed": "speed dimension of the score (0-100, 50 = the course's median pace)",
    "score": "multi-dimensional score (0-100)",
    "score_change": "score minus the score a week earlier",
    "recent_accuracy": "accuracy of the last recent_window attempts that are evidence",
    "earlier_accuracy": "accuracy of the earlier_window such attempts before those",
    "recent_hints": "hints per attempt over the last hint_window attempts that are evidence",
    "days_inactive": "days from the last activity (or the registration) to the cut-off",
    "last_streak_days": "length of the latest run of consecutive active days",
    "days_since_active_day": "calendar days from the last active day to the cut-off's day",
    "mastered_pct": "share of the course's skills mastered (0-100)",
    "mastered_before_pct": "the same a week earlier (needs the mastery a week earlier)",
    "milestone": "largest milestone (percent) crossed during the week",
    "readiness": "readiness status now (ready / almost / not yet)",
    "readiness_before": "readiness status a week earlier",
    "retention_risk": "predicted dropout probability (0..1)",
    "withdrawn": "true if the learner withdrew",
    "confidence": "evidence from the number of attempts: n / (n + evidence_half_attempts)",
}


def _attempt_signals(attempts: pl.DataFrame, s: RuleSettings) -> pl.DataFrame:
    """Recent/earlier accuracy and recent hints from the attempts that are evidence, in time
    order: answering a solved exercise again is practice, as for mastery and the score (20
    quick repeats made a "fast and accurate" learner, and their end "falling accuracy")."""
    back = pl.int_range(pl.len()).reverse().over("learner_id").alias("_back")
    recent, earlier = (
        pl.col("_back") < s.recent_window,
        pl.col("_back") < (s.recent_window + s.earlier_window),
    )
    counted = pl.col(COUNTED_CORRECT)
    return (
        attempts.filter(counted.is_not_null())
        .with_columns(back)
        .group_by("learner_id")
        .agg(
            recent_accuracy=pl.when(pl.len() >= s.recent_window).then(
                100 * counted.filter(recent).mean()
            ),
            earlier_accuracy=100 * counted.filter(~recent & earlier).mean(),
            recent_hints=pl.col("hints_used")
            .filter(pl.col("_back") < s.hint_window)
            .fill_null(0)
            .mean(),
        )
    )


def _activity_signals(
    events: pl.DataFrame, cutoff: datetime, days: pl.DataFrame | None
) -> pl.DataFrame:
    """Days inactive (since registration for a learner never active), the latest run of active
    days and how long ago it ended, and whether the learner withdrew.

    Consecutive active days of a learner share ``day - its rank among the learner's days``;
    the latest run has the largest such value.
    """
    earlier = events.lazy().filter(pl.col("ts") < cutoff)
    if days is None:
        days = learner_days(earlier.collect())
    rank = pl.col("day").rank("ordinal").over("learner_id").cast(pl.Int64)
    runs = (
        days.lazy()
        .with_columns(run=pl.col("day").cast(pl.Int64) - rank)
        .group_by("learner_id")
        .agg(
            last=pl.col("last").max(),
            last_streak_days=(pl.col("run") == pl.col("run").max()).sum().cast(pl.Int64),
            days_since_active_day=(pl.lit(cutoff.date()) - pl.col("day").max()).dt.total_days(),
        )
    )
    bookkeeping = pl.col("kind").is_in(NON_ACTIVITY_KINDS)
    enrolment = (
        earlier.filter(bookkeeping)
        .group_by("learner_id")
        .agg(
            registered=pl.col("ts").filter(pl.col("kind") == "registration").max(),
            withdrawn=(pl.col("kind") == "withdrawal").any(),
        )
    )
    since = pl.lit(cutoff) - pl.coalesce("last", "registered")
    return (
        runs.join(enrolment, on="learner_id", how="full", coalesce=True)
        .with_columns(
            days_inactive=since.dt.total_seconds() / _DAY_S,
            withdrawn=pl.col("withdrawn").fill_null(False),
        )
        .drop("last", "registered")
        .collect()
    )


def _mastered_share(
    mastery: pl.DataFrame | None, n_skills: int, name: str, threshold: float
) -> pl.DataFrame:
    if mastery is None or not n_skills:
        return pl.DataFrame(schema={"learner_id": id_dtype(mastery), name: pl.Float64})
    return mastery.group_by("learner_id").agg(
        (100 * (pl.col("p_known") >= threshold).sum() / n_skills).alias(name)
    )


def _milestone(s: RuleSettings) -> pl.Expr:
    """Largest milestone crossed between ``mastered_before_pct`` and ``mastered_pct``."""
    crossed = [
        pl.when(
            (pl.col("mastered_before_pct") < 100 * m) & (pl.col("mastered_pct") >= 100 * m)
        ).then(pl.lit(100 * m))
        for m in sorted(s.milestones)
    ]
    return pl.max_horizontal(crossed) if crossed else pl.lit(None, pl.Float64)


#: Signals read from other outputs, with their types when that output is not given.
_OPTIONAL_SIGNALS = {
    "score_change": pl.Float64,
    "readiness": pl.String,
    "readiness_before": pl.String,
    "retention_risk": pl.Float64,
    "retention_confidence": pl.Float64,
}


def _renamed(source: pl.DataFrame | None, names: dict[str, str]) -> pl.DataFrame:
    """``learner_id`` and ``source``'s columns renamed to signals (all null without it)."""
    if source is None:
        return pl.DataFrame(
            schema={"learner_id": pl.String} | {v: _OPTIONAL_SIGNALS[v] for v in names.values()}
        )
    return source.select("learner_id", *(pl.col(k).alias(v) for k, v in names.items()))


def learner_signals(
    events: pl.DataFrame,
    attempts: pl.DataFrame,
    *,
    at: datetime,
    scores: pl.DataFrame,
    progress: pl.DataFrame | None = None,
    readiness: pl.DataFrame | None = None,
    readiness_before: pl.DataFrame | None = None,
    mastery: pl.DataFrame | None = None,
    mastery_before: pl.DataFrame | None = None,
    n_skills: int = 0,
    retention: pl.DataFrame | None = None,
    settings: RuleSettings | None = None,
    days: pl.DataFrame | None = None,
    mastery_threshold: float = MASTERY_THRESHOLD,
) -> pl.DataFrame:
    """Everything the rules read, one row per learner (:data:`SIGNAL_DESCRIPTIONS`).

    Parameters
    ----------
    events : polars.DataFrame
        Event frame of the course (activity, withdrawals).
    attempts : polars.DataFrame
        :func:`learnpulse.models.scoring.graded_attempts` of ``events`` before ``at``.
    at : datetime
        Timezone-aware cut-off.
    scores, progress : polars.DataFrame
        :func:`~learnpulse.models.scoring.learner_scores` and, optionally,
        :func:`~learnpulse.models.scoring.progress_categories` output.
    readiness, readiness_before : polars.DataFrame, optional
        :func:`~learnpulse.models.standing.readiness` at the cut-off and a week earlier.
    mastery, mastery_before : polars.DataFrame, optional
        Mastery rows now and a week earlier (``learner_id``, ``p_known``); a learner without
        rows a week earlier had mastered nothing then.
    n_skills : int
        Number of skills in the course (milestones are shares of it).
    retention : polars.DataFrame, optional
        Retention-risk rows (``learner_id``, ``value``, ``confidence``).
    settings : RuleSettings, optional
    days : polars.DataFrame, optional
        :func:`~learnpulse.models.activity.learner_days` of ``events`` before ``at`` if
        already computed.
    mastery_threshold : float
        P(known) from which a skill counts as mastered in the milestones, in (0, 1].

    Returns
    -------
    polars.DataFrame, shape (n_learners, 1 + len(SIGNAL_DESCRIPTIONS))
    """
    s = settings or RuleSettings()
    threshold = check_mastery_threshold(mastery_threshold)
    frame = scores.select("learner_id", "n_attempts", "accuracy", "speed", "score")
    joins: list[pl.DataFrame] = [
        _attempt_signals(attempts, s),
        _activity_signals(events, at, days),
        _mastered_share(mastery, n_skills, "mastered_pct", threshold),
        _mastered_share(mastery_before, n_skills, "mastered_before_pct", threshold),
        _renamed(progress, {"weekly_change": "score_change"}),
        _renamed(readiness, {"value": "readiness"}),
        _renamed(readiness_before, {"value": "readiness_before"}),
        _renamed(retention, {"value": "retention_risk", "confidence": "retention_confidence"}),
    ]
    for other in joins:
        frame = frame.join(other, on="learner_id", how="left")
    n = pl.col("n_attempts").cast(pl.Float64)
    if mastery_before is not None:
        frame = frame.with_columns(pl.col("mastered_before_pct").fill_null(0.0))
    return frame.with_columns(
        milestone=_milestone(s),
        withdrawn=pl.col("withdrawn").fill_null(False),
        confidence=n / (n + s.evidence_half_attempts),
        # display helpers of the message templates
        score_change_abs=pl.col("score_change").abs(),
        recent_hints_per_10=10 * pl.col("recent_hints"),
        retention_risk_pct=100 * pl.col("retention_risk"),
    )


_FIELD = re.compile(r"\{(\w+)\}")


def _render(template: str, schema: pl.Schema) -> pl.Expr:
    """A template with ``{column}`` fields as a string expression (floats rounded)."""
    names = _FIELD.findall(template)
    unknown = [n for n in names if n not in schema]
    if unknown:
        raise ValueError(f"template {template!r} names unknown signal(s) {unknown}")
    values = [
        pl.col(n).round(0).cast(pl.Int64) if schema[n].is_float() else pl.col(n) for n in names
    ]
    return pl.format(_FIELD.sub("{}", template), *values) if names else pl.lit(template)


_RULE_SCHEMA = {
    "learner_id": pl.String,
    "rule": pl.String,
    "urgency": pl.String,
    "message": pl.String,
    "confidence": pl.Float64,
    "model": pl.String,
    "reason": pl.String,
}


def evaluate_rules(
    signals: pl.DataFrame, rules: Sequence[Rule], settings: RuleSettings | None = None
) -> pl.DataFrame:
    """Every (learner, rule) that fires, most urgent first.

    Parameters
    ----------
    signals : polars.DataFrame
        :func:`learner_signals` output.
    rules : sequence of Rule
    settings : RuleSettings, optional

    Returns
    -------
    polars.DataFrame, shape (n_fired, 7)
        ``learner_id``, ``rule``, ``urgency``, ``message``, ``confidence``, ``model``,
        ``reason``, sorted by urgency, learner and rule order.
    """
    s = settings or RuleSettings()
    active = signals.filter(~pl.col("withdrawn"))
    parts = []
    for order, rule in enumerate(rules):
        confidence = rule.confidence(s) if rule.confidence else pl.col("confidence")
        parts.append(
            active.filter(rule.when(s).fill_null(False)).select(
                "learner_id",
                rule=pl.lit(rule.name),
                urgency=pl.lit(rule.urgency),
                message=_render(rule.message, signals.schema),
                confidence=confidence.cast(pl.Float64).fill_null(0.0),
                model=pl.lit(RULES_MODEL),
                reason=_render(rule.reason, signals.schema),
                _order=pl.lit(order, pl.Int64),
            )
        )
    if not parts:
        return pl.DataFrame(schema=_RULE_SCHEMA)
    rank = pl.col("urgency").replace_strict(list(URGENCIES), range(len(URGENCIES)))
    return pl.concat(parts).sort(rank, "learner_id", "_order").select(list(_RULE_SCHEMA))
