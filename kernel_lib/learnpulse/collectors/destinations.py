"""Where an :class:`~learnpulse.collectors.sink.EventSink` delivers: the store, or the server.

A destination is a callable taking one batch of event records. It returns when the batch is
stored, raises :class:`~learnpulse.events.EventValidationError` when the batch can never be
stored (kept aside, not retried), and raises anything else when the destination is
unreachable (the batch is spooled and retried).

By default a kernel writes to the store directly (``$LEARNPULSE_DB_URL``, as the server does).
When ``$LEARNPULSE_SERVER_URL`` is set it posts to that server's ``learnpulse/api/events``
instead, authenticated with ``$LEARNPULSE_TOKEN`` (else ``$JUPYTERHUB_API_TOKEN``), so that
kernels on a hub need no database credentials.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from learnpulse.events import EventValidationError, FieldError

#: Base URL of a Jupyter server with learnpulse (with its base_url), e.g.
#: ``http://127.0.0.1:8888/user/ada/``; when set, events are posted there.
SERVER_URL_ENV = "LEARNPULSE_SERVER_URL"
#: API token for ``$LEARNPULSE_SERVER_URL``.
TOKEN_ENV = "LEARNPULSE_TOKEN"
#: Fallback token: set by JupyterHub in single-user servers and inherited by their kernels.
HUB_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
#: Seconds an HTTP delivery may take before the server counts as unreachable.
HTTP_TIMEOUT_S = 10.0
#: Statuses that mean "try again later" although they are 4xx: the request, not the events,
#: is at fault (no valid token, a wrong server URL or the extension not loaded, a timeout).
RETRYABLE_STATUSES = (401, 404, 408, 425, 429)
EVENTS_PATH = "learnpulse/api/events"

Deliver = Callable[[list[dict[str, Any]]], None]


class StoreDestination:
    """Appends batches to an :class:`~learnpulse.store.EventStore`, opened on first use.

    A failed append closes the store so the next attempt reconnects from scratch.
    """

    def __init__(self, url: str | os.PathLike[str] | None = None):
        self.url = url
        self._store: Any = None

    @property
    def spool_key(self) -> str:
        """Names the store (its URL without the password): its undelivered events are kept
        apart from other stores'."""
        from learnpulse.store.engine import resolve_url

        url = resolve_url(self.url)
        return "store " + url.set(password=None).render_as_string(hide_password=False)

    def __call__(self, events: list[dict[str, Any]]) -> None:
        from learnpulse.store import EventStore

        if self._store is None:
            self._store = EventStore(self.url)
        try:
            self._store.append(events)
        except EventValidationError:
            raise
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class HttpDestination:
    """Posts batches to a learnpulse server: ``POST {server_url}learnpulse/api/events``.

    Parameters
    ----------
    server_url : str
        The server's URL including its base_url (a trailing slash is added if missing).
    token : str, optional
        Sent as ``Authorization: token ...``.
    timeout_s : float
        Seconds before an attempt counts as failed (and the batch is spooled).
    """

    def __init__(
        self, server_url: str, token: str | None = None, timeout_s: float = HTTP_TIMEOUT_S
    ):
        self.url = server_url.rstrip("/") + "/" + EVENTS_PATH
        self.token, self.timeout_s = token, timeout_s

    @property
    def spool_key(self) -> str:
        """Names the server: its undelivered events are kept apart from other servers'."""
        return "server " + self.url

    def __call__(self, events: list[dict[str, Any]]) -> None:
        body = json.dumps({"events": events}, default=str).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with NO_REDIRECT_OPENER.open(request, timeout=self.timeout_s) as response:
                status, reply = response.status, response.read()
        except urllib.error.HTTPError as error:
            problem = f"{self.url}: HTTP {error.code}"
            if 300 <= error.code < 400:  # urllib would re-send it as a GET, without the events
                problem += f", redirected to {error.headers.get('Location')}"
            reply = _json_reply(error.read())
            if error.code == 413 and len(events) > 1:
                # more events than the server takes at once: in halves (a retry after a
                # half went in re-sends it, and the server skips what it has)
                half = len(events) // 2
                self(events[:half])
                self(events[half:])
                return
            if not _refuses_the_events(error.code, reply):
                raise ConnectionError(problem) from error
            raise _rejection(error.code, reply) from error
        if status != 201 or not _is_receipt(reply):  # e.g. a proxy's or a login page
            raise ConnectionError(f"{self.url}: HTTP {status} is not a learnpulse receipt")

    def close(self) -> None:
        """Nothing to release: each batch is one request."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects become errors: a POST must reach the API itself (urllib would send it again
    as a GET, without its body, to a login page, say)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


#: Opens requests without following redirects (a redirected POST or PUT is an error).
NO_REDIRECT_OPENER = urllib.request.build_opener(_NoRedirect)


def _is_receipt(reply: bytes) -> bool:
    """Whether ``reply`` is the events API's answer to a stored batch (``{"received": n,
    ...}``)."""
    try:
        receipt = json.loads(reply)
    except ValueError:
        return False
    return isinstance(receipt, dict) and isinstance(receipt.get("received"), int)


def _json_reply(body: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(body or b"{}")
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


def _refuses_the_events(status: int, reply: dict[str, Any]) -> bool:
    """Whether an error answer refuses the events themselves (retrying would not help). A
    403 does only when it names an event (a student's batch with another learner's events):
    Jupyter also answers 403 to a token it does not accept, which a new token mends."""
    if status < 400 or status >= 500 or status in RETRYABLE_STATUSES:
        return False
    return status != 403 or str(reply.get("message", "")).startswith("events[")


def _rejection(status: int, reply: dict[str, Any]) -> EventValidationError:
    """A 4xx answer as the validation error it reports."""
    problems = [
        FieldError(int(e.get("index", -1)), str(e.get("field", "event")), str(e.get("message")))
        for e in reply.get("errors", [])
        if isinstance(e, dict)
    ]
    message = reply.get("message") or f"HTTP {status}"
    return EventValidationError(problems or [FieldError(-1, "batch", str(message))])


def server_token() -> str | None:
    """The token for ``$LEARNPULSE_SERVER_URL``: ``$LEARNPULSE_TOKEN``, else
    ``$JUPYTERHUB_API_TOKEN``."""
    return os.environ.get(TOKEN_ENV) or os.environ.get(HUB_TOKEN_ENV)


def default_destination() -> Deliver:
    """``HttpDestination`` when ``$LEARNPULSE_SERVER_URL`` is set, else ``StoreDestination``."""
    server = os.environ.get(SERVER_URL_ENV)
    if server:
        return HttpDestination(server, server_token())
    return StoreDestination()
