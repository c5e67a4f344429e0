"""Analytics routes: courses, dashboard, trends, predictive, alerts, the analytics/stream WebSocket.

Who sees what:

* ``courses`` / ``dashboard`` / ``trends``: instructors only (403 for students). They hold no
  learner ids, but in a small class aggregates still identify people (one active learner, one
  at risk); a student's own progress is what ``predictive`` gives them.
* ``predictive`` / ``alerts`` / ``stream``: an instructor sees any learner; a student only
  themself (asking for someone else is a 403).

The work runs on :class:`learnpulse.analytics.live.LiveAnalytics` worker threads, cached per
course and recomputed when the store has new events; a cached result is served at once
(``computed_at``/``seq`` say how fresh it is) unless the request says ``wait=true``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse.analytics import RANGES, course_catalog
from learnpulse.analytics.jsonable import dumps
from learnpulse.analytics.live import MAX_COURSES, LiveAnalytics, Result, UnknownCourseError
from learnpulse.analytics.predictions import ALERTS, alerts_of, prediction_page, select_models
from learnpulse_server.handlers.base import (
    API_PREFIX,
    LearnPulseHandler,
    LearnPulseMixin,
    LearnPulseWebSocketHandler,
    bad_request,
    internal_error_message,
)

#: Key of the server's :class:`LiveAnalytics` in the tornado settings.
SERVICE_SETTING = "learnpulse_analytics"
#: Largest ``?limit=`` (learners per page) of ``predictive`` and ``stream``.
MAX_PAGE_LEARNERS = 10_000
#: Largest ``?weeks=`` of ``trends`` (ten years).
MAX_WEEKS = 520
_log = logging.getLogger(__name__)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def analytics_service(handler: LearnPulseMixin) -> LiveAnalytics:
    """The server's analytics service, made on first use from the app's traits."""
    service = handler.settings.get(SERVICE_SETTING)
    if service is None:
        app = handler.extensionapp
        service = LiveAnalytics(
            handler.store,
            fitted_for=_fitted_loader(
                app.models_dir, app.analytics_max_courses, app.allow_stale_models
            ),
            settings=_prediction_settings(app),
            refresh_interval=app.analytics_refresh_interval,
            prediction_interval=app.analytics_prediction_interval,
            workers=app.analytics_workers,
            default_course=app.configured_course(),
            max_courses=app.analytics_max_courses,
        )
        handler.settings[SERVICE_SETTING] = service
    return service


def _prediction_settings(app: Any) -> dict[str, Any] | None:
    """``course_settings``, with the mastery threshold of the tutor's course file when they
    set none, so that the instructor's views and the students' widgets say "mastered" alike."""
    settings = dict(app.course_settings)
    if app.tutor_course_file:
        from learnpulse_server.handlers.tutor import tutor_course

        threshold = tutor_course(app.tutor_course_file).mastery_threshold
        configured = settings.setdefault("mastery_threshold", threshold)
        if configured != threshold:
            _log.warning(
                "learnpulse: course_settings.mastery_threshold %s differs from %s in %s, "
                "which the students' widgets and the tutor use",
                configured,
                threshold,
                app.tutor_course_file,
            )
    return settings or None


def _fitted_loader(
    models_dir: str | None, max_courses: int = MAX_COURSES, allow_stale: bool = False
):
    """``course -> fitted models, UnusableModels or None``: the folder ``models_dir/<course>``
    written by ``FittedCourseModels.save``, read again when a file in it changes; the models
    of the ``max_courses`` most recently used courses are kept (as their analytics are).
    None when the course has no folder.

    A folder that does not load (broken, pickled by another scikit-learn) or holds stale
    models (fitted under another model version, unless ``allow_stale``) gives
    ``UnusableModels``: the course is predicted as without fitted models, and the success,
    retention and forecast predictions say why (without the folder's path, which the log
    names, once per state of the folder).
    """
    if not models_dir:
        return None

    @functools.lru_cache(maxsize=max_courses)
    def load(folder: Path, saved_ns: int) -> Any:
        from learnpulse.models.course_fit import (
            MODEL_VERSION,
            FittedCourseModels,
            StaleModelsError,
            UnusableModels,
        )

        try:
            fitted = FittedCourseModels.load(folder, allow_stale=allow_stale)
        except StaleModelsError as stale:
            _log.warning(
                "learnpulse: not using stale course models (predicting as without them): "
                "%s; or set LearnPulseApp.allow_stale_models=True to use them anyway",
                stale,
            )
            return UnusableModels.stale(stale)
        except (OSError, ValueError) as error:  # a broken folder: predict without it
            _log.warning("learnpulse: cannot load course models from %s: %s", folder, error)
            return UnusableModels.broken(error, folder)
        if fitted.stale:
            _log.warning(
                "learnpulse: using stale course models from %s (model version %s, this "
                "learnpulse is %s) as LearnPulseApp.allow_stale_models says: their "
                "predictions drift until they are fitted again",
                folder,
                fitted.model_version or "unrecorded",
                MODEL_VERSION,
            )
        return fitted

    root = Path(models_dir).resolve()

    def fitted_for(course: str) -> Any:
        folder = (root / course).resolve()
        # a course id is one folder name: "../x" or "/x" must not reach other folders (a
        # student chooses the course ids of their own events, and models are unpickled)
        if folder.parent != root or not folder.is_dir():
            return None
        try:
            saved_ns = max((f.stat().st_mtime_ns for f in folder.iterdir()), default=0)
        except OSError as error:
            _log.warning("learnpulse: cannot load course models from %s: %s", folder, error)
            from learnpulse.models.course_fit import UnusableModels

            return UnusableModels.broken(error, folder)
        return load(folder, saved_ns)

    return fitted_for


def check_models_at_start(app: Any) -> threading.Thread | None:
    """Log, when the server starts, each course whose saved models it will not use (stale,
    unless ``allow_stale_models``; or not loading): before, nobody knew until an instructor
    asked for predictions. In a thread of its own: loading the models imports scikit-learn and
    unpickles them (seconds), which would hold up the server's start.

    Returns the thread (None without a models folder), for tests to wait on.
    """
    if not app.models_dir or not Path(app.models_dir).is_dir():
        return None

    def check() -> None:
        from learnpulse.models.course_fit import check_saved_models, saved_models_state

        try:
            rows = check_saved_models(app.models_dir)
        except Exception as error:  # a check that fails must not end the server's start
            _log.warning(
                "learnpulse: cannot check the course models in %s: %s", app.models_dir, error
            )
            return
        for row in rows:
            if row["state"] == "current" or (row["state"] == "stale" and app.allow_stale_models):
                continue
            _log.warning(
                "learnpulse: course models of %s in %s: %s; `learnpulse models check --models-dir "
                "%s` lists them all",
                row["course"],
                row["folder"],
                saved_models_state(row),
                app.models_dir,
            )

    thread = threading.Thread(target=check, name="learnpulse-models-check", daemon=True)
    thread.start()
    return thread


def _model_names() -> tuple[str, ...]:
    """The models' output names, without computing them. The first import of the models loads
    scikit-learn and more (seconds): on the event loop, it held up every other request."""
    from learnpulse.models import OUTPUT_KEYS

    return OUTPUT_KEYS


class AnalyticsMixin(LearnPulseMixin):
    """Parameters and service calls shared by the analytics handlers."""

    @property
    def service(self) -> LiveAnalytics:
        return analytics_service(self)

    def query_bool(self, name: str) -> bool:
        return _BOOLEANS[self.query_choice(name, list(_BOOLEANS), "false")]

    async def course(self) -> str:
        """The ``course`` parameter, else the server's configured course (as the dashboards
        open on it), else the store's first course; 404 if there is none (``wait=true`` looks
        in the store again for a course it has not seen yet)."""
        resolve = functools.partial(self.service.resolve_course, fresh=self.query_bool("wait"))
        named = self.query_str("course")
        try:
            return await self.off_loop(resolve, named)
        except UnknownCourseError as error:
            message = str(error)
            if named is None and self.service.default_course is not None:
                message += (
                    " (the server's course, from its tutor_course_file or $LEARNPULSE_COURSE_ID, "
                    "answered when no ?course= is named: its views start with its first event)"
                )
            raise web.HTTPError(404, "%s", message) from None

    def requested_learners(self) -> list[str] | None:
        """``learner`` values; a student may only name themself (403) and always gets so."""
        requested = self.query_list("learner")
        for learner in requested or ():
            self.require_learner(learner)
        return self.visible_learners(requested)

    async def write_analytics(self, body: dict[str, Any]) -> None:
        """Answer ``body`` (frames inside), encoded off the event loop: pages can be large."""
        text = await self.off_loop(dumps, body)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    async def predictions(self, course: str, wait: bool) -> Result:
        """The course's predictions; 503 naming the problem when the models are missing."""
        try:
            return await asyncio.wrap_future(self.service.predictions(course, wait=wait))
        except ImportError as error:
            message = f"the predictive models are unavailable: {error}"
            raise web.HTTPError(503, "%s", message) from None


def result_meta(result: Result) -> dict[str, Any]:
    """How fresh a result is: what it was computed from and when."""
    return {
        "course": result.course,
        "seq": result.seq,
        "computed_at": result.computed_at.isoformat(),
        "compute_seconds": round(result.seconds, 4),
    }


class DashboardHandler(AnalyticsMixin, LearnPulseHandler):
    """``GET analytics/dashboard?range=week|month|quarter|course&course=&at=&wait=``."""

    auth_resource = "learnpulse:analytics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.require_instructor()
        range_ = self.query_choice("range", RANGES, "week")
        at, wait = self.query_datetime("at"), self.query_bool("wait")
        course = await self.course()
        future = self.service.overview(course, range=range_, at=at, wait=wait)
        result = await asyncio.wrap_future(future)
        await self.write_analytics({**result_meta(result), **result.value})


class CoursesHandler(AnalyticsMixin, LearnPulseHandler):
    """``GET analytics/courses``: the courses in the store, for the dashboard's selector."""

    auth_resource = "learnpulse:analytics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.require_instructor()  # a student sees their own progress, never a course list
        catalog = await self.off_loop(course_catalog, self.store, _named_courses(self))
        await self.write_analytics({"courses": catalog})


def _named_courses(handler: LearnPulseMixin) -> list[Any]:
    """The courses whose titles the server knows: its tutor's course file and the demo's."""
    from learnpulse_server.handlers.tutor import tutor_course

    path = handler.extensionapp.tutor_course_file
    return [tutor_course(path), tutor_course("")] if path else [tutor_course("")]


class TrendsHandler(AnalyticsMixin, LearnPulseHandler):
    """``GET analytics/trends?weeks=&course=&at=&wait=``."""

    auth_resource = "learnpulse:analytics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.require_instructor()
        weeks = self.query_int("weeks", None, minimum=1, maximum=MAX_WEEKS)
        at, wait = self.query_datetime("at"), self.query_bool("wait")
        course = await self.course()
        future = self.service.trends(course, weeks=weeks, at=at, wait=wait)
        result = await asyncio.wrap_future(future)
        await self.write_analytics({**result_meta(result), **result.value})


class PredictiveHandler(AnalyticsMixin, LearnPulseHandler):
    """``GET analytics/predictive?type=<model>|all&learner=&course=&limit=&offset=&wait=``."""

    auth_resource = "learnpulse:analytics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        wanted = self.query_str("type", "all")
        learners = self.requested_learners()
        limit = self.query_int(
            "limit",
            self.extensionapp.analytics_page_learners,
            minimum=1,
            maximum=MAX_PAGE_LEARNERS,
        )
        offset = self.query_int("offset", 0)
        wait = self.query_bool("wait")
        result = await self.predictions(await self.course(), wait)
        try:
            models = select_models(result.value, wanted)
        except KeyError as error:
            raise bad_request(f"query parameter 'type': {error.args[0]}") from None
        page = await self.off_loop(
            prediction_page, result.value, models, learners=learners, offset=offset, limit=limit
        )
        await self.write_analytics(
            {**result_meta(result), "type": wanted, "models": models, **page}
        )


class AlertsHandler(AnalyticsMixin, LearnPulseHandler):
    """``GET analytics/alerts?learner=&course=&wait=``: predict_all's ``alerts``."""

    auth_resource = "learnpulse:analytics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        learners = self.requested_learners()
        wait = self.query_bool("wait")
        result = await self.predictions(await self.course(), wait)
        try:
            alerts = await self.off_loop(alerts_of, result.value, learners)
        except KeyError as error:
            raise web.HTTPError(503, "%s", error.args[0]) from None
        await self.write_analytics({**result_meta(result), "alerts": alerts})


class AnalyticsStreamHandler(AnalyticsMixin, LearnPulseWebSocketHandler):
    """WebSocket ``analytics/stream?type=<model>|all&learner=&course=&limit=``.

    Sends ``{"type": "snapshot", ...}`` on connect (what ``GET predictive`` answers for the
    first page of learners, plus their ``alerts``), then ``{"type": "update", ...}`` with the
    predictions and alerts of the learners whose events changed, each time the predictions
    are recomputed after new events. A failure is one ``{"type": "error", "message"}``
    message, then the socket closes with code 1011. However the socket ends, its
    subscription and the updates not yet sent end with it.
    """

    auth_resource = "learnpulse:analytics"
    _unsubscribe: Callable[[], None] | None = None
    _stopped = False  # the socket ended: no more updates
    _updates: frozenset[asyncio.Task] | set[asyncio.Task] = frozenset()  # started, not done
    _sent_revision = -1
    _queued: tuple[Result, frozenset[str] | None] | None = None  # the next update to send
    _sending = False

    @web.authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        # Bad parameters or an unknown course: a 4xx before the upgrade.
        self._wanted = self.query_str("type", "all")
        try:
            select_models(dict.fromkeys(await self.off_loop(_model_names)), self._wanted)
        except KeyError as error:
            raise bad_request(f"query parameter 'type': {error.args[0]}") from None
        self._learners = self.requested_learners()
        self._limit = self.query_int(
            "limit",
            self.extensionapp.analytics_page_learners,
            minimum=1,
            maximum=MAX_PAGE_LEARNERS,
        )
        self._course = await self.course()
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        loop = asyncio.get_running_loop()
        self._snapshot_sent = asyncio.Event()  # updates wait for it, then skip what it had
        self._updates = set()

        def on_result(new: Result) -> None:  # called on a worker thread
            loop.call_soon_threadsafe(self._start_update, new)

        self._unsubscribe = self.service.subscribe(self._course, on_result)
        try:
            result = await self.predictions(self._course, wait=False)
            await self._send("snapshot", result, self._learners)
        except web.HTTPError as error:
            self._fail(error.log_message % error.args)
        except Exception as error:  # raised out of open, tornado drops the socket: no on_close
            _log.exception("learnpulse: analytics/stream of %s failed", self._course)
            self._fail(internal_error_message(error))
        except BaseException:  # cancelled: the server stops
            self._stop()
            raise
        else:
            self._snapshot_sent.set()

    def _start_update(self, result: Result) -> None:
        """Send ``result``'s update in a task of the socket's (on the event loop)."""
        if self._stopped:  # delivered as the socket ended
            return
        task = asyncio.ensure_future(self._update(result))
        self._updates.add(task)
        task.add_done_callback(self._updates.discard)

    def _stop(self) -> None:
        """Unsubscribe and cancel the updates not yet sent (those waiting for a snapshot
        that failed would wait forever); every way the socket ends comes here."""
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._updates):
            task.cancel()
        self._queued = None

    async def _update(self, result: Result) -> None:
        await self._snapshot_sent.wait()
        if result.revision <= self._sent_revision:  # already sent (e.g. as the snapshot)
            return
        changed = result.changed_learners
        if changed is not None and self._learners is not None:
            changed = changed & set(self._learners)
        if changed is not None and not changed:
            return
        self._queue(result, changed)
        if self._sending:  # the update being sent is followed by the queued one
            return
        self._sending = True
        try:
            while self._queued is not None:
                (result, changed), self._queued = self._queued, None
                await self._send("update", result, changed)
        finally:
            self._sending = False

    def _queue(self, result: Result, changed: frozenset[str] | None) -> None:
        """Make the queued update the newest result, for every learner changed since the
        last one sent: updates go out one at a time and in order, and a client that reads
        slowly gets fewer of them instead of a growing backlog in the server."""
        if self._queued is not None:
            queued, before = self._queued
            changed = None if changed is None or before is None else changed | before
            result = max(queued, result, key=lambda candidate: candidate.revision)
        self._queued = (result, changed)

    async def _send(self, kind: str, result: Result, learners) -> None:
        self._sent_revision = max(self._sent_revision, result.revision)
        try:
            models = select_models(result.value, self._wanted)
        except KeyError as error:
            self._fail(f"query parameter 'type': {error.args[0]}")
            return
        page = await self.off_loop(
            prediction_page, result.value, models, learners=learners, limit=self._limit
        )
        ids = page["learners"]["ids"]
        alerts = alerts_of(result.value, ids) if ALERTS in result.value else []
        message = {"type": kind, **result_meta(result), "models": models, **page, "alerts": alerts}
        await self.flush_text(await self.off_loop(dumps, message))

    def _fail(self, message: str) -> None:
        self._stop()
        self.fail(message)

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen; anything they send is ignored."""

    def on_close(self) -> None:
        self._stop()


_ROUTE = rf"{API_PREFIX}/analytics"
handlers = [
    (rf"{_ROUTE}/dashboard", DashboardHandler),
    (rf"{_ROUTE}/courses", CoursesHandler),
    (rf"{_ROUTE}/trends", TrendsHandler),
    (rf"{_ROUTE}/predictive", PredictiveHandler),
    (rf"{_ROUTE}/alerts", AlertsHandler),
    (rf"{_ROUTE}/stream", AnalyticsStreamHandler),
]
