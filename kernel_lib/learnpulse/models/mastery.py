"""Course mastery: P(known) of every (learner, skill) of a course, fast enough for a dashboard.

:func:`course_mastery` traces every learner's attempts with a fitted knowledge-tracing model
(default: a :class:`~learnpulse.models.knowledge_tracing.BKT` fitted on the events given, see
:func:`fit_mastery_model`) and adds the course's skills a learner never attempted at the model's
prior, so every (learner, skill) of the course has a row with a mastery label.

For a BKT (without per-item guess/slip) the trace runs here, vectorised: attempts are sorted
by learner, skill and time once, the forward filter steps through time over every sequence at
once (:func:`~learnpulse.models.knowledge_tracing.sequences.pack`), and the per-sequence counts
come from numpy reductions over the sorted rows. ``BKT.mastery`` computes the same P(known)
but spends ~1 s of bookkeeping per million events; this path keeps the per-response
trajectory too (:class:`MasteryTrace`), which learning velocity and time to completion read.
Any other model with a ``mastery(events)`` method (DKT, per-item BKT) is used through it.

Every path reads only the attempts that are evidence of mastery
(:mod:`learnpulse.models.knowledge_tracing.evidence`): practice on an exercise already solved
is left out, and a right answer after the whole hint ladder counts as wrong, as in the
students' live mastery (:class:`learnpulse.widgets.LearnerSession`), so the same events give
the student and the instructor the same P(known).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from learnpulse.events import check_frame_dtypes
from learnpulse.models.knowledge_tracing import BKT
from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.knowledge_tracing.bkt import PARAMS
from learnpulse.models.knowledge_tracing.evidence import evidence_attempts

#: P(known) of a (learner, skill) a model other than BKT gives no estimate for (a skill
#: outside a DKT's vocabulary, a learner without attempts): no evidence either way.
UNTRACKED_PRIOR = 0.5
#: Columns of :func:`course_mastery`, in order.
MASTERY_COLUMNS = (
    "learner_id",
    "skill",
    "p_known",
    "mastered",
    "proficiency",
    "label",
    "n_attempts",
    "n_correct",
    "confidence",
    "model",
    "reason",
)
_EVENT_COLUMNS = ("learner_id", "ts", "kind", "skills", "correct")


def check_columns(frame: pl.DataFrame, needed: tuple[str, ...], what: str) -> None:
    """Raise ``ValueError`` naming the columns of ``needed`` that ``frame`` lacks."""
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(f"{what} must be a polars DataFrame, not {type(frame).__name__}")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}")


def check_time(at: datetime | None) -> None:
    """Raise ``ValueError`` unless ``at`` is None or timezone-aware (event times are UTC)."""
    if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
        raise ValueError(f"at must be a timezone-aware datetime, not {at!r}")


def before(events: pl.DataFrame, at: datetime | None) -> pl.DataFrame:
    """Events strictly before ``at`` (all of them when ``at`` is None); a column of the wrong
    type is named (:func:`~learnpulse.events.check_frame_dtypes`)."""
    check_time(at)
    check_frame_dtypes(events)
    return events if at is None else events.filter(pl.col("ts") < at)


def attempt_rows(events: pl.DataFrame) -> pl.DataFrame:
    """Graded attempts that are evidence of mastery, one row per (attempt, skill), sorted by
    learner, skill, time, input.

    Practice on a solved item is left out and a right answer after the whole hint ladder
    counts as wrong (:func:`~learnpulse.models.knowledge_tracing.evidence.evidence_attempts`,
    the rule the students' live mastery follows too).

    Returns
    -------
    polars.DataFrame, shape (n_responses, 5)
        ``learner_id``, ``skill``, ``ts``, ``item_id``, ``correct`` (bool, as it counts).
    """
    check_columns(events, _EVENT_COLUMNS, "event frame")
    has_items = "item_id" in events.columns
    item = pl.col("item_id") if has_items else pl.lit(None, pl.String)
    needed = ["learner_id", "ts", "skills", "correct", *(["item_id"] if has_items else [])]
    return (
        evidence_attempts(events, needed)
        .lazy()
        .select("learner_id", "ts", "skills", "correct", item_id=item)
        .with_row_index("row")
        .explode("skills")
        .filter(pl.col("skills").is_not_null())
        .sort("learner_id", "skills", "ts", "row")
        .select("learner_id", skill="skills", ts="ts", item_id="item_id", correct="correct")
        .collect()
    )


def fit_mastery_model(
    events: pl.DataFrame, *, at: datetime | None = None, forgetting: bool = False
) -> BKT:
    """A BKT fitted on the graded attempts of ``events`` before ``at``, to reuse across calls.

    It is fitted on the attempts that are evidence (:func:`attempt_rows`' rule), the
    observations it will trace.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 5)
        An event frame (needs ``learner_id``, ``ts``, ``kind``, ``skills``, ``correct``).
    at : datetime, optional
        Timezone-aware cut-off: only events before it are used.
    forgetting : bool
        Fit BKT with forgetting (see :class:`~learnpulse.models.knowledge_tracing.BKT`).

    Returns
    -------
    BKT
        Fitted; with no graded attempt it predicts its starting parameters.
    """
    check_columns(events, _EVENT_COLUMNS, "event frame")
    return BKT(forgetting=forgetting).fit(evidence_attempts(before(events, at)))


@dataclass(frozen=True)
class MasteryTrace:
    """A BKT's trace of every (learner, skill) response sequence.

    Attributes
    ----------
    responses : polars.DataFrame, shape (n_responses, 8)
        ``learner_id``, ``skill``, ``ts``, ``item_id``, ``correct``, ``p_before`` (P(known)
        before the response), ``p_after`` (at the next opportunity) and ``gain``, the
        *demonstrated* mastery the response added: ``p_after - p_before``, and ``p_after`` on
        a skill's first response (before it nothing was demonstrated; the prior is the
        population's guess, not the learner's achievement), so a skill's gains add up to its
        final P(known). Sorted by learner, skill and time.
    sequences : polars.DataFrame, shape (n_sequences, 7)
        Per (learner, skill) practised: ``learner_id``, ``skill``, ``p_known`` (final),
        ``n_attempts``, ``n_correct``, ``streak`` (final run of equal outcomes),
        ``last_correct``.
    model : BKT
    """

    responses: pl.DataFrame
    sequences: pl.DataFrame
    model: BKT


def _per_skill(model: Any) -> bool:
    """A BKT whose parameter rows are its skills (with ability bins they are (skill, bin)
    keys, and a skill's parameters depend on the learner)."""
    return isinstance(model, BKT) and model.ability_bins is None


def _traceable(model: Any) -> bool:
    """A BKT this module traces itself: per-skill parameters, one guess/slip per skill."""
    return _per_skill(model) and not model.per_item_guess_slip


def _skill_params(model: BKT, skills: pl.Series) -> dict[str, np.ndarray]:
    """The model's parameters of each skill (the unseen-skill defaults for unknown ones)."""
    code = sq.codes(skills, model.skills_)
    code = np.where(code < 0, len(model.skills_), code)
    return {key: model.params_[key][code] for key in PARAMS}


def _forward(model: BKT, rows: pl.DataFrame, seq: np.ndarray) -> tuple[np.ndarray, ...]:
    """BKT forward filter over every sequence at once (the only loop runs over time steps).

    Returns P(known) before and after each response (n,) and the final one per sequence.
    """
    packed = sq.pack(seq)
    n_seq = packed.first_index.size
    p = _skill_params(model, rows.get_column("skill").gather(packed.first_index))
    obs = rows.get_column("correct").to_numpy()[packed.order]
    known = p["p_init"].copy()
    p_before, p_after = np.empty(obs.size), np.empty(obs.size)
    for t, b in enumerate(packed.sizes):
        s = packed.step(t)
        k, right = known[:b], obs[s]
        guess, slip = p["p_guess"][:b], p["p_slip"][:b]
        f1 = k * np.where(right, 1 - slip, slip)
        f0 = (1 - k) * np.where(right, guess, 1 - guess)
        post = f1 / (f0 + f1)
        p_before[s] = k
        known[:b] = post * (1 - p["p_forget"][:b]) + (1 - post) * p["p_learn"][:b]
        p_after[s] = known[:b]
    unpacked = np.empty((2, obs.size))
    unpacked[:, packed.order] = p_before, p_after
    final = np.empty(n_seq)
    final[seq[packed.first_index]] = known
    return unpacked[0], unpacked[1], final


def _sequence_stats(correct: np.ndarray, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Attempts, correct ones, final streak and last outcome per contiguous sequence."""
    n = correct.size
    if not n:
        return dict.fromkeys(("n_attempts", "n_correct", "streak"), starts) | {
            "last_correct": correct
        }
    ends = np.r_[starts[1:], n] - 1
    change = np.r_[True, correct[1:] != correct[:-1]]
    change[starts] = True
    run_start = np.maximum.accumulate(np.where(change, np.arange(n), 0))
    return {
        "n_attempts": np.diff(np.r_[starts, n]),
        "n_correct": np.add.reduceat(correct.astype(np.int64), starts),
        "streak": ends - run_start[ends] + 1,
        "last_correct": correct[ends],
    }


def trace_mastery(
    events: pl.DataFrame, *, model: BKT | None = None, at: datetime | None = None
) -> MasteryTrace:
    """Trace every learner's graded attempts before ``at`` with a BKT.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 5)
    model : BKT, optional
        Fitted, without per-item guess/slip or ability bins; default
        :func:`fit_mastery_model` on ``events``.
    at : datetime, optional

    Returns
    -------
    MasteryTrace
    """
    events = before(events, at)
    model = fit_mastery_model(events) if model is None else model
    if not _traceable(model):
        raise TypeError("tracing needs a fitted BKT without per-item guess/slip or ability bins")
    if not hasattr(model, "params_"):
        raise ValueError("the BKT is not fitted: call fit_mastery_model(events) first")
    rows = attempt_rows(events)
    keys = rows.select("learner_id", "skill")
    new = (keys != keys.shift(1)).select(pl.any_horizontal(pl.all()).fill_null(True))
    starts = np.flatnonzero(new.to_series().to_numpy())
    seq = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, rows.height]))
    p_before, p_after, final = _forward(model, rows, seq)
    gain = p_after - p_before
    gain[starts] = p_after[starts]  # nothing was demonstrated before a skill's first response
    responses = rows.with_columns(p_before=p_before, p_after=p_after, gain=gain)
    stats = _sequence_stats(rows.get_column("correct").to_numpy(), starts)
    sequences = keys[starts].with_columns(p_known=final, **stats)
    return MasteryTrace(responses, sequences, model)


def model_name(model: Any) -> str:
    """The ``model`` column of rows a knowledge-tracing model produced."""
    if isinstance(model, BKT):
        return sq.model_label(model.name)
    return str(getattr(model, "name", type(model).__name__))


def _levels(frame: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """``mastered`` (P(known) >= ``threshold``), ``proficiency``, ``label`` from ``p_known``;
    ``confidence`` from ``n_attempts`` where the frame has none."""
    p = frame.get_column("p_known").to_numpy()
    columns = {
        "mastered": pl.Series(p >= threshold, dtype=pl.Boolean),
        "proficiency": pl.Series(sq.proficiency(p), dtype=pl.Int64),
        "label": pl.Series(sq.mastery_label(p, threshold), dtype=pl.String),
    }
    if "confidence" not in frame.columns:
        n = frame.get_column("n_attempts").to_numpy()
        columns["confidence"] = pl.Series(sq.attempt_confidence(n), dtype=pl.Float64)
    return frame.with_columns(**columns)


def _practised(trace: MasteryTrace) -> pl.DataFrame:
    """Mastery rows of the (learner, skill) pairs the trace saw."""
    reason = pl.format("{}: P(known) {}", sq.history_reason(), pl.col("p_known").round(2))
    return trace.sequences.with_columns(model=pl.lit(model_name(trace.model)), reason=reason)


def _untried(
    learners: pl.Series, skills: pl.Series, tried: pl.DataFrame, model: Any
) -> pl.DataFrame:
    """Rows of every (learner, course skill) pair without a row in ``tried``."""
    grid = pl.DataFrame({"learner_id": learners}).join(
        pl.DataFrame({"skill": skills.cast(pl.String)}), how="cross"
    )
    grid = grid.join(tried.select("learner_id", "skill"), on=["learner_id", "skill"], how="anti")
    if _per_skill(model):
        prior = pl.Series(_skill_params(model, grid.get_column("skill"))["p_init"])
        source = "the course prior"
    else:
        prior, source = pl.lit(UNTRACKED_PRIOR), "no estimate from the model"
    reason = pl.format(
        "no attempts on {} yet: P(known) {} ({})",
        "skill",
        pl.col("p_known").round(2),
        pl.lit(source),
    )
    return grid.with_columns(p_known=prior).with_columns(
        n_attempts=pl.lit(0, pl.Int64),
        n_correct=pl.lit(0, pl.Int64),
        model=pl.lit(model_name(model)),
        reason=reason,
    )


def _counts(events: pl.DataFrame) -> pl.DataFrame:
    """Attempts that are evidence and correct ones per (learner, skill)."""
    return (
        attempt_rows(events)
        .group_by("learner_id", "skill")
        .agg(n_attempts=pl.len().cast(pl.Int64), n_correct=pl.col("correct").sum().cast(pl.Int64))
    )


def label_mastery(
    frame: pl.DataFrame, *, mastery_threshold: float = sq.MASTERY_THRESHOLD
) -> pl.DataFrame:
    """Mastery levels on a model's mastery frame, e.g. DKT's (``skill_id``, ``p_correct``).

    DKT's ``mastery()`` gives P(correct at the next attempt) per ``skill_id`` and no levels;
    that probability stands in for P(known) here.

    Parameters
    ----------
    frame : polars.DataFrame
        ``learner_id``, ``skill`` or ``skill_id``, ``p_known`` or ``p_correct``,
        ``n_attempts``; optional ``confidence``, ``model``, ``reason``.
    mastery_threshold : float
        P(known) from which a skill is mastered, in (0, 1].

    Returns
    -------
    polars.DataFrame
        With ``skill``, ``p_known``, ``mastered``, ``proficiency``, ``label``, ``confidence``.
    """
    renames = {"skill_id": "skill", "p_correct": "p_known"}
    frame = frame.rename({k: v for k, v in renames.items() if k in frame.columns})
    check_columns(frame, ("learner_id", "skill", "p_known", "n_attempts"), "mastery frame")
    return _levels(frame, sq.check_mastery_threshold(mastery_threshold))


def _from_model(events: pl.DataFrame, model: Any, threshold: float) -> pl.DataFrame:
    """Mastery rows of a model with its own ``mastery(events)`` (DKT, per-item BKT...)."""
    if not callable(getattr(model, "mastery", None)):
        raise TypeError(f"model must be a fitted BKT or DKT, not {type(model).__name__}")
    frame = label_mastery(model.mastery(evidence_attempts(events)), mastery_threshold=threshold)
    frame = frame.drop("n_attempts", "n_correct", strict=False).join(
        _counts(events), on=["learner_id", "skill"], how="left"
    )
    return frame.with_columns(pl.col("n_attempts", "n_correct").fill_null(0))


def course_mastery(
    events: pl.DataFrame,
    *,
    skills: pl.DataFrame | None = None,
    model: Any = None,
    at: datetime | None = None,
    trace: MasteryTrace | None = None,
    mastery_threshold: float = sq.MASTERY_THRESHOLD,
) -> pl.DataFrame:
    """Mastery of every (learner, skill): practised skills traced, the others at the prior.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 5)
        An event frame; learners are everybody with an event before ``at``.
    skills : polars.DataFrame, optional
        The course's skill frame (``skill_id``, ...): every skill gets a row per learner,
        those never attempted at the model's prior with ``n_attempts`` 0 and confidence 0.
        Without it, only practised (learner, skill) pairs have rows.
    model : BKT or DKT, optional
        A fitted model; default :func:`fit_mastery_model` on ``events`` before ``at``.
    at : datetime, optional
        Timezone-aware cut-off: only events before it count.
    trace : MasteryTrace, optional
        :func:`trace_mastery` of the same events and cut-off if already computed (``model``
        is then its model).
    mastery_threshold : float
        P(known) from which a skill is mastered, in (0, 1] (default
        :data:`~learnpulse.models.knowledge_tracing.MASTERY_THRESHOLD`).

    Returns
    -------
    polars.DataFrame, shape (n_rows, 11)
        :data:`MASTERY_COLUMNS`, sorted by learner and skill: ``p_known``, ``mastered``
        (>= ``mastery_threshold``), ``proficiency`` (1-10), ``label`` (Mastered / Proficient /
        Developing / Needs Focus), ``n_attempts``, ``n_correct`` (the attempts that are
        evidence, see :func:`attempt_rows`), ``confidence``, ``model``, ``reason``.
    """
    threshold = sq.check_mastery_threshold(mastery_threshold)
    events = before(events, at)
    check_columns(events, _EVENT_COLUMNS, "event frame")
    if trace is not None:
        model = trace.model
    elif model is None:
        model = fit_mastery_model(events)
    if _traceable(model):
        rows = _practised(trace_mastery(events, model=model) if trace is None else trace)
    else:
        rows = _from_model(events, model, threshold)
    rows = _levels(rows, threshold).select(MASTERY_COLUMNS)
    if skills is not None:
        check_columns(skills, ("skill_id",), "skill frame")
        learners = events.get_column("learner_id").unique()
        untried = _untried(learners, skills.get_column("skill_id"), rows, model)
        untried = _levels(untried, threshold)
        rows = pl.concat([rows, untried.select(MASTERY_COLUMNS)], how="vertical_relaxed")
    return rows.sort("learner_id", "skill")
