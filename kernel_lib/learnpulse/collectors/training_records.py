"""Training runs and their logged points as JSON: what a kernel sends its server, and what the
server checks before it stores them as its caller's.

:class:`~learnpulse.collectors.server_store.ServerStore` sends a run with :func:`run_json` and
its points with :func:`metrics_json`; the server's ``PUT training/runs/<run_id>`` and
``POST training/runs/<run_id>/metrics`` read them back with :func:`store_run` and
:func:`store_metrics`, which check every field first (:class:`TrainingRecordError` naming it,
and nothing is stored) and never take the learner from the request: a run is its caller's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from learnpulse.collectors.training import MAX_POSITION, NON_FINITE_KEY
from learnpulse.events import MAX_PAYLOAD_BYTES, payload_text, text_problem, time_range_problem
from learnpulse.store.series import RUN_STATUSES, TRAINING_METRIC_COLUMNS

#: Longest run id (the store's column; a run's own ids are UUIDs, 36 characters).
MAX_RUN_ID_CHARS = 36
#: Longest run name, course id and name of an extra metric (the store's columns).
MAX_NAME_CHARS = 256
#: Largest ``seq`` of a logged point (the store's 32-bit column).
MAX_SEQ = 2**31 - 1
#: Fields of a run's JSON (``PUT training/runs/<run_id>``); ``run_id`` and ``learner_id`` are
#: optional there and must be the path's and the caller's.
RUN_FIELDS = ("run_id", "learner_id", "name", "course_id", "started", "ended", "status", "params")
#: Fields of a logged point's JSON (``POST training/runs/<run_id>/metrics``).
METRIC_FIELDS = ("seq", "ts", *TRAINING_METRIC_COLUMNS, "extra")
_REQUIRED_RUN_FIELDS = ("name", "course_id", "started", "status")
_NUMBERS = tuple(c for c in TRAINING_METRIC_COLUMNS if c not in MAX_POSITION)


class TrainingRecordError(ValueError):
    """A run or logged point the store cannot take; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"field '{field}' {message}")
        self.field = field


class OtherLearnerError(TrainingRecordError):
    """A run whose ``learner_id`` is not its caller's: nobody writes runs as someone else."""


# -- what a kernel sends -------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def run_json(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run record (:meth:`EventStore.save_training_run`'s) as the JSON body of ``PUT
    training/runs/<run_id>``: without ``run_id`` (the path's) and ``learner_id`` (the server
    records its caller)."""
    return {
        "name": run["name"],
        "course_id": run["course_id"],
        "started": _iso(run["started"]),
        "ended": _iso(run.get("ended")),
        "status": run["status"],
        "params": dict(run.get("params") or {}),
    }


def metrics_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Logged points (:meth:`EventStore.append_training_metrics`'s rows) as JSON."""
    return [
        {
            "seq": row["seq"],
            "ts": _iso(row["ts"]),
            **{name: row.get(name) for name in TRAINING_METRIC_COLUMNS},
            "extra": row.get("extra") or None,
        }
        for row in rows
    ]


# -- what the server checks ----------------------------------------------------------------


def _text(value: Any, field: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise TrainingRecordError(field, f"must be a non-empty string, not {_shown(value)}")
    if len(value) > limit:
        raise TrainingRecordError(field, f"must be at most {limit} characters")
    problem = text_problem(value)
    if problem:
        raise TrainingRecordError(field, problem)
    return value


def _moment(value: Any, field: str, *, required: bool = True) -> datetime | None:
    if value is None and not required:
        return None
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise TrainingRecordError(
            field,
            "must be an ISO 8601 date-time with a timezone, e.g. 2024-09-01T10:00:00Z, "
            f"not {_shown(value)}",
        )
    problem = time_range_problem(moment)
    if problem:
        raise TrainingRecordError(field, problem)
    return moment.astimezone(timezone.utc)


def _integer(value: Any, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TrainingRecordError(
            field, f"must be an integer from {low} to {high}, not {_shown(value)}"
        )
    return value


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer beyond the float range
            number = None
    if number is None or not math.isfinite(number):
        raise TrainingRecordError(field, f"must be a finite number or null, not {_shown(value)}")
    return number


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown_field(record: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    extra = sorted(set(record) - set(known))
    if extra:
        raise TrainingRecordError(
            f"{where}{extra[0]}", f"is not a field here; the fields are: {', '.join(known)}"
        )


def run_from_json(body: Mapping[str, Any], *, run_id: str, learner_id: str) -> dict[str, Any]:
    """A run record for :meth:`EventStore.save_training_run`, from ``body`` (:data:`RUN_FIELDS`)
    sent for ``run_id`` by ``learner_id``.

    Raises
    ------
    TrainingRecordError
        Naming the first field that is missing or wrong.
    OtherLearnerError
        When the body names a ``learner_id`` that is not the caller's.
    """
    _unknown_field(body, RUN_FIELDS, "")
    _text(run_id, "run_id", MAX_RUN_ID_CHARS)
    if body.get("run_id", run_id) != run_id:
        raise TrainingRecordError("run_id", f"must be the path's run id {run_id!r} if given")
    if body.get("learner_id", learner_id) != learner_id:
        raise OtherLearnerError(
            "learner_id", f"must be the caller's own learner id ({learner_id!r}) if given"
        )
    missing = [name for name in _REQUIRED_RUN_FIELDS if name not in body]
    if missing:
        raise TrainingRecordError(missing[0], "is required")
    if body["status"] not in RUN_STATUSES:
        message = f"must be one of {', '.join(RUN_STATUSES)}, not {_shown(body['status'])}"
        raise TrainingRecordError("status", message)
    started = _moment(body["started"], "started")
    ended = _moment(body.get("ended"), "ended", required=False)
    if ended is not None and started is not None and ended < started:
        raise TrainingRecordError("ended", "must not be before 'started'")
    return {
        "run_id": run_id,
        "name": _text(body["name"], "name", MAX_NAME_CHARS),
        "learner_id": learner_id,
        "course_id": _text(body["course_id"], "course_id", MAX_NAME_CHARS),
        "started": started,
        "ended": ended,
        "status": body["status"],
        "params": _params(body.get("params")),
    }


def _params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise TrainingRecordError("params", f"must be an object, not {_shown(params)}")
    text, problem = payload_text(params)
    if text is not None and len(text) > MAX_PAYLOAD_BYTES:
        problem = f"is larger than {MAX_PAYLOAD_BYTES} bytes"
    if problem:
        raise TrainingRecordError("params", problem)
    return params


def metrics_from_json(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows for :meth:`EventStore.append_training_metrics` from JSON points
    (:data:`METRIC_FIELDS`; ``seq`` and ``ts`` required).

    Raises
    ------
    TrainingRecordError
        Naming the first wrong field as ``metrics[i].<field>``.
    """
    return [_metric_row(row, f"metrics[{index}].") for index, row in enumerate(rows)]


def _metric_row(row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise TrainingRecordError(where.rstrip("."), f"must be an object, not {_shown(row)}")
    _unknown_field(row, METRIC_FIELDS, where)
    for name in ("seq", "ts"):
        if row.get(name) is None:
            raise TrainingRecordError(where + name, "is required")
    record: dict[str, Any] = {
        "seq": _integer(row["seq"], where + "seq", 0, MAX_SEQ),
        "ts": _moment(row["ts"], where + "ts"),
    }
    for name, limit in MAX_POSITION.items():
        record[name] = _integer(row.get(name), where + name, -limit, limit)
    for name in _NUMBERS:
        record[name] = _number(row.get(name), where + name)
    record["extra"] = _extra(row.get("extra"), where + "extra")
    return record


def _extra(extra: Any, field: str) -> dict[str, Any] | None:
    """Other logged numbers by name, and the names of those that were not finite."""
    if extra is None:
        return None
    if not isinstance(extra, dict):
        raise TrainingRecordError(field, f"must be an object or null, not {_shown(extra)}")
    checked: dict[str, Any] = {}
    for name, value in extra.items():
        _text(name, f"{field} key", MAX_NAME_CHARS)
        if name == NON_FINITE_KEY:
            names = value if isinstance(value, list) else [None]
            checked[name] = [_text(n, f"{field}.{name}[]", MAX_NAME_CHARS) for n in names]
        else:
            checked[name] = _number(value, f"{field}.{name}")
    if len(json.dumps(checked)) > MAX_PAYLOAD_BYTES:
        raise TrainingRecordError(field, f"is larger than {MAX_PAYLOAD_BYTES} bytes")
    return checked


# -- storing as the caller -----------------------------------------------------------------


def store_run(store: Any, run_id: str, learner_id: str, body: Mapping[str, Any]) -> dict:
    """Check ``body`` (:func:`run_from_json`) and store it as ``learner_id``'s run; the run as
    stored (an update changes ``ended``, ``status`` and ``params`` only).

    Raises
    ------
    TrainingRecordError, OtherLearnerError
        As :func:`run_from_json`; nothing is stored.
    UnknownTrainingRun
        When ``run_id`` is another learner's run; it is left as it was.
    """
    store.save_training_run(run_from_json(body, run_id=run_id, learner_id=learner_id))
    stored = store.training_runs(run_ids=[run_id]).row(0, named=True)
    return {**stored, "params": json.loads(stored["params"] or "{}")}


def store_metrics(store: Any, run_id: str, learner_id: str, rows: Sequence[Any]) -> dict:
    """Check ``rows`` (:func:`metrics_from_json`) and append them to ``learner_id``'s run
    ``run_id``; counts received, newly stored and already stored (by ``seq``).

    Raises
    ------
    TrainingRecordError
        As :func:`metrics_from_json`; nothing is stored.
    UnknownTrainingRun
        When ``run_id`` is not a stored run of ``learner_id``; nothing is stored.
    """
    records = metrics_from_json(rows)
    stored = store.append_training_metrics(run_id, records, learner_id=learner_id)
    return {"received": len(records), "stored": stored, "duplicates": len(records) - stored}
