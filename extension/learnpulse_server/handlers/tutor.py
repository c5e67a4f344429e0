"""The tutor service: agents, chat, streamed chat (WebSocket) and conversation history.

- ``GET  learnpulse/api/tutor/agents``: the agents a learner can talk to.
- ``POST learnpulse/api/tutor/chat``: ``{"message", "agent"?, "exercise"?}`` ->
  ``{"text", "agent", "sources", "confidence", "actions", "engine"}``.
- ``WS   learnpulse/api/tutor/stream``: send the same JSON, receive ``{"type": "start", ...}``,
  ``{"type": "chunk", "text"}``... and ``{"type": "end", <the reply>}`` (``{"type": "error",
  "message"}`` for a bad message; the socket stays open for the next one).
- ``GET  learnpulse/api/tutor/history?learner=<id>``: a conversation; students get their own
  only.

The learner is always the authenticated user; a body naming another learner is refused.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse.agents import (
    LocalChatEngine,
    OpenAIChatEngine,
    ask,
    ask_stream,
    describe_agents,
    engine_from_env,
)
from learnpulse.agents.learner import history
from learnpulse.course import Course, demo_course, load_course
from learnpulse_server.handlers.base import (
    API_PREFIX,
    LearnPulseHandler,
    LearnPulseWebSocketHandler,
    bad_request,
)

AUTH_RESOURCE = "learnpulse:tutor"
CHAT_FIELDS = {"message": str, "agent": str, "exercise": str}
REQUIRED_FIELDS = ("message",)


def parse_chat(raw: bytes | str) -> dict[str, str]:
    """The chat fields of a request body; ValueError naming the field otherwise."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ValueError('the body must be JSON: {"message": ...}') from None
    except RecursionError:
        raise ValueError("the body's JSON is nested too deeply") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object with a 'message' field")
    for name, value in body.items():
        if name not in CHAT_FIELDS:
            who = " (the learner is the signed-in user)" if name == "learner_id" else ""
            raise ValueError(f"field '{name}': unknown field{who}; allowed: {sorted(CHAT_FIELDS)}")
        if value is not None and not isinstance(value, CHAT_FIELDS[name]):
            raise ValueError(f"field '{name}': must be a string")
    for name in REQUIRED_FIELDS:
        if not body.get(name):
            raise ValueError(f"field '{name}': required")
    return {k: v for k, v in body.items() if v is not None}


@lru_cache(maxsize=4)
def tutor_course(path: str) -> Course:
    """The course of ``tutor_course_file`` (loaded once per path), or the demo course."""
    return load_course(path) if path else demo_course()


def tutor_engine(app: Any) -> Any:
    """The tutor's engine from the app's traits; without a URL or local model, from the
    environment.

    Raises
    ------
    ValueError
        When they do not make an engine (a URL without a model, a URL that is not http(s)):
        the server checks this at start (``LearnPulseApp.initialize``), not per request.
    """
    if not app.tutor_llm_url:
        if app.tutor_llm_local_model:
            return LocalChatEngine(app.tutor_llm_local_model)
        return engine_from_env()
    return OpenAIChatEngine(
        app.tutor_llm_url,
        app.tutor_llm_model,
        api_key=os.environ.get(app.tutor_llm_api_key_env),
        timeout=float(app.tutor_llm_timeout),
    )


class TutorMixin:
    """What the tutor handlers share: the configured course and engine."""

    @property
    def tutor_course(self) -> Course:
        return tutor_course(self.extensionapp.tutor_course_file)

    def tutor_engine(self) -> Any:
        return tutor_engine(self.extensionapp)

    def tutor_options(self, body: dict[str, str]) -> dict[str, Any]:
        return {
            "learner_id": self.learner_id,
            "agent": body.get("agent"),
            "exercise": body.get("exercise"),
            "store": self.settings["learnpulse_store"],
            "course": self.tutor_course,
            "engine": self.tutor_engine(),
        }


class AgentsHandler(TutorMixin, LearnPulseHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"agents": describe_agents()})


class ChatHandler(TutorMixin, LearnPulseHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = parse_chat(self.request.body)
            options = self.tutor_options(body)
            reply = await self.off_loop(ask, body["message"], **options)
        except ValueError as error:
            raise bad_request(str(error)) from None
        except KeyError as error:
            raise bad_request(f"field 'exercise': {error.args[0]}", 404) from None
        self.write_json(reply.to_dict())


class HistoryHandler(TutorMixin, LearnPulseHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        learner = self.query_str("learner", self.learner_id)
        if not learner:
            raise bad_request("query parameter 'learner' must be a learner id")
        self.require_learner(learner)
        events = await self.off_loop(
            self.store.query,
            course=self.tutor_course.id,
            learners=learner,
            kinds="tutor_message",
        )
        self.write_json({"learner_id": learner, "messages": history(events, limit=events.height)})


class StreamHandler(TutorMixin, LearnPulseWebSocketHandler):
    """Streams tutor replies over a WebSocket, one JSON message per chunk."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await super().get(*args, **kwargs)

    async def on_message(self, message: str | bytes) -> None:
        try:
            await self._reply(message)
        except Exception:  # as the HTTP side's "internal error": the socket stays usable
            self.log.exception("learnpulse: tutor stream failed")
            self.send_json({"type": "error", "message": "internal error (logged on the server)"})

    async def _reply(self, message: str | bytes) -> None:
        try:
            body = parse_chat(message)
            stream = await self.off_loop(ask_stream, body["message"], **self.tutor_options(body))
        except ValueError as error:
            self.send_json({"type": "error", "message": str(error)})
            return
        except KeyError as error:
            self.send_json({"type": "error", "message": f"field 'exercise': {error.args[0]}"})
            return
        self.send_json(
            {
                "type": "start",
                "agent": stream.agent,
                "sources": [s.to_dict() for s in stream.sources],
                "confidence": stream.confidence,
                "actions": list(stream.actions),
            }
        )
        chunks = iter(stream)
        while (chunk := await self.off_loop(next, chunks, None)) is not None:
            self.send_json({"type": "chunk", "text": chunk})
        self.send_json({"type": "end", **stream.reply.to_dict()})


handlers = [
    (rf"{API_PREFIX}/tutor/agents", AgentsHandler),
    (rf"{API_PREFIX}/tutor/chat", ChatHandler),
    (rf"{API_PREFIX}/tutor/history", HistoryHandler),
    (rf"{API_PREFIX}/tutor/stream", StreamHandler),
]
