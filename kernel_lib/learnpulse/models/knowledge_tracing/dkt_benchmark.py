"""Quality and speed of :class:`~learnpulse.models.knowledge_tracing.dkt.DKT` on held-out learners.

Used by ``benchmarks/bench_dkt.py`` and ``learnpulse benchmark kt --model dkt``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from learnpulse.models.knowledge_tracing.dkt import DKT, roc_auc
from learnpulse.models.knowledge_tracing.sequences import SPLIT_SEED, learner_folds

Pair = tuple[np.ndarray, np.ndarray]

ONLINE_UPDATE_SAMPLES = 500
"""Live updates timed for ``online_update_ms`` (the median is reported)."""


def _online_update_ms(model: DKT, sequences: Sequence[Pair]) -> float:
    """Median milliseconds of one :meth:`DKT.update`, replaying test responses."""
    skills = np.concatenate([s for s, _ in sequences])[:ONLINE_UPDATE_SAMPLES]
    correct = np.concatenate([c for _, c in sequences])[:ONLINE_UPDATE_SAMPLES]
    known = set(model.skills_)
    state, timings = model.init_state(), []
    for skill, right in zip(skills.tolist(), correct.tolist(), strict=True):
        if skill not in known:
            continue
        started = time.perf_counter()
        state, _ = model.update(state, skill, bool(right))
        timings.append(time.perf_counter() - started)
    return float(np.median(timings) * 1e3) if timings else float("nan")


def evaluate_dkt(
    train_sequences: Sequence[Pair], test_sequences: Sequence[Pair], **params: Any
) -> dict[str, Any]:
    """Fit DKT on ``train_sequences`` and score pooled next-step predictions on the test learners.

    Parameters
    ----------
    train_sequences, test_sequences : sequence of (skill ids, correct)
        DKT sequences (see :func:`learnpulse.datasets.read_dkt_sequences`), disjoint learners.
    **params
        :class:`DKT` constructor arguments.

    Returns
    -------
    dict
        ``auc``, ``rmse``, ``fit_seconds``, ``predictions_per_s``, ``online_update_ms``,
        ``epochs``, ``best_epoch``, ``n_train``, ``n_test`` (learners), ``n_train_responses``,
        ``n_predictions``, ``n_unseen`` (test responses on skills no training learner
        practised: DKT has no input for them, so they are left out of the scores),
        ``val_auc`` (best epoch) and ``settings`` (every constructor argument).

    Raises
    ------
    ValueError
        If no test response can be predicted (each on an unseen skill or a learner's first).
    """
    model = DKT(**params)
    started = time.perf_counter()
    model.fit(train_sequences)
    fit_seconds = time.perf_counter() - started
    known = np.asarray(model.skills_)
    unseen = sum(int(np.isin(skills, known, invert=True).sum()) for skills, _ in test_sequences)
    started = time.perf_counter()
    proba = model.predict_proba(test_sequences)
    predict_seconds = time.perf_counter() - started
    if not len(proba):
        n_test = sum(len(skills) for skills, _ in test_sequences)
        raise ValueError(
            f"DKT can predict none of the {n_test} test responses: {unseen} are on skills no "
            "training learner practised, and the others are each the first of a learner's "
            "responses on known skills (predicted from none)"
        )
    observed = model.next_step_outcomes(test_sequences)
    best = [h for h in model.history_ if h["epoch"] == model.best_epoch_]
    return {
        "auc": roc_auc(observed, proba),
        "rmse": float(np.sqrt(np.mean((proba - observed) ** 2))) if len(proba) else float("nan"),
        "fit_seconds": fit_seconds,
        "predictions_per_s": len(proba) / predict_seconds if predict_seconds else float("nan"),
        "online_update_ms": _online_update_ms(model, test_sequences),
        "epochs": model.n_epochs_,
        "best_epoch": model.best_epoch_,
        "val_auc": best[0]["val_auc"] if best else float("nan"),
        "n_train": len(train_sequences),
        "n_test": len(test_sequences),
        "n_train_responses": sum(len(skills) for skills, _ in train_sequences),
        "n_predictions": len(proba),
        "n_unseen": unseen,
        "settings": model.get_params(),
    }


def cross_validate_dkt(
    sequences: Sequence[Pair], k: int, seed: int = SPLIT_SEED, **params: Any
) -> dict[str, Any]:
    """:func:`evaluate_dkt` on ``k`` learner-grouped, seeded folds (each learner tested once).

    Returns
    -------
    dict
        The fold means of the numeric results, ``auc_std`` and ``auc_folds``, ``folds`` = k.
    """
    results = [
        evaluate_dkt(train, test, **params) for train, test in learner_folds(sequences, k, seed)
    ]
    numeric = [key for key, value in results[0].items() if isinstance(value, (int, float))]
    summary: dict[str, Any] = {key: float(np.mean([r[key] for r in results])) for key in numeric}
    summary["auc_std"] = float(np.std([r["auc"] for r in results]))
    summary["auc_folds"] = [r["auc"] for r in results]
    summary["folds"] = k
    summary["settings"] = results[0]["settings"]
    return summary
