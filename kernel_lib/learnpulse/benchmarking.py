"""What every benchmark in ``benchmarks/`` shares: how results are printed."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

T = TypeVar("T")


def print_report(table: pl.DataFrame, result: dict[str, Any], *, as_json: bool) -> None:
    """Print the comparison table; with ``as_json``, one JSON object as the last line
    (strict JSON: a measure that is undefined, e.g. an AUC on one class, is null)."""
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, fmt_str_lengths=60):
        print(table)
    if as_json:
        print(json.dumps(_finite(result), default=str, allow_nan=False))


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (also in dicts and lists) as None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: Default OpenMP threads for model fitting in benchmarks: one, because on a shared, loaded
#: machine gradient boosting's spin-waiting threads make fits far slower (measured ~100x).
FIT_THREADS = 1


def at_least_one(args: argparse.Namespace, *names: str) -> None:
    """ValueError naming the first of the options ``names`` (attribute names; a list option's
    every value) below 1: a benchmark of 0 runs, batches or learners measures nothing (it
    crashed with a ZeroDivisionError, or reported 0 events in an infinite time)."""
    for name in names:
        values = getattr(args, name)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, not {value}")


def kt_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """Arguments every knowledge-tracing benchmark takes: ``--train``, ``--test``, ``--folds``,
    ``--json`` (read them with :func:`training_sequences` and :func:`held_out`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--train", required=True, help="DKT-format training file")
    parser.add_argument("--test", help="DKT-format test file (default: split --train)")
    parser.add_argument(
        "--folds", type=int, help="without --test: K-fold learner cross-validation instead"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    return parser


def training_sequences(args: argparse.Namespace) -> list:
    """The DKT sequences of ``--train``; ValueError for ``--folds`` with ``--test``."""
    from learnpulse.datasets import read_dkt_sequences

    if args.test and args.folds is not None:
        raise ValueError("--folds splits --train; with --test there is nothing to split")
    return read_dkt_sequences(args.train)


def held_out(args: argparse.Namespace, sequences: list) -> tuple[list, list]:
    """(train, test): ``sequences`` and the ``--test`` file, or the seeded learner split of
    ``sequences``; ValueError naming a side without responses."""
    from learnpulse.datasets import read_dkt_sequences
    from learnpulse.models.knowledge_tracing.sequences import TEST_FRACTION, learner_split

    if args.test:
        if _same_file(args.train, args.test):
            raise ValueError(
                f"--test {args.test} is the --train file: the models would be scored on the "
                "learners they were fitted on; give a file of other learners, or no --test to "
                "split --train"
            )
        train, test = sequences, read_dkt_sequences(args.test)
        files = {"training": (args.train, train), "test": (args.test, test)}
    else:
        train, test = learner_split(sequences)
        split = f"the {1 - TEST_FRACTION:.0%} learner split of {args.train}"
        files = {"training": (split, sequences), "test": (split, sequences)}
    for side, part in (("training", train), ("test", test)):
        if not sum(len(skills) for skills, _ in part):
            where, learners = files[side]
            raise ValueError(f"{where}: no {side} responses ({len(learners)} learner(s) in it)")
    return train, test


def _same_file(first: str | Path, second: str | Path) -> bool:
    try:
        return Path(first).samefile(second)
    except OSError:  # one is missing: reading it says so
        return False


def disjoint_learners(
    train: pl.DataFrame, test: pl.DataFrame, train_dir: Path, test_dir: Path
) -> None:
    """ValueError if a learner of a course (``course_id``, ``learner_id``) is in both the
    training and the test rows (e.g. ``--test-dir`` the ``--train-dir`` or a copy of it): the
    scores would be those of learners the model was fitted on."""
    keys = ["course_id", "learner_id"]
    tested = test.select(keys).unique()
    shared = tested.join(train.select(keys).unique(), on=keys, how="semi").sort(keys)
    if shared.height:
        course, learner = shared.row(0)
        raise ValueError(
            f"{shared.height} of the {tested.height} test learners in {test_dir} are also in "
            f"{train_dir} (e.g. {learner} of {course}): the model would be scored on learners "
            "it was fitted on; give a --test-dir of other presentations or learners, or none"
        )


def oulad_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """Arguments every OULAD benchmark takes: data folders, ``--json``, ``--threads``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--test-dir", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument(
        "--threads", type=int, default=FIT_THREADS, help="OpenMP threads for model fitting"
    )
    return parser


def with_fit_threads(threads: int, run: Callable[[], T]) -> T:
    """Call ``run`` with native thread pools (OpenMP, BLAS) limited to ``threads``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        return run()
