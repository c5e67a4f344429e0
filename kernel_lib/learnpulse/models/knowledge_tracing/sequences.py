"""Response sequences shared by the knowledge-tracing models, and mastery levels.

Both models read the same inputs, either

- an event frame (:data:`learnpulse.events.EVENT_FRAME_SCHEMA`): only ``kind == "attempt"``
  rows with a known ``correct`` are used, ordered by learner, then ``ts``, then input order; or
- DKT sequences (:func:`learnpulse.datasets.read_dkt_sequences`): a list of
  ``(skill ids, correctness)`` pairs, one per learner, whose learners are named like
  :func:`learnpulse.datasets.load_assistments_dkt` names them (``"as09-00000"``...), so both
  forms of the same file give the same frame.

and turn them into a *response frame*: one row per (response, skill), ordered by learner and
time. Knowledge tracing follows one skill at a time, so

- a **multi-skill** attempt counts as one response on each of its skills (the "multi-skill
  expansion" of the DKT preprocessing; each copy keeps the attempt's ``row``, so predictions
  can be combined per attempt, e.g. averaged);
- a **skill-less** attempt traces no skill and is left out (it still counts in ``position``,
  the learner's response counter that recency features use).

:func:`pack` lays the per-(learner, skill) sequences out time-major, longest first, so a model
can step through time over every sequence at once with numpy.

Mastery levels (settings below) turn a probability of knowing a skill into the ``mastered``
flag, a 1-10 proficiency and a label; :func:`history_summary` writes the ``reason`` of
per-learner rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from learnpulse import __version__
from learnpulse.datasets.assistments import ITEM_PREFIX, LEARNER_PREFIX
from learnpulse.models.knowledge_tracing.checks import check_pairs
from learnpulse.models.thresholds import MASTERY_THRESHOLD, threshold_problem

#: Labels by P(known): at least the first bound -> first label, ...; below all -> "Needs Focus".
MASTERY_LABELS: tuple[tuple[float, str], ...] = (
    (MASTERY_THRESHOLD, "Mastered"),
    (0.80, "Proficient"),
    (0.50, "Developing"),
)
#: Label of a probability below every bound of :data:`MASTERY_LABELS`.
LOWEST_LABEL = "Needs Focus"
#: Proficiency scale: P(known) is mapped linearly onto 1..PROFICIENCY_LEVELS (rounded up).
PROFICIENCY_LEVELS = 10
#: Confidence of an estimate from ``n`` responses is ``n / (n + CONFIDENCE_HALF_ATTEMPTS)``:
#: 0 without evidence, 0.5 after this many responses, approaching 1 with more.
CONFIDENCE_HALF_ATTEMPTS = 5.0

#: Columns of a response frame, in order.
RESPONSE_COLUMNS = ("learner_id", "position", "skill", "item_id", "correct", "row")

Inputs = pl.DataFrame | Sequence[tuple[np.ndarray, np.ndarray]]


def model_label(name: str) -> str:
    """The ``model`` column of a model's output rows: ``"<name>@<learnpulse version>"``."""
    return f"{name}@{__version__}"


# -- response frames ------------------------------------------------------------------------


def _from_events(events: pl.DataFrame) -> pl.DataFrame:
    attempts = events.with_row_index("row").filter(
        (pl.col("kind") == "attempt") & pl.col("correct").is_not_null()
    )
    attempts = attempts.sort("learner_id", "ts", "row", maintain_order=True).with_columns(
        position=pl.int_range(pl.len(), dtype=pl.Int64).over("learner_id")
    )
    return (
        attempts.explode("skills")
        .filter(pl.col("skills").is_not_null())
        .select(
            "learner_id",
            "position",
            skill=pl.col("skills"),
            item_id=pl.col("item_id").fill_null(""),
            correct=pl.col("correct").cast(pl.Int8),
            row=pl.col("row").cast(pl.Int64),
        )
    )


def _from_sequences(sequences: Sequence[tuple[np.ndarray, np.ndarray]]) -> pl.DataFrame:
    sequences = check_pairs(sequences)
    lengths = np.array([len(skills) for skills, _ in sequences], dtype=np.int64)
    if not lengths.sum():
        return pl.DataFrame(schema=dict.fromkeys(RESPONSE_COLUMNS, pl.Int64)).with_columns(
            pl.col("learner_id", "skill", "item_id").cast(pl.String),
            pl.col("correct").cast(pl.Int8),
        )
    skills = np.concatenate([s for s, _ in sequences])
    correct = np.concatenate([c for _, c in sequences])
    student = np.repeat(np.arange(lengths.size), lengths)
    frame = pl.DataFrame({"student": student, "skill_id": skills, "correct": correct})
    return frame.with_row_index("row").select(
        learner_id=LEARNER_PREFIX + pl.col("student").cast(pl.String).str.zfill(5),
        position=pl.int_range(pl.len(), dtype=pl.Int64).over("student"),
        skill=pl.col("skill_id").cast(pl.String),
        item_id=ITEM_PREFIX + pl.col("skill_id").cast(pl.String),
        correct=pl.col("correct").cast(pl.Int8),
        row=pl.col("row").cast(pl.Int64),
    )


def response_frame(X: Inputs) -> pl.DataFrame:
    """One row per (response, skill), ordered by learner and time.

    Parameters
    ----------
    X : polars.DataFrame or sequence of (skills, correct)
        An event frame, or DKT sequences (arrays of shape (n_responses,) per learner).

    Returns
    -------
    polars.DataFrame, shape (n_responses, 6)
        ``learner_id`` (str), ``position`` (int: 0-based index of the attempt among the
        learner's attempts), ``skill`` (str), ``item_id`` (str), ``correct`` (int8 0/1),
        ``row`` (int: the event frame row, or the flat index of the DKT response).
    """
    if isinstance(X, pl.DataFrame):
        missing = {"learner_id", "ts", "kind", "skills", "correct"} - set(X.columns)
        if missing:
            raise ValueError(f"event frame lacks column(s) {sorted(missing)}")
        dtype = X.schema["correct"]
        if dtype != pl.Boolean and not dtype.is_integer():
            raise ValueError(f"event column 'correct' must be Boolean (or 0/1), not {dtype}")
        if "item_id" not in X.columns:
            X = X.with_columns(item_id=pl.lit(None, dtype=pl.String))
        return _from_events(X)
    return _from_sequences(X)


def codes(values: pl.Series, vocabulary: Sequence[str]) -> np.ndarray:
    """Index of every value in ``vocabulary``, -1 for a value not in it.

    Returns
    -------
    numpy.ndarray, shape (len(values),), int64
    """
    lookup = dict(zip(vocabulary, range(len(vocabulary)), strict=True))
    return values.replace_strict(lookup, default=-1, return_dtype=pl.Int64).to_numpy()


# -- packed, time-major sequences -----------------------------------------------------------


@dataclass(frozen=True)
class Packed:
    """Sequences laid out time-major, longest first (as ``torch`` packed sequences).

    Step ``t`` of every sequence still running at ``t`` sits in
    ``slice(offsets[t], offsets[t + 1])``; the sequences running at ``t`` are the first
    ``sizes[t]`` ones (they are sorted by decreasing length).

    Attributes
    ----------
    order : numpy.ndarray, shape (n,)
        Input position of each packed entry: ``packed_values = values[order]``.
    seq : numpy.ndarray, shape (n,)
        Sequence (0 = longest) of each packed entry.
    sizes : numpy.ndarray, shape (T,)
        Number of sequences running at each step; ``T`` is the longest length.
    offsets : numpy.ndarray, shape (T + 1,)
    first_index : numpy.ndarray, shape (n_sequences,)
        Input position of each sequence's first response.
    """

    order: np.ndarray
    seq: np.ndarray
    sizes: np.ndarray
    offsets: np.ndarray
    first_index: np.ndarray

    def step(self, t: int) -> slice:
        """The packed entries of step ``t``."""
        return slice(int(self.offsets[t]), int(self.offsets[t + 1]))


def pack(key: np.ndarray) -> Packed:
    """Pack responses into sequences of equal ``key``, keeping their input order in each.

    Parameters
    ----------
    key : numpy.ndarray, shape (n,), int
        Sequence key of each response (e.g. ``learner * n_skills + skill``).

    Returns
    -------
    Packed
    """
    n = key.size
    if not n:
        empty = np.zeros(0, dtype=np.int64)
        return Packed(empty, empty, empty, np.zeros(1, dtype=np.int64), empty)
    group_order = np.argsort(key, kind="stable")
    sorted_key = key[group_order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    lengths = np.diff(np.r_[starts, n])
    group = np.repeat(np.arange(starts.size), lengths)
    position = np.arange(n) - starts[group]
    rank = np.empty(starts.size, dtype=np.int64)
    rank[np.argsort(-lengths, kind="stable")] = np.arange(starts.size)
    sizes = np.bincount(position)
    offsets = np.r_[0, np.cumsum(sizes)]
    target = offsets[position] + rank[group]
    order = np.empty(n, dtype=np.int64)
    order[target] = group_order
    seq = np.empty(n, dtype=np.int64)
    seq[target] = rank[group]
    first_index = np.empty(starts.size, dtype=np.int64)
    first_index[rank] = group_order[starts]
    return Packed(order=order, seq=seq, sizes=sizes, offsets=offsets, first_index=first_index)


# -- mastery levels, confidence and reasons -------------------------------------------------


def proficiency(p_known: np.ndarray) -> np.ndarray:
    """1..:data:`PROFICIENCY_LEVELS` proficiency of probabilities of knowing a skill.

    Parameters
    ----------
    p_known : numpy.ndarray, shape (n,)

    Returns
    -------
    numpy.ndarray, shape (n,), int64
    """
    levels = np.ceil(np.asarray(p_known, dtype=float) * PROFICIENCY_LEVELS)
    return np.clip(levels, 1, PROFICIENCY_LEVELS).astype(np.int64)


def check_mastery_threshold(threshold: float) -> float:
    """``threshold`` as a float, or ``ValueError`` unless it is a number in (0, 1]."""
    value = float(threshold) if isinstance(threshold, np.floating) else threshold
    problem = threshold_problem(value)
    if problem:
        raise ValueError(f"mastery_threshold {problem}")
    return float(value)


def mastery_labels(threshold: float = MASTERY_THRESHOLD) -> tuple[tuple[float, str], ...]:
    """The label bounds for a mastery ``threshold``: "Mastered" from it, the other bounds of
    :data:`MASTERY_LABELS` below it (a threshold of 0.75 leaves no room for "Proficient")."""
    threshold = check_mastery_threshold(threshold)
    (_, top), *rest = MASTERY_LABELS
    return ((threshold, top), *((bound, label) for bound, label in rest if bound < threshold))


def mastery_label(p_known: np.ndarray, threshold: float = MASTERY_THRESHOLD) -> np.ndarray:
    """Mastered / Proficient / Developing / Needs Focus (:func:`mastery_labels`).

    Parameters
    ----------
    p_known : numpy.ndarray, shape (n,)
    threshold : float
        P(known) from which a skill is mastered (default :data:`MASTERY_THRESHOLD`).

    Returns
    -------
    numpy.ndarray, shape (n,), object (str)
        Python strings: polars reads them ~3x faster than a numpy string array.
    """
    p_known = np.asarray(p_known, dtype=float)
    labels = mastery_labels(threshold)
    bounds = [p_known >= bound for bound, _ in labels]
    code = np.select(bounds, np.arange(len(labels)), default=len(labels))
    return np.array([label for _, label in labels] + [LOWEST_LABEL], dtype=object)[code]


def attempt_confidence(n_attempts: np.ndarray) -> np.ndarray:
    """Confidence in an estimate resting on ``n_attempts`` responses (see the setting).

    Parameters
    ----------
    n_attempts : numpy.ndarray, shape (n,)

    Returns
    -------
    numpy.ndarray, shape (n,), float in [0, 1)
    """
    n_attempts = np.asarray(n_attempts, dtype=float)
    return n_attempts / (n_attempts + CONFIDENCE_HALF_ATTEMPTS)


def history_summary(responses: pl.DataFrame) -> pl.DataFrame:
    """Per (learner, skill): attempts, correct ones, the final streak and a ``reason``.

    Parameters
    ----------
    responses : polars.DataFrame
        A response frame (:func:`response_frame`).

    Returns
    -------
    polars.DataFrame, one row per (learner_id, skill) in order of first appearance
        ``n_attempts``, ``n_correct``, ``streak`` (length of the final run of equal outcomes)
        and ``reason``, e.g. ``"7 attempts on skill 12, 5 correct, last 3 correct"``.
    """
    run = (pl.col("correct") != pl.col("correct").shift(1)).fill_null(True).cum_sum()
    keys = ["learner_id", "skill"]
    summary = (
        responses.with_columns(run=run.over(keys))
        .group_by(keys, maintain_order=True)
        .agg(
            n_attempts=pl.len(),
            n_correct=pl.col("correct").cast(pl.Int64).sum(),
            streak=(pl.col("run") == pl.col("run").last()).sum(),
            last_correct=pl.col("correct").last() == 1,
        )
    )
    return summary.with_columns(reason=history_reason("skill ")).drop("last_correct")


def history_reason(skill_prefix: str = "") -> pl.Expr:
    """``"7 attempts on <skill_prefix>12, 5 correct, last 3 correct"`` from the columns
    ``n_attempts``, ``skill``, ``n_correct``, ``streak`` and ``last_correct``."""
    outcome = pl.when(pl.col("last_correct")).then(pl.lit("correct")).otherwise(pl.lit("wrong"))
    plural = pl.when(pl.col("n_attempts") == 1).then(pl.lit("")).otherwise(pl.lit("s"))
    return pl.format(
        f"{{}} attempt{{}} on {skill_prefix}{{}}, {{}} correct, last {{}} {{}}",
        "n_attempts",
        plural,
        "skill",
        "n_correct",
        "streak",
        outcome,
    )


def prediction_rows(responses: pl.DataFrame, p_correct: np.ndarray, name: str) -> pl.DataFrame:
    """Response rows with ``p_correct``, ``confidence``, ``model`` and a ``reason``.

    Parameters
    ----------
    responses : polars.DataFrame
        A response frame, n rows.
    p_correct : numpy.ndarray, shape (n,)
    name : str
        The model's name (see :func:`model_label`).

    Returns
    -------
    polars.DataFrame, shape (n, 10)
        ``confidence`` rests on the number of earlier responses on the skill; ``reason`` names
        them, e.g. ``"3 earlier attempts on skill 12, 2 correct"``.
    """
    keys = ["learner_id", "skill"]
    earlier = pl.int_range(pl.len()).over(keys)
    right = pl.col("correct").cast(pl.Int64).cum_sum().shift(1, fill_value=0).over(keys)
    frame = responses.with_columns(p_correct=p_correct, earlier=earlier, right=right)
    confidence = attempt_confidence(frame.get_column("earlier").to_numpy())
    reason = pl.format("{} earlier attempts on skill {}, {} correct", "earlier", "skill", "right")
    return frame.with_columns(
        confidence=confidence, model=pl.lit(model_label(name)), reason=reason
    ).drop("earlier", "right")


def mastery_rows(responses: pl.DataFrame, p_known: pl.DataFrame, name: str) -> pl.DataFrame:
    """Mastery rows of every (learner, skill) practised in a response frame.

    Parameters
    ----------
    responses : polars.DataFrame
        A response frame.
    p_known : polars.DataFrame
        ``learner_id``, ``skill``, ``p_known`` (after the learner's last response).
    name : str
        The model's name (see :func:`model_label`).

    Returns
    -------
    polars.DataFrame, one row per (learner, skill), in order of first response
        ``learner_id``, ``skill``, ``p_known``, ``mastered`` (>= :data:`MASTERY_THRESHOLD`),
        ``proficiency`` (1-10), ``label``, ``n_attempts``, ``n_correct``, ``confidence``,
        ``model``, ``reason``.
    """
    frame = history_summary(responses).join(
        p_known, on=["learner_id", "skill"], maintain_order="left"
    )
    p = frame.get_column("p_known").to_numpy()
    return frame.select(
        "learner_id",
        "skill",
        "p_known",
        mastered=pl.col("p_known") >= MASTERY_THRESHOLD,
        proficiency=proficiency(p),
        label=mastery_label(p),
        n_attempts="n_attempts",
        n_correct="n_correct",
        confidence=attempt_confidence(frame.get_column("n_attempts").to_numpy()),
        model=pl.lit(model_label(name)),
        reason="reason",
    )


#: Share of learners held out by :func:`learner_split`.
TEST_FRACTION = 0.2
#: Seed of the fixed learner-grouped split every knowledge-tracing benchmark uses.
SPLIT_SEED = 0


def learner_split(
    sequences: Sequence[Any], test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED
) -> tuple[list[Any], list[Any]]:
    """A seeded (train, test) split of whole learners (no learner is on both sides).

    The first ``1 - test_fraction`` of a seeded permutation trains, the rest tests: every
    knowledge-tracing benchmark uses it, so BKT, PFA and DKT numbers compare.
    """
    order = np.random.default_rng(seed).permutation(len(sequences))
    cut = round((1 - test_fraction) * len(sequences))
    return [sequences[i] for i in order[:cut]], [sequences[i] for i in order[cut:]]


def learner_folds(sequences: Sequence[Any], k: int, seed: int = SPLIT_SEED):
    """``k`` seeded (train, test) pairs of whole learners; each learner is tested once.

    Raises ``ValueError`` unless 2 <= k <= the number of learners (one fold would train on
    nobody; more folds than learners would test on nobody).
    """
    if not 2 <= k <= len(sequences):
        raise ValueError(
            f"folds must be between 2 and the number of learners ({len(sequences)}), not {k}"
        )
    parts = np.array_split(np.random.default_rng(seed).permutation(len(sequences)), k)
    for held in range(k):
        train = [sequences[i] for j, part in enumerate(parts) if j != held for i in part]
        yield train, [sequences[i] for i in parts[held]]
