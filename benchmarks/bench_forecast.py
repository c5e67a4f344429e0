"""Next-TMA score forecasting on OULAD's scored subset vs the running-mean baseline.

Run with ``learnpulse benchmark forecast --train-dir DIR [--test-dir DIR] [--json]``. Data: the
Open University Learning Analytics Dataset (Kuzilek, Hlosta, Zdrahal, Scientific Data
4:170171, 2017; CC-BY 4.0); scores exist only in ``studentAssessment_scored_subset`` (2013J).

Each target is a scored TMA submission of a learner who has at least one earlier scored TMA
in the same presentation. The baseline predicts the mean of the learner's earlier TMA scores.
:class:`~learnpulse.models.predictive.PerformanceForecaster` sees the learner's features cut
strictly before the target submission (:func:`learnpulse.features.learner_features`), the
demographics, the module, the target's rank and weight, and the mean score of the target
assessment among *training* learners. Without ``--test-dir``, learners are split into
train/test groups (``--test-size``); every row of a learner is on one side, and the scores are
the means over ``--splits`` splits (seeds from ``--seed``), with the range of the improvement.
A ``--test-dir`` with a learner of ``--train-dir`` is refused.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import numpy as np
import polars as pl
from sklearn.model_selection import GroupShuffleSplit

from learnpulse.benchmarking import (
    at_least_one,
    disjoint_learners,
    oulad_parser,
    print_report,
    with_fit_threads,
)
from learnpulse.datasets import load_oulad
from learnpulse.datasets.oulad_features import (
    OULAD_DEMOGRAPHIC_COLUMNS,
    oulad_demographics,
    oulad_due_dates,
    oulad_without_exams,
)
from learnpulse.features import FEATURE_COLUMNS, KEYS, learner_features
from learnpulse.models.predictive import PerformanceForecaster

#: Share of learners held out when no --test-dir is given.
TEST_SIZE = 0.2
#: Seed of the first learner split.
SEED = 0
#: Learner splits averaged when no --test-dir is given: one split's test learners move the
#: improvement by a few points (seeds 0-4: 8.0% to 10.4%).
SPLITS = 5
#: Required improvement over the running-mean baseline (issue 3): MAE at least 10% lower.
TARGET_IMPROVEMENT = 0.10
#: Per-target columns the forecaster uses besides the learner features and demographics.
TARGET_COLUMNS = (
    "prev_mean",
    "prev_last",
    "prev_resid",
    "rank",
    "weight",
    "item_mean",
    "module",
)


def _targets(data) -> pl.DataFrame:
    """One row per scored TMA submission; ``rank`` 0 is the learner's first (not a target)."""
    kind = pl.col("payload").str.json_path_match("$.assessment_type")
    weights = data.items.select(
        "course_id",
        "item_id",
        weight=pl.col("attributes").str.json_path_match("$.weight").cast(pl.Float64),
    )
    scored = data.events.filter(
        (pl.col("kind") == "assessment_submitted") & (kind == "TMA") & pl.col("score").is_not_null()
    ).sort("ts", "item_id")
    running = pl.col("score").cum_sum().shift(1).over(KEYS)
    rank = pl.int_range(pl.len()).over(KEYS)
    return (
        scored.with_columns(
            rank=rank, prev_mean=running / rank, prev_last=pl.col("score").shift(1).over(KEYS)
        )
        .join(weights, on=["course_id", "item_id"], how="left")
        .select(*KEYS, "item_id", "ts", "score", "rank", "prev_mean", "prev_last", "weight")
    )


def forecast_rows(data) -> pl.DataFrame:
    """Targets with the learner features cut strictly before each target submission."""
    targets = _targets(data)
    events, due = oulad_without_exams(data.events), oulad_due_dates(data.items)
    parts = []
    for _, group in targets.filter(pl.col("rank") > 0).group_by("rank"):
        cut = group.select(*KEYS, at=pl.col("ts"))
        features = learner_features(events, at=cut, learners=cut, due=due)
        parts.append(group.join(features, on=list(KEYS), how="left"))
    letters = {chr(ord("A") + i): i for i in range(26)}
    module = pl.col("course_id").str.slice(0, 1).replace_strict(letters, return_dtype=pl.Int64)
    rows = pl.concat([targets.filter(pl.col("rank") == 0), *parts], how="diagonal_relaxed")
    rows = rows.join(oulad_demographics(data.learners), on=list(KEYS), how="left")
    return rows.with_columns(module=module).sort(*KEYS, "rank")


def _with_item_mean(train: pl.DataFrame, test: pl.DataFrame) -> tuple[pl.DataFrame, ...]:
    """Targets (rank > 0) with ``item_mean``, the assessment's mean score among training
    learners only, and ``prev_resid``, the learner's mean of (score - item_mean) on earlier
    TMAs (how far above or below the typical score the learner has been).

    A leave-own-row-out mean on the training side was tried and is worse: it is a decreasing
    function of the row's own score, which the model learns (a known target-encoding leak).
    """
    means = train.group_by("course_id", "item_id").agg(item_mean=pl.col("score").mean())
    resid = (pl.col("score") - pl.col("item_mean")).fill_null(0)
    prev_resid = resid.cum_sum().shift(1).over(KEYS) / pl.col("rank")
    return tuple(
        f.join(means, on=["course_id", "item_id"], how="left")
        .sort(*KEYS, "rank")
        .with_columns(prev_resid=prev_resid)
        .filter(pl.col("rank") > 0)
        for f in (train, test)
    )


def _scored_rows(directory) -> pl.DataFrame:
    """:func:`forecast_rows` of a folder, or ValueError if it has no target to forecast."""
    rows = forecast_rows(load_oulad(directory))
    if not rows.filter(pl.col("rank") > 0).height:
        raise ValueError(
            f"{directory}: no scored TMA submission after an earlier scored one (scores come "
            "from studentAssessment_scored_subset.csv or a score column; only 2013J has them "
            "in shared/data)"
        )
    return rows


def splits(args: argparse.Namespace) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(train, test) rows: by directory, or by learner groups, one split per seed from
    ``--seed`` (``--splits`` of them)."""
    rows = _scored_rows(args.train_dir)
    if args.test_dir is not None:
        test = _scored_rows(args.test_dir)
        disjoint_learners(rows, test, args.train_dir, args.test_dir)
        yield _with_item_mean(rows, test)
        return
    groups = rows.get_column("learner_id").to_numpy()
    for seed in range(args.seed, args.seed + args.splits):
        splitter = GroupShuffleSplit(n_splits=1, test_size=args.test_size, random_state=seed)
        train_idx, test_idx = next(splitter.split(np.zeros(len(groups)), groups=groups))
        yield _with_item_mean(rows[train_idx], rows[test_idx])


def run(argv: list[str] | None = None) -> dict:
    """Parse ``argv``, run the benchmark, print a table; return the result dict."""
    parser = oulad_parser("learnpulse benchmark forecast", __doc__)
    parser.add_argument("--test-size", type=float, default=TEST_SIZE)
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the first split")
    parser.add_argument(
        "--splits", type=int, default=SPLITS, help="learner splits to average (no --test-dir)"
    )
    args = parser.parse_args(argv)
    at_least_one(args, "splits", "threads")
    return with_fit_threads(args.threads, lambda: _run(args))


def _score(train: pl.DataFrame, test: pl.DataFrame) -> dict:
    """The forecaster fitted on ``train`` and the baseline, scored on ``test``."""
    features = [*FEATURE_COLUMNS, *OULAD_DEMOGRAPHIC_COLUMNS, *TARGET_COLUMNS]
    model = PerformanceForecaster(features=features, categorical=["module"])
    started = time.perf_counter()
    model.fit(train, train.get_column("score").to_numpy())
    fit_seconds = time.perf_counter() - started
    y = test.get_column("score").to_numpy()
    interval = model.predict_interval(test)
    mae = float(np.mean(np.abs(model.predict(test) - y)))
    baseline_mae = float(np.mean(np.abs(test.get_column("prev_mean").to_numpy() - y)))
    return {
        "mae": mae,
        "baseline_mae": baseline_mae,
        "improvement": 1 - mae / baseline_mae,
        "interval_coverage": float(np.mean((interval[:, 0] <= y) & (y <= interval[:, 1]))),
        "interval_nominal": model.quantiles[1] - model.quantiles[0],
        "n_train": train.height,
        "n_test": test.height,
        "fit_seconds": fit_seconds,
    }


def _run(args: argparse.Namespace) -> dict:
    scores = pl.DataFrame([_score(train, test) for train, test in splits(args)])
    means = scores.mean().row(0, named=True)
    improvement = scores.get_column("improvement")
    result = {
        **means,
        "n_train": int(scores.item(0, "n_train")),  # of the first split
        "n_test": int(scores.item(0, "n_test")),
        "improvement_min": float(improvement.min()),
        "improvement_max": float(improvement.max()),
        "target_improvement": TARGET_IMPROVEMENT,
        "splits": scores.height,
    }
    table = pl.DataFrame(
        {
            "model": ["performance_forecast", "running_mean_baseline"],
            "mae": [means["mae"], means["baseline_mae"]],
        }
    ).with_columns(pl.col("mae").round(3))
    print_report(table, result, as_json=args.json)
    return result


if __name__ == "__main__":
    run()
