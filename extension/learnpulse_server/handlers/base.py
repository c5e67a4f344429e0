"""What every learnpulse handler shares: JSON API behaviour, the store, and who is asking.

HTTP handlers derive from :class:`LearnPulseHandler`, WebSocket handlers from
:class:`LearnPulseWebSocketHandler`; both get :class:`LearnPulseMixin` (store, identity, roles,
query-parameter parsing, off-loop work) and answer every error as JSON ``{"message": ...}``
naming the problem, never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import orjson
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from learnpulse.events import time_range_problem
from learnpulse.store import EventStore
from learnpulse_server.identity import is_owner, learner_name

T = TypeVar("T")
API_PREFIX = "/learnpulse/api"
#: Key of the tornado setting holding the learner ids this server recorded as staff.
STAFF_RECORDED_SETTING = "learnpulse_staff_recorded"
#: Longest query-parameter value accepted (characters); longer ones get a 400.
MAX_QUERY_VALUE_CHARS = 1024
#: WebSocket close code after a stream's ``{"type": "error"}`` message: "Internal Error",
#: the server met a condition that kept it from going on (RFC 6455, section 7.4.1).
WS_CLOSE_INTERNAL_ERROR = 1011


def _json_default(value: Any) -> Any:
    """JSON for what ``json`` cannot encode: ISO 8601 for dates and times, else ``str``."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def to_json(body: Any) -> str:
    """``body`` as JSON text (datetimes as ISO 8601)."""
    return json.dumps(body, default=_json_default)


def _comma_separated(value: str) -> list[str]:
    """The non-blank parts of ``value`` between commas, stripped."""
    return [part.strip() for part in value.split(",") if part.strip()]


def internal_error_message(error: BaseException) -> str:
    """What a client is told of an unexpected error: its type, never its details."""
    return f"internal error ({type(error).__name__}); see the server log"


def bad_request(message: str, status: int = 400) -> web.HTTPError:
    """A 4xx error whose JSON ``message`` names the problem."""
    return web.HTTPError(status, "%s", message, reason=None)


def _named_values(name: str, values: list[str]) -> list[str]:
    """The ``values`` of query parameter ``name`` without repeats; a 400 when there are none
    or one is too long."""
    if not values or any(len(v) > MAX_QUERY_VALUE_CHARS for v in values):
        raise bad_request(
            f"query parameter '{name}' must name at least one value: comma-separated, "
            f"or one per repeated '{name}', each at most {MAX_QUERY_VALUE_CHARS} characters"
        )
    return list(dict.fromkeys(values))


class LearnPulseMixin:
    """Store, identity and request parsing shared by HTTP and WebSocket handlers.

    Identity always comes from the server's authenticated user, never from the request:
    :attr:`learner_id` is the user's name (the owner's, :func:`~learnpulse_server.identity.
    owner_name`, for every user of jupyter_server's own identity providers),
    :attr:`is_instructor` follows the app's ``instructors`` / ``instructor_group`` /
    ``owner_is_instructor`` settings. Each instructor is recorded as staff in the store
    before their first request is served (:meth:`prepare`), so that the class views leave
    them out.
    """

    settings: dict[str, Any]
    extensionapp: Any
    current_user: Any
    identity_provider: Any
    log: Any

    @property
    def store(self) -> EventStore:
        return self.settings["learnpulse_store"]

    @property
    def learner_id(self) -> str:
        """The authenticated user's learner id."""
        return learner_name(self.current_user, self.identity_provider)

    @property
    def is_instructor(self) -> bool:
        app = self.extensionapp
        user = self.current_user
        if self.learner_id in app.instructors:
            return True
        groups = (getattr(user, "hub_user", None) or {}).get("groups", [])
        if app.instructor_group and app.instructor_group in groups:
            return True
        return app.owner_instructs() and is_owner(user, self.identity_provider)

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        """Authenticate (jupyter_server), then record an instructor as staff, once per
        server: their tutor chats and exercises then stay out of the class views."""
        authenticating = super().prepare(*args, **kwargs)  # type: ignore[misc]
        if inspect.isawaitable(authenticating):
            await authenticating
        if self.current_user is None or not self.is_instructor:
            return
        recorded = self.settings.setdefault(STAFF_RECORDED_SETTING, set())
        if self.learner_id not in recorded:
            try:
                await self.off_loop(self.store.add_staff, [self.learner_id])
            except Exception:  # the store is down: the request says so if it needs it
                self.log.exception("learnpulse: cannot record %s as staff", self.learner_id)
            else:
                recorded.add(self.learner_id)

    def visible_learners(self, requested: list[str] | None) -> list[str] | None:
        """The learners this user may see among ``requested`` (None = all of the course).

        Instructors get what they asked for; a student always gets exactly themself,
        whatever the query asked.
        """
        if self.is_instructor:
            return requested
        return [self.learner_id]

    def require_instructor(self) -> None:
        if not self.is_instructor:
            raise web.HTTPError(403, "only instructors may do this")

    def require_learner(self, learner_id: str) -> None:
        """403 unless the user is an instructor or ``learner_id`` is themself."""
        if not self.is_instructor and learner_id != self.learner_id:
            raise web.HTTPError(403, "students may only see their own data")

    async def off_loop(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking store or model work in a thread, never on the server's event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    # -- query parameters (each bad value is a 400 naming the parameter) ---------------------

    def query_str(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name`` (or ``default``)."""
        values = self.get_query_arguments(name)  # type: ignore[attr-defined]
        if not values:
            return default
        value = values[-1]
        if len(value) > MAX_QUERY_VALUE_CHARS:
            raise bad_request(f"query parameter '{name}' is longer than {MAX_QUERY_VALUE_CHARS}")
        return value

    def query_list(self, name: str) -> list[str] | None:
        """The ids named by query parameter ``name``, or None when absent.

        Given once, its value is a comma-separated list (``?learner=a,b``: ``a`` and ``b``).
        Repeated, each value is one id taken whole, commas and all (``?learner=a,b&learner=c``:
        ``a,b`` and ``c``), so that any id can be named; ``?learner=a,b&learner=a,b`` names
        ``a,b`` alone (ids named twice count once).
        """
        raw = self.get_query_arguments(name)  # type: ignore[attr-defined]
        if not raw:
            return None
        values = _comma_separated(raw[0]) if len(raw) == 1 else [v for v in raw if v]
        return _named_values(name, values)

    def query_int(
        self, name: str, default: int | None, *, minimum: int = 0, maximum: int | None = None
    ) -> int | None:
        """An integer query parameter within ``[minimum, maximum]``."""
        text = self.query_str(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            message = f"query parameter '{name}' must be an integer, not {text!r}"
            raise bad_request(message) from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            raise bad_request(f"query parameter '{name}' must be at least {minimum}{upper}")
        return value

    def query_datetime(self, name: str) -> datetime | None:
        """An ISO 8601 date-time with a timezone (e.g. ``2024-09-01T10:00:00Z``)."""
        text = self.query_str(name)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise bad_request(
                f"query parameter '{name}' must be an ISO 8601 date-time with a timezone, "
                f"e.g. 2024-09-01T10:00:00Z, not {text!r}"
            )
        problem = time_range_problem(moment)
        if problem:
            raise bad_request(f"query parameter '{name}' {problem}, not {text!r}")
        return moment

    def query_choice(self, name: str, choices: Sequence[str], default: str | None) -> str | None:
        """One of ``choices``."""
        value = self.query_str(name, default)
        if value is not None and value not in choices:
            raise bad_request(
                f"query parameter '{name}' must be one of {', '.join(choices)}, not {value!r}"
            )
        return value

    def query_choices(self, name: str, choices: Sequence[str]) -> list[str] | None:
        """Some of ``choices`` (repeated and/or comma-separated: a choice has no comma)."""
        raw = self.get_query_arguments(name)  # type: ignore[attr-defined]
        values = None
        if raw:
            values = _named_values(name, [v for value in raw for v in _comma_separated(value)])
        unknown = sorted(set(values or ()) - set(choices))
        if unknown:
            raise bad_request(
                f"query parameter '{name}' has unknown value(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(choices)}"
            )
        return values

    # -- errors ----------------------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as JSON ``{"message", "reason"}``; unexpected ones never show internals."""
        reply: dict[str, Any] = {"message": self._reason, "reason": None}  # type: ignore[attr-defined]
        exc_info = kwargs.get("exc_info")
        if exc_info:
            error = exc_info[1]
            if isinstance(error, web.HTTPError):
                message = error.log_message % error.args if error.args else error.log_message
                reply = {"message": message or self._reason, "reason": error.reason}  # type: ignore[attr-defined]
            else:
                reply["message"] = internal_error_message(error)
        self.set_header("Content-Type", "application/json")  # type: ignore[attr-defined]
        self.finish(to_json(reply))  # type: ignore[attr-defined]


class LearnPulseHandler(LearnPulseMixin, ExtensionHandlerMixin, APIHandler):
    """Base of the HTTP API handlers. Subclasses set ``auth_resource = "learnpulse:<service>"``."""

    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(to_json(body))

    def json_body(self) -> Any:
        """The request body parsed as JSON; a 400 naming the problem when it is not."""
        raw = self.request.body
        if not raw:
            raise bad_request("the request body is empty; send a JSON document")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("the request body is not UTF-8 text") from None
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(text)  # twice as fast as json.loads on a batch of events
        # What orjson refuses, json.loads may still take (NaN and Infinity, which Python
        # clients send and validation then names by field), or says where it is wrong.
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise bad_request(
                f"the request body is not valid JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})"
            ) from None
        except RecursionError:
            raise bad_request("the request body's JSON is nested too deeply") from None

    def json_object_body(self) -> dict[str, Any]:
        """The request body as a JSON object (400 for any other JSON value)."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise bad_request(f"the request body must be a JSON object, not {_json_type(body)}")
        return body


class LearnPulseWebSocketHandler(
    LearnPulseMixin, WebSocketMixin, WebSocketHandler, ExtensionHandlerMixin, JupyterHandler
):
    """Base of the WebSocket handlers: authenticated and authorized before the upgrade.

    Subclasses set ``auth_resource`` and decorate ``get`` with ``@web.authenticated`` and
    ``@authorized`` (calling ``super().get``) so that refusals are a 403 before the upgrade.
    """

    def get_login_url(self) -> str:
        # A WebSocket cannot follow a login redirect: refuse instead.
        raise web.HTTPError(403, "authentication required")

    def send_json(self, body: Any) -> None:
        """Send one JSON message (ignored when the client has gone)."""
        if self.ws_connection is not None and not self.ws_connection.is_closing():
            self.write_message(to_json(body))

    def fail(self, message: str) -> None:
        """End the stream on an error: one ``{"type": "error", "message"}`` message naming
        it, then the close with :data:`WS_CLOSE_INTERNAL_ERROR`, so that the client knows
        the stream is over and why (rather than waiting on a silent socket)."""
        self.send_json({"type": "error", "message": message})
        self.close(WS_CLOSE_INTERNAL_ERROR, "learnpulse stream error")

    async def flush_json(self, body: Any) -> None:
        """Send one JSON message and wait until the socket has taken it: a client that reads
        slowly holds up its own stream, not the server's memory (at once if it has gone)."""
        await self.flush_text(to_json(body))

    async def flush_text(self, text: str) -> None:
        """:meth:`flush_json` for a message already encoded."""
        if self.ws_connection is not None and not self.ws_connection.is_closing():
            with contextlib.suppress(WebSocketClosedError):
                await self.write_message(text)


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type (for error messages)."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
