"""``predict_all``: every learner model's output for one course, in one call.

The expensive shared pieces are computed once, on demand, and reused: the events before the
cut-off, marked once by the evidence rule (:func:`learnpulse.features.with_evidence`: which
attempts every accuracy, the score, the rules and mastery count), the graded attempts, the
feature frame (:func:`learnpulse.features.learner_features`), the BKT trace and the mastery
frame, and the per-session and per-day activity frames (:mod:`learnpulse.models.activity`)
that engagement, learning velocity and the feedback rules all read. Each output
(:data:`OUTPUT_KEYS`) is a function of those; ``only=`` computes just the outputs asked for
and what they need.

Labelled models (success, retention risk, performance forecast) and the mastery model and
clusters come from ``fitted`` (:func:`~learnpulse.models.course_fit.fit_course_models`). Without
it, mastery (BKT by EM) and clusters (k-means) are fitted on the course itself, which needs
no labels, and the three labelled outputs have a row per learner with a null ``value``,
confidence 0 and a reason saying why: no number is made up. The same when ``fitted`` is
:class:`~learnpulse.models.course_fit.UnusableModels` (saved models that are stale or do not
load, as the server's loader gives them), whose reason the three outputs then give. Learners
who withdrew before the cut-off get facts, not predictions: retention risk 1, success 0, no
forecast, with the reason "withdrew before the cut-off" (and no feedback or alerts).

The mastery a week before the cut-off, which the progress category, the milestone and the
readiness alerts compare with, is read from the BKT trace's trajectory (P(known) after each
learner's last response before then), so it costs no second trace.

Independent outputs are computed side by side in threads (:data:`LANES`); the results are
the same as in order. Learner and session ids are computed on as categoricals and given back
as strings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cached_property
from typing import Any

import polars as pl
from threadpoolctl import threadpool_limits

from learnpulse.events import CATEGORICAL_IDS
from learnpulse.features import learner_features, with_evidence, with_optional_columns
from learnpulse.models import rules as rl
from learnpulse.models import scoring as sc
from learnpulse.models import standing as st
from learnpulse.models.activity import learner_days, session_spans
from learnpulse.models.clusters import LearnerClusters
from learnpulse.models.completion import time_to_completion
from learnpulse.models.course_fit import FittedCourseModels, UnusableModels
from learnpulse.models.engagement import engagement_patterns
from learnpulse.models.gaps import knowledge_gaps
from learnpulse.models.knowledge_tracing.sequences import CONFIDENCE_HALF_ATTEMPTS
from learnpulse.models.mastery import (
    before,
    check_columns,
    course_mastery,
    fit_mastery_model,
    trace_mastery,
)
from learnpulse.models.predictive import MODEL_VERSION
from learnpulse.models.recommendations import recommend
from learnpulse.models.settings import CourseSettings, course_settings
from learnpulse.models.velocity import learning_velocity, weekly_progress

#: The keys of :func:`predict_all`'s result, in order.
OUTPUT_KEYS = (
    "mastery",
    "learning_velocity",
    "engagement",
    "success",
    "time_to_completion",
    "retention_risk",
    "knowledge_gaps",
    "clusters",
    "performance_forecast",
    "score",
    "progress",
    "readiness",
    "peers",
    "recommendations",
    "feedback",
    "alerts",
)
#: OpenMP threads for the gradient-boosting predictions: one. Each per-tree prediction on a
#: course is too short to gain from threads, and on a loaded machine spin-waiting threads made
#: them ~5x slower (measured: 16 s vs 3 s for one model on 10,000 learners, 2 busy cores).
PREDICT_THREADS = 1
#: Outputs computed side by side, each lane in order in a thread of its own: the feature
#: models' outputs (the feature frame and the fitted models only) and the mastery outputs
#: that read nothing but the mastery frame, the skills, the items and the events; the main
#: thread computes the rest meanwhile. The lanes share no input that is not computed before
#: they start, so nothing is computed twice, and the results are those of the outputs in
#: order. Gradient-boosting predictions and many small polars steps use one core each, so on
#: 2 cores they overlap (``learnpulse benchmark predict_all``, 10,000 learners: 1.88 / 2.29 /
#: 2.03 s against 2.34 / 2.80 / 2.13 s in order in the same runs).
LANES = (
    ("success", "retention_risk", "performance_forecast", "clusters"),
    ("recommendations", "knowledge_gaps"),
)
#: Outputs that read what the feature lane computes (the features, the retention risk):
#: computed after the lanes.
_AFTER_LANES = ("peers", "feedback", "alerts")
#: Reason of the labelled outputs when no fitted model is given (an UnusableModels gives its own).
UNFITTED_REASON = (
    "no fitted model: train one with fit_course_models() on a course with known outcomes"
)
_WITHDRAWN_REASON = "withdrew before the cut-off"


class _Course:
    """One course's shared inputs, each computed at most once."""

    def __init__(
        self,
        events: pl.DataFrame,
        *,
        skills: pl.DataFrame | None,
        items: pl.DataFrame | None,
        learners: pl.DataFrame | None,
        at: datetime | None,
        fitted: FittedCourseModels | UnusableModels | None,
        settings: CourseSettings,
    ) -> None:
        self.events, self.at, self.settings = events, at, settings
        # the models, or None: unusable ones are none, only their reason differs
        self.fitted = fitted if isinstance(fitted, FittedCourseModels) else None
        unusable = isinstance(fitted, UnusableModels)
        self.unfitted_reason = fitted.reason if unusable else UNFITTED_REASON
        self.threshold = settings.mastery_threshold
        self.given_skills, self.given_items, self.learners = skills, items, learners
        self.cutoff = sc.cutoff_of(events, at)

    @cached_property
    def skills(self) -> pl.DataFrame:
        """The skill frame, or one built from the skills the events name (no prerequisites).

        An empty frame counts as none: it is what the store gives for a course whose skills
        were never recorded (events sent to the server name skills, they record none), and
        every skill-based output was then empty (no recommendation at all).
        """
        if self.given_skills is not None and not self.given_skills.is_empty():
            return self.given_skills
        names = self.events.get_column("skills").explode().drop_nulls().unique().sort()
        return pl.DataFrame(
            {"skill_id": names, "name": names, "prerequisites": [[]] * names.len()},
            schema={"skill_id": pl.String, "name": pl.String, "prerequisites": pl.List(pl.String)},
        )

    @cached_property
    def items(self) -> pl.DataFrame:
        """The item frame, or one built from the attempted items (mean difficulty)."""
        if self.given_items is not None:
            return self.given_items
        return (
            self.events.filter(pl.col("item_id").is_not_null())
            .group_by("course_id", "item_id")
            .agg(pl.col("skills").first(), difficulty=pl.col("difficulty").mean())
            .with_columns(attributes=pl.lit("{}"))
            .sort("item_id")
        )

    @cached_property
    def attempts(self) -> pl.DataFrame:
        return sc.graded_attempts(self.events)

    @cached_property
    def features(self) -> pl.DataFrame:
        return learner_features(self.events, learners=self.learners)

    @cached_property
    def mastery_model(self):
        return self.fitted.mastery if self.fitted else fit_mastery_model(self.events)

    @cached_property
    def trace(self):
        return trace_mastery(self.events, model=self.mastery_model)

    @cached_property
    def mastery(self) -> pl.DataFrame:
        return course_mastery(
            self.events, skills=self.skills, trace=self.trace, mastery_threshold=self.threshold
        )

    @cached_property
    def mastery_before(self) -> pl.DataFrame:
        """Mastery one progress window before the cut-off, from the trace's trajectory."""
        earlier = self.cutoff - self.settings.score.progress_window
        return (
            self.trace.responses.filter(pl.col("ts") < earlier)
            .group_by("learner_id", "skill")
            .agg(p_known=pl.col("p_after").last(), n_attempts=pl.len())
            .with_columns(
                confidence=pl.col("n_attempts") / (pl.col("n_attempts") + CONFIDENCE_HALF_ATTEMPTS)
            )
            .sort("learner_id", "skill")  # as the mastery frame: float sums over it repeat
        )

    @cached_property
    def sessions(self) -> pl.DataFrame:
        return session_spans(self.events)

    @cached_property
    def days(self) -> pl.DataFrame:
        return learner_days(self.events)

    @cached_property
    def weekly(self) -> pl.DataFrame:
        return weekly_progress(self.events, trace=self.trace, at=self.at, spans=self.sessions)

    @cached_property
    def n_skills(self) -> int:
        return sc.course_skill_count(self.mastery, self.skills)

    @cached_property
    def score(self) -> pl.DataFrame:
        return sc.learner_scores(
            self.events,
            self.mastery,
            skills=self.skills,
            at=self.at,
            settings=self.settings.score,
            attempts=self.attempts,
            mastery_threshold=self.threshold,
        )

    @cached_property
    def progress(self) -> pl.DataFrame:
        return sc.progress_categories(
            self.events,
            self.mastery,
            skills=self.skills,
            at=self.at,
            mastery_before=self.mastery_before,
            settings=self.settings.score,
            scores=self.score,
            attempts=self.attempts,
            mastery_threshold=self.threshold,
        )

    def readiness_at(self, mastery: pl.DataFrame, cutoff: datetime) -> pl.DataFrame:
        return st.readiness(
            self.events,
            mastery,
            items=self.items,
            skills=self.skills,
            at=cutoff,
            settings=self.settings.readiness,
            attempts=self.attempts.filter(pl.col("ts") < cutoff),
        )

    @cached_property
    def readiness(self) -> pl.DataFrame:
        return self.readiness_at(self.mastery, self.cutoff)

    @cached_property
    def retention_risk(self) -> pl.DataFrame:
        return _labelled(self, "retention_risk")

    @cached_property
    def signals(self) -> pl.DataFrame:
        earlier = self.cutoff - self.settings.score.progress_window
        return rl.learner_signals(
            self.events,
            self.attempts,
            at=self.cutoff,
            scores=self.score,
            progress=self.progress,
            readiness=self.readiness,
            readiness_before=self.readiness_at(self.mastery_before, earlier),
            mastery=self.mastery,
            mastery_before=self.mastery_before,
            n_skills=self.n_skills,
            retention=self.retention_risk,
            settings=self.settings.rules,
            days=self.days,
            mastery_threshold=self.threshold,
        )


def _withdrawn(features: pl.DataFrame) -> pl.Expr:
    return pl.col("withdrawn") == 1 if "withdrawn" in features.columns else pl.lit(False)


def _labelled(course: _Course, name: str) -> pl.DataFrame:
    """Success / retention risk / forecast rows: the fitted model's, or honest nulls."""
    features = course.features
    model = getattr(course.fitted, name, None) if course.fitted else None
    gone = features.filter(_withdrawn(features)).select("learner_id")
    known = {"success": 0.0, "retention_risk": 1.0}.get(name)
    withdrawn = gone.with_columns(
        value=pl.lit(known, pl.Float64),
        confidence=pl.lit(1.0 if known is not None else 0.0),
        model=pl.lit(f"{name}/{MODEL_VERSION}"),
        reason=pl.lit(_WITHDRAWN_REASON),
    )
    active = features.filter(~_withdrawn(features))
    if model is None:
        skipped = course.fitted.trained_on.get("skipped", {}) if course.fitted else {}
        why = f"not trained: {skipped[name]}" if name in skipped else course.unfitted_reason
        rows = active.select(
            "learner_id",
            value=pl.lit(None, pl.Float64),
            confidence=pl.lit(0.0),
            model=pl.lit(f"{name}/unfitted"),
            reason=pl.lit(why),
        )
    else:
        with threadpool_limits(PREDICT_THREADS):
            rows = model.predict_frame(active).drop("course_id", strict=False)
        if course.fitted.stale:  # loaded with allow_stale: say which version predicted
            fitted_under = course.fitted.model_version or "unrecorded"
            rows = rows.with_columns(model=pl.lit(f"{name}/{fitted_under}"))
    rows = pl.concat([rows, withdrawn], how="diagonal_relaxed").sort("learner_id")
    if name != "retention_risk":
        return rows
    # decided here, by the course's settings, so that every view counts the same learners
    risky = pl.col("value") >= course.settings.rules.dropout_risk
    return rows.with_columns(
        at_risk=(risky & (pl.col("reason") != _WITHDRAWN_REASON)).fill_null(False)
    )


def _clusters(course: _Course) -> pl.DataFrame:
    """Cluster rows; confidence = silhouette against a random reference sample of learners
    (:data:`learnpulse.models.clusters.CONFIDENCE_REFERENCE`)."""
    features = course.features
    if not features.height:
        return _empty()
    model = course.fitted.clusters if course.fitted else LearnerClusters().fit(features)
    return model.predict_frame(features).sort("learner_id")


def _recommendations(course: _Course) -> pl.DataFrame:
    if course.skills.is_empty():  # nothing to recommend in a course without skills
        return _empty()
    return recommend(
        course.mastery,
        course.items,
        course.skills,
        course.events,
        at=course.at,
        mastery_threshold=course.threshold,
    )


def _gaps(course: _Course) -> pl.DataFrame:
    if course.skills.is_empty():
        return _empty()
    return knowledge_gaps(course.mastery, course.skills, mastery_threshold=course.threshold)


#: Output key -> how it is computed from the shared course inputs.
OUTPUTS: dict[str, Callable[[_Course], pl.DataFrame]] = {
    "mastery": lambda c: c.mastery,
    "learning_velocity": lambda c: learning_velocity(c.events, progress=c.weekly),
    "engagement": lambda c: engagement_patterns(
        c.events, at=c.at, sessions=c.sessions, days=c.days
    ),
    "success": lambda c: _labelled(c, "success"),
    "time_to_completion": lambda c: time_to_completion(
        c.events,
        c.mastery,
        skills=c.skills,
        at=c.at,
        progress=c.weekly,
        mastery_threshold=c.threshold,
    ),
    "retention_risk": lambda c: c.retention_risk,
    "knowledge_gaps": _gaps,
    "clusters": _clusters,
    "performance_forecast": lambda c: _labelled(c, "performance_forecast"),
    "score": lambda c: c.score,
    "progress": lambda c: c.progress,
    "readiness": lambda c: c.readiness,
    "peers": lambda c: st.peer_comparison(st.peer_metrics(c.score, c.mastery, c.features)),
    "recommendations": _recommendations,
    "feedback": lambda c: rl.evaluate_rules(c.signals, rl.FEEDBACK_RULES, c.settings.rules),
    "alerts": lambda c: rl.evaluate_rules(c.signals, rl.ALERT_RULES, c.settings.rules),
}


def _check(
    events: pl.DataFrame,
    only: Iterable[str] | str | None,
    skills: pl.DataFrame | None,
    items: pl.DataFrame | None,
    learners: pl.DataFrame | None,
    fitted: FittedCourseModels | UnusableModels | None,
) -> list[str]:
    if not isinstance(events, pl.DataFrame):
        raise TypeError(f"events must be a polars DataFrame, not {type(events).__name__}")
    check_columns(events, ("learner_id", "course_id", "ts", "kind"), "event frame")
    if skills is not None:
        check_columns(skills, ("skill_id",), "skill frame")
    if items is not None:
        check_columns(items, ("item_id", "skills"), "item frame")
        if not isinstance(items.schema["skills"], pl.List):
            raise TypeError(
                f"item frame column 'skills' must be a list of skill ids, not "
                f"{items.schema['skills']}"
            )
    if learners is not None:
        check_columns(learners, ("learner_id",), "learner frame")
    if fitted is not None and not isinstance(fitted, (FittedCourseModels, UnusableModels)):
        raise TypeError(
            f"fitted must come from fit_course_models() (FittedCourseModels) or be "
            f"UnusableModels, not {type(fitted).__name__}"
        )
    courses = events.get_column("course_id").unique().to_list()
    if len(courses) > 1:
        raise ValueError(
            f"predict_all works on one course; events have {len(courses)}: filter them"
        )
    keys = list(OUTPUT_KEYS) if only is None else [only] if isinstance(only, str) else list(only)
    unknown = [k for k in keys if k not in OUTPUTS]
    if unknown:
        raise ValueError(f"unknown output(s) {unknown}; choose from {list(OUTPUT_KEYS)}")
    return [k for k in OUTPUT_KEYS if k in keys]


def predict_all(
    events: pl.DataFrame,
    *,
    skills: pl.DataFrame | None = None,
    items: pl.DataFrame | None = None,
    learners: pl.DataFrame | None = None,
    at: datetime | None = None,
    fitted: FittedCourseModels | UnusableModels | None = None,
    only: Iterable[str] | str | None = None,
    settings: CourseSettings | Mapping[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    cpu_timings: dict[str, float] | None = None,
) -> dict[str, pl.DataFrame]:
    """Every learner model's output for one course.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, 16)
        Event frame of one course (:data:`learnpulse.events.EVENT_FRAME_SCHEMA`).
    skills : polars.DataFrame, optional
        The course's skill frame (``skill_id``, ``name``, ``prerequisites``); default (or an
        empty frame, as the store gives for a course whose skills were never recorded): the
        skills the events name, without prerequisites.
    items : polars.DataFrame, optional
        The course's item frame; default: the items the events name.
    learners : polars.DataFrame, optional
        ``course_id``, ``learner_id`` of the roster: only these learners are kept, and those
        without events still get feature-based rows.
    at : datetime, optional
        Timezone-aware cut-off: only events before it count (default: all of them).
    fitted : FittedCourseModels or UnusableModels, optional
        From :func:`~learnpulse.models.course_fit.fit_course_models`; see the module docstring.
        Without it (None, or :class:`~learnpulse.models.course_fit.UnusableModels`: saved
        models that are stale or do not load), mastery and clusters are fitted on the course
        and the success, retention risk and forecast rows have null values, ``model``
        ``"<name>/unfitted"`` and a reason: :data:`UNFITTED_REASON`, or the
        UnusableModels' ``reason``.
    only : str or iterable of str, optional
        Outputs to compute (default: all of :data:`OUTPUT_KEYS`; a string is one output).
    settings : CourseSettings or mapping, optional
        The mastery threshold, score weights, rule and readiness thresholds
        (:class:`~learnpulse.models.settings.CourseSettings`; default: their defaults). A
        mapping is checked, e.g. ``{"mastery_threshold": 0.9}``.
    timings : dict, optional
        Filled with the seconds each output took, in computing order (an output's time
        includes the shared inputs it was first to need): for profiling. Asking for timings
        computes the outputs one after another (the outputs of :data:`LANES` are otherwise
        computed in threads of their own, and their times would overlap the others').
    cpu_timings : dict, optional
        The same with the process's CPU seconds (all threads), which, unlike wall time, do
        not grow when other processes load the machine.

    Returns
    -------
    dict of str to polars.DataFrame
        One frame per key of :data:`OUTPUT_KEYS` (or of ``only``), in that order; every
        frame has ``learner_id``, ``model``, ``confidence`` and ``reason``. Retention risk
        rows also say ``at_risk``: a risk at or above the settings' ``rules.dropout_risk``
        (learners who withdrew are gone, not at risk).
    """
    keys = _check(events, only, skills, items, learners, fitted)
    settings = course_settings(settings)
    events = before(with_optional_columns(events), at)
    if learners is not None:
        events = events.filter(
            pl.col("learner_id").is_in(learners.get_column("learner_id").implode())
        )
        learners = _categorical_ids(learners)
    events = with_evidence(_categorical_ids(events))  # read by every output
    course = _Course(
        events,
        skills=skills,
        items=items,
        learners=learners,
        at=at,
        fitted=fitted,
        settings=settings,
    )
    if course.cutoff is None:
        return {key: _empty() for key in keys}
    if timings is not None or cpu_timings is not None:
        return _string_ids(_in_order(course, keys, timings, cpu_timings))
    lanes = [[k for k in lane if k in keys] for lane in LANES]
    in_lanes = {k for lane in lanes for k in lane}
    main = [k for k in keys if k not in in_lanes and k not in _AFTER_LANES]
    if sum(bool(part) for part in (*lanes, main)) < 2:
        return _string_ids(_in_order(course, keys))
    with ThreadPoolExecutor(len(LANES), thread_name_prefix="learnpulse-lane") as pool:
        futures = [pool.submit(_in_order, course, lanes[0])] if lanes[0] else []
        if lanes[1]:
            # read in the mastery lane and in this thread: computed once, before it starts
            _ = course.mastery, course.items
            futures.append(pool.submit(_in_order, course, lanes[1]))
        result = _in_order(course, main)
        for future in futures:
            result.update(future.result())
    result.update(_in_order(course, [k for k in keys if k in _AFTER_LANES]))
    return _string_ids({key: result[key] for key in keys})


def _categorical_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its :data:`~learnpulse.events.CATEGORICAL_IDS` as ``pl.Categorical``:
    every group-by, join and sort on them then hashes small integers, not strings
    (``learnpulse benchmark predict_all``, 10,000 learners: about 12% less wall and CPU time)."""
    ids = [c for c in CATEGORICAL_IDS if c in frame.columns]
    return frame.with_columns(pl.col(ids).cast(pl.Categorical))


def _string_ids(result: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The outputs with every categorical column as strings again: what callers get."""
    return {
        key: frame.with_columns(pl.col(pl.Categorical).cast(pl.String))
        for key, frame in result.items()
    }


def _in_order(
    course: _Course,
    keys: list[str],
    timings: dict[str, float] | None = None,
    cpu_timings: dict[str, float] | None = None,
) -> dict[str, pl.DataFrame]:
    """The outputs ``keys``, one after another (see :func:`predict_all` for the timings)."""
    result = {}
    for key in keys:
        started, cpu = time.perf_counter(), time.process_time()
        result[key] = OUTPUTS[key](course)
        if timings is not None:
            timings[key] = time.perf_counter() - started
        if cpu_timings is not None:
            cpu_timings[key] = time.process_time() - cpu
    return result


def _empty() -> pl.DataFrame:
    """An output without rows (no events, or no skills): the columns every output has."""
    return pl.DataFrame(
        schema={
            "learner_id": pl.String,
            "confidence": pl.Float64,
            "model": pl.String,
            "reason": pl.String,
        }
    )
