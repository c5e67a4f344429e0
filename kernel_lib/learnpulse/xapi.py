"""Round-trip mapping between learnpulse events and xAPI statements.

One event is one statement:

- ``actor``: an Agent with an ``account`` on :data:`ACCOUNT_HOME_PAGE` named by ``learner_id``;
- ``verb``: one IRI per kind (:data:`KIND_VERBS`), from the ADL / TinCan / Activity Streams
  vocabularies where one fits, under :data:`VERB_BASE` otherwise;
- ``object``: an Activity whose IRI encodes the course and the item (:func:`activity_id`);
  the item's ``difficulty`` goes in ``object.definition.extensions``;
- ``result``: ``success`` (``correct``), ``score.raw``, ``duration`` (ISO 8601) and extensions
  for ``attempt``, ``hints_used``, ``confidence`` and ``payload``;
- ``context``: extensions for ``course_id``, ``session_id`` and ``skills``, and the course
  activity as ``contextActivities.parent``;
- ``timestamp``: ISO 8601 UTC; the statement ``id`` is the event ``id``.

Every extension key is an IRI under :data:`EXTENSION_BASE`. :func:`from_xapi` also reads
statements written by other tools (see its notes on what it infers and what it rejects).
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote

import polars as pl

from learnpulse.events import (
    EventValidationError,
    FieldError,
    events_to_frame,
    frame_to_records,
    validate_events,
    validate_frame,
)

#: ``homePage`` of the ``actor.account`` of every statement learnpulse writes.
ACCOUNT_HOME_PAGE = "https://learnpulse.org/learners"
#: Prefix of the verbs learnpulse defines itself (no ADL/TinCan verb fits the kind).
VERB_BASE = "https://learnpulse.org/xapi/verbs/"
#: Prefix of every extension key learnpulse writes and reads.
EXTENSION_BASE = "https://learnpulse.org/xapi/extensions/"
#: Prefix of course activity ids; an item activity id appends ``/items/<item>``.
ACTIVITY_BASE = "https://learnpulse.org/xapi/courses/"
#: ``definition.type`` of the course activity (the ADL activity type for a course).
COURSE_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/course"
#: Namespace of the uuid5 given to foreign statements that have no ``id``.
STATEMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://learnpulse.org/xapi/statements")

_ADL = "http://adlnet.gov/expapi/verbs/"
_TINCAN = "http://id.tincanapi.com/verb/"
#: Event kind -> (verb IRI, English display). One distinct verb per kind.
KIND_VERBS: dict[str, tuple[str, str]] = {
    "attempt": (_ADL + "answered", "answered"),
    "hint": (VERB_BASE + "requested-hint", "requested a hint for"),
    "explanation_viewed": (VERB_BASE + "viewed-explanation", "viewed the explanation of"),
    "tutor_message": (_ADL + "asked", "asked"),
    "cell_executed": (VERB_BASE + "executed-cell", "executed a cell in"),
    "cell_error": (VERB_BASE + "raised-cell-error", "raised an error in"),
    "session_start": (_ADL + "initialized", "initialized"),
    "session_end": (_ADL + "terminated", "terminated"),
    "resource_view": (_TINCAN + "viewed", "viewed"),
    "assessment_submitted": ("http://activitystrea.ms/schema/1.0/submit", "submitted"),
    "registration": (_ADL + "registered", "registered"),
    "withdrawal": (_TINCAN + "unregistered", "unregistered"),
}
VERB_KINDS: dict[str, str] = {verb: kind for kind, (verb, _) in KIND_VERBS.items()}

# Event field -> where it lives in a statement (the extension key is EXTENSION_BASE + field).
_RESULT_EXTENSIONS = ("attempt", "hints_used", "confidence", "payload")
_CONTEXT_EXTENSIONS = ("course_id", "session_id", "skills")
_OBJECT_EXTENSIONS = ("difficulty",)
_ACTIVITY_IRI = re.compile(
    r"^" + re.escape(ACTIVITY_BASE) + r"(?P<course>[^/]+)(?:/items/(?P<item>[^/]*))?$"
)
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"^P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$"
)
_DURATION_SECONDS = (7 * 86400, 86400, 3600, 60, 1)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while converting many statements.

    A statement is a dozen small dicts; building tens of thousands of them triggers one full
    collection after another, which triples the time of a bulk conversion. Reference counting
    still frees everything that is not in a cycle, and the collector is resumed afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _ext(name: str) -> str:
    return EXTENSION_BASE + name


@lru_cache(maxsize=4096)  # a file repeats the same few courses and items many times
def activity_id(course_id: str, item_id: str | None = None) -> str:
    """The activity IRI of a course, or of one of its items (both url-quoted, so any text fits).

    >>> activity_id("py 101", "ex/1")
    'https://learnpulse.org/xapi/courses/py%20101/items/ex%2F1'
    """
    course = ACTIVITY_BASE + quote(course_id, safe="")
    return course if item_id is None else f"{course}/items/{quote(item_id, safe='')}"


def parse_activity_id(iri: str) -> tuple[str, str | None] | None:
    """(course_id, item_id or None) of an IRI made by :func:`activity_id`; None for others."""
    match = _ACTIVITY_IRI.match(iri)
    if match is None:
        return None
    item = match.group("item")
    return unquote(match.group("course")), None if item is None else unquote(item)


def format_duration(duration_ms: int) -> str:
    """Milliseconds as an ISO 8601 duration in seconds, e.g. 1234 -> ``"PT1.234S"``."""
    seconds, millis = divmod(duration_ms, 1000)
    return f"PT{seconds}.{millis:03d}S" if millis else f"PT{seconds}S"


def parse_duration(text: str) -> int:
    """An ISO 8601 duration (``PnWnDTnHnMnS``) in milliseconds, rounded to the nearest ms.

    Years and months are rejected: their length in days is not fixed.

    Raises
    ------
    ValueError
        If ``text`` is not such a duration.
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"result.duration {text!r} is not an ISO 8601 duration like PT1.5S")
    # Decimal, not float, so that "PT1.234S" is exactly 1234 ms.
    seconds = sum(
        Decimal(part.replace(",", ".")) * factor
        for part, factor in zip(match.groups(), _DURATION_SECONDS, strict=True)
        if part is not None
    )
    return int((seconds * 1000).to_integral_value())


def _timestamp(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_timestamp(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"statement timestamp must be an ISO 8601 string, not {text!r}")
    # fromisoformat only learnt the "Z" suffix in Python 3.11.
    cleaned = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        ts = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"statement timestamp {text!r} is not ISO 8601") from None
    if ts.tzinfo is None:
        raise ValueError(f"statement timestamp {text!r} has no timezone")
    return ts.astimezone(timezone.utc)


def _extensions(event: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {_ext(f): event[f] for f in fields if event.get(f) is not None}


def _result(event: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if event.get("correct") is not None:
        result["success"] = event["correct"]
    if event.get("score") is not None:
        result["score"] = {"raw": event["score"]}
    if event.get("duration_ms") is not None:
        result["duration"] = format_duration(event["duration_ms"])
    extensions = _extensions(event, _RESULT_EXTENSIONS)
    if extensions:
        result["extensions"] = extensions
    return result


def to_xapi(event: Mapping[str, Any]) -> dict[str, Any]:
    """One event as an xAPI statement.

    Parameters
    ----------
    event : mapping
        A normalised event, as :func:`learnpulse.events.validate_event` returns it
        (``ts`` a timezone-aware datetime, ``payload`` a dict or None).

    Returns
    -------
    dict
        The statement; ``from_xapi(to_xapi(e))`` validates back to ``e``.
    """
    verb, display = KIND_VERBS[event["kind"]]
    course = activity_id(event["course_id"])
    definition: dict[str, Any] = {}
    if event.get("item_id") is None:
        definition["type"] = COURSE_ACTIVITY_TYPE
    extensions = _extensions(event, _OBJECT_EXTENSIONS)
    if extensions:
        definition["extensions"] = extensions
    target: dict[str, Any] = {
        "objectType": "Activity",
        "id": activity_id(event["course_id"], event.get("item_id")),
    }
    if definition:
        target["definition"] = definition
    statement: dict[str, Any] = {
        "id": event["id"],
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": ACCOUNT_HOME_PAGE, "name": event["learner_id"]},
        },
        "verb": {"id": verb, "display": {"en-US": display}},
        "object": target,
        "context": {
            "platform": "learnpulse",
            "contextActivities": {"parent": [{"objectType": "Activity", "id": course}]},
            "extensions": _extensions(event, _CONTEXT_EXTENSIONS),
        },
        "timestamp": _timestamp(event["ts"]),
    }
    result = _result(event)
    if result:
        statement["result"] = result
    return statement


def _learner_id(actor: Any) -> str:
    """The learner id of an actor: its account name, else a sha1 of its mbox."""
    if not isinstance(actor, Mapping):
        raise ValueError("statement has no actor object")
    account = actor.get("account")
    if isinstance(account, Mapping) and account.get("name"):
        if not isinstance(account["name"], str):  # str([1]) would make up a learner "[1]"
            raise ValueError(
                f"statement actor.account.name must be a string, not {account['name']!r}"
            )
        return account["name"]
    if isinstance(actor.get("mbox"), str):
        # Pseudonymous: the xAPI mbox_sha1sum of the address, never the address itself.
        return hashlib.sha1(actor["mbox"].encode()).hexdigest()
    if isinstance(actor.get("mbox_sha1sum"), str):
        return actor["mbox_sha1sum"]
    raise ValueError("statement actor has neither account.name nor mbox to identify the learner")


def _kind(statement: Mapping[str, Any]) -> str:
    verb = statement.get("verb")
    verb_id = verb.get("id") if isinstance(verb, Mapping) else None
    if verb_id not in VERB_KINDS:
        known = ", ".join(f"{iri} ({kind})" for iri, kind in VERB_KINDS.items())
        raise ValueError(f"unknown xAPI verb {verb_id!r}; known verbs: {known}")
    return VERB_KINDS[verb_id]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _course_and_item(
    statement: Mapping[str, Any], context: Mapping[str, Any], course_id: str | None
) -> tuple[str, str | None]:
    """Course from the context extension, the parent activity or the argument; item from object."""
    object_id = _mapping(statement.get("object")).get("id")
    parents = _mapping(context.get("contextActivities")).get("parent") or []
    if isinstance(parents, Mapping):  # xAPI 1.0.0 allowed a single activity here
        parents = [parents]
    if not isinstance(parents, list):
        raise ValueError(
            f"statement contextActivities.parent must be an activity or a list of them, "
            f"not {parents!r}"
        )
    parent_id = _mapping(parents[0]).get("id") if parents else None
    if parent_id is not None and not isinstance(parent_id, str):
        raise ValueError(f"statement contextActivities.parent id must be an IRI, not {parent_id!r}")
    course = _mapping(context.get("extensions")).get(_ext("course_id"))
    if course is None and parent_id is not None:
        ours = parse_activity_id(parent_id)
        course = ours[0] if ours else parent_id
    course = course if course is not None else course_id
    if course is None:
        raise ValueError(
            "cannot tell the course: no course_id context extension, no "
            "contextActivities.parent and no course_id argument"
        )
    if not isinstance(object_id, str) or object_id == parent_id:
        return course, None
    ours = parse_activity_id(object_id)
    return course, (ours[1] if ours else object_id)


def _statement_id(statement: Mapping[str, Any]) -> str:
    if statement.get("id") is not None:
        return statement["id"]
    # Deterministic, so importing the same file twice does not duplicate events.
    text = json.dumps(statement, sort_keys=True, separators=(",", ":"), default=str)
    return str(uuid.uuid5(STATEMENT_NAMESPACE, text))


def _result_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    score = _mapping(result.get("score"))
    duration = result.get("duration")
    extensions = _mapping(result.get("extensions"))
    return {
        "correct": result.get("success"),
        # Foreign statements often carry only the scaled score (-1..1).
        "score": score.get("raw", score.get("scaled")),
        "duration_ms": None if duration is None else parse_duration(duration),
        **{f: extensions.get(_ext(f)) for f in _RESULT_EXTENSIONS},
    }


def from_xapi(statement: Mapping[str, Any], *, course_id: str | None = None) -> dict[str, Any]:
    """An xAPI statement as a raw event dict, for :func:`~learnpulse.events.validate_event`.

    Parameters
    ----------
    statement : mapping
        A statement written by :func:`to_xapi` or by another tool.
    course_id : str, optional
        Course of statements that name none (no ``course_id`` context extension and no
        ``contextActivities.parent``).

    Returns
    -------
    dict
        Event fields; ``ts`` is a UTC datetime, ``payload`` a dict or None. The learner is the
        ``actor.account.name``, else the sha1 of ``actor.mbox`` (as ``mbox_sha1sum``). The item
        is decoded from a learnpulse activity IRI, else it is the object IRI itself. A statement
        without ``id`` gets a uuid5 of its JSON; without ``timestamp``, its ``stored`` time.

    Raises
    ------
    ValueError
        Unknown verb (the message lists the known ones), no way to identify the learner or
        the course, a malformed timestamp or duration.
    """
    context = _mapping(statement.get("context"))
    course, item = _course_and_item(statement, context, course_id)
    context_ext = _mapping(context.get("extensions"))
    definition = _mapping(_mapping(statement.get("object")).get("definition"))
    return {
        "id": _statement_id(statement),
        "ts": _parse_timestamp(statement.get("timestamp", statement.get("stored"))),
        "learner_id": _learner_id(statement.get("actor")),
        "course_id": course,
        "session_id": context_ext.get(_ext("session_id")),
        "kind": _kind(statement),
        "item_id": item,
        "skills": context_ext.get(_ext("skills")),
        "difficulty": _mapping(definition.get("extensions")).get(_ext("difficulty")),
        **_result_fields(_mapping(statement.get("result"))),
    }


def events_to_statements(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Every event of an event frame as an xAPI statement (the frame is validated first)."""
    with paused_gc():
        return [to_xapi(event) for event in frame_to_records(validate_frame(frame))]


def statements_to_events(
    statements: Iterable[Mapping[str, Any]], *, course_id: str | None = None
) -> list[dict[str, Any]]:
    """Statements as validated, normalised events (``payload`` a dict).

    Raises
    ------
    EventValidationError
        Listing every statement (by index) that cannot be read or does not validate.
    """
    with paused_gc():
        return _statements_to_events(statements, course_id)


def _statements_to_events(
    statements: Iterable[Mapping[str, Any]], course_id: str | None
) -> list[dict[str, Any]]:
    raws: list[dict[str, Any]] = []
    problems: list[FieldError] = []
    for index, statement in enumerate(statements):
        try:
            if not isinstance(statement, Mapping):
                raise TypeError("must be a JSON object")
            raws.append(from_xapi(statement, course_id=course_id))
        except (ValueError, TypeError) as exc:
            problems.append(FieldError(index, "statement", str(exc)))
            raws.append({})  # keeps the indices of later statements aligned
    try:
        events = validate_events(raws)
    except EventValidationError as exc:
        failed = {p.index for p in problems}
        problems += [e for e in exc.errors if e.index not in failed]
    if problems:
        raise EventValidationError(sorted(problems, key=lambda p: p.index))
    return events


def statements_to_frame(
    statements: Iterable[Mapping[str, Any]], *, course_id: str | None = None
) -> pl.DataFrame:
    """Statements as a validated event frame; see :func:`statements_to_events` for errors."""
    with paused_gc():
        return events_to_frame(statements_to_events(statements, course_id=course_id))
