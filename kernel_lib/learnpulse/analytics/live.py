"""Live analytics for a server or a dashboard: cached, recomputed in a worker as events arrive.

:class:`LiveAnalytics` keeps one :class:`~learnpulse.analytics.mirror.CourseMirror` per course
and caches, per course, the overview of each range, the trends and the models' predictions,
keyed by the mirror's revision. Every method returns a :class:`concurrent.futures.Future` at
once and does its work on the service's worker threads, never on the caller's (an event
loop wraps it with :func:`asyncio.wrap_future`):

* a cached result is returned immediately, even if older than the store (stale while
  revalidating). The request starts a recompute in the background when the result is older
  than the events the service already holds (another request or the watcher read them), and
  a look at the store when the last look is ``refresh_interval`` old; the worker then
  recomputes if there are new events. A result being computed is never computed twice: later
  requests reuse the pending job. Predictions are recomputed at most every
  ``prediction_interval`` this way;
* with ``wait=True`` the future resolves to a result that includes every event stored before
  the call;
* :meth:`LiveAnalytics.subscribe` registers a callback that gets each new predictions result;
  while a course has subscribers a watcher thread polls the store every ``refresh_interval``.

Memory stays bounded: the service keeps the ``max_courses`` most recently used courses and
drops the least recently used one beyond them (its mirror and results; a later request reads
and computes it again). A course is never dropped while it is in use: the default course, a
course with subscribers, one with work pending.

With several workers, computations overlap; the cache stays consistent because a result is
kept only if nothing newer was kept meanwhile: one computation of a result at a time, each
from events at least as new as the one before, and an overview (whose ``at_risk`` comes from
the cached predictions) is kept only if no predictions were stored while it was computed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import polars as pl

from learnpulse.analytics.mirror import CourseMirror, CourseSnapshot
from learnpulse.analytics.overview import course_overview
from learnpulse.analytics.predictions import at_risk_count
from learnpulse.analytics.trends import course_trends
from learnpulse.store import EventStore

#: Seconds a sync with the store stays good enough: requests within it reuse the result.
REFRESH_INTERVAL_S = 2.0
#: Fewest seconds between two recomputations of a course's predictions while events keep
#: arriving (``predict_all`` is the heaviest work: seconds for a large course).
PREDICTION_INTERVAL_S = 10.0
#: Seconds the list of courses in the store is reused before it is read again.
COURSE_LIST_TTL_S = 60.0
#: Seconds before an unknown course id makes the list be read again (it may be new; asking
#: for made-up ids must not make the server scan the store on every request).
COURSE_RECHECK_S = 5.0
#: Worker threads doing syncs and computations (one keeps heavy work to one core).
WORKERS = 1
#: Courses whose events and results are kept in memory, the most recently used ones (each
#: holds its events and predictions: about 10 MB for 200 learners over six weeks).
MAX_COURSES = 8

Predict = Callable[..., dict[str, pl.DataFrame]]
#: ``compute(state, snapshot) -> value``: one result of a course from a snapshot of it.
Compute = Callable[["_Course", CourseSnapshot], Any]
_log = logging.getLogger(__name__)


class UnknownCourseError(LookupError):
    """The store has no events of the course asked for."""


@dataclass(frozen=True)
class Result:
    """A computed value and what it was computed from.

    ``changed_learners`` are the learners whose events changed since the previous result of
    the same kind (None for the first one: everybody).
    """

    value: Any
    course: str
    seq: int
    revision: int
    computed_at: datetime
    seconds: float
    changed_learners: frozenset[str] | None = None


def _default_predict(events: pl.DataFrame, **tables: Any) -> dict[str, pl.DataFrame]:
    from learnpulse.models import predict_all

    return predict_all(events, **tables)


def _log_failure(job: Future) -> None:
    """Report the failure of work nobody waits for (the watcher's recomputations)."""
    if not job.cancelled() and job.exception() is not None:
        error = job.exception()
        _log.error("learnpulse analytics: recomputing failed", exc_info=error)


def _cacheable(key: Hashable) -> bool:
    """Results for an explicit cut-off ``at`` (the last part of a tuple key) are not kept."""
    return not isinstance(key, tuple) or key[-1] is None


def _reads_predictions(key: Hashable) -> bool:
    """Overviews take their ``at_risk`` from the cached predictions."""
    return isinstance(key, tuple) and key[0] == "overview"


def _at_risk(predictions: Result | None) -> tuple[int, None] | None:
    """Learners at risk in cached predictions (``predict_all``'s ``at_risk``), when a fitted
    retention model made them."""
    count = None if predictions is None else at_risk_count(predictions.value)
    return None if count is None else (count, None)


@dataclass
class _Course:
    mirror: CourseMirror
    synced_at: float = float("-inf")
    results: dict[Hashable, Result] = field(default_factory=dict)
    pending: dict[Hashable, Future] = field(default_factory=dict)
    busy: dict[Hashable, threading.Lock] = field(default_factory=dict)  # held while computing
    changed: set[str] = field(default_factory=set)  # since the last predictions
    subscribers: list[Callable[[Result], None]] = field(default_factory=list)
    # goes up with each predictions result stored: an overview computed meanwhile read the
    # older predictions (or none) and is not kept
    predictions_generation: int = 0


class LiveAnalytics:
    """Cached course analytics and predictions over a store, recomputed as events arrive.

    Parameters
    ----------
    store : EventStore
    predict : callable, optional
        ``predict(events, *, skills, items, learners, fitted) -> dict[str, DataFrame]``;
        default :func:`learnpulse.models.predict_all`.
    fitted_for : callable, optional
        ``fitted_for(course)`` -> fitted course models passed to ``predict``: a
        :class:`~learnpulse.models.course_fit.FittedCourseModels`, an
        :class:`~learnpulse.models.course_fit.UnusableModels` (saved models that are not
        used, and why) or None.
    settings : CourseSettings or mapping, optional
        Passed to ``predict`` as ``settings=`` when given (its ``rules.dropout_risk`` decides
        who is at risk, in the predictions and the overview's ``at_risk``).
    refresh_interval, prediction_interval, workers
        See :data:`REFRESH_INTERVAL_S`, :data:`PREDICTION_INTERVAL_S`, :data:`WORKERS`.
    default_course : str, optional
        The course :meth:`resolve_course` answers when none is named (a server's configured
        course); None: the store's first course by id. It is never dropped from memory.
    max_courses : int
        Courses kept in memory, the most recently used (see :data:`MAX_COURSES`); at least 1.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        predict: Predict | None = None,
        fitted_for: Callable[[str], Any] | None = None,
        settings: Any = None,
        refresh_interval: float = REFRESH_INTERVAL_S,
        prediction_interval: float = PREDICTION_INTERVAL_S,
        workers: int = WORKERS,
        default_course: str | None = None,
        max_courses: int = MAX_COURSES,
    ):
        if max_courses < 1:
            raise ValueError(f"max_courses must be at least 1, not {max_courses}")
        self.store = store
        self.default_course = default_course or None
        self.predict = predict or _default_predict
        self.fitted_for = fitted_for
        self.settings = settings
        self.refresh_interval = refresh_interval
        self.prediction_interval = prediction_interval
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="learnpulse-analytics")
        self._lock = threading.Lock()
        self.max_courses = max_courses
        self._courses: OrderedDict[str, _Course] = OrderedDict()  # least recently used first
        self._course_list: tuple[float, list[str]] = (float("-inf"), [])
        # courses the store describes (skills, items) before their first event
        self._described_courses: set[str] = set()
        self._watcher: threading.Thread | None = None
        self._closed = threading.Event()

    # -- public API ----------------------------------------------------------------------

    def courses(self) -> list[str]:
        """Course ids in the store (blocking; the list is reused for COURSE_LIST_TTL_S)."""
        read_at, courses = self._course_list
        if time.monotonic() - read_at > COURSE_LIST_TTL_S:
            courses = self.store.courses()["course_id"].to_list()
            self._course_list = (time.monotonic(), courses)
        return courses

    def resolve_course(self, course: str | None, *, fresh: bool = False) -> str:
        """``course`` if the store has it; when None, :attr:`default_course`, else the
        store's first course by id (blocking).

        A course not in the list read earlier (or none at all) makes the list be read again
        if it is older than :data:`COURSE_RECHECK_S`, or at once with ``fresh`` (a request
        that waits for every stored event).

        Raises
        ------
        UnknownCourseError
            If the store has no such course (or no course at all).
        """
        course = course if course is not None else self.default_course
        listed_before = self._course_list[0]
        known = [*self.courses(), *self._described_courses]
        list_age = time.monotonic() - self._course_list[0]
        missing = course not in known if course is not None else not known
        if missing and (fresh or list_age > COURSE_RECHECK_S):
            self._course_list = (float("-inf"), [])  # it may be new: look again
            known = self.courses()
        looked = self._course_list[0] != listed_before  # the store was read for this call
        if course is not None and course not in known and looked and self._described(course):
            self._described_courses.add(course)
            known = [*known, course]
        if course is None and known:
            return known[0]
        if course is None:
            raise UnknownCourseError(
                "the store has no course yet: its events arrive as learners work (or load "
                "some with learnpulse simulate / import)"
            )
        if course not in known:
            listed = ", ".join(known[:20]) or "none"
            raise UnknownCourseError(f"no course {course!r} in the store; courses: {listed}")
        return course

    def _described(self, course: str) -> bool:
        """Whether the store knows ``course`` (its skills, items or learners) though no event
        of it is stored yet: a server's course file is, from its start, before its first
        student works (its views are then empty, not "no such course"). The same courses as
        :meth:`~learnpulse.store.EventStore.known_courses`, which the course selector lists."""
        return course in self.store.known_courses()["course_id"].to_list()

    def overview(
        self, course: str, *, range: str = "week", at: datetime | None = None, wait: bool = False
    ) -> Future[Result]:
        """:func:`~learnpulse.analytics.course_overview` of the course (cached when ``at``
        is None), with an ``at_risk`` KPI (now; no previous value) when predictions of the
        same events with a fitted ``retention_risk`` are cached."""
        return self._get(course, ("overview", range, at), self._overview_of(range, at), wait)

    def trends(
        self, course: str, *, weeks: int | None = None, at: datetime | None = None, wait=False
    ) -> Future[Result]:
        """:func:`~learnpulse.analytics.course_trends` of the course."""

        def compute(state: _Course, snapshot: CourseSnapshot) -> dict[str, Any]:
            return course_trends(snapshot.events, weeks=weeks, at=at)

        return self._get(course, ("trends", weeks, at), compute, wait)

    def predictions(self, course: str, *, wait: bool = False) -> Future[Result]:
        """Every model's predictions for the course (``predict``'s dict of frames)."""
        return self._get(course, "predictions", self._predict, wait)

    def subscribe(self, course: str, callback: Callable[[Result], None]) -> Callable[[], None]:
        """Call ``callback(result)`` (on a worker thread) with each new predictions result of
        ``course``; returns the function that unsubscribes. A callback that raises is dropped
        (and logged): it never fails the computation nor the other subscribers."""
        with self._lock:
            state = self._course(course)  # kept in memory while it has subscribers
            state.subscribers.append(callback)
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(
                    target=self._watch, name="learnpulse-analytics-watch", daemon=True
                )
                self._watcher.start()

        def unsubscribe() -> None:
            with self._lock:
                if callback in state.subscribers:
                    state.subscribers.remove(callback)

        return unsubscribe

    def close(self) -> None:
        """Stop the watcher and the workers (running work finishes, queued work is dropped:
        its futures are cancelled)."""
        # under the lock: the watcher schedules under it, so it never meets a shut executor
        with self._lock:
            self._closed.set()
            self._executor.shutdown(wait=False, cancel_futures=True)
            for state in self._courses.values():
                for key, job in list(state.pending.items()):
                    if job.cancel():  # not started: its _run was dropped with the queue
                        del state.pending[key]

    # -- caching -------------------------------------------------------------------------

    def _course(self, course: str) -> _Course:
        """The course's state, now the most recently used; made when not in memory, dropping
        the least recently used course beyond ``max_courses`` (called with the lock held)."""
        state = self._courses.get(course)
        if state is not None:
            self._courses.move_to_end(course)
            return state
        state = self._courses[course] = _Course(CourseMirror(self.store, course))
        self._drop_unused(keep=course)
        return state

    def _drop_unused(self, keep: str) -> None:
        """Drop least recently used courses until ``max_courses`` are left, skipping those
        in use (the default course, ``keep``, one with subscribers or pending work): a
        course dropped is read and computed again when next asked for (lock held)."""
        excess = len(self._courses) - self.max_courses
        for course, state in list(self._courses.items()):
            if excess <= 0:
                return
            if course in (keep, self.default_course) or state.subscribers or state.pending:
                continue
            del self._courses[course]
            excess -= 1
            _log.debug("learnpulse analytics: dropped course %s from memory", course)

    def _get(self, course: str, key: Hashable, compute: Compute, wait: bool) -> Future[Result]:
        with self._lock:
            state = self._course(course)
            cached = state.results.get(key)
            if cached is not None and not wait:
                sync_due = time.monotonic() - state.synced_at >= self.refresh_interval
                if sync_due or self._behind(state, key, cached):
                    self._schedule(state, key, compute, sync=False, fresh=False)
                done: Future[Result] = Future()
                done.set_result(cached)
                return done
            return self._schedule(state, key, compute, sync=wait, fresh=wait)

    def _behind(self, state: _Course, key: Hashable, cached: Result) -> bool:
        """Whether ``cached`` is older than the events the mirror already holds (another
        request or the watcher synced it since) and may be recomputed now: predictions not
        within ``prediction_interval`` of the last ones."""
        if cached.revision >= state.mirror.revision:
            return False
        return key != "predictions" or self._predictions_due(cached)

    def _predictions_due(self, cached: Result) -> bool:
        """Whether ``prediction_interval`` has passed since ``cached`` predictions were made."""
        age = (datetime.now(timezone.utc) - cached.computed_at).total_seconds()
        return age >= self.prediction_interval

    def _schedule(self, state: _Course, key: Hashable, compute, *, sync: bool, fresh: bool):
        """The pending job for ``key``, or a new one (called with the lock held).

        ``sync``: look at the store even if it was looked at less than refresh_interval ago;
        ``fresh``: recompute predictions even if computed less than prediction_interval ago.
        """
        pending = state.pending.get(key)
        if pending is not None and not (sync or fresh):
            return pending
        job: Future[Result] = Future()
        self._executor.submit(self._run, job, state, key, compute, sync, fresh)  # closed: raises
        state.pending[key] = job
        return job

    def _run(self, job: Future, state: _Course, key: Hashable, compute, sync, fresh) -> None:
        with self._lock:  # (results for a cut-off ``at`` are not kept: nothing to replace)
            busy = (
                state.busy.setdefault(key, threading.Lock()) if _cacheable(key) else nullcontext()
            )
        outcome: tuple[Result | None, BaseException | None] | None = None
        try:
            if job.set_running_or_notify_cancel():
                # one computation of a result at a time (several workers): each starts from
                # the one before, so none replaces a newer one or loses its changed learners
                with busy:
                    outcome = (self._result(state, key, compute, sync=sync, fresh=fresh), None)
        except BaseException as error:  # handed to whoever waits on the job
            outcome = (None, error)
        finally:
            # no longer pending before its answer is out: once answered, nothing holds the
            # course in memory (pending work does), so the next course may drop it
            with self._lock:
                if state.pending.get(key) is job:
                    del state.pending[key]
        if outcome is not None:
            result, error = outcome
            if error is None:
                job.set_result(result)
            else:
                job.set_exception(error)

    def _result(self, state: _Course, key: Hashable, compute, *, sync: bool, fresh: bool):
        if sync or time.monotonic() - state.synced_at >= self.refresh_interval:
            changed = state.mirror.sync()
            with self._lock:
                state.synced_at = time.monotonic()
                state.changed |= changed
        snapshot = state.mirror.snapshot()
        cached = state.results.get(key)
        if cached is not None and cached.revision == snapshot.revision:
            return cached
        if key == "predictions" and cached and not (fresh or self._predictions_due(cached)):
            return cached
        return self._compute(state, key, compute, snapshot)

    def _compute(self, state: _Course, key: Hashable, compute, snapshot: CourseSnapshot) -> Result:
        started = time.perf_counter()
        is_predictions = key == "predictions"
        with self._lock:
            generation = state.predictions_generation  # before compute reads the predictions
            changed = state.changed if is_predictions else set()
            if is_predictions:
                state.changed = set()
        value = compute(state, snapshot)
        first = key not in state.results
        result = Result(
            value,
            snapshot.course,
            snapshot.seq,
            snapshot.revision,
            datetime.now(timezone.utc),
            time.perf_counter() - started,
            None if first or not is_predictions else frozenset(changed),
        )
        with self._lock:
            if is_predictions:  # overviews may now show the at-risk count: recompute them
                state.predictions_generation += 1
                state.results = {
                    k: v for k, v in state.results.items() if not _reads_predictions(k)
                }
            if _cacheable(key) and self._is_newest(state, key, result, generation):
                state.results[key] = result
            subscribers = list(state.subscribers) if is_predictions else []
        for callback in subscribers:
            self._notify(state, callback, result)
        return result

    @staticmethod
    def _is_newest(state: _Course, key: Hashable, result: Result, generation: int) -> bool:
        """Whether ``result`` may be cached (lock held): it is from events no older than the
        cached one, and, for an overview, no predictions were stored since it began (it read
        older ones: its ``at_risk`` would be missing or stale until the next event)."""
        cached = state.results.get(key)
        if cached is not None and cached.revision > result.revision:
            return False
        return not _reads_predictions(key) or generation == state.predictions_generation

    def _notify(self, state: _Course, callback: Callable[[Result], None], result: Result) -> None:
        try:
            callback(result)
        except Exception:
            _log.exception(
                "learnpulse analytics: a subscriber of %s failed: dropped", state.mirror.course
            )
            with self._lock:
                if callback in state.subscribers:
                    state.subscribers.remove(callback)

    # -- computations --------------------------------------------------------------------

    @staticmethod
    def _overview_of(range: str, at: datetime | None) -> Compute:
        def compute(state: _Course, snapshot: CourseSnapshot) -> dict[str, Any]:
            cached = state.results.get("predictions")
            at_risk = None if at is not None else _at_risk(cached)
            if at_risk is not None and state.results["predictions"].revision != snapshot.revision:
                at_risk = None
            return course_overview(
                snapshot.events, range=range, at=at, at_risk=at_risk, skills=snapshot.skills
            )

        return compute

    def _predict(self, state: _Course, snapshot: CourseSnapshot) -> dict[str, pl.DataFrame]:
        fitted = self.fitted_for(snapshot.course) if self.fitted_for else None
        return self.predict(
            snapshot.events.drop("seq"),
            skills=snapshot.skills,
            items=snapshot.items,
            learners=snapshot.learners,
            fitted=fitted,
            **({} if self.settings is None else {"settings": self.settings}),
        )

    def _watch(self) -> None:
        """While any course has subscribers: look for new events every refresh_interval."""
        while not self._closed.wait(self.refresh_interval):
            with self._lock:
                watched = [s for s in self._courses.values() if s.subscribers]
                if not watched or self._closed.is_set():
                    self._watcher = None
                    return
                for state in watched:
                    if "predictions" not in state.pending:  # else it is on its way already
                        try:
                            job = self._schedule(
                                state, "predictions", self._predict, sync=True, fresh=False
                            )
                        except RuntimeError:  # the workers were shut down: nothing to watch
                            self._watcher = None
                            return
                        job.add_done_callback(_log_failure)
