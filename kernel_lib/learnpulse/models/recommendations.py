"""Recommendations: next exercises, revision, a learning path to a goal, difficulty adjustment.

One frame, one row per recommendation, ``kind`` saying which:

- ``difficulty``: from the learner's last :data:`DIFFICULTY_WINDOW` graded attempts that are
  evidence (answering a solved exercise again is practice:
  :func:`learnpulse.features.with_evidence`), ``harder``
  at or above :data:`HARDER_FROM` accuracy, ``easier`` at or below :data:`EASIER_UP_TO`, else
  ``keep``; ``difficulty`` is the suggested level (their recent items' mean difficulty moved by
  :data:`DIFFICULTY_STEP`).
- ``next_exercise``: exercises on a skill not yet mastered whose prerequisites are all at least
  Proficient (:data:`READY_P`, or mastered under a lower mastery threshold), not yet solved
  by the learner (an item on several skills needs each of them at least Proficient or
  ready); skills that unblock the most come
  first (the :func:`~learnpulse.models.gaps.knowledge_gaps` score), then the items whose
  difficulty is nearest the learner's P(known) on the skill, moved like the difficulty row.
- ``revision``: items answered poorly lately (accuracy below :data:`LOW_ACCURACY` over the last
  :data:`RECENT_DAYS` days, last attempt wrong), and skills at least Proficient that were last
  practised :data:`REVIEW_AFTER_DAYS` or more days ago (their oldest practised item).
- ``learning_path`` (with ``goal``): the goal and its prerequisites, direct or not, that the
  learner has not mastered, in course order, one row per step.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from learnpulse.features import COUNTED_CORRECT, with_evidence
from learnpulse.models.gaps import SkillGraph, blocking_scores, prerequisite_graph
from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.mastery import before, check_columns

#: P(known) a prerequisite needs for its dependants to be "ready" (the Proficient bound).
READY_P = dict((label, bound) for bound, label in sq.MASTERY_LABELS)["Proficient"]
#: At least Proficient: from READY_P, or mastered (a mastery threshold may be set below it).
_PROFICIENT = (pl.col("p_known") >= READY_P) | pl.col("mastered")
#: Next exercises and revision items recommended per learner (at most).
N_NEXT_EXERCISES = 3
N_REVISION = 3
#: Graded attempts (the latest) that decide the difficulty adjustment.
DIFFICULTY_WINDOW = 10
#: Fewer recent attempts than this: keep the difficulty (too little evidence to move).
MIN_RECENT_ATTEMPTS = 3
#: Recent accuracy at or above which items should get harder, at or below which easier.
HARDER_FROM = 0.85
EASIER_UP_TO = 0.60
#: How far (on the 0..1 item difficulty scale) harder / easier moves the target difficulty.
DIFFICULTY_STEP = 0.15
#: Difficulty of an item without one, and the starting level of a learner without attempts.
DEFAULT_DIFFICULTY = 0.5
#: Item ``attributes.type`` values that are exercises (items without a type count when they
#: have skills).
EXERCISE_TYPES = ("exercise",)
#: Window and accuracy bound of the "answered poorly lately" revision rule.
RECENT_DAYS = 14
LOW_ACCURACY = 0.5
#: A skill at least Proficient not practised for this many days is due for review; its
#: urgency is ``1 - 0.5 ** (days / REVIEW_HALF_LIFE_DAYS)``.
REVIEW_AFTER_DAYS = 14
REVIEW_HALF_LIFE_DAYS = 30.0
#: Confidence of a rule on ``n`` attempts is ``n / (n + CONFIDENCE_HALF_ATTEMPTS)``.
CONFIDENCE_HALF_ATTEMPTS = 5.0
#: Order of the kinds in the output.
KINDS = ("next_exercise", "revision", "learning_path", "difficulty")
MODEL = sq.model_label("recommender")
#: What the learner is told when no exercise is recommended (the progress widget, the tutor).
NOTHING_READY = "Nothing new is ready: every exercise whose prerequisites you have is solved."
COLUMNS = {
    "learner_id": pl.String,
    "kind": pl.String,
    "rank": pl.Int64,
    "skill": pl.String,
    "item_id": pl.String,
    "action": pl.String,
    "difficulty": pl.Float64,
    "value": pl.Float64,
    "confidence": pl.Float64,
    "model": pl.String,
    "reason": pl.String,
}
_DAY_US = 86_400_000_000


def _confidence(n: pl.Expr) -> pl.Expr:
    n = n.cast(pl.Float64)
    return n / (n + CONFIDENCE_HALF_ATTEMPTS)


def _ranked(frame: pl.DataFrame, by: list[str], descending: list[bool], top: int | None):
    """Rows sorted per learner, numbered from 1, the first ``top`` kept."""
    frame = frame.sort(["learner_id", *by], descending=[False, *descending])
    frame = frame.with_columns(rank=pl.int_range(1, pl.len() + 1).over("learner_id"))
    return frame if top is None else frame.filter(pl.col("rank") <= top)


def _finish(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    frame = frame.with_columns(kind=pl.lit(kind), model=pl.lit(MODEL))
    missing = {c: pl.lit(None, t) for c, t in COLUMNS.items() if c not in frame.columns}
    return frame.with_columns(**missing).select(pl.col(c).cast(t) for c, t in COLUMNS.items())


# -- difficulty --------------------------------------------------------------------------


def _difficulty(graded: pl.DataFrame, learners: pl.DataFrame) -> pl.DataFrame:
    """One row per learner: harder / easier / keep from the latest attempts that are evidence
    (quick right repeats of a solved exercise asked for harder items)."""

    def latest(column: str) -> pl.Expr:
        return pl.col(column).sort_by("ts").tail(DIFFICULTY_WINDOW)

    counted = graded.filter(pl.col(COUNTED_CORRECT).is_not_null())
    recent = counted.group_by("learner_id").agg(
        n=latest(COUNTED_CORRECT).len(),
        right=latest(COUNTED_CORRECT).sum(),
        level=latest("difficulty").fill_null(DEFAULT_DIFFICULTY).mean(),
    )
    frame = learners.join(recent, on="learner_id", how="left").with_columns(
        pl.col("n", "right").fill_null(0), pl.col("level").fill_null(DEFAULT_DIFFICULTY)
    )
    accuracy = pl.col("right") / pl.col("n")
    enough = pl.col("n") >= MIN_RECENT_ATTEMPTS
    action = (
        pl.when(enough & (accuracy >= HARDER_FROM))
        .then(pl.lit("harder"))
        .when(enough & (accuracy <= EASIER_UP_TO))
        .then(pl.lit("easier"))
        .otherwise(pl.lit("keep"))
    )
    step = {"harder": DIFFICULTY_STEP, "easier": -DIFFICULTY_STEP, "keep": 0.0}
    reason = (
        pl.when(enough)
        .then(
            pl.format(
                "{} of the last {} counted attempts correct ({}%): {} items (level {})",
                "right",
                "n",
                (accuracy * 100).round(0).cast(pl.Int64),
                "action",
                pl.col("difficulty").round(2),
            )
        )
        .otherwise(pl.format("only {} counted attempts so far: keep the level", "n"))
    )
    frame = frame.with_columns(action=action, value=accuracy.fill_nan(None))
    shift = pl.col("action").replace_strict(step, return_dtype=pl.Float64)
    frame = frame.with_columns(difficulty=(pl.col("level") + shift).clip(0.0, 1.0))
    return frame.with_columns(rank=pl.lit(1), confidence=_confidence(pl.col("n")), reason=reason)


# -- next exercises ----------------------------------------------------------------------


def exercises(items: pl.DataFrame) -> pl.DataFrame:
    """Exercise items, one row per (item, skill): ``item_id``, ``skill``, ``difficulty``."""
    check_columns(items, ("item_id", "skills"), "item frame")
    kind = (
        pl.col("attributes").str.json_path_match("$.type")
        if "attributes" in items.columns
        else pl.lit(None, pl.String)
    )
    difficulty = _known("difficulty") if "difficulty" in items.columns else pl.lit(None)
    return (
        items.with_columns(type=kind, difficulty=difficulty.cast(pl.Float64))
        .filter(pl.col("type").is_in(EXERCISE_TYPES) | pl.col("type").is_null())
        .explode("skills")
        .filter(pl.col("skills").is_not_null())
        .select(
            "item_id", skill="skills", difficulty=pl.col("difficulty").fill_null(DEFAULT_DIFFICULTY)
        )
        .unique(["item_id", "skill"], maintain_order=True)
    )


def _ready(mastery: pl.DataFrame, graph: SkillGraph) -> pl.DataFrame:
    """(learner, skill) rows not mastered whose prerequisites all have P(known) >= READY_P,
    with ``readiness``: the least confidence among those prerequisites (1 without any)."""
    pairs = [(s, p) for s, ps in graph.prerequisites.items() for p in ps]
    skill = mastery.schema["skill"]  # String, or the enum of _Keys
    pairs = pl.DataFrame(pairs, schema={"skill": skill, "prereq": skill}, orient="row")
    needed = pairs.group_by("skill").agg(needed=pl.len())
    ok = mastery.filter(_PROFICIENT).select(
        "learner_id", prereq="skill", prereq_confidence="confidence"
    )
    open_rows = mastery.filter(~pl.col("mastered")).select("learner_id", "skill", "p_known")
    met = (
        open_rows.select("learner_id", "skill")
        .join(pairs, on="skill")
        .join(ok, on=["learner_id", "prereq"])
        .group_by("learner_id", "skill")
        .agg(met=pl.len(), readiness=pl.col("prereq_confidence").min())
    )
    return (
        open_rows.join(needed, on="skill", how="left")
        .join(met, on=["learner_id", "skill"], how="left")
        .filter(pl.col("met").fill_null(0) == pl.col("needed").fill_null(0))
        .with_columns(pl.col("readiness").fill_null(1.0))
    )


def _closed_items(candidates: pl.DataFrame, ready, mastery, exercise_rows) -> pl.DataFrame:
    """(learner, item) pairs of multi-skill candidates with a skill neither at least
    Proficient nor ready: the item needs more than the learner can do yet."""
    per_item = exercise_rows.group_by("item_id").agg(pl.col("skill"))
    multi = per_item.filter(pl.col("skill").list.len() > 1).explode("skill")
    open_skills = pl.concat(
        [
            ready.select("learner_id", "skill"),
            mastery.filter(_PROFICIENT).select("learner_id", "skill"),
        ]
    )
    return (
        candidates.select("learner_id", "item_id")
        .join(multi, on="item_id")
        .join(open_skills, on=["learner_id", "skill"], how="anti")
        .select("learner_id", "item_id")
        .unique()
    )


def _best_skills(candidates: pl.DataFrame, need: int) -> pl.DataFrame:
    """Per learner, the highest-``unblocks`` skills holding at least ``need`` candidates (all
    skills tied with the last one kept): the best ``need`` candidates are among them, so only
    these are sorted item by item."""
    per_skill = (
        candidates.group_by("learner_id", "skill")
        .agg(n=pl.len(), unblocks=pl.col("unblocks").first())
        .sort("learner_id", "unblocks", descending=[False, True])
    )
    earlier = pl.col("n").cum_sum().over("learner_id") - pl.col("n")
    bound = pl.col("unblocks").filter(earlier < need).min().over("learner_id")
    return per_skill.filter(pl.col("unblocks") >= bound).select("learner_id", "skill")


class _Keys:
    """Enum types of the string keys: next-exercise ranking joins ~1M (learner, item) rows
    for a large course, several times faster on the enums' integer codes."""

    def __init__(self, mastery: pl.DataFrame, exercise_rows: pl.DataFrame, graph: SkillGraph):
        skills = pl.concat([mastery["skill"], exercise_rows["skill"], pl.Series(graph.order)])
        learners = mastery["learner_id"].cast(pl.String)  # maybe categorical (predict_all)
        self.types = {
            "learner_id": pl.Enum(learners.unique().sort()),
            "item_id": pl.Enum(exercise_rows["item_id"].unique().sort()),
            "skill": pl.Enum(skills.unique().sort()),
        }
        # back to the caller's dtypes
        self.decoded = {c: pl.String for c in self.types} | {
            "learner_id": mastery["learner_id"].dtype
        }

    def encode(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Keys as enums; rows with a key outside them (e.g. a solved non-exercise) dropped."""
        present = {c: t for c, t in self.types.items() if c in frame.columns}
        return frame.cast(present, strict=False).drop_nulls(list(present))

    def decode(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.cast({c: t for c, t in self.decoded.items() if c in frame.columns})


def _next_exercises(mastery, graph, exercise_rows, solved, difficulty, gaps) -> pl.DataFrame:
    keys = _Keys(mastery, exercise_rows, graph)
    mastery, exercise_rows, solved, gaps = map(keys.encode, (mastery, exercise_rows, solved, gaps))
    shift = keys.encode(difficulty).select(
        "learner_id", shift=pl.col("difficulty") - pl.col("level")
    )
    ready = _ready(mastery, graph)
    candidates = (
        ready.join(gaps, on=["learner_id", "skill"], how="left")
        .join(shift, on="learner_id", how="left")
        .join(exercise_rows, on="skill")
        .join(solved, on=["learner_id", "item_id"], how="anti")
        .with_columns(unblocks=pl.col("unblocks").fill_null(0.0))
    )
    closed = _closed_items(candidates, ready, mastery, exercise_rows)
    candidates = candidates.join(closed, on=["learner_id", "item_id"], how="anti")
    # An item on k skills can appear k times: keep enough rows to still have N distinct.
    most_skills = exercise_rows.group_by("item_id").len().get_column("len").max() or 1
    best = _best_skills(candidates, N_NEXT_EXERCISES * most_skills)
    candidates = (
        candidates.join(best, on=["learner_id", "skill"], how="semi")
        .with_columns(target=(pl.col("p_known") + pl.col("shift").fill_null(0.0)).clip(0.0, 1.0))
        .with_columns(distance=(pl.col("difficulty") - pl.col("target")).abs())
        .sort(
            "learner_id", "unblocks", "distance", "item_id", descending=[False, True, False, False]
        )
        .unique(["learner_id", "item_id"], keep="first", maintain_order=True)
    )
    ranked = _ranked(
        candidates, ["unblocks", "distance", "item_id"], [True, False, False], N_NEXT_EXERCISES
    )
    ranked = keys.decode(ranked)
    reason = pl.format(
        "practise {} (P(known) {}, prerequisites at least Proficient; unblocks {} skill(s)): "
        "difficulty {} near the target {}",
        "name",
        pl.col("p_known").round(2),
        "n_blocked",
        pl.col("difficulty").round(2),
        pl.col("target").round(2),
    )
    return ranked.with_columns(
        name=pl.col("skill").replace_strict(graph.names, return_dtype=pl.String)
    ).with_columns(
        action=pl.lit("practise"),
        value=1 - pl.col("distance"),
        confidence="readiness",
        reason=reason,
        n_blocked=pl.col("n_blocked").fill_null(0),
    )


# -- revision ----------------------------------------------------------------------------


def _poor_items(graded: pl.DataFrame, cutoff: datetime) -> pl.DataFrame:
    """(learner, item) answered poorly in the last RECENT_DAYS days, last attempt wrong
    (attempts without an item have nothing to revisit)."""
    since = pl.lit(cutoff) - pl.duration(days=RECENT_DAYS)
    recent = graded.filter((pl.col("ts") >= since) & pl.col("item_id").is_not_null())
    per_item = (
        recent.sort("ts")
        .group_by("learner_id", "item_id")
        .agg(
            n=pl.len(),
            right=pl.col("correct").sum(),
            last_correct=pl.col("correct").last(),
            skill=pl.col("skills").first().list.first(),
        )
    )
    accuracy = pl.col("right") / pl.col("n")
    poor = per_item.filter((accuracy < LOW_ACCURACY) & ~pl.col("last_correct"))
    reason = pl.format(
        "{} of {} attempts correct on {} in the last {} days, the last one wrong",
        "right",
        "n",
        "item_id",
        pl.lit(RECENT_DAYS),
    )
    return poor.select(
        "learner_id",
        "item_id",
        "skill",
        value=1 - accuracy,
        confidence=_confidence(pl.col("n")),
        reason=reason,
    )


def _fading_skills(graded: pl.DataFrame, mastery: pl.DataFrame, cutoff: datetime):
    """Skills at least Proficient whose last practice is REVIEW_AFTER_DAYS old or more."""
    last = (
        graded.filter(pl.col("item_id").is_not_null())
        .explode("skills")
        .group_by("learner_id", skill="skills")
        .agg(last=pl.col("ts").max(), item_id=pl.col("item_id").get(pl.col("ts").arg_min()))
    )
    days = (pl.lit(cutoff) - pl.col("last")).dt.total_microseconds() / _DAY_US
    strong = mastery.filter(_PROFICIENT).select("learner_id", "skill", "label", "confidence")
    fading = strong.join(last, on=["learner_id", "skill"]).with_columns(days=days)
    fading = fading.filter((pl.col("days") >= REVIEW_AFTER_DAYS) & pl.col("item_id").is_not_null())
    reason = pl.format(
        "{} is {} but last practised {} days ago: revisit {}",
        "skill",
        "label",
        pl.col("days").round(0).cast(pl.Int64),
        "item_id",
    )
    urgency = 1 - 0.5 ** (pl.col("days") / REVIEW_HALF_LIFE_DAYS)
    return fading.select(
        "learner_id", "item_id", "skill", value=urgency, confidence="confidence", reason=reason
    )


def _revision(graded, mastery, cutoff) -> pl.DataFrame:
    """One row per (learner, item): a poorly answered item before a fading skill, and of a
    multi-skill item's fading skills the most urgent (then the first by name), so that the
    choice does not depend on the row order of a parallel group-by."""
    both = pl.concat(
        [
            _poor_items(graded, cutoff).with_columns(_fading=pl.lit(False)),
            _fading_skills(graded, mastery, cutoff).with_columns(_fading=pl.lit(True)),
        ]
    )
    both = (
        both.sort(
            ["learner_id", "item_id", "_fading", "value", "skill"],
            descending=[*[False] * 3, True, False],
        )
        .unique(["learner_id", "item_id"], keep="first", maintain_order=True)
        .drop("_fading")
    )
    return _ranked(both, ["value", "item_id"], [True, False], N_REVISION).with_columns(
        action=pl.lit("revise")
    )


# -- learning path -----------------------------------------------------------------------


def _path(mastery: pl.DataFrame, graph: SkillGraph, goal: str, threshold: float) -> pl.DataFrame:
    closure = [s for s in graph.order if s in graph.ancestors(goal)] + [goal]
    steps = pl.DataFrame({"skill": closure, "order": range(len(closure))})
    learners = mastery.select("learner_id").unique()
    todo = (
        learners.join(steps, how="cross")
        .join(mastery.filter(pl.col("mastered")), on=["learner_id", "skill"], how="anti")
        .join(
            mastery.select("learner_id", "skill", "p_known", "label", "confidence"),
            on=["learner_id", "skill"],
            how="left",
        )
    )
    todo = _ranked(todo, ["order"], [False], None).with_columns(
        n_steps=pl.len().over("learner_id"),
        name=pl.col("skill").replace_strict(graph.names, return_dtype=pl.String),
    )
    reason = pl.format(
        "step {} of {} toward {}: {} ({}, P(known) {})",
        "rank",
        "n_steps",
        pl.lit(graph.names[goal]),
        "name",
        pl.col("label").fill_null("no estimate"),
        pl.col("p_known").round(2).cast(pl.String).fill_null("unknown"),
    )
    path = todo.with_columns(
        action=pl.lit("learn"),
        value=(1 - pl.col("p_known").fill_null(0.0) / threshold).clip(0.0, 1.0),
        confidence=pl.col("confidence").fill_null(0.0),
        reason=reason,
    )
    reached = learners.join(path.select("learner_id"), on="learner_id", how="anti")
    reached = reached.with_columns(
        skill=pl.lit(goal),
        rank=pl.lit(1),
        action=pl.lit("reached"),
        value=pl.lit(0.0),
        confidence=pl.lit(1.0),
        reason=pl.lit(f"goal {graph.names[goal]} and all its prerequisites are mastered"),
    )
    return pl.concat([path, reached], how="diagonal_relaxed")


def recommend(
    mastery: pl.DataFrame,
    items: pl.DataFrame,
    skills: pl.DataFrame,
    events: pl.DataFrame,
    *,
    learner: str | None = None,
    goal: str | None = None,
    at: datetime | None = None,
    mastery_threshold: float = sq.MASTERY_THRESHOLD,
) -> pl.DataFrame:
    """Next exercises, revision items, a learning path to ``goal`` and a difficulty advice.

    Parameters
    ----------
    mastery : polars.DataFrame
        :func:`~learnpulse.models.mastery.course_mastery` output (with the course's skills).
    items : polars.DataFrame
        The course's items (``item_id``, ``skills``; optional ``difficulty`` 0..1 and JSON
        ``attributes`` with a ``type``).
    skills : polars.DataFrame
        The course's skill frame (``skill_id``, ``name``, ``prerequisites``).
    events : polars.DataFrame
        Event frame: what the learner solved, recent accuracy, last practice.
    learner : str, optional
        Only this learner (default: everybody in ``mastery``).
    goal : str, optional
        A skill id: adds the ``learning_path`` rows toward it.
    at : datetime, optional
        Timezone-aware cut-off for ``events`` (default: the last event's time).
    mastery_threshold : float
        The P(known) the mastery frame's ``mastered`` was decided by, in (0, 1].

    Returns
    -------
    polars.DataFrame, one row per recommendation
        ``learner_id``, ``kind`` (:data:`KINDS`), ``rank`` (1 = first, per learner and kind),
        ``skill``, ``item_id``, ``action`` (practise / revise / learn / reached / harder /
        easier / keep), ``difficulty``, ``value`` (the ranking score), ``confidence``,
        ``model``, ``reason``; sorted by learner, kind and rank.
    """
    check_columns(
        mastery, ("learner_id", "skill", "p_known", "mastered", "confidence"), "mastery frame"
    )
    threshold = sq.check_mastery_threshold(mastery_threshold)
    graph = prerequisite_graph(skills)
    if goal is not None and goal not in graph.names:
        raise ValueError(f"goal {goal!r} is not a skill of the skill frame")
    events = before(events, at)
    if learner is not None:
        mastery = mastery.filter(pl.col("learner_id") == learner)
        events = events.filter(pl.col("learner_id") == learner)
    if "label" not in mastery.columns:
        labels = sq.mastery_label(mastery["p_known"], threshold)
        mastery = mastery.with_columns(label=pl.Series(labels, dtype=pl.String))
    learners = mastery.select("learner_id").unique()
    graded = _graded(events, items)
    difficulty = _difficulty(graded, learners)
    gaps = blocking_scores(mastery, graph, threshold).select(
        "learner_id", "skill", "n_blocked", unblocks="value"
    )
    solved = graded.filter(pl.col("correct")).select("learner_id", "item_id").unique()
    parts = [
        _finish(
            _next_exercises(mastery, graph, exercises(items), solved, difficulty, gaps), KINDS[0]
        ),
        _finish(difficulty, KINDS[3]),
    ]
    if not graded.is_empty():
        cutoff = at if at is not None else events.get_column("ts").max()
        parts.append(_finish(_revision(graded, mastery, cutoff), KINDS[1]))
    if goal is not None:
        parts.append(_finish(_path(mastery, graph, goal, threshold), KINDS[2]))
    order = pl.col("kind").replace_strict(KINDS, list(range(len(KINDS))), return_dtype=pl.Int64)
    return pl.concat(parts).sort("learner_id", order, "rank")


def _graded(events: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """Graded attempts, one row each, with the item's difficulty (the event's, else the
    item frame's): ``learner_id``, ``ts``, ``item_id``, ``skills``, ``correct``,
    :data:`~learnpulse.features.COUNTED_CORRECT`, ``difficulty``."""
    check_columns(events, ("learner_id", "ts", "kind", "item_id", "skills", "correct"), "events")
    events = with_evidence(events)
    # NaN is no difficulty: it falls back like null (to the item frame's, then the default)
    own = _known("difficulty") if "difficulty" in events.columns else pl.lit(None, pl.Float64)
    graded = (
        events.lazy()  # lazy: only the columns selected are copied
        .filter((pl.col("kind") == "attempt") & pl.col("correct").is_not_null())
        .select("learner_id", "ts", "item_id", "skills", "correct", COUNTED_CORRECT, difficulty=own)
        .collect()
    )
    if "difficulty" not in items.columns:
        return graded
    listed = items.select("item_id", listed=_known("difficulty"))
    graded = graded.join(listed, on="item_id", how="left")
    return graded.with_columns(difficulty=pl.coalesce("difficulty", "listed")).drop("listed")


def _known(column: str) -> pl.Expr:
    """A float column with NaN as null."""
    return pl.col(column).cast(pl.Float64).fill_nan(None)
