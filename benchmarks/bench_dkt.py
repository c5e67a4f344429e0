"""DKT on the ASSISTments DKT format: pooled next-step AUC/RMSE on held-out learners.

Without ``--test``, a fixed, seeded 80/20 learner-grouped split of ``--train`` is used.
Run with ``python benchmarks/bench_dkt.py --train FILE [--test FILE] [--json]``.
"""

from __future__ import annotations

import argparse

import polars as pl

from learnpulse.benchmarking import print_report
from learnpulse.datasets import read_dkt_sequences
from learnpulse.models.knowledge_tracing.dkt import DEFAULT_HIDDEN_SIZE, DEFAULT_MAX_EPOCHS
from learnpulse.models.knowledge_tracing.dkt_benchmark import cross_validate_dkt, evaluate_dkt
from learnpulse.models.knowledge_tracing.sequences import learner_split

DEFAULT_MAX_MINUTES = 4.5
"""Training budget; the epoch that crosses it still finishes (target: fit <= 5 minutes)."""


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="bench_dkt", description=__doc__)
    parser.add_argument("--train", required=True, help="DKT-format file to train on")
    parser.add_argument("--test", help="DKT-format file of held-out learners")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES)
    parser.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS)
    parser.add_argument("--hidden-size", type=int, default=DEFAULT_HIDDEN_SIZE)
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--folds", type=int, help="k-fold learner cross-validation of --train")
    args = parser.parse_args(argv)
    params = {
        "max_seconds": args.max_minutes * 60,
        "max_epochs": args.max_epochs,
        "hidden_size": args.hidden_size,
        "cell": args.cell,
        "progress": not args.quiet,
    }
    train = read_dkt_sequences(args.train)
    if args.folds is not None:
        result = cross_validate_dkt(train, args.folds, **params)
    else:
        test = read_dkt_sequences(args.test) if args.test else None
        if test is None:
            train, test = learner_split(train)
        result = evaluate_dkt(train, test, **params)
    table = pl.DataFrame(
        [
            {"metric": key, "value": round(float(value), 4)}
            for key, value in result.items()
            if isinstance(value, (int, float))
        ]
    )
    print_report(table, result, as_json=args.json)
    return result


if __name__ == "__main__":
    run()
