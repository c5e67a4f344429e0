"""A data source that reads through the learnpulse server's REST API and WebSocket streams.

Standard library HTTP (``urllib``) for requests and ``websocket-client`` (a dependency of
jupyter_server) for the ``events/stream`` WebSocket, on a background thread; no tornado.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl

from learnpulse.analytics.catalog import catalog_from_json
from learnpulse.collectors.server_store import whole_ids
from learnpulse.viz import data
from learnpulse.viz.charts import heatmap_candidates
from learnpulse.viz.connection import ServerInfo
from learnpulse.viz.sources import DataSource, SourceError

#: Seconds an API request may take before the dashboard reports the server as unreachable.
REQUEST_TIMEOUT_S = 60.0
#: Learners fetched per ``analytics/predictive`` page (the route's largest page; a course
#: with more is read page after page).
PREDICTION_PAGE_LEARNERS = 10_000
#: Events fetched per ``GET events`` page.
EVENT_PAGE = 10_000
#: Model outputs the course views need for every learner (see :meth:`HttpSource.predictions`).
COURSE_MODELS = (
    "retention_risk", "success", "engagement", "clusters", "score", "peers", "alerts",
)  # fmt: skip
#: Model outputs fetched at once (the server encodes one while this kernel decodes another).
PARALLEL_REQUESTS = 4
#: Seconds before the first reconnection attempt of a stream that failed, doubled after each
#: failed attempt up to STREAM_RETRY_MAX_S (a refused token is not retried every 2 s forever).
#: An attempt fails when it does not connect, or when the server ends the stream with an
#: ``{"type": "error"}`` message (a broken store is not asked again every 2 s either).
STREAM_RETRY_S = 2.0
STREAM_RETRY_MAX_S = 60.0
#: Longest a stream thread waits for a message before it looks whether the source was closed
#: (websocket-client's own wait is 10 s: closed sources held their connections that long).
STREAM_CLOSE_WAIT_S = 0.5


class ApiError(SourceError):
    """The server answered with an error (the message names the route and its reason)."""


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A model's rows; without any, still a ``learner_id`` column (as ``predict_all``'s)."""
    if not rows:
        return pl.DataFrame(schema={"learner_id": pl.String})
    return pl.DataFrame(rows, infer_schema_length=None)


#: Query parameters naming ids, which the server reads as a comma list when given once.
ID_PARAMETERS = ("learner", "course", "item")


class HttpSource(DataSource):
    """Reads a course through ``{server}learnpulse/api/`` as the token's user.

    Parameters
    ----------
    server : ServerInfo
        Where the server is and the token to present (see :mod:`learnpulse.viz.connection`).
    course : str, optional
        Course id (default: the course the server's first answer shows, its first; kept
        for every later request).
    live : bool
        Follow ``events/stream`` on a background thread so :meth:`version` sees new events
        as soon as the server stores them. While a stream is down (the server unreachable,
        or the stream ended by the server's error message) :meth:`version` asks the server's
        status instead, and the stream is tried again after :data:`STREAM_RETRY_S`, backing
        off up to :data:`STREAM_RETRY_MAX_S`.
    """

    def __init__(self, server: ServerInfo, *, course: str | None = None, live: bool = True):
        self.server, self.course, self._live = server, course, live
        self._received = 0
        self._stream = None
        self._stopped = threading.Event()
        self._open: set[str] = set()  # URLs of the streams connected now
        self._seen: int | None = None
        self._version = 0
        self._version_lock = threading.Lock()
        if live:
            self._start_stream()

    # -- HTTP --------------------------------------------------------------------------------

    def get(self, route: str, **params: Any) -> Any:
        """``GET {api}route?params`` as JSON (list values repeat the parameter).

        Raises
        ------
        ApiError
            On an HTTP error status or when the server cannot be reached.
        """
        query = {k: v for k, v in params.items() if v is not None}
        if self.course and "course" not in query:
            query["course"] = self.course
        query = {k: whole_ids(v) if k in ID_PARAMETERS else v for k, v in query.items()}
        url = self.server.api_url + route
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        return self._fetch(url, route)

    def _fetch(self, url: str, name: str) -> Any:
        """``GET url`` as JSON; any failure an :class:`ApiError` saying ``GET name: why``."""
        request = urllib.request.Request(url, headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            raise ApiError(f"GET {name}: HTTP {error.code}: {_message(error.read())}") from None
        except urllib.error.URLError as error:
            raise ApiError(f"GET {name}: server unreachable ({error.reason})") from None
        except OSError as error:  # timed out or cut off while answering
            raise ApiError(f"GET {name}: no complete answer ({error or 'timed out'})") from None
        try:
            return json.loads(body)
        except ValueError:
            raise ApiError(
                f"GET {name}: the answer is not JSON (is {self.server.url} a learnpulse server?)"
            ) from None

    def user(self) -> str:
        """The signed-in user's learner id (``GET status``): the learner a student dashboard
        shows. Not Jupyter's ``api/me``: with its own identity provider that names each
        request with the server's token a new random user, whom learnpulse takes for the
        server's owner."""
        status = self.get("status")
        try:
            return status["user"]["learner_id"]
        except (KeyError, TypeError):
            raise ApiError("GET status: the answer does not name the signed-in user") from None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.server.token}"} if self.server.token else {}

    # -- DataSource --------------------------------------------------------------------------

    def summary(self, range_: str) -> dict[str, Any]:
        # wait: include every event stored so far (the overview is one cheap scan).
        body = self.get("analytics/dashboard", range=range_, wait="true")
        if self.course is None:
            # The course the server chose (its first): every later request names it, so the
            # predictions and a learner's events are of the same course as the overview,
            # not of another course the learner is in too.
            self.course = body["course"]
        return {**data.summary_from_overview(data.overview_from_json(body)), "course": self.course}

    def courses(self) -> pl.DataFrame:
        """``GET analytics/courses`` (instructors only: a student's token gets an ApiError)."""
        body = self._fetch(self.server.api_url + "analytics/courses", "analytics/courses")
        return catalog_from_json(body["courses"])

    def for_course(self, course: str) -> HttpSource:
        return HttpSource(self.server, course=course, live=self._live)

    def _model(self, model: str, learners: list[str] | None = None) -> pl.DataFrame:
        """``model``'s rows of every learner (or of ``learners``), page after page."""
        rows: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            body = self.get(
                "analytics/predictive",
                type=model,
                learner=learners,
                limit=PREDICTION_PAGE_LEARNERS,
                offset=offset,
            )
            rows.extend(body["predictions"][model])
            offset = body["learners"]["next_offset"]
        return _frame(rows)

    def predictions(self, learner: str | None = None) -> dict[str, pl.DataFrame]:
        """One learner's every model output; for the course, the outputs of
        :data:`COURSE_MODELS` for every learner and mastery for the learners the heatmap can
        show (a course's full mastery is ~16 rows per learner: too much to send for nothing).
        """
        if learner is not None:
            body = self.get("analytics/predictive", type="all", learner=learner)
            return {name: _frame(rows) for name, rows in body["predictions"].items()}
        with ThreadPoolExecutor(PARALLEL_REQUESTS, thread_name_prefix="learnpulse-viz") as pool:
            outputs = dict(zip(COURSE_MODELS, pool.map(self._model, COURSE_MODELS), strict=True))
        shown = heatmap_candidates(outputs["peers"])
        outputs["mastery"] = self._model("mastery", shown) if shown else _frame([])
        return outputs

    def learner_events(self, learner_id: str) -> pl.DataFrame:
        pages, after = [], None
        while True:
            body = self.get("events", learner=learner_id, limit=EVENT_PAGE, after=after)
            pages.extend(body["events"])
            after = body.get("next")
            if after is None:
                break
        return _events_frame(pages)

    def version(self) -> int:
        """Grows by one whenever what it watches changed: the streams' messages while they
        are connected, else the server's event count (an outage raises here, as without
        streams). Switching between the two counts as a change."""
        seen = self._received if self._streams_open() else self.get("status")["counts"]["events"]
        with self._version_lock:
            if seen != self._seen:
                self._seen, self._version = seen, self._version + 1
            return self._version

    def _streams_open(self) -> bool:
        streams = getattr(self, "_streams", [])
        return bool(streams) and len(self._open) == len(streams)

    def system(self) -> dict[str, Any]:
        return self.get("metrics")

    def system_history(self) -> list[dict[str, Any]]:
        return self.get("metrics/history")["samples"]

    def training_runs(self) -> list[dict[str, Any]]:
        return self.get("training/runs")["runs"]

    def training_run(self, run_id: str) -> dict[str, Any]:
        return self.get(f"training/runs/{urllib.parse.quote(run_id, safe='')}")

    # -- live streams ----------------------------------------------------------------------

    def _start_stream(self) -> None:
        """Follow ``events/stream`` (new events) and ``analytics/stream`` (recomputed
        predictions) on background threads; each message after the first snapshot counts."""
        try:
            import websocket  # websocket-client, a dependency of jupyter_server
        except ImportError:
            return
        course = {"course": self.course} if self.course else {}
        streams = {
            "events/stream": course,
            # One learner per message is enough to learn that predictions changed.
            "analytics/stream": {**course, "limit": 1},
        }
        self._sockets: dict[str, Any] = {}
        self._streams = []
        for route, query in streams.items():
            url = self.server.api_url.replace("http", "ws", 1) + route
            if query:
                url += "?" + urllib.parse.urlencode(query)
            thread = threading.Thread(
                target=self._follow,
                args=(websocket, url),
                name=f"learnpulse-viz-{route}",
                daemon=True,
            )
            thread.start()
            self._streams.append(thread)
        self._stream = self._streams[0]

    def _follow(self, websocket: Any, url: str) -> None:
        connections = 0
        ended_by_error = False  # the server ended this connection with an error message

        def on_open(_socket: Any) -> None:
            nonlocal connections
            connections += 1
            if connections > 1:  # back after an outage: what happened meanwhile is unknown
                self._received += 1
            self._open.add(url)

        def on_message(_socket: Any, message: str) -> None:
            nonlocal ended_by_error
            kind = json.loads(message).get("type")
            if kind == "error":  # the stream is over (the server closes it): an outage
                ended_by_error = True
                self._open.discard(url)
            elif kind != "snapshot":  # a snapshot is what we already have
                self._received += 1

        delay = STREAM_RETRY_S
        while not self._stopped.is_set():
            app = websocket.WebSocketApp(
                url, header=self._headers(), on_open=on_open, on_message=on_message
            )
            self._sockets[url] = app
            before, ended_by_error = connections, False
            # no pings are sent: ping_timeout only bounds each wait for a message
            app.run_forever(ping_timeout=STREAM_CLOSE_WAIT_S)
            self._open.discard(url)
            worked = connections > before and not ended_by_error
            delay = STREAM_RETRY_S if worked else min(2 * delay, STREAM_RETRY_MAX_S)
            self._stopped.wait(delay)

    def close(self) -> None:
        """Stop following the streams."""
        self._stopped.set()
        for socket in list(getattr(self, "_sockets", {}).values()):
            socket.close()


def _message(body: bytes) -> str:
    """What an error answer says: the server's JSON ``message``, else the start of the body."""
    text = body.decode(errors="replace")
    try:
        message = json.loads(text)["message"]
    except (ValueError, KeyError, TypeError):
        message = None
    return (str(message) if message else text)[:300]


def _events_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """``GET events`` records as an event frame (payload back to JSON text, ts parsed)."""
    from learnpulse.events import EVENT_FRAME_SCHEMA

    if not records:
        return pl.DataFrame(schema=EVENT_FRAME_SCHEMA)
    for record in records:
        if isinstance(record.get("payload"), dict):
            record["payload"] = json.dumps(record["payload"])
        record.pop("seq", None)
    frame = pl.DataFrame(records, infer_schema_length=None)
    ts = pl.col("ts").str.to_datetime(time_zone="UTC", time_unit="us")
    frame = frame.with_columns(ts) if frame.schema["ts"] == pl.String else frame
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in EVENT_FRAME_SCHEMA.items()
    )
