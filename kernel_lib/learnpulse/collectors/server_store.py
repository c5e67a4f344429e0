"""A learner's events and training runs through a learnpulse server, for a kernel that has
no database.

A server whose store is PostgreSQL does not put the database's password in its kernels'
environment: it hands them ``$LEARNPULSE_SERVER_URL`` (and a token) instead. The event sink
then posts there (:class:`~learnpulse.collectors.destinations.HttpDestination`);
:class:`ServerStore` is what the learner's session, the widgets and the tutor read their
history from and log the tutor's exchanges to, and what training runs
(:func:`~learnpulse.track_training`) are written to, in place of an
:class:`~learnpulse.store.EventStore`: ``GET`` / ``POST learnpulse/api/events``,
``PUT learnpulse/api/training/runs/<run_id>`` and ``POST .../<run_id>/metrics``, as the
token's user (a student reads only their own events and writes only their own runs).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from learnpulse.collectors.destinations import (
    HTTP_TIMEOUT_S,
    NO_REDIRECT_OPENER,
    SERVER_URL_ENV,
    HttpDestination,
    server_token,
)
from learnpulse.events import EVENT_FIELDS, EventValidationError, events_to_frame, validate_events

#: Events per ``GET events`` page (the server's largest).
PAGE_EVENTS = 10_000
#: Logged training points per ``POST training/runs/<run_id>/metrics`` (a server that takes
#: fewer answers 413, and the points go again in halves).
METRICS_PER_REQUEST = 1_000
TRAINING_RUNS_PATH = "learnpulse/api/training/runs"
#: One id or several (a filter of :meth:`ServerStore.query`), or None for any.
Ids = str | Sequence[str] | None


def whole_ids(value: str | Sequence[str]) -> list[str]:
    """Ids to send as repeated query parameters, each taken whole by the server: a lone id
    that holds a comma is sent twice ("Doe, Jane" given once would be "Doe" and "Jane")."""
    ids = [value] if isinstance(value, str) else list(value)
    return ids * 2 if len(ids) == 1 and "," in ids[0] else ids


class RequestTooLarge(ValueError):
    """The server answered 413: the request holds more than it takes at once."""


class ServerStore:
    """The event reads and writes of a learner's session, and its training runs, through a
    learnpulse server.

    Parameters
    ----------
    server_url : str
        The server's URL with its base_url, e.g. ``http://127.0.0.1:8888/user/ada/``.
    token : str, optional
        Sent as ``Authorization: token ...``: it names the user the events are read as.
    timeout_s : float
        Seconds a request may take.
    """

    backend = "server"

    def __init__(
        self, server_url: str, token: str | None = None, timeout_s: float = HTTP_TIMEOUT_S
    ):
        self._post = HttpDestination(server_url, token, timeout_s)
        self.events_url = self._post.url
        self.runs_url = server_url.rstrip("/") + "/" + TRAINING_RUNS_PATH
        self.token, self.timeout_s = token, timeout_s

    def __repr__(self) -> str:
        return f"ServerStore({self.events_url!r})"

    def append(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Store ``events`` on the server now; while it is unreachable they wait in the
        process's event sink, which delivers them later (exactly once: ids are kept).

        Raises
        ------
        EventValidationError
            When the server refuses the events themselves (naming the field).
        """
        records = [dict(event) for event in events]
        try:
            self._post(records)
        except EventValidationError:
            raise
        except Exception:  # unreachable: spooled, like every other event of the kernel
            from learnpulse.collectors.tracking import default_sink

            sink = default_sink()
            for record in records:
                sink.put(record)

    def query(
        self, *, course: Ids = None, learners: Ids = None, kinds: Ids = None, items: Ids = None
    ) -> pl.DataFrame:
        """The events matching every given filter that the token's user may read, as an
        event frame ordered by time (:meth:`learnpulse.store.EventStore.query`'s columns).

        Raises
        ------
        ConnectionError
            When the server cannot be reached or answers with an error, saying which.
        """
        params: list[tuple[str, str]] = [("limit", str(PAGE_EVENTS))]
        for name, wanted in (("course", course), ("learner", learners), ("item", items)):
            if wanted is not None:
                params += [(name, value) for value in whole_ids(wanted)]
        if kinds is not None:
            params += [("kind", kind) for kind in ([kinds] if isinstance(kinds, str) else kinds)]
        records: list[dict[str, Any]] = []
        after = None
        while True:
            page = self._get(params + ([("after", str(after))] if after is not None else []))
            records += page["events"]
            after = page["next"]
            if after is None:
                break
        events = validate_events([{k: r[k] for k in EVENT_FIELDS if k in r} for r in records])
        return events_to_frame(events).sort("ts", maintain_order=True)

    def _get(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        url = f"{self.events_url}?{urllib.parse.urlencode(params)}"
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ConnectionError(f"GET {self.events_url}: HTTP {error.code}") from None
        except (OSError, ValueError) as error:
            raise ConnectionError(f"GET {self.events_url}: {error}") from None

    def save_training_run(self, run: Mapping[str, Any]) -> None:
        """Store a training run (a :meth:`EventStore.save_training_run` record) on the server,
        or update it: ``PUT training/runs/<run_id>``. It is stored as the token's user: the
        record's ``learner_id`` is not sent.

        Raises
        ------
        ConnectionError
            When the server cannot be reached, saying which.
        ValueError
            When the server refuses the run (with its message, naming the field; a run of
            another user is refused as unknown).
        """
        from learnpulse.collectors.training_records import run_json

        self._send("PUT", self._run_url(run["run_id"]), run_json(run))

    def append_training_metrics(self, run_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Append logged points to a run saved before (:meth:`save_training_run`), in requests
        of :data:`METRICS_PER_REQUEST` points; the number newly stored (the server skips
        points whose ``seq`` it has, so a retry is harmless). Raises as
        :meth:`save_training_run`."""
        rows = list(rows)
        return sum(
            self._post_metrics(run_id, rows[start : start + METRICS_PER_REQUEST])
            for start in range(0, len(rows), METRICS_PER_REQUEST)
        )

    def _post_metrics(self, run_id: str, rows: list[Mapping[str, Any]]) -> int:
        from learnpulse.collectors.training_records import metrics_json

        url = self._run_url(run_id) + "/metrics"
        try:
            return int(self._send("POST", url, {"metrics": metrics_json(rows)})["stored"])
        except RequestTooLarge:
            if len(rows) < 2:
                raise
            half = len(rows) // 2
            return self._post_metrics(run_id, rows[:half]) + self._post_metrics(run_id, rows[half:])

    def _run_url(self, run_id: str) -> str:
        return f"{self.runs_url}/{urllib.parse.quote(run_id, safe='')}"

    def _send(self, method: str, url: str, body: Any) -> dict[str, Any]:
        """``body`` as JSON to ``url``; the server's JSON answer (an object)."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        data = json.dumps(body, allow_nan=False).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with NO_REDIRECT_OPENER.open(request, timeout=self.timeout_s) as response:
                reply = response.read()
        except urllib.error.HTTPError as error:
            raise _refusal(method, url, error) from None
        except (OSError, ValueError) as error:  # refused, timed out, no such host...
            raise ConnectionError(
                f"{method} {url}: the server cannot be reached ({error})"
            ) from None
        try:
            answer = json.loads(reply)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):  # a proxy's page, say
            raise ConnectionError(f"{method} {url}: the answer is not learnpulse's JSON")
        return answer

    def close(self) -> None:
        """Nothing to release: each read or write is one request."""


def _refusal(method: str, url: str, error: urllib.error.HTTPError) -> Exception:
    """An error answer as the exception :meth:`ServerStore._send` raises: the server's
    message for a refusal (4xx), ConnectionError when the server is failing (5xx) or the
    request did not reach the API (a redirect)."""
    try:
        message = json.loads(error.read() or b"{}").get("message")
    except (ValueError, AttributeError):
        message = None
    problem = f"{method} {url}: HTTP {error.code}" + (f": {message}" if message else "")
    if 300 <= error.code < 400:
        return ConnectionError(f"{problem}, redirected to {error.headers.get('Location')}")
    if error.code == 413:
        return RequestTooLarge(problem)
    return ValueError(problem) if 400 <= error.code < 500 else ConnectionError(problem)


def learner_store(url: str | os.PathLike[str] | None = None) -> Any:
    """Where a kernel reads and logs its learner's events and its training runs: the store at
    ``url``; without one, the server of ``$LEARNPULSE_SERVER_URL`` when set
    (:class:`ServerStore`, with ``$LEARNPULSE_TOKEN``, else ``$JUPYTERHUB_API_TOKEN``), else
    the default store (as the event sink:
    :func:`~learnpulse.collectors.destinations.default_destination`)."""
    server = os.environ.get(SERVER_URL_ENV)
    if url is None and server:
        return ServerStore(server, server_token())
    from learnpulse.store import EventStore

    return EventStore(url)
