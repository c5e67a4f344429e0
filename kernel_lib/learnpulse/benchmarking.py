"""What every benchmark in ``benchmarks/`` shares: how results are printed."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

T = TypeVar("T")


def print_report(table: pl.DataFrame, result: dict[str, Any], *, as_json: bool) -> None:
    """Print the comparison table; with ``as_json``, one JSON object as the last line."""
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, fmt_str_lengths=60):
        print(table)
    if as_json:
        print(json.dumps(result, default=str))


#: Default OpenMP threads for model fitting in benchmarks: one, because on a shared, loaded
#: machine gradient boosting's spin-waiting threads make fits far slower (measured ~100x).
FIT_THREADS = 1


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
