"""The Open University Learning Analytics Dataset (OULAD) as learnpulse courses.

OULAD (Kuzilek, Hlosta, Zdrahal, Scientific Data 4:170171, 2017; CC-BY 4.0) is a set of CSV
tables. :func:`load_oulad_tables` reads them with types checked; :func:`load_oulad` turns them
into a :class:`~learnpulse.datasets.base.CourseData` with one course per module presentation,
``course_id = "<code_module>-<code_presentation>"`` (e.g. ``"AAA-2013J"``).

OULAD dates are whole days from the start of the presentation, whose calendar date is not
published. Timestamps use a nominal start (:func:`presentation_start`): February 1 for ``B``
presentations and October 1 for ``J`` ones, at midnight UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from learnpulse.datasets.base import (
    ITEM_FRAME_SCHEMA,
    SKILL_FRAME_SCHEMA,
    CourseData,
    DatasetFormatError,
    uuid5_ids,
)
from learnpulse.events import EVENT_FRAME_SCHEMA, validate_frame

#: Namespace of the uuid5 event ids (name: ``"<course>/<learner>/<kind>/<item>"``).
OULAD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://learnpulse.org/datasets/oulad")
#: Month of the nominal start of a presentation, by the letter ending its code.
PRESENTATION_START_MONTH = {"B": 2, "J": 10}
#: ``learner_id = LEARNER_PREFIX + id_student`` (id_student is already pseudonymous).
LEARNER_PREFIX = "oulad-"
#: ``item_id`` of a VLE resource is this prefix + ``id_site``, so that it can never collide
#: with an assessment's ``item_id`` (the bare ``id_assessment``).
VLE_ITEM_PREFIX = "vle-"

_ID = pl.Int64()
_DAY = pl.Int32()
_TEXT = pl.String()
_SUBMISSION = {
    "id_assessment": _ID,
    "id_student": _ID,
    "date_submitted": _DAY,
    "is_banked": pl.Boolean(),
    "score": pl.Float64(),
}
#: Table -> column -> dtype. Columns read as text and cast; a value that does not cast is an
#: error naming its line. Empty fields and "?" (OULAD's "unknown", e.g. in imd_band) are null.
TABLE_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "courses": {
        "code_module": _TEXT,
        "code_presentation": _TEXT,
        "module_presentation_length": _DAY,
    },
    "studentInfo": {
        "code_module": _TEXT,
        "code_presentation": _TEXT,
        "id_student": _ID,
        "gender": _TEXT,
        "region": _TEXT,
        "highest_education": _TEXT,
        "imd_band": _TEXT,
        "age_band": _TEXT,
        "num_of_prev_attempts": _DAY,
        "studied_credits": _DAY,
        "disability": _TEXT,
        "final_result": _TEXT,
    },
    "studentRegistration": {
        "code_module": _TEXT,
        "code_presentation": _TEXT,
        "id_student": _ID,
        "date_registration": _DAY,
        "date_unregistration": _DAY,
    },
    "assessments": {
        "code_module": _TEXT,
        "code_presentation": _TEXT,
        "id_assessment": _ID,
        "assessment_type": _TEXT,
        "date": _DAY,
        "weight": pl.Float64(),
    },
    "vle": {
        "id_site": _ID,
        "code_module": _TEXT,
        "code_presentation": _TEXT,
        "activity_type": _TEXT,
        "week_from": _DAY,
        "week_to": _DAY,
    },
    "studentAssessment": _SUBMISSION,
    "studentAssessment_scored_subset": _SUBMISSION,
}
#: Tables :func:`load_oulad` can do without (they are left out of the result when absent).
OPTIONAL_TABLES = frozenset({"courses", "vle", "studentAssessment_scored_subset"})
#: Columns that may be missing from a file: the original OULAD studentAssessment has ``score``,
#: the copy in ``shared/data`` does not (its scores are in the scored subset).
OPTIONAL_COLUMNS = {"studentAssessment": frozenset({"score"})}
#: Columns that must have a value in every row (a submission without a date has no time).
_KEY_COLUMNS = frozenset(
    {"code_module", "code_presentation", "id_student", "id_assessment", "id_site", "date_submitted"}
)
_NULL_VALUES = ["", "?"]
#: Column -> regular expression its values must match.
_PATTERNS = {
    "code_presentation": r"^\d{4}[BJ]$",
    "final_result": r"^(Pass|Fail|Withdrawn|Distinction)$",
}
#: Table -> the columns that name one row: a second row with the same values is an error.
_ROW_KEYS = {
    "courses": ("code_module", "code_presentation"),
    "studentInfo": ("code_module", "code_presentation", "id_student"),
    "studentRegistration": ("code_module", "code_presentation", "id_student"),
    "assessments": ("id_assessment",),
    "vle": ("id_site",),
    # one submission per student and assessment: a second one got the same event id, and the
    # store silently kept only one of them
    "studentAssessment": ("id_assessment", "id_student"),
}
_EXPECTED = {
    pl.Int32(): "a whole number",
    pl.Int64(): "a whole number",
    pl.Float64(): "a number",
    pl.Boolean(): "0 or 1",
}
#: studentInfo columns that go into ``learners.attributes``: all but the keys.
_DEMOGRAPHICS = tuple(TABLE_SCHEMAS["studentInfo"])[3:]


def _cast(column: str, dtype: pl.DataType) -> pl.Expr:
    """Text column -> dtype; values that do not convert become null (and are reported)."""
    text = pl.col(column)
    if dtype == pl.Boolean():
        return text.replace_strict({"0": False, "1": True}, default=None, return_dtype=dtype)
    if dtype in (pl.Int32(), pl.Int64()):
        # Some OULAD copies write whole numbers as "12.0"; "12.5" stays an error.
        number = text.cast(pl.Float64, strict=False)
        return pl.when(number == number.round()).then(number).cast(dtype, strict=False)
    if column in _PATTERNS:
        return pl.when(text.str.contains(_PATTERNS[column])).then(text)
    return text.cast(dtype, strict=False)


def _first_problem(raw: pl.DataFrame, typed: pl.DataFrame, column: str) -> tuple[int, str] | None:
    """(row, problem) of the first value of ``column`` that is missing or did not convert."""
    text, value = raw.get_column(column), typed.get_column(column)
    bad = value.is_null() & text.is_not_null()
    if column in _KEY_COLUMNS:
        bad = bad | text.is_null()
    rows = bad.arg_true()
    if not rows.len():
        return None
    row = int(rows[0])
    if text[row] is None:
        return row, f"column {column!r} is empty"
    expected = _EXPECTED.get(value.dtype, f"like {_PATTERNS.get(column)}")
    return row, f"column {column!r}: {text[row]!r} is not {expected}"


def _read_table(
    path: Path, schema: dict[str, pl.DataType], optional: frozenset[str]
) -> pl.DataFrame:
    """One CSV file, typed by ``schema``; raise naming the file and line of the first problem."""
    if not path.is_file():
        raise DatasetFormatError(path, "file", "not found")
    try:
        raw = pl.read_csv(path, infer_schema_length=0, null_values=_NULL_VALUES)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise DatasetFormatError(path, "file", f"is not readable CSV ({exc})") from None
    missing = [c for c in schema if c not in raw.columns and c not in optional]
    if missing:
        raise DatasetFormatError(path, "line 1", f"missing required column {missing[0]!r}")
    columns = [c for c in schema if c in raw.columns]
    raw = raw.select(pl.col(c).str.strip_chars() for c in columns)
    typed = raw.select(_cast(c, schema[c]).alias(c) for c in columns)
    problems = [p for c in columns if (p := _first_problem(raw, typed, c)) is not None]
    keys = _ROW_KEYS.get(path.stem)
    if keys:
        repeated = (~typed.select(pl.struct(keys).is_first_distinct()).to_series()).arg_true()
        if repeated.len():
            values = ", ".join(f"{k}={typed.item(int(repeated[0]), k)}" for k in keys)
            problems.append((int(repeated[0]), f"a second row for {values}"))
    if problems:
        row, problem = min(problems)
        # +2: line 1 is the header and rows count from 0.
        raise DatasetFormatError(path, f"line {row + 2}", problem)
    return typed


def load_oulad_tables(directory: str | Path) -> dict[str, pl.DataFrame]:
    """The OULAD tables of a folder, typed (see :data:`TABLE_SCHEMAS`).

    Parameters
    ----------
    directory : str or Path
        Folder holding ``<table>.csv`` files.

    Returns
    -------
    dict of str to polars.DataFrame
        Keyed by table name (the file stem, e.g. ``"studentInfo"``); tables of
        :data:`OPTIONAL_TABLES` are absent when their file is. Days are Int32 (null when
        empty), ids Int64, ``is_banked`` Boolean, ``score`` and ``weight`` Float64, empty
        or ``"?"`` text null.

    Raises
    ------
    DatasetFormatError
        For a folder that is not there (or a file given for it), a missing required file, a
        missing required column (line 1), or a value that is not of its column's type (its
        line), e.g. a non-numeric date.
    """
    directory = Path(directory)
    if not directory.is_dir():  # it said "<it>/studentInfo.csv: file: not found"
        problem = "is a file, not the folder of the OULAD CSV files"
        raise DatasetFormatError(
            directory, "folder", problem if directory.exists() else "not found"
        )
    tables = {}
    for name, schema in TABLE_SCHEMAS.items():
        path = directory / f"{name}.csv"
        if name in OPTIONAL_TABLES and not path.exists():
            continue
        tables[name] = _read_table(path, schema, OPTIONAL_COLUMNS.get(name, frozenset()))
    return tables


def presentation_lengths(directory: str | Path) -> dict[str, int]:
    """Days each module presentation lasts (``module_presentation_length`` of courses.csv).

    Parameters
    ----------
    directory : str or Path
        Folder of the OULAD CSV files.

    Returns
    -------
    dict of str to int
        ``course_id`` (e.g. ``"AAA-2013J"``, as :func:`load_oulad` names courses) -> days;
        empty when the folder has no courses.csv (an optional table).

    Raises
    ------
    DatasetFormatError
        For a malformed courses.csv (see :func:`load_oulad_tables`).
    """
    path = Path(directory) / "courses.csv"
    if not path.exists():
        return {}
    courses = _read_table(path, TABLE_SCHEMAS["courses"], frozenset())
    lengths = courses.select(_course_id(), "module_presentation_length").drop_nulls()
    return dict(lengths.iter_rows())


def presentation_start(code_presentation: str) -> datetime:
    """Nominal start of a presentation: ``"2013J"`` -> 2013-10-01, ``"2014B"`` -> 2014-02-01 UTC."""
    year, letter = code_presentation[:4], code_presentation[4:]
    if not year.isdigit() or letter not in PRESENTATION_START_MONTH:
        raise ValueError(f"presentation code {code_presentation!r} is not like '2013J' or '2014B'")
    return datetime(int(year), PRESENTATION_START_MONTH[letter], 1, tzinfo=timezone.utc)


def _day_to_ts(day: str) -> pl.Expr:
    """Expression: the UTC time of OULAD day ``day`` of the row's presentation (see module doc)."""
    code = pl.col("code_presentation")
    start = pl.datetime(
        code.str.slice(0, 4).cast(pl.Int32),
        code.str.slice(4).replace_strict(PRESENTATION_START_MONTH, return_dtype=pl.Int8),
        1,
        time_zone="UTC",
    )
    return start + pl.duration(days=pl.col(day))


def _course_id() -> pl.Expr:
    return pl.format("{}-{}", "code_module", "code_presentation")


def _learner_id() -> pl.Expr:
    return LEARNER_PREFIX + pl.col("id_student").cast(pl.String)


def _select_presentations(
    tables: dict[str, pl.DataFrame], presentations: Iterable[str] | None
) -> dict[str, pl.DataFrame]:
    """The tables cut to the wanted presentations (codes like "2013J" or course ids)."""
    if presentations is None:
        return tables
    wanted = list(presentations)
    info = tables["studentInfo"]
    known = set(info.get_column("code_presentation")) | set(info.select(_course_id()).to_series())
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise ValueError(f"unknown presentations {unknown}; the data has {sorted(known)}")
    keep = pl.col("code_presentation").is_in(wanted) | _course_id().is_in(wanted)
    return {
        name: frame.filter(keep) if "code_presentation" in frame.columns else frame
        for name, frame in tables.items()
    }


def _submissions(tables: dict[str, pl.DataFrame], directory: Path) -> pl.DataFrame:
    """studentAssessment rows with their course, assessment type and score (null if unknown)."""
    submitted = tables["studentAssessment"].with_row_index("_row")
    scored = tables.get("studentAssessment_scored_subset")
    if scored is not None:
        # The subset's scores replace any in studentAssessment; the subset has one row per key.
        scores = scored.unique(["id_assessment", "id_student"], keep="first", maintain_order=True)
        submitted = submitted.drop("score", strict=False).join(
            scores.select("id_assessment", "id_student", "score"),
            on=["id_assessment", "id_student"],
            how="left",
        )
    assessments = tables["assessments"].select(
        "id_assessment", "code_module", "code_presentation", "assessment_type"
    )
    if "score" not in submitted.columns:
        submitted = submitted.with_columns(score=pl.lit(None, dtype=pl.Float64))
    joined = submitted.join(assessments, on="id_assessment", how="left", maintain_order="left")
    orphan = joined.filter(pl.col("code_module").is_null())
    if orphan.height:
        row, assessment = orphan.select("_row", "id_assessment").row(0)
        where, problem = f"line {row + 2}", f"id_assessment {assessment} is not in assessments.csv"
        raise DatasetFormatError(directory / "studentAssessment.csv", where, problem)
    return joined.drop("_row")


def _events(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Registration, withdrawal and assessment_submitted events, checked by validate_frame."""
    registrations = tables["studentRegistration"]
    submissions = tables["submissions"]
    parts = [
        registrations.filter(pl.col(day).is_not_null()).select(
            "code_module", "code_presentation", "id_student", ts=_day_to_ts(day), kind=pl.lit(kind)
        )
        for day, kind in (
            ("date_registration", "registration"),
            ("date_unregistration", "withdrawal"),
        )
    ]
    parts.append(
        submissions.select(
            "code_module",
            "code_presentation",
            "id_student",
            "score",
            ts=_day_to_ts("date_submitted"),
            kind=pl.lit("assessment_submitted"),
            item_id=pl.col("id_assessment").cast(pl.String),
            skills=pl.concat_list("code_module"),
            payload=pl.struct("is_banked", "assessment_type").struct.json_encode(),
        )
    )
    events = pl.concat(parts, how="diagonal_relaxed").with_columns(
        course_id=_course_id(), learner_id=_learner_id()
    )
    names = events.select(
        pl.format("{}/{}/{}/{}", "course_id", "learner_id", "kind", pl.col("item_id").fill_null(""))
    ).to_series()
    events = events.with_columns(id=uuid5_ids(OULAD_NAMESPACE, names))
    events = events.sort("ts", "course_id", "learner_id", "kind", "item_id", maintain_order=True)
    # validate_frame adds the absent optional columns and proves the frame is a valid one.
    return validate_frame(events.select(c for c in EVENT_FRAME_SCHEMA if c in events.columns))


def _learners(info: pl.DataFrame) -> pl.DataFrame:
    return info.select(
        course_id=_course_id(),
        learner_id=_learner_id(),
        attributes=pl.struct(*_DEMOGRAPHICS).struct.json_encode(),
    )


def _items(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Assessments and VLE resources; every item's skill is its module (see load_oulad)."""
    assessments = tables["assessments"].select(
        course_id=_course_id(),
        item_id=pl.col("id_assessment").cast(pl.String),
        skills=pl.concat_list("code_module"),
        attributes=pl.struct("assessment_type", "date", "weight").struct.json_encode(),
    )
    frames = [assessments]
    if "vle" in tables:
        frames.append(
            tables["vle"].select(
                course_id=_course_id(),
                item_id=VLE_ITEM_PREFIX + pl.col("id_site").cast(pl.String),
                skills=pl.concat_list("code_module"),
                attributes=pl.struct("activity_type", "week_from", "week_to").struct.json_encode(),
            )
        )
    items = pl.concat(frames).with_columns(difficulty=pl.lit(None, dtype=pl.Float64))
    return items.select(*ITEM_FRAME_SCHEMA)


def _skills(info: pl.DataFrame) -> pl.DataFrame:
    return (
        info.select(
            course_id=_course_id(),
            skill_id=pl.col("code_module"),
            name=pl.format("OULAD module {}", "code_module"),
            prerequisites=pl.lit([], dtype=pl.List(pl.String)),
        )
        .unique(["course_id", "skill_id"], maintain_order=True)
        .select(*SKILL_FRAME_SCHEMA)
    )


def load_oulad(directory: str | Path, *, presentations: Iterable[str] | None = None) -> CourseData:
    """Load OULAD as one course per module presentation.

    Events (``learner_id`` is ``"oulad-<id_student>"``, ``ts`` the nominal presentation start
    plus the OULAD day, ``id`` a uuid5 (:data:`OULAD_NAMESPACE`) of course, learner, kind and
    item, so loading twice gives the same ids):

    - ``registration`` at ``date_registration`` (rows with an empty date get none);
    - ``withdrawal`` at ``date_unregistration``, where there is one;
    - ``assessment_submitted`` per studentAssessment row at ``date_submitted``: ``item_id``
      is the ``id_assessment``, ``score`` comes from the scored subset when it has that
      submission (else from a ``score`` column of studentAssessment if the copy has one, else
      null), ``skills`` is ``[code_module]`` and ``payload`` holds ``is_banked`` and
      ``assessment_type``.

    Parameters
    ----------
    directory : str or Path
        Folder of the OULAD CSV files (see :func:`load_oulad_tables`).
    presentations : iterable of str, optional
        Keep only these presentations: codes (``"2013J"``, every module) or course ids
        (``"AAA-2013J"``). Default: all.

    Returns
    -------
    CourseData
        ``learners``: one row per studentInfo row, attributes = its demographics and
        ``final_result``. ``items``: the assessments (attributes ``assessment_type``, ``date``
        = due day, null for exams at the end of the presentation, ``weight``) and the VLE
        resources (item ``"vle-<id_site>"``, attributes ``activity_type``, ``week_from``,
        ``week_to``). OULAD tags no skills, so every item's only skill is its module,
        ``code_module``; the activity type is a kind of resource, not a skill, and stays an
        attribute. ``skills``: one per module and presentation, no prerequisites.

    Raises
    ------
    DatasetFormatError
        See :func:`load_oulad_tables`; also a submission to an unknown assessment.
    ValueError
        If a requested presentation is not in the data.
    """
    directory = Path(directory)
    tables = load_oulad_tables(directory)
    tables["submissions"] = _submissions(tables, directory)
    tables = _select_presentations(tables, presentations)
    info = tables["studentInfo"]
    return CourseData(
        events=_events(tables), learners=_learners(info), items=_items(tables), skills=_skills(info)
    )
