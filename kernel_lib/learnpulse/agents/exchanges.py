"""Each tutor exchange in the store: two ``tutor_message`` events (the learner's message with
what it was about, then the reply), each within an event's payload limit."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from learnpulse.agents.errors import MAX_RECORD_CHARS, error_record
from learnpulse.events import MAX_PAYLOAD_BYTES, new_event_id

if TYPE_CHECKING:
    from learnpulse.agents.base import Draft, TutorContext, TutorReply
    from learnpulse.store import EventStore

#: Longest reply text stored in a ``tutor_message`` event (the payload limit is 64 KiB).
MAX_LOGGED_CHARS = 16000
#: Longest code (``%review``'s cell or function) stored with a learner's ``tutor_message``, in
#: characters: a follow-up ("why?") is answered about it. Longer code is cut, and the answer
#: to a follow-up says it saw only the first part.
MAX_LOGGED_CODE_CHARS = 8000
#: Longest error stored with a learner's ``tutor_message`` (its line and the exception, each
#: cut to errors.MAX_QUOTED_CHARS by errors.error_record).
MAX_LOGGED_ERROR_CHARS = MAX_RECORD_CHARS


def log_exchange(
    store: EventStore | None,
    message: str,
    context: TutorContext,
    reply: TutorReply,
    draft: Draft,
    routing: str,
) -> None:
    """Store the exchange as two ``tutor_message`` events (learner, then tutor)."""
    if store is None:
        return
    exercise = context.exercise
    now = datetime.now(timezone.utc)
    common = {
        "ts": now.isoformat(),
        "learner_id": context.learner_id,
        "course_id": context.course.id if context.course is not None else "unknown",
        "kind": "tutor_message",
        "item_id": exercise.id if exercise is not None else None,
        "skills": list(exercise.skills) if exercise is not None else [],
    }
    tutor_payload = {
        "role": "tutor",
        "agent": reply.agent,
        "text": reply.text[:MAX_LOGGED_CHARS],
        "sources": [s.id for s in reply.sources],
        "confidence": round(reply.confidence, 3),
        "engine": reply.engine[:200],
        "redactions": reply.redactions,
        "routing": routing,
        **{
            k: v
            for k, v in draft.payload.items()
            if k in ("sufficiency", "skill", "rung", "topics", "small_talk")
        },
        **({"hint_level": reply.hint_level} if reply.hint_level is not None else {}),
    }
    learner_payload = {"role": "learner", "agent": reply.agent, "text": message[:MAX_LOGGED_CHARS]}
    # what the message asked about, so a follow-up is read with it (and not with the chat
    # question before it: "Please review my code." alone read as a follow-up of that one)
    learner_payload.update(_about(context, draft))
    _fit_payload(learner_payload)
    _fit_payload(tutor_payload)
    store.append(
        [
            {**common, "id": new_event_id(), "payload": learner_payload},
            {
                **common,
                "id": new_event_id(),
                "payload": tutor_payload,
                "confidence": max(0.0, min(1.0, reply.confidence)),
            },
        ]
    )


def _about(context: TutorContext, draft: Draft) -> dict[str, Any]:
    """What a learner's message was about, stored with it (each part capped): the code and
    the error it asked about, and what it followed up (a hint, a checked answer), so that
    the next follow-up is about the same thing."""
    about: dict[str, Any] = {}
    follows = context.follows or {}
    if context.code:
        about["code"] = context.code[:MAX_LOGGED_CODE_CHARS]
        if len(context.code) > MAX_LOGGED_CODE_CHARS or follows.get("code_cut"):
            about["code_cut"] = True
    if context.error is not None:
        about["error"] = error_record(context.error, context.code)[:MAX_LOGGED_ERROR_CHARS]
    if follows.get("act"):
        # a code answer is stored once, as the code
        kept = ("act", "correct", "feedback", "diagnosis") + (() if context.code else ("answer",))
        about.update({key: follows[key] for key in kept if key in follows})
    elif "hint_level" in draft.payload:  # a hint the tutor gave: "why?" is about it
        about["act"] = "hint"
    return about


def _fit_payload(payload: dict[str, Any]) -> None:
    """Drop what ``payload`` holds beyond its text (code, then answer, feedback, error), then
    cut the text (saying so in ``text_cut``), until it fits an event's payload. Non-ASCII
    text takes up to 12 bytes a character in the stored JSON: 8,000 characters of code pasted
    in a 10,000-character message, or a 16,000-character reply in Japanese, made the whole
    exchange unstorable, and the tutor's reply failed with it."""
    for key in ("code", "answer", "feedback", "error"):
        if _fits(payload):
            return
        if key == "code":
            payload.pop("code_cut", None)
        payload.pop(key, None)
    if _fits(payload):
        return
    text, payload["text_cut"] = payload["text"], True
    kept, too_long = 0, len(text)  # the longest start of the text that fits: kept <= n < too_long
    while too_long - kept > 1:
        middle = (kept + too_long) // 2
        payload["text"] = text[:middle]
        kept, too_long = (middle, too_long) if _fits(payload) else (kept, middle)
    payload["text"] = text[:kept]


def _fits(payload: dict[str, Any]) -> bool:
    return len(json.dumps(payload)) <= MAX_PAYLOAD_BYTES
