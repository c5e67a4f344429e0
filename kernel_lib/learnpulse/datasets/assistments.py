"""ASSISTments 2009-2010 skill-builder data in the Deep Knowledge Tracing (DKT) text format.

The format has three lines per student: the number of responses; their comma-separated skill
ids; their comma-separated correctness (1/0), in chronological order (a trailing comma is
allowed). It carries no item ids, no timestamps and no student ids, so :func:`load_assistments_dkt`
makes them up, reproducibly (see there). :func:`read_dkt_sequences` gives the raw sequences to
sequence models without building events.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

from learnpulse.datasets.base import CourseData, DatasetFormatError, uuid5_ids
from learnpulse.events import EVENT_FRAME_SCHEMA, STAND_IN_ITEM_PREFIX, validate_frame

#: Namespace of the uuid5 event ids (name: ``"<course>/<learner>/<position>"``).
ASSISTMENTS_NAMESPACE = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://learnpulse.org/datasets/assistments"
)
#: Synthetic clock: student ``i`` starts ``i * STUDENT_OFFSET`` after ``start`` ...
STUDENT_OFFSET = timedelta(hours=1)
#: ... and answers one response every ``RESPONSE_INTERVAL``.
RESPONSE_INTERVAL = timedelta(minutes=1)
DEFAULT_START = datetime(2009, 9, 1, tzinfo=timezone.utc)
#: ``learner_id`` = this prefix + the student's 0-based position in the file, 5 digits.
LEARNER_PREFIX = "as09-"
#: ``item_id`` = this prefix + the skill id (the format has no item ids).
ITEM_PREFIX = STAND_IN_ITEM_PREFIX

_LINES_PER_STUDENT = 3
#: Largest skill id accepted: the format's ids are dense indices (DKT one-hot encodes ids
#: 0..max, and the loader makes a skill of each), so a larger one is a raw database id (one
#: id of 10^11 asked for 745 GiB).
MAX_SKILL_ID = 100_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text("utf-8-sig")  # -sig: tolerate a byte-order mark
    except FileNotFoundError:
        raise DatasetFormatError(path, "file", "not found") from None
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(path, "file", f"is not UTF-8 text ({exc})") from None
    lines = text.splitlines()
    # Blank lines at the end are padding, unless they are the empty skill and correctness
    # lines of a last student with no responses (then the line count is a multiple of 3).
    while lines and not lines[-1].strip() and len(lines) % _LINES_PER_STUDENT:
        lines.pop()
    return lines


def _split_values(lines: list[str]) -> pl.DataFrame:
    """One row per value of the given lines: (row = index of the line, value text)."""
    cleaned = pl.Series("value", lines, dtype=pl.String).str.strip_chars()
    # One trailing comma is part of the published files; an empty line is an empty list.
    cleaned = cleaned.str.strip_suffix(",")
    values = (
        pl.DataFrame({"value": cleaned})
        .with_row_index("row")
        .with_columns(
            pl.when(pl.col("value") == "")
            .then(pl.lit([], dtype=pl.List(pl.String)))
            .otherwise(pl.col("value").str.split(","))
            .alias("value")
        )
    )
    # An empty list explodes to one null row, dropped here.
    return values.explode("value").drop_nulls("value")


_Problems = list[tuple[int, str]]  # (1-based line, what is wrong there)


#: Longest text of a line quoted in an error (a CSV header line can be 400 characters).
_QUOTED = 60
#: What an unreadable first line says beyond its own problem: the file is in another format.
_OTHER_FORMAT = (
    "; this is not the DKT format of three lines per learner (the number of responses, the "
    "skill ids, the 0/1 correctness): convert a CSV with a header (e.g. ASSISTments' "
    "skill_builder_data.csv) or pyKT's six lines per learner first"
)


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _QUOTED else text[:_QUOTED] + "...")


def _parse_counts(lines: list[str]) -> tuple[np.ndarray, _Problems]:
    """Response counts of the count lines (-1 where unreadable), and the first bad one."""
    counts = pl.Series(lines[0::_LINES_PER_STUDENT], dtype=pl.String).str.strip_chars()
    parsed = counts.cast(pl.Int64, strict=False)
    bad = (parsed.is_null() | (parsed < 0)).fill_null(True).arg_true()
    problems = []
    if bad.len():
        row = int(bad[0])
        problem = f"response count {_quoted(counts[row])} is not a non-negative integer"
        problems.append((row * _LINES_PER_STUDENT + 1, problem + _OTHER_FORMAT * (row == 0)))
    return parsed.fill_null(-1).to_numpy(), problems


def _parse_values(
    lines: list[str], counts: np.ndarray, offset: int, what: str, allowed: pl.Expr, rule: str
) -> tuple[np.ndarray, _Problems]:
    """Values of every ``offset``-th line as int64, and the first bad value and length
    (a value is bad unless ``allowed``, which ``rule`` says in words)."""
    values = _split_values(lines[offset::_LINES_PER_STUDENT])
    number = pl.col("value").str.strip_chars().cast(pl.Int64, strict=False)
    values = values.with_columns(number=number)
    problems: _Problems = []
    bad = values.filter(~allowed.fill_null(False))
    if bad.height:
        row, text = bad.row(0)[:2]
        problems.append((row * _LINES_PER_STUDENT + offset + 1, f"{what} {text!r} is not {rule}"))
    lengths = np.bincount(values.get_column("row").to_numpy(), minlength=len(counts))
    # Rows with an unreadable count (-1) already have a problem, on an earlier line.
    mismatch = np.flatnonzero((lengths != counts) & (counts >= 0))
    if mismatch.size:
        row = int(mismatch[0])
        problem = f"has {lengths[row]} {what}s but the count line says {counts[row]}"
        problems.append((row * _LINES_PER_STUDENT + offset + 1, problem))
    return values.get_column("number").to_numpy(), problems


def _parse_dkt(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(responses per student, skill ids int64, correctness int8) of a DKT file, checked.

    Every check runs on the whole file and the problem on the earliest line is reported.
    """
    lines = _read_lines(path)
    complete = lines[: len(lines) - len(lines) % _LINES_PER_STUDENT]
    # every count line, also a last student's without the rest (a header line of another
    # format in a one- or two-line file says what it is, not "the file ends early")
    counts, problems = _parse_counts(lines)
    counts = counts[: len(complete) // _LINES_PER_STUDENT]
    number = pl.col("number")
    skills, skill_problems = _parse_values(
        complete,
        counts,
        1,
        "skill id",
        number.is_between(0, MAX_SKILL_ID),
        f"a whole number from 0 to {MAX_SKILL_ID:,} (ids are dense indices)",
    )
    correct, correct_problems = _parse_values(
        complete, counts, 2, "correctness value", number.is_in([0, 1]), "0 or 1"
    )
    problems += skill_problems + correct_problems
    if len(complete) < len(lines):
        missing = "skill ids" if len(lines) % _LINES_PER_STUDENT == 1 else "correctness"
        problem = f"file ends early: the {missing} line of the last student is missing"
        problems.append((len(lines) + 1, problem))
    if problems:
        line, problem = min(problems)
        raise DatasetFormatError(path, f"line {line}", problem)
    return counts, skills, correct.astype(np.int8)


def read_dkt_sequences(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The per-student response sequences of a DKT-format file, for sequence models.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of (skills, correct)
        One tuple per student in file order: skill ids (int64) and correctness (int8, 0/1),
        both of shape (n_responses,), chronological.

    Raises
    ------
    DatasetFormatError
        Naming the file and the 1-based line of the first problem.
    """
    counts, skills, correct = _parse_dkt(Path(path))
    if not counts.size:  # an empty file has no student (np.split would make one)
        return []
    cuts = np.cumsum(counts)[:-1]
    return list(zip(np.split(skills, cuts), np.split(correct, cuts), strict=True))


def _microseconds(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _learner_id(student: str) -> pl.Expr:
    return LEARNER_PREFIX + pl.col(student).cast(pl.String).str.zfill(5)


def _item_id(skill: str) -> pl.Expr:
    return ITEM_PREFIX + pl.col(skill).cast(pl.String)


def _events(
    counts: np.ndarray, skills: np.ndarray, correct: np.ndarray, course_id: str, start: datetime
) -> pl.DataFrame:
    """One validated ``attempt`` event per response (see :func:`load_assistments_dkt`)."""
    student = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(skills)) - np.repeat(np.cumsum(counts) - counts, counts)
    clock = (
        _microseconds(start - _EPOCH)
        + student * _microseconds(STUDENT_OFFSET)
        + position * _microseconds(RESPONSE_INTERVAL)
    )
    frame = pl.DataFrame(
        {
            "student": student,
            "position": position,
            "skill": skills,
            "ts": pl.Series(clock).cast(pl.Datetime("us", "UTC")),
            "correct": correct.astype(bool),
        }
    )
    learner = _learner_id("student")
    frame = frame.with_columns(
        learner_id=learner,
        item_id=_item_id("skill"),
        skills=pl.concat_list(pl.col("skill").cast(pl.String)),
        # Rows are chronological within a student, so the window's row order is time order.
        attempt=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("student", "skill"),
        course_id=pl.lit(course_id),
        kind=pl.lit("attempt"),
        name=pl.format("{}/{}/{}", pl.lit(course_id), learner, pl.col("position")),
    )
    frame = frame.with_columns(id=uuid5_ids(ASSISTMENTS_NAMESPACE, frame.get_column("name")))
    # validate_frame adds the absent optional columns and proves the frame is a valid one.
    return validate_frame(frame.select(c for c in EVENT_FRAME_SCHEMA if c in frame.columns))


def _side_tables(
    counts: np.ndarray, skill_ids: np.ndarray, course_id: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(learners, items, skills) frames: one learner per student, one item and skill per id."""
    learners = pl.DataFrame({"student": np.arange(len(counts)), "n_responses": counts}).select(
        course_id=pl.lit(course_id),
        learner_id=_learner_id("student"),
        attributes=pl.struct(
            student_index="student", n_responses="n_responses"
        ).struct.json_encode(),
    )
    skills = pl.DataFrame({"skill": skill_ids}).select(
        course_id=pl.lit(course_id),
        skill_id=pl.col("skill").cast(pl.String),
        item_id=_item_id("skill"),
        name=pl.format("ASSISTments skill {}", "skill"),
        prerequisites=pl.lit([], dtype=pl.List(pl.String)),
    )
    items = skills.select(
        "course_id",
        "item_id",
        skills=pl.concat_list("skill_id"),
        difficulty=pl.lit(None, dtype=pl.Float64),
        attributes=pl.lit(json.dumps({"note": "DKT format: one item per skill"})),
    )
    return learners, items, skills.drop("item_id")


def load_assistments_dkt(
    path: str | Path, *, course_id: str = "assistments2009", start: datetime = DEFAULT_START
) -> CourseData:
    """Load a DKT-format ASSISTments file as a course of ``attempt`` events.

    Each response is one ``attempt`` event:

    - ``learner_id`` is ``"as09-<i>"`` with ``i`` the 0-based, zero-padded position of the
      student in the file (the format has no student ids);
    - ``item_id`` is ``"skill-<id>"``: the format has no item ids, only skill ids, so every
      skill is treated as one item; ``skills`` is ``[str(id)]``;
    - ``attempt`` counts the learner's responses on that item so far (1 for the first);
    - ``ts`` is synthetic, as the format has no timestamps: ``start + i * STUDENT_OFFSET +
      k * RESPONSE_INTERVAL`` for the ``k``-th (0-based) response of student ``i``, which keeps
      each student's order and spreads students over the school year;
    - ``id`` is a uuid5 (:data:`ASSISTMENTS_NAMESPACE`) of ``"<course>/<learner>/<k>"``, so
      importing the same file again yields the same ids (idempotent store writes).

    Parameters
    ----------
    path : str or Path
        The DKT text file, e.g. ``builder_train.csv``.
    course_id : str, default "assistments2009"
    start : datetime, default 2009-09-01 UTC
        Timezone-aware start of the synthetic clock.

    Returns
    -------
    CourseData
        ``learners`` one row per student (attributes: ``student_index``, ``n_responses``),
        ``items`` and ``skills`` one row per skill id from 0 to the largest one (the ids are
        dense indices; the skills have no names and no prerequisites).

    Raises
    ------
    DatasetFormatError
        Naming the file and the 1-based line of the first problem.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware, e.g. datetime(2009, 9, 1, tzinfo=UTC)")
    counts, skills, correct = _parse_dkt(Path(path))
    # Skill ids are dense indices (DKT one-hot encodes them), so every id up to the largest is a
    # skill, even one without responses in this file (skill 64 in builder_train.csv).
    skill_ids = np.arange(int(skills.max()) + 1 if skills.size else 0)
    learners, items, skill_frame = _side_tables(counts, skill_ids, course_id)
    events = _events(counts, skills, correct, course_id, start)
    return CourseData(events=events, learners=learners, items=items, skills=skill_frame)
