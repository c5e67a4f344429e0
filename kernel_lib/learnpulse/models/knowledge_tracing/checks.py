"""Checks of knowledge-tracing settings and of DKT-format sequences.

A bad setting or a malformed sequence gets a ``ValueError`` naming it before any fitting
starts, instead of an error from deep inside torch or numpy ("range() arg 3 must not be
zero") or, worse, a fit that silently reads the data wrongly (a correctness of 2 would make
a DKT response code collide with the next skill's).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class Bound:
    """The values a numeric setting may take.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; ``integer`` asks for
    a whole number; ``optional`` allows None.
    """

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def holds(self, value: Any) -> bool:
        if value is None:
            return self.optional
        kind = Integral if self.integer else Real
        if isinstance(value, bool) or not isinstance(value, kind) or math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """E.g. ``"an integer >= 1"``, ``"a number in [0, 1)"``, ``"None or a number > 0"``."""
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"{kind} in {left}{self.low:g}, {self.high:g}{right}"
        elif self.low is not None:
            text = f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text = f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        else:
            text = kind
        return f"None or {text}" if self.optional else text


#: Common bounds.
POSITIVE_INT = Bound(low=1, integer=True)
POSITIVE = Bound(low=0, low_open=True)
FRACTION = Bound(low=0, high=1, high_open=True)


def check_settings(owner: str, estimator: Any, bounds: Mapping[str, Bound]) -> None:
    """Raise ``ValueError`` naming the first setting of ``estimator`` outside its bound."""
    for name, bound in bounds.items():
        value = getattr(estimator, name)
        if not bound.holds(value):
            raise ValueError(f"{owner} {name} must be {bound.describe()}, not {value!r}")


def check_pairs(pairs: Sequence[tuple[Any, Any]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """DKT sequences as (int64 skill ids, int8 correctness) arrays, checked.

    Parameters
    ----------
    pairs : sequence of (skill ids, correct)
        Per learner, two 1-D sequences of the same length: integer skill ids and 0/1.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)

    Raises
    ------
    ValueError
        Naming the learner (its position in ``pairs``) whose sequence is malformed.
    """
    out = []
    for learner, pair in enumerate(pairs):
        try:
            skills, correct = (np.asarray(part) for part in pair)
        except (TypeError, ValueError):
            raise ValueError(
                f"learner {learner}: a DKT sequence is a pair (skill ids, correct)"
            ) from None
        if skills.ndim != 1 or correct.ndim != 1 or len(skills) != len(correct):
            raise ValueError(
                f"learner {learner}: skill ids and correctness must be 1-D and of equal "
                f"length, not shapes {skills.shape} and {correct.shape}"
            )
        if len(skills) and not np.issubdtype(skills.dtype, np.integer):
            raise ValueError(f"learner {learner}: skill ids must be integers, not {skills.dtype}")
        bad = ~np.isin(correct, (0, 1))
        if bad.any():
            raise ValueError(
                f"learner {learner}: correctness must be 0 or 1, not {correct[bad][0].item()!r}"
            )
        out.append((skills.astype(np.int64), correct.astype(np.int8)))
    return out


def check_correct(correct: Any) -> bool:
    """The correctness of one online update as a bool: True / False, or 1 / 0 (numpy's too).

    Raises ``ValueError`` for anything else: a ``"0"`` read from a CSV is a true value, and
    counted as a correct answer, mastery rising on every wrong one.
    """
    if correct in (True, False):  # 1 == True and 0 == False; "0", None and NaN are neither
        return bool(correct)
    raise ValueError(f"correct must be True or False (or 1 or 0), not {correct!r}")


def read_model_file(path: str | Path, build: Callable[[dict[str, Any]], T], what: str) -> T:
    """``build(JSON of path)``, or ValueError saying the file is not a saved ``what`` model
    (another model's file, or not JSON, raised KeyError / TypeError deep inside before)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a saved {what} model (not JSON: {error})") from None
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        problem = f"{type(error).__name__}: {error}"
        raise ValueError(f"{path}: not a saved {what} model ({problem})") from None
