"""Analytics results as JSON: frames become arrays of row objects, times ISO 8601 text.

Frames are encoded by polars itself (:meth:`polars.DataFrame.write_json`, in Rust), which is
several times faster than building Python dicts for large prediction pages: datetimes with a
zone as ``2024-09-02T10:00:00+00:00``, dates as ``2024-09-02``, NaN and infinities as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import polars as pl


def _portable(name: str, dtype: pl.DataType) -> pl.Expr:
    """Columns polars would not write as ISO text / plain numbers, made so."""
    column = pl.col(name)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return column.dt.to_string("%Y-%m-%dT%H:%M:%S%.f")
    if isinstance(dtype, pl.Duration):
        return column.dt.total_microseconds() / 1e6  # seconds
    return column


def frame_json(frame: pl.DataFrame) -> str:
    """``frame`` as a JSON array of row objects (see the module docstring for the types)."""
    return frame.select(_portable(n, t).alias(n) for n, t in frame.schema.items()).write_json()


def frame_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts, exactly as :func:`frame_json` writes them."""
    return json.loads(frame_json(frame))


def to_json(value: Any) -> Any:
    """``value`` with every polars frame, datetime, date and non-finite float made JSON-ready.

    Dicts, lists and tuples are converted recursively; anything else is returned unchanged.
    """
    if isinstance(value, pl.DataFrame):
        return frame_records(value)
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any) -> str:
    """JSON text of ``value``: the same document as ``json.dumps(to_json(value))``, with the
    frames encoded by polars directly (no Python dict per row)."""
    if isinstance(value, pl.DataFrame):
        return frame_json(value)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(key))}:{dumps(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return json.dumps(to_json(value), allow_nan=False)
