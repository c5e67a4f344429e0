"""Time to completion: days and active hours left to master a course's (or a goal's) skills.

The mastery still needed is the sum over the target skills of how far each is below the
mastery threshold (``mastery_threshold - P(known)``, 0 when mastered, the whole threshold for
a skill never attempted), in the same unit as learning velocity (skills' worth of demonstrated
P(known)). Dividing it by the learner's recent weekly gain on the target skills
(mean over the last :data:`RECENT_WEEKS` weeks, inactive weeks counting as 0) gives the weeks
left; by that gain per active hour, the active hours left. For a goal, only the gains on the
goal's skills count: gains on other skills do not bring the goal nearer (``learnpulse
benchmark completion``: with every skill's gains, most simulated learners who never reached a
goal of three skills were told they would within the course). The interval comes from the
spread of those weekly gains, in two parts added in quadrature on a log scale (days are
positive and skewed to the long side): how uncertain the mean pace is (the days at the mean
weekly gain +- :data:`INTERVAL_Z` standard errors; when its lower end is not positive, the
upper end of the days is infinite), and how the pace varies from week to week, which makes
the days themselves vary: reaching a total ``need`` at a pace of weekly mean ``r`` and spread
``s`` takes a first-passage time whose squared coefficient of variation is about
``s**2 / (need * r)`` (renewal theory; Wald's inverse Gaussian in the limit), taken as
log-normal. With the first part alone, the 80% interval held 67-74% of the days simulated
learners took to reach a goal, with 17-24% of them below its lower end; with both, 83% with
9-11% below and 7% above (``learnpulse benchmark completion``).

Edge cases are rows, not exceptions: a learner with every target mastered is ``complete``
(0 days); one with no positive recent gain is ``no progress`` (infinite days, null hours).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import polars as pl

from learnpulse.models.knowledge_tracing import BKT
from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.mastery import check_columns
from learnpulse.models.velocity import weekly_progress

#: Weeks (ending at the cut-off) whose gains give the learner's current pace.
RECENT_WEEKS = 4
#: Interval = mean weekly gain +- this many standard errors (1.2816: a central 80% interval).
INTERVAL_Z = 1.2816
#: Status values.
COMPLETE, IN_PROGRESS, NO_PROGRESS = "complete", "in progress", "no progress"
MODEL = sq.model_label("time-to-completion")
_WEEK_DAYS = 7.0
_MASTERY_COLUMNS = ("learner_id", "skill", "p_known", "mastered", "n_attempts", "confidence")


def _targets(skills: pl.DataFrame, goal_skills: Sequence[str] | None) -> list[str]:
    check_columns(skills, ("skill_id",), "skill frame")
    course = skills.get_column("skill_id").cast(pl.String).to_list()
    if goal_skills is None:
        return course
    if isinstance(goal_skills, str):
        goal_skills = [goal_skills]
    unknown = sorted(set(goal_skills) - set(course))
    if unknown:
        raise ValueError(f"goal_skills not in the course's skill frame: {unknown}")
    return list(dict.fromkeys(goal_skills))


def _needs(mastery: pl.DataFrame, targets: list[str], threshold: float) -> pl.DataFrame:
    """Per learner: mastery still needed (up to ``threshold`` on each target skill), target
    skills left, mean confidence of the rows.

    A target skill never attempted (or without a row) counts from 0: velocity counts
    demonstrated mastery, so the prior is not progress already made.
    """
    rows = mastery.filter(pl.col("skill").is_in(targets))
    missing = len(targets) - pl.col("skill").n_unique()
    shown = pl.when(pl.col("n_attempts") > 0).then(pl.col("p_known")).otherwise(0.0)
    gap = (threshold - shown).clip(lower_bound=0.0)
    learners = mastery.select("learner_id").unique()
    needs = rows.group_by("learner_id").agg(
        mastery_needed=gap.sum() + missing * threshold,
        skills_left=(~pl.col("mastered")).sum().cast(pl.Int64) + missing,
        mastery_confidence=pl.col("confidence").mean(),
    )
    full = pl.lit(len(targets) * threshold)
    return learners.join(needs, on="learner_id", how="left").with_columns(
        pl.col("mastery_needed").fill_null(full),
        pl.col("skills_left").fill_null(len(targets)),
        pl.col("mastery_confidence").fill_null(0.0),
    )


def _pace(progress: pl.DataFrame) -> pl.DataFrame:
    """Per learner: recent mean weekly gain, its spread and standard error, gain per active
    hour."""
    recent = progress.filter(pl.col("weeks_back") < RECENT_WEEKS)
    return recent.group_by("learner_id").agg(
        rate=pl.col("gain").mean(),
        rate_sd=pl.col("gain").std(),
        rate_se=pl.col("gain").std() / pl.len().cast(pl.Float64).sqrt(),
        per_hour=pl.when(pl.col("hours").sum() > 0).then(
            pl.col("gain").sum() / pl.col("hours").sum()
        ),
        pace_weeks=pl.len(),
    )


def _estimates(frame: pl.DataFrame) -> pl.DataFrame:
    """Days and hours left with their intervals, status and confidence."""
    inf = pl.lit(math.inf)
    rate, need = pl.col("rate").fill_null(0.0), pl.col("mastery_needed")
    low_rate = rate - INTERVAL_Z * pl.col("rate_se").fill_null(math.inf)
    high_rate = rate + INTERVAL_Z * pl.col("rate_se").fill_null(0.0)
    status = (
        pl.when(pl.col("skills_left") == 0)
        .then(pl.lit(COMPLETE))
        .when(rate <= 0)
        .then(pl.lit(NO_PROGRESS))
        .otherwise(pl.lit(IN_PROGRESS))
    )
    frame = frame.with_columns(status=status)
    done, going = pl.col("status") == COMPLETE, pl.col("status") == IN_PROGRESS
    point = _WEEK_DAYS * need / rate
    wobble = (INTERVAL_Z * (1 + pl.col("rate_sd") ** 2 / (need * rate)).log().sqrt()).fill_null(0.0)
    faster = (point / (_WEEK_DAYS * need / high_rate)).log()
    slower = (_WEEK_DAYS * need / low_rate / point).log()
    early = point * (-(faster**2 + wobble**2).sqrt()).exp()
    late = point * (slower**2 + wobble**2).sqrt().exp()
    days = pl.when(done).then(0.0).when(going).then(point).otherwise(inf)
    days_low = pl.when(done).then(0.0).when(going).then(early).otherwise(inf)
    days_high = pl.when(done).then(0.0).when(going & (low_rate > 0)).then(late).otherwise(inf)
    hours = pl.when(done).then(0.0).when(going & (pl.col("per_hour") > 0))
    frame = frame.with_columns(
        days_left=days,
        days_low=days_low,
        days_high=days_high,
        hours_left=hours.then(need / pl.col("per_hour")),
    )
    scale = pl.col("hours_left") / pl.col("days_left")
    history = (pl.col("pace_weeks").fill_null(0) / RECENT_WEEKS).clip(0.0, 1.0)
    precision = (rate / (rate + pl.col("rate_se").fill_null(math.inf))).clip(0.0, 1.0)
    confidence = (
        pl.when(done)
        .then(pl.col("mastery_confidence"))
        .when(going)
        .then(history * precision.fill_nan(0.0))
        .otherwise(history)
    )
    return frame.with_columns(
        hours_low=pl.when(done).then(0.0).otherwise(pl.col("days_low") * scale),
        hours_high=pl.when(done).then(0.0).otherwise(pl.col("days_high") * scale),
        confidence=confidence,
    )


def _days(column: str) -> pl.Expr:
    """Whole days as text; "no bound" for infinity."""
    finite = pl.col(column).round(0).cast(pl.Int64, strict=False).cast(pl.String)
    return pl.when(pl.col(column).is_finite()).then(finite).otherwise(pl.lit("no bound"))


def _reason(n_targets: int) -> pl.Expr:
    needed = pl.format(
        "{} of {} skills left ({} skills' worth of mastery to gain)",
        "skills_left",
        pl.lit(n_targets),
        pl.col("mastery_needed").round(2),
    )
    return (
        pl.when(pl.col("status") == COMPLETE)
        .then(pl.format("all {} target skills mastered", pl.lit(n_targets)))
        .when(pl.col("status") == NO_PROGRESS)
        .then(pl.format("{}; no mastery gained in the last {} weeks", needed, pl.lit(RECENT_WEEKS)))
        .otherwise(
            pl.format(
                "{} at {} per week over the last {} weeks: about {} days ({} to {})",
                needed,
                pl.col("rate").round(3),
                "pace_weeks",
                _days("days_left"),
                _days("days_low"),
                _days("days_high"),
            )
        )
    )


def time_to_completion(
    events: pl.DataFrame | None,
    mastery: pl.DataFrame,
    *,
    skills: pl.DataFrame,
    goal_skills: Sequence[str] | str | None = None,
    at: datetime | None = None,
    model: BKT | None = None,
    progress: pl.DataFrame | None = None,
    mastery_threshold: float = sq.MASTERY_THRESHOLD,
) -> pl.DataFrame:
    """Expected days and active hours left to master the course's (or a goal's) skills.

    Parameters
    ----------
    events : polars.DataFrame or None
        Event frame the learners' pace is measured on (see
        :func:`~learnpulse.models.velocity.weekly_progress`); unused with ``progress``.
    mastery : polars.DataFrame
        :func:`~learnpulse.models.mastery.course_mastery` of the same events (learners are
        its learners).
    skills : polars.DataFrame
        The course's skill frame (``skill_id``, ...).
    goal_skills : str or sequence of str, optional
        The skills to master (default: every skill of ``skills``).
    at : datetime, optional
        Timezone-aware cut-off (default: the last event's time).
    model : BKT, optional
        The fitted BKT ``mastery`` came from (default: fitted on ``events``).
    progress : polars.DataFrame, optional
        :func:`~learnpulse.models.velocity.weekly_progress` if already computed, with
        ``skills=goal_skills`` for a goal.
    mastery_threshold : float
        P(known) a skill is mastered from, in (0, 1]: the one ``mastery`` was labelled with.

    Returns
    -------
    polars.DataFrame, shape (n_learners, 15)
        ``learner_id``, ``value`` (= ``days_left``), ``days_left``, ``days_low``,
        ``days_high``, ``hours_left``, ``hours_low``, ``hours_high`` (0 when complete; days
        inf and hours null without progress), ``skills_left``, ``mastery_needed``,
        ``rate_per_week``, ``status`` (complete / in progress / no progress),
        ``confidence``, ``model``, ``reason``, sorted by learner.
    """
    threshold = sq.check_mastery_threshold(mastery_threshold)
    targets = _targets(skills, goal_skills)
    check_columns(mastery, _MASTERY_COLUMNS, "mastery frame")
    if progress is None:
        on = None if goal_skills is None else targets
        progress = weekly_progress(events, model=model, at=at, skills=on)
    frame = _needs(mastery, targets, threshold).join(_pace(progress), on="learner_id", how="left")
    frame = _estimates(frame)
    return frame.select(
        "learner_id",
        value="days_left",
        days_left="days_left",
        days_low="days_low",
        days_high="days_high",
        hours_left="hours_left",
        hours_low="hours_low",
        hours_high="hours_high",
        skills_left="skills_left",
        mastery_needed="mastery_needed",
        rate_per_week="rate",
        status="status",
        confidence="confidence",
        model=pl.lit(MODEL),
        reason=_reason(len(targets)),
    ).sort("learner_id")
