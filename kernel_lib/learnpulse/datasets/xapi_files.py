"""xAPI statement files: read them as a course, write an event frame as statements.

Three layouts are read, told apart by their content: a JSON array of statements, an LRS
response object ``{"statements": [...], "more": ...}``, and JSON Lines (one statement per
line, blank lines ignored). The mapping between statements and events is
:mod:`learnpulse.xapi`'s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from learnpulse.datasets.base import (
    ITEM_FRAME_SCHEMA,
    LEARNER_FRAME_SCHEMA,
    SKILL_FRAME_SCHEMA,
    CourseData,
    DatasetFormatError,
)
from learnpulse.events import EventValidationError, events_to_frame
from learnpulse.files import write_text
from learnpulse.xapi import events_to_statements, paused_gc, statements_to_events

#: File suffixes written as JSON Lines by :func:`write_xapi`; anything else is a JSON array.
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


def _loads(path: Path, where: str, text: str) -> Any:
    """``json.loads(text)``; a DatasetFormatError naming ``where`` for JSON nested too deeply."""
    try:
        return json.loads(text)
    except RecursionError:
        raise DatasetFormatError(path, where, "JSON nested too deeply") from None


def _read_json_lines(path: Path, text: str) -> tuple[list[Any], list[str]]:
    """(statements, "line N" of each) of a JSON Lines text."""
    statements, places = [], []
    # Only "\n" ends a line (a "\r" before it is JSON whitespace): str.splitlines also split
    # on U+2028, U+0085 and others, which JSON strings may hold unescaped (write_xapi does).
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            statements.append(_loads(path, f"line {number}", line))
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(path, f"line {number}", f"invalid JSON ({exc.msg})") from None
        places.append(f"line {number}")
    return statements, places


def read_statements(path: str | Path) -> tuple[list[Any], list[str]]:
    """The statements of an xAPI file and where each one is (``"record i"`` or ``"line n"``).

    Raises
    ------
    DatasetFormatError
        The file is missing or is not one of the three layouts; names the line of bad JSON.
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise DatasetFormatError(path, "file", "not found") from None
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(path, "file", f"is not UTF-8 text ({exc})") from None
    try:
        document = _loads(path, "file", text)
    except json.JSONDecodeError as exc:
        # "Extra data" after a first complete value: several values, i.e. JSON Lines.
        if exc.msg == "Extra data" or not text.strip():
            return _read_json_lines(path, text)
        raise DatasetFormatError(path, f"line {exc.lineno}", f"invalid JSON ({exc.msg})") from None
    if isinstance(document, dict):
        # An LRS response, else a lone statement (JSON Lines of one line).
        document = document.get("statements", [document])
    if not isinstance(document, list):
        problem = "expected a JSON array of statements, an object with 'statements', or JSON Lines"
        raise DatasetFormatError(path, "file", problem)
    return document, [f"record {i}" for i in range(len(document))]


def _learners(events: pl.DataFrame) -> pl.DataFrame:
    return (
        events.select("course_id", "learner_id", attributes=pl.lit("{}"))
        .unique(["course_id", "learner_id"], maintain_order=True)
        .select(*LEARNER_FRAME_SCHEMA)
    )


def _items(events: pl.DataFrame) -> pl.DataFrame:
    """One item per (course, item_id): the skills seen with it, its last known difficulty."""
    return (
        events.filter(pl.col("item_id").is_not_null())
        .group_by("course_id", "item_id", maintain_order=True)
        .agg(
            skills=pl.col("skills").explode().drop_nulls().unique(maintain_order=True),
            difficulty=pl.col("difficulty").drop_nulls().last(),
            attributes=pl.lit("{}"),
        )
        .select(*ITEM_FRAME_SCHEMA)
    )


def _skills(events: pl.DataFrame) -> pl.DataFrame:
    return (
        events.select("course_id", skill_id=pl.col("skills"))
        .explode("skill_id")
        .drop_nulls("skill_id")
        .unique(maintain_order=True)
        .with_columns(name=pl.col("skill_id"), prerequisites=pl.lit([], dtype=pl.List(pl.String)))
        .select(*SKILL_FRAME_SCHEMA)
    )


def load_xapi(path: str | Path, *, course_id: str | None = None) -> CourseData:
    """Load an xAPI statement file as a course.

    Parameters
    ----------
    path : str or Path
        A JSON array of statements, an LRS response ``{"statements": [...]}``, or JSON Lines.
    course_id : str, optional
        Course of statements that name none (see :func:`learnpulse.xapi.from_xapi`).

    Returns
    -------
    CourseData
        The events; learners, items and skills are the ones the events mention (items carry
        the skills and the last difficulty seen with them; attributes are empty).

    Raises
    ------
    DatasetFormatError
        Naming the file and the record index (JSON array) or line (JSON Lines) of the first
        statement that cannot be read or does not make a valid event.
    """
    with paused_gc():
        statements, places = read_statements(path)
        try:
            events = events_to_frame(statements_to_events(statements, course_id=course_id))
        except EventValidationError as exc:
            first = exc.errors[0]
            where = "statement" if first.field == "statement" else f"field '{first.field}'"
            problem = f"{where}: {first.message}"
            raise DatasetFormatError(path, places[first.index], problem) from None
    return CourseData(
        events=events, learners=_learners(events), items=_items(events), skills=_skills(events)
    )


def write_xapi(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write an event frame as xAPI statements.

    JSON Lines (one statement per line) when ``path`` ends in ``.jsonl`` or ``.ndjson``,
    otherwise one JSON array. The frame is validated and converted before anything is
    written, and the file is replaced atomically, so a failure never leaves half a file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with paused_gc():
        statements = events_to_statements(frame)
        if path.suffix.lower() in JSON_LINES_SUFFIXES:
            text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in statements)
        else:
            # One statement per line: readable, and json.dumps(indent=...) is 5x slower.
            text = (
                "[\n" + ",\n".join(json.dumps(s, ensure_ascii=False) for s in statements) + "\n]\n"
            )
    write_text(path, text)
    return path
