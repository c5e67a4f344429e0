"""Learner ability bins for :class:`~learnpulse.models.knowledge_tracing.BKT`.

A learner's ability bin is the bin of their accuracy on all earlier responses (every skill,
each attempt once); bin 0 means too little history. ``BKT(ability_bins=edges)`` fits every
parameter per (skill, bin of the learner when the skill's sequence starts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

#: Accuracy edges of the ability bins the benchmarks' ``bkt-forget-ability`` uses (chosen by
#: 5-fold cross-validation on ASSISTments training learners).
ABILITY_EDGES = (0.5, 0.7, 0.85)


@dataclass
class AbilityHistory:
    """One learner's history for :meth:`BKT.update` with ability bins.

    ``responses`` and ``correct`` count the learner's earlier responses (attempts, each once);
    ``bins`` holds the ability bin each skill's sequence started in.
    """

    responses: int = 0
    correct: int = 0
    bins: dict[str, int] = field(default_factory=dict)

    def record(self, correct: bool) -> None:
        """Count one attempt (once, whatever its number of skills)."""
        self.responses += 1
        self.correct += bool(correct)

    def bin(self, edges: Sequence[float], min_history: int) -> int:
        """This learner's ability bin now (see :func:`ability_bin`)."""
        return int(ability_bin(self.responses, self.correct, edges, min_history))


def ability_bin(
    responses: np.ndarray, correct: np.ndarray, edges: Sequence[float], min_history: int
) -> np.ndarray:
    """Ability bin of learners with ``responses`` earlier responses, ``correct`` of them right.

    Parameters
    ----------
    responses, correct : int or numpy.ndarray, shape (n,)
    edges : sequence of float, increasing
        Accuracy bounds: bin 1 is below ``edges[0]``, bin ``len(edges) + 1`` at or above the
        last.
    min_history : int
        Fewer earlier responses than this: bin 0 (too little history to tell).

    Returns
    -------
    numpy.ndarray of int, shape (n,)
    """
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or np.any(np.diff(edges) <= 0) or np.any((edges < 0) | (edges > 1)):
        raise ValueError(f"ability bin edges must be increasing accuracies in [0, 1], not {edges}")
    responses = np.asarray(responses)
    accuracy = np.asarray(correct) / np.maximum(responses, 1)
    bins = np.searchsorted(edges, accuracy, side="right") + 1
    return np.where(responses >= max(min_history, 1), bins, 0)


def sequence_bins(responses: pl.DataFrame, edges: Sequence[float], min_history: int) -> np.ndarray:
    """Ability bin of every response's (learner, skill) sequence, from the learner's
    responses before that sequence's first one.

    Parameters
    ----------
    responses : polars.DataFrame
        A response frame (:func:`sequences.response_frame`), ordered by learner and time.
    edges, min_history : see :func:`ability_bin`

    Returns
    -------
    numpy.ndarray of int, shape (n_responses,)
    """
    # A multi-skill attempt has a row per skill, adjacent: count each attempt once.
    first_copy = pl.col("position").diff().over("learner_id").fill_null(1) != 0
    correct = pl.col("correct").cast(pl.Int64)
    start = responses.with_columns(
        earlier=first_copy.cast(pl.Int64).cum_sum().over("learner_id") - 1,
        right=(correct * first_copy).cum_sum().over("learner_id") - correct,
    ).select(pl.col("earlier", "right").first().over("learner_id", "skill"))
    return ability_bin(start["earlier"].to_numpy(), start["right"].to_numpy(), edges, min_history)
