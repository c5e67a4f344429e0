"""What every benchmark in ``benchmarks/`` shares: how results are printed."""

from __future__ import annotations

import json
from typing import Any

import polars as pl


def print_report(table: pl.DataFrame, result: dict[str, Any], *, as_json: bool) -> None:
    """Print the comparison table; with ``as_json``, one JSON object as the last line."""
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, fmt_str_lengths=60):
        print(table)
    if as_json:
        print(json.dumps(result, default=str))
