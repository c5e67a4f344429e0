"""The event model: versioned JSON Schemas per kind and the one validation path.

Every event is a flat record (see ``EVENT_FIELDS``). Each kind has a JSON Schema in
``learnpulse/schemas/<kind>.json`` that narrows the common envelope in ``base.json``
(extra required fields, payload shape). :func:`validate_events` checks records one by one
with schemas compiled by fastjsonschema; :func:`validate_frame` applies the same schemas
column-wise to a polars frame (the loaders' and simulator's bulk path).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema_rs
import polars as pl
import uuid6

#: Largest accepted ``payload``, in bytes of compact JSON.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Deepest accepted nesting of objects and arrays in ``payload`` (the payload itself is 1).
#: Python writes JSON recursively: a payload ~960 deep was stored, then every ``GET events``
#: page holding it failed.
MAX_PAYLOAD_DEPTH = 64
#: Event times accepted: from EARLIEST_TS to before LATEST_TS (UTC). Far outside, dates
#: overflow the week and period arithmetic of the analytics (year 1 or 9999 made them fail).
EARLIEST_TS = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_TS = datetime(2200, 1, 1, tzinfo=timezone.utc)

#: Payload key of an ``attempt`` event holding the length of its item's hint ladder (the
#: widgets record it; the evidence rule reads it, see :func:`learnpulse.features.with_evidence`).
HINT_LADDER_KEY = "hint_ladder"
#: Prefix of the stand-in item ids of the ASSISTments DKT import (+ the skill id: the format
#: has one row per problem and no problem ids, so each such row is a new problem).
STAND_IN_ITEM_PREFIX = "skill-"

EVENT_KINDS: tuple[str, ...] = (
    "attempt",
    "hint",
    "explanation_viewed",
    "tutor_message",
    "cell_executed",
    "cell_error",
    "session_start",
    "session_end",
    "resource_view",
    "assessment_submitted",
    "registration",
    "withdrawal",
)

#: Column name -> polars dtype of an event frame, in storage order.
EVENT_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "learner_id": pl.String(),
    "course_id": pl.String(),
    "session_id": pl.String(),
    "kind": pl.String(),
    "item_id": pl.String(),
    "skills": pl.List(pl.String()),
    "correct": pl.Boolean(),
    "score": pl.Float64(),
    "duration_ms": pl.Int64(),
    "attempt": pl.Int32(),
    "hints_used": pl.Int32(),
    "confidence": pl.Float64(),
    "difficulty": pl.Float64(),
    "payload": pl.String(),
}
#: Id columns that may also be ``pl.Categorical`` (of the same strings) in an event frame:
#: :func:`learnpulse.models.predict_all` computes on them so (group-bys, joins and sorts hash
#: small integers instead of strings) and gives them back as strings.
CATEGORICAL_IDS = ("learner_id", "session_id")


def id_dtype(frame: pl.DataFrame | None, column: str = "learner_id") -> pl.DataType:
    """``column``'s dtype in ``frame`` (String, or Categorical: :data:`CATEGORICAL_IDS`), for
    an empty frame to be joined with frames like it (String without ``frame``)."""
    return frame.schema.get(column, pl.String()) if frame is not None else pl.String()


EVENT_FIELDS: tuple[str, ...] = tuple(EVENT_FRAME_SCHEMA)
REQUIRED_FIELDS: tuple[str, ...] = ("id", "ts", "learner_id", "course_id", "kind")
#: Free-text id fields, stored as SQL text (``skills`` holds more of them).
TEXT_FIELDS: tuple[str, ...] = ("learner_id", "course_id", "session_id", "item_id")
_FLOAT_FIELDS = ("score", "confidence", "difficulty")
_EMPTY_EVENT: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
_UTC = timezone.utc
_PAYLOAD_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_UNICODE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_TS_RANGE = f"must be from {EARLIEST_TS:%Y-%m-%d} to before {LATEST_TS:%Y-%m-%d} (UTC)"
_TOO_DEEP = f"is nested deeper than {MAX_PAYLOAD_DEPTH} levels"
_NUL_TEXT = "must not contain the NUL character (U+0000)"
_SURROGATE = "an unpaired surrogate such as \\ud800"
_NAIVE_TS = "timestamp has no timezone; give UTC (Z) or an offset such as +02:00"
_FRIENDLY = {
    "format": "must be an ISO 8601 date-time with a timezone, e.g. 2024-09-01T10:00:00Z",
    "pattern": "must be a UUID such as 123e4567-e89b-12d3-a456-426614174000",
}


@dataclass(frozen=True)
class FieldError:
    """One problem: which event (index in the batch), which field, what is wrong."""

    index: int
    field: str
    message: str

    def __str__(self) -> str:
        where = "frame" if self.index < 0 else f"event {self.index}"
        return f"{where}: field '{self.field}': {self.message}"


class EventValidationError(ValueError):
    """Raised when events do not match their schema; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} invalid event(s): {shown}{more}")

    def to_json(self) -> list[dict[str, Any]]:
        return [{"index": e.index, "field": e.field, "message": e.message} for e in self.errors]


def _load_schema_file(name: str) -> dict[str, Any]:
    text = resources.files("learnpulse.schemas").joinpath(f"{name}.json").read_text("utf-8")
    return json.loads(text)


@cache
def schema_for(kind: str) -> dict[str, Any]:
    """The complete, standalone JSON Schema (draft-07) of one event kind.

    It is the envelope of ``base.json`` with the kind's own ``required`` fields and property
    narrowing merged in, ``kind`` fixed to a constant, and the kind's ``$id`` and ``version``.
    """
    if kind not in EVENT_KINDS:
        raise KeyError(f"unknown event kind {kind!r}; known kinds: {', '.join(EVENT_KINDS)}")
    schema = copy.deepcopy(_load_schema_file("base"))
    own = _load_schema_file(kind)
    schema["$id"], schema["version"] = own["$id"], own["version"]
    schema["title"] = f"learnpulse '{kind}' event"
    schema["description"] = own["description"]
    schema["required"] = [*schema["required"], *own.get("required", [])]
    schema["properties"]["kind"] = {"const": kind}
    for name, narrowing in own.get("properties", {}).items():
        schema["properties"][name] = {**schema["properties"][name], **narrowing}
    for name in own.get("required", []):
        # A field the kind requires must also be non-null.
        spec = schema["properties"][name]
        if isinstance(spec.get("type"), list):
            spec["type"] = [t for t in spec["type"] if t != "null"]
    return schema


@cache
def _validator(kind: str):
    """The kind's validator that names what is wrong (raises JsonSchemaValueException).

    Timestamps are checked by datetime.fromisoformat below: quicker than the format regex,
    and it tells a naive timestamp from a malformed one.
    """
    return fastjsonschema.compile(schema_for(kind), use_formats=False)


@cache
def _is_valid(kind: str):
    """The kind's yes/no check: Rust, 3x quicker per event than :func:`_validator`, which
    then runs only on the events this rejects, to name the problem."""
    return jsonschema_rs.validator_for(schema_for(kind), validate_formats=False).is_valid


@cache
def _payload_validator(kind: str):
    """Validator of the kind's payload narrowing, or None when the kind has none."""
    payload = _load_schema_file(kind).get("properties", {}).get("payload")
    return fastjsonschema.compile(payload) if payload else None


def _field_of(exc: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    path = [str(p) for p in (exc.path or [])][1:]
    message = exc.message.removeprefix(exc.name or "").strip()
    # 'skills.1' -> 'skills[1]': list positions read as indexes.
    path = [f"[{p}]" if p.isdigit() else p for p in path]
    if exc.rule == "additionalProperties":
        extra = sorted(set(exc.value) - set(EVENT_FIELDS))
        return (extra[0] if extra else "event"), "is not an event field"
    if exc.rule == "required":
        missing = [f for f in exc.rule_definition if f not in (exc.value or {})]
        return _dotted([*path, missing[0]]) if missing else "event", "is required"
    return (_dotted(path) or "event"), _FRIENDLY.get(exc.rule, message)


def _dotted(path: list[str]) -> str:
    return ".".join(path).replace(".[", "[")


def _check_one(
    raw: Any, encode_payload: bool
) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """Validate and normalise one record; return (event, None) or (None, (field, message))."""
    if not isinstance(raw, Mapping):
        return None, ("event", f"must be a JSON object, not {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in EVENT_KINDS:
        if kind is None:
            return None, ("kind", "is required")
        return None, ("kind", f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
    ts = raw.get("ts")
    if isinstance(ts, datetime):
        if ts.tzinfo is None or ts.utcoffset() is None:
            return None, ("ts", _NAIVE_TS)
        raw = {**raw, "ts": ts.isoformat()}
    if not _is_valid(kind)(raw):
        # The Rust check also refuses NaN and infinity (JSON has no such numbers), which
        # the Python validator lets through: name those first.
        for name in _FLOAT_FIELDS:
            value = raw.get(name)
            if isinstance(value, float) and not math.isfinite(value):
                return None, (name, "must be a finite number, not NaN or infinity")
        try:
            _validator(kind)(raw)
        except fastjsonschema.JsonSchemaValueException as exc:
            return None, _field_of(exc)
    # Valid events have no other fields: every field, in storage order, None when absent.
    event = _EMPTY_EVENT.copy()
    event.update(raw)
    # one spelling of a UUID, so that a retry in upper case is still the same event
    event["id"] = event["id"].lower()
    problem = _storage_problem(event)
    if problem:
        return None, problem
    if event["payload"] is not None:
        text, message = payload_text(event["payload"])
        if text is None:
            return None, ("payload", message)
        if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode()) > MAX_PAYLOAD_BYTES:
            return None, ("payload", f"is larger than {MAX_PAYLOAD_BYTES} bytes")
        if encode_payload:
            event["payload"] = text
    try:
        parsed = datetime.fromisoformat(event["ts"])
    except ValueError:
        return None, ("ts", _FRIENDLY["format"])
    if parsed.tzinfo is None:
        return None, ("ts", _NAIVE_TS)
    problem = time_range_problem(parsed)
    if problem:
        return None, ("ts", problem)
    event["ts"] = parsed.astimezone(_UTC)
    return event, None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as SQL text on every backend (None: it can).

    PostgreSQL refuses NUL in text, which SQLite stores (the same event was a 500 on one
    store only), and an unpaired surrogate has no UTF-8 form (a 500 on both).
    """
    if "\x00" in text:
        return _NUL_TEXT
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return f"is not valid Unicode text (it has {_SURROGATE})"
    return None


def _storage_problem(event: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of a schema-valid event the store cannot hold, else None; makes the
    number fields floats (a JSON integer beyond the float range overflowed the store)."""
    for name in TEXT_FIELDS:
        problem = event[name] is not None and text_problem(event[name])
        if problem:
            return name, problem
    for index, skill in enumerate(event["skills"] or ()):
        problem = text_problem(skill)
        if problem:
            return f"skills[{index}]", problem
    for name in _FLOAT_FIELDS:
        if event[name] is not None:
            try:
                event[name] = float(event[name])
            except OverflowError:
                return name, "is beyond the range of a float (about 1.8e308)"
    return None


def _deeper_than(payload: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels in ``payload``."""
    level: list[Any] = [payload]
    for _ in range(limit):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, (dict, list, tuple))
        ]
        if not level:
            return False
    return True


def payload_text(payload: Any) -> tuple[str | None, str]:
    """(compact ASCII JSON text of ``payload``, "") or (None, why it cannot be stored and
    read back as JSON)."""
    try:
        text = _PAYLOAD_ENCODER.encode(payload)
    except RecursionError:
        return None, _TOO_DEEP
    except (TypeError, ValueError) as exc:
        return None, f"is not valid JSON ({exc})"
    # Depth d takes 2d characters at least; a surrogate is written as \udxxx.
    if len(text) > 2 * MAX_PAYLOAD_DEPTH and _deeper_than(payload, MAX_PAYLOAD_DEPTH):
        return None, _TOO_DEEP
    if "\\ud" in text:
        try:
            _UNICODE_ENCODER.encode(payload).encode()
        except UnicodeEncodeError:
            return None, f"holds text that is not valid Unicode ({_SURROGATE})"
    return text, ""


def time_range_problem(moment: datetime) -> str | None:
    """Why a timezone-aware ``moment`` is not a usable event time (None: it is)."""
    try:
        inside = EARLIEST_TS <= moment < LATEST_TS
    except OverflowError:  # an offset pushing year 1 or 9999 past the calendar
        inside = False
    return None if inside else _TS_RANGE


def validate_event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one event and return it normalised (every field present, ``ts`` as UTC datetime).

    Raises
    ------
    EventValidationError
        Naming the bad field.
    """
    return validate_events([raw])[0]


def validate_events(
    raws: Iterable[Mapping[str, Any]], *, encode_payload: bool = False
) -> list[dict[str, Any]]:
    """Validate a batch; return the normalised events or raise for every bad one.

    The whole batch is checked before anything is returned, so a caller that writes only
    after this succeeds never half-writes a batch. With ``encode_payload`` the payload comes
    back as compact JSON text (the frame and storage form) instead of a dict.
    """
    events, errors = [], []
    for index, raw in enumerate(raws):
        event, problem = _check_one(raw, encode_payload)
        if problem is None:
            events.append(event)
        else:
            errors.append(FieldError(index, *problem))
    if errors:
        raise EventValidationError(errors)
    return events


def new_event_id() -> str:
    """A fresh event id: a version-7 UUID (RFC 9562), time-ordered then random.

    Ids made one after another sort together, so the store's unique index on ``id`` grows
    at its end; random (version-4) ids touch a different index page per event, which made
    each commit write ~1,000 pages once a store held ~100,000 events.
    """
    return str(uuid6.uuid7())


def events_to_frame(events: list[dict[str, Any]]) -> pl.DataFrame:
    """Normalised events (from :func:`validate_events`) as an event frame."""
    columns: dict[str, list[Any]] = {name: [] for name in EVENT_FIELDS}
    for event in events:
        for name in EVENT_FIELDS:
            columns[name].append(event[name])
    columns["payload"] = [
        None if p is None or isinstance(p, str) else _PAYLOAD_ENCODER.encode(p)
        for p in columns["payload"]
    ]
    return pl.DataFrame(columns, schema=EVENT_FRAME_SCHEMA)


def empty_event_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=EVENT_FRAME_SCHEMA)


def frame_to_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """An event frame back to event records (payload decoded, ``ts`` as UTC datetime)."""
    records = frame.select(EVENT_FIELDS).to_dicts()
    for record in records:
        if record["payload"] is not None:
            record["payload"] = json.loads(record["payload"])
    return records


def _frame_rules() -> list[tuple[str, pl.Expr, str]]:
    """(field, expression true on bad rows, message) derived from the kind schemas."""
    base = _load_schema_file("base")["properties"]
    rules: list[tuple[str, pl.Expr, str]] = [
        ("kind", ~pl.col("kind").is_in(EVENT_KINDS), "unknown event kind"),
    ]
    for name in REQUIRED_FIELDS:
        rules.append((name, pl.col(name).is_null(), "is required"))
    for kind in EVENT_KINDS:
        for name in _load_schema_file(kind).get("required", []):
            rules.append(
                (
                    name,
                    (pl.col("kind") == kind) & pl.col(name).is_null(),
                    f"is required for '{kind}' events",
                )
            )
    for name, spec in base.items():
        col = pl.col(name)
        if "pattern" in spec:
            rules.append((name, ~col.str.contains(spec["pattern"]), "is not a UUID"))
        if "minLength" in spec:
            rules.append((name, col.str.len_chars() < spec["minLength"], "is too short"))
        if "maxLength" in spec:
            rules.append((name, col.str.len_chars() > spec["maxLength"], "is too long"))
        if "minimum" in spec:
            rules.append((name, col < spec["minimum"], f"is less than {spec['minimum']}"))
        if "maximum" in spec:
            rules.append((name, col > spec["maximum"], f"is greater than {spec['maximum']}"))
        if "maxItems" in spec:
            rules.append((name, col.list.len() > spec["maxItems"], "has too many items"))
    ts = pl.col("ts")
    rules.append(("ts", (ts < EARLIEST_TS) | (ts >= LATEST_TS), _TS_RANGE))
    for name in _FLOAT_FIELDS:
        rules.append((name, ~pl.col(name).is_finite(), "must be a finite number"))
    for name in TEXT_FIELDS:
        rules.append((name, pl.col(name).str.contains("\x00", literal=True), _NUL_TEXT))
    nul_skill = pl.col("skills").list.eval(pl.element().str.contains("\x00", literal=True))
    rules.append(("skills", nul_skill.list.any(), _NUL_TEXT))
    rules.append(
        (
            "payload",
            pl.col("payload").str.len_bytes() > MAX_PAYLOAD_BYTES,
            f"is larger than {MAX_PAYLOAD_BYTES} bytes",
        )
    )
    return rules


def _ts_problems(frame: pl.DataFrame) -> list[FieldError]:
    ts_dtype = frame.schema.get("ts")
    if isinstance(ts_dtype, pl.Datetime) and ts_dtype.time_zone is None:
        return [FieldError(-1, "ts", _NAIVE_TS)]
    if ts_dtype is not None and not isinstance(ts_dtype, pl.Datetime):
        return [FieldError(-1, "ts", f"must be a timezone-aware datetime, not {ts_dtype}")]
    return []


def check_frame_dtypes(frame: pl.DataFrame) -> None:
    """Raise :class:`EventValidationError` naming every event column of another dtype than
    :data:`EVENT_FRAME_SCHEMA` (``ts``: any timezone-aware datetime; the ids of
    :data:`CATEGORICAL_IDS`: also ``pl.Categorical``), and a null ``learner_id``. Reads no
    other row value, so it is cheap enough for every model call on frames from the store or
    :func:`validate_frame`; other columns are left alone.
    """
    problems = _ts_problems(frame)
    for name, dtype in frame.schema.items():
        expected = EVENT_FRAME_SCHEMA.get(name)
        if name == "ts" or expected is None or dtype == expected:
            continue
        if name in CATEGORICAL_IDS and dtype == pl.Categorical:
            continue
        # an Enum's or a list's dtype may name thousands of values: its kind is enough
        shown = dtype if len(str(dtype)) <= 80 else type(dtype).__name__
        problems.append(
            FieldError(-1, name, f"must be {expected}, not {shown} (validate_frame() converts it)")
        )
    if "learner_id" in frame.columns and frame.get_column("learner_id").has_nulls():
        first = frame.get_column("learner_id").is_null().arg_max()
        problems.append(FieldError(int(first), "learner_id", "is required"))
    if problems:
        raise EventValidationError(problems)


def _conform_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Add missing optional columns, cast to the event dtypes; raise naming a bad column."""
    problems = [
        FieldError(-1, c, "is not an event field")
        for c in frame.columns
        if c not in EVENT_FRAME_SCHEMA
    ]
    problems += [
        FieldError(-1, c, "column is missing") for c in REQUIRED_FIELDS if c not in frame.columns
    ]
    problems += _ts_problems(frame)
    if problems:
        raise EventValidationError(problems)
    frame = frame.with_columns(pl.col("ts").dt.convert_time_zone("UTC"))
    columns = []
    for name, dtype in EVENT_FRAME_SCHEMA.items():
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        try:
            columns.append(frame.get_column(name).cast(dtype, strict=True))
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
            raise EventValidationError(
                [FieldError(-1, name, f"cannot be read as {dtype} ({exc})")]
            ) from exc
    return frame.select(columns)


def _payload_problems(frame: pl.DataFrame) -> list[FieldError]:
    """Check payload JSON text, and the payload shape of kinds that narrow it."""
    errors = []
    rows = frame.with_row_index("_row").filter(pl.col("payload").is_not_null())
    for row, kind, text in rows.select("_row", "kind", "payload").iter_rows():
        try:
            payload = json.loads(text)
        except ValueError as exc:
            errors.append(FieldError(row, "payload", f"is not valid JSON ({exc})"))
            continue
        except RecursionError:
            errors.append(FieldError(row, "payload", _TOO_DEEP))
            continue
        if not isinstance(payload, dict):
            errors.append(FieldError(row, "payload", "must be a JSON object"))
            continue
        # json.loads takes NaN, and unpaired surrogates as \ud800: the records' rules again.
        problem = payload_text(payload)[1]
        if problem:
            errors.append(FieldError(row, "payload", problem))
            continue
        check = _payload_validator(kind) if kind in EVENT_KINDS else None
        if check is not None:
            try:
                check(payload)
            except fastjsonschema.JsonSchemaValueException as exc:
                field, message = _field_of(exc)
                where = "payload" if field == "event" else f"payload.{field}"
                errors.append(FieldError(row, where, message))
    return errors


def validate_frame(frame: pl.DataFrame, *, max_errors: int = 100) -> pl.DataFrame:
    """Validate an event frame with the same rules as :func:`validate_events`.

    Parameters
    ----------
    frame : polars.DataFrame, shape (n_events, <= len(EVENT_FIELDS))
        Event columns; optional ones may be missing. ``ts`` must be timezone-aware,
        ``payload`` JSON text.

    Returns
    -------
    polars.DataFrame, shape (n_events, len(EVENT_FIELDS))
        The events with every column present, in storage order and dtype, ``ts`` in UTC.
    """
    frame = _conform_columns(frame)
    indexed = frame.with_row_index("_row")
    errors: list[FieldError] = []
    for name, bad, message in _frame_rules():
        rows = indexed.filter(bad.fill_null(False)).get_column("_row").head(max_errors)
        errors += [FieldError(int(r), name, message) for r in rows]
    if len(errors) < max_errors:
        errors += _payload_problems(frame)
    if errors:
        errors.sort(key=lambda e: e.index)
        raise EventValidationError(errors[:max_errors])
    return frame.with_columns(pl.col("id").str.to_lowercase())  # as validate_events
