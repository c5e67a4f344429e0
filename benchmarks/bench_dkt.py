"""DKT on the ASSISTments DKT format: pooled next-step AUC/RMSE on held-out learners.

Without ``--test``, a fixed, seeded 80/20 learner-grouped split of ``--train`` is used
(``--folds K``: K-fold learner cross-validation instead).
Run with ``learnpulse benchmark dkt --train FILE [--test FILE | --folds K] [--json]``.
"""

from __future__ import annotations

import polars as pl

from learnpulse.benchmarking import held_out, kt_parser, print_report, training_sequences
from learnpulse.models.knowledge_tracing.dkt import DEFAULT_HIDDEN_SIZE, DEFAULT_MAX_EPOCHS
from learnpulse.models.knowledge_tracing.dkt_benchmark import cross_validate_dkt, evaluate_dkt

DEFAULT_MAX_MINUTES = 4.5
"""Training budget; the epoch that crosses it still finishes (target: fit <= 5 minutes)."""


def run(argv: list[str] | None = None) -> dict:
    parser = kt_parser("learnpulse benchmark dkt", __doc__)
    parser.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES)
    parser.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS)
    parser.add_argument("--hidden-size", type=int, default=DEFAULT_HIDDEN_SIZE)
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    params = {
        "max_seconds": args.max_minutes * 60,
        "max_epochs": args.max_epochs,
        "hidden_size": args.hidden_size,
        "cell": args.cell,
        "progress": not args.quiet,
    }
    sequences = training_sequences(args)
    if args.folds is not None:
        result = cross_validate_dkt(sequences, args.folds, **params)
    else:
        result = evaluate_dkt(*held_out(args, sequences), **params)
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
