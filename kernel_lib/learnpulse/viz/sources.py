"""Where the dashboards get their data: in-process, or through the server's HTTP API.

Both sources answer the same questions with the same polars frames:

- :class:`DirectSource` computes from an event frame or an :class:`~learnpulse.store.EventStore`
  in this process (tests, notebooks, ``panel serve`` on a laptop);
- :class:`HttpSource` asks a learnpulse server (``{base_url}learnpulse/api/...``) with the
  user's token, so a dashboard served by Jupyter sees exactly what that user may see.

:func:`default_source` picks one for a dashboard running in a Jupyter kernel or a Panel server
(see :mod:`learnpulse.viz.connection` for how a kernel finds its server).
"""

from __future__ import annotations

import abc
import os
import threading
from datetime import datetime
from typing import Any

import polars as pl

from learnpulse.analytics import course_overview, skill_names
from learnpulse.analytics.catalog import CATALOG_SCHEMA, course_catalog, named_courses
from learnpulse.collectors import context
from learnpulse.events import EVENT_FRAME_SCHEMA
from learnpulse.viz import data, predictions

#: Environment variable choosing the source: ``http``, ``direct`` or ``auto`` (default).
SOURCE_ENV = "LEARNPULSE_DASHBOARD_SOURCE"
#: Environment variable naming the course a dashboard shows (default: the store's first);
#: the same variable names the course of collected events.
COURSE_ENV = context.COURSE_ENV


class SourceError(RuntimeError):
    """A source could not answer (server unreachable, an error status, a model missing)."""


class DataSource(abc.ABC):
    """What every dashboard asks; implementations return the frames described here."""

    #: Course shown; None = the only (or first) course.
    course: str | None = None

    @abc.abstractmethod
    def summary(self, range_: str) -> dict[str, Any]:
        """Descriptive analytics of the range (see :func:`data.summary_from_overview`), with
        the ``at_risk`` KPI filled from the models when they are available, and ``course``:
        the course shown (None for a source over events of no named course)."""

    @abc.abstractmethod
    def predictions(self, learner: str | None = None) -> dict[str, pl.DataFrame]:
        """Every model's output (``predict_all``'s keys), of one learner if given."""

    def user(self) -> str:
        """Who is looking: the learner a student dashboard shows. In-process, the learner of
        this process (``$LEARNPULSE_LEARNER_ID``, the hub user or the OS user)."""
        return context.learner_id()

    @abc.abstractmethod
    def learner_events(self, learner_id: str) -> pl.DataFrame:
        """One learner's events (an event frame), for the drill-down and student views."""

    def skill_names(self) -> dict[str, str]:
        """Skill id -> the course's name for it (:func:`learnpulse.analytics.skill_names`),
        from the course this process's widgets use (``$LEARNPULSE_COURSE_FILE``, which a
        server hands its kernels, else the demo course) when it is the course shown; empty
        when unknown (skills are then shown by their ids). A student cannot read the course
        overview, which names the skills for instructors."""
        from learnpulse.course import CourseUnavailable, default_course

        try:
            course = default_course()
        except CourseUnavailable:  # already warned about, naming the file
            return {}
        if self.course is not None and course.id != self.course:
            return {}
        return skill_names(course.skills_frame())

    @abc.abstractmethod
    def courses(self) -> pl.DataFrame:
        """The courses an instructor may switch to: ``course_id``, ``name`` (null when no
        course file names it), ``learners`` (see :func:`learnpulse.analytics.course_catalog`).

        Raises
        ------
        SourceError
            When they cannot be listed (e.g. the server refuses a student).
        """

    @abc.abstractmethod
    def for_course(self, course: str) -> DataSource:
        """A source like this one (same store or server, same user) showing ``course``.

        A new source with caches of its own, so that nothing of this course's events or
        predictions is shown as the other's; :meth:`close` this one when done with it.
        """

    def close(self) -> None:  # noqa: B027 - most sources have nothing to stop
        """Stop any background work (live streams); the source is not used afterwards."""

    @abc.abstractmethod
    def version(self) -> int:
        """A number that grows when new events arrive (live updates compare it)."""

    @abc.abstractmethod
    def system(self) -> dict[str, Any]:
        """The latest system sample (``cpu``, ``memory``, ``gpu``, ``kernels``, ``health``)."""

    @abc.abstractmethod
    def system_history(self) -> list[dict[str, Any]]:
        """Recent system samples, oldest first."""

    @abc.abstractmethod
    def training_runs(self) -> list[dict[str, Any]]:
        """Summaries of the visible training runs, newest first."""

    @abc.abstractmethod
    def training_run(self, run_id: str) -> dict[str, Any]:
        """One run's summary with its logged ``metrics`` (a list of rows)."""


class DirectSource(DataSource):
    """Computes everything in this process from an event frame or a store.

    Parameters
    ----------
    events : polars.DataFrame, optional
        A course's events (shape (n_events, 16)); fixed, unless ``store`` is also given.
    store : EventStore, optional
        Read the course's events from here; :meth:`version` picks up new ones incrementally.
    course : str, optional
        Course id (default: the store's first course, or the course of ``events``; every
        event of ``events`` when they are of several).
    at : datetime, optional
        Pretend "now" is ``at`` (windows end there); default: after the last event.
    skills, items : polars.DataFrame, optional
        The course's skills (with prerequisites) and items; default: read from the store.
    fitted : FittedCourseModels or callable, optional
        Trained success / retention / forecast models (``predict_all``'s ``fitted``), or a
        function of a course id giving them (or None, or ``UnusableModels``: saved models
        that are not used, and why), as a server loads them per course; without them those
        outputs have null values and say why.
    settings : CourseSettings or mapping, optional
        The course settings (``predict_all``'s ``settings``: mastery threshold, score
        weights, rule thresholds...), as the server's ``LearnPulseApp.course_settings``.
    sampler : SystemSampler, optional
        System metrics sampler for the system monitor (one is created on first use).
    """

    def __init__(
        self,
        events: pl.DataFrame | None = None,
        *,
        store: Any = None,
        course: str | None = None,
        at: datetime | None = None,
        fitted: Any = None,
        skills: pl.DataFrame | None = None,
        items: pl.DataFrame | None = None,
        sampler: Any = None,
        settings: Any = None,
    ) -> None:
        if events is None and store is None:
            raise ValueError("DirectSource needs events or a store")
        self.store, self.at, self._sampler = store, at, sampler
        self.settings = settings
        self._given = events  # all of them, for the sources of other courses (for_course)
        self._tables = {k: v for k, v in (("skills", skills), ("items", items)) if v is not None}
        self.course = course or self._first_course(events)
        # Models fitted on one course's cohort, and its skills and items, are that course's
        # only: kept by course, for this source and those of other courses it makes.
        self._fitted_for = fitted if callable(fitted) else {self.course: fitted}.get
        self._tables_of = {self.course: self._tables}
        self.fitted = self._fitted_for(self.course) if self.course else None
        # a course without events yet still has the event columns (its views are empty)
        self._events = events if events is not None else pl.DataFrame(schema=EVENT_FRAME_SCHEMA)
        if self.course is not None and events is not None and "course_id" in events.columns:
            self._events = events.filter(pl.col("course_id") == self.course)
        self._last_seq = 0
        self._predictions: tuple[int, dict[str, pl.DataFrame]] | None = None
        self._lock = threading.Lock()
        if store is not None:
            self._pull()

    def _first_course(self, events: pl.DataFrame | None) -> str | None:
        if events is None:
            courses = self.store.courses().get_column("course_id").to_list()
            return courses[0] if courses else None
        if "course_id" in events.columns and events["course_id"].n_unique() == 1:
            return events["course_id"][0]  # the events' one course
        return None

    def _pull(self) -> int:
        """Append the store's events stored since the last pull; return how many."""
        new = self.store.query(  # the class: without the staff's events
            course=self.course,
            after_seq=self._last_seq,
            order="seq",
            with_seq=True,
            exclude_staff=True,
        )
        if new.height:
            self._last_seq = int(new.get_column("seq").max())
            new = new.drop("seq")
            self._events = pl.concat([self._events, new]) if self._events.height else new
        return new.height

    @property
    def events(self) -> pl.DataFrame:
        """The course's events known to this source."""
        return self._events

    def courses(self) -> pl.DataFrame:
        """The store's courses (:func:`~learnpulse.analytics.course_catalog`), named from
        this process's course file and the demo course; over an event frame, its courses."""
        if self.store is not None:
            return course_catalog(self.store, _loaded_courses())
        given = self._given
        if "course_id" not in given.columns or given.is_empty():
            return pl.DataFrame(schema=CATALOG_SCHEMA)
        learners = given.group_by("course_id").agg(pl.col("learner_id").n_unique())
        return named_courses(
            learners.rename({"learner_id": "learners"}).sort("course_id"), _loaded_courses()
        )

    def for_course(self, course: str) -> DirectSource:
        source = DirectSource(
            self._given,
            store=self.store,
            course=course,
            at=self.at,
            fitted=self._fitted_for,
            **self._tables_of.get(course, {}),
            sampler=self._sampler,
            settings=self.settings,
        )
        source._tables_of = {**self._tables_of, **source._tables_of}
        return source

    def version(self) -> int:
        with self._lock:
            if self.store is not None:
                self._pull()
            return self._events.height

    def predictions(self, learner: str | None = None) -> dict[str, pl.DataFrame]:
        version = self.version()
        with self._lock:
            if self._predictions is None or self._predictions[0] != version:
                outputs = predictions.course_predictions(
                    self._events,
                    self.at,
                    fitted=self.fitted,
                    settings=self.settings,
                    **self._course_tables(),
                )
                self._predictions = (version, outputs)
            outputs = self._predictions[1]
        if learner is None:
            return outputs
        return {k: f.filter(pl.col("learner_id") == learner) for k, f in outputs.items()}

    def _course_tables(self) -> dict[str, pl.DataFrame]:
        """The course's skills and items (prerequisites matter to the models)."""
        if self._tables or self.store is None or self.course is None:
            return self._tables
        return {"skills": self.store.skills(self.course), "items": self.store.items(self.course)}

    def summary(self, range_: str) -> dict[str, Any]:
        skills = self._course_tables().get("skills")
        overview = course_overview(self._events, range=range_, at=self.at, skills=skills)
        return {**data.summary_from_overview(overview), "course": self.course}

    def learner_events(self, learner_id: str) -> pl.DataFrame:
        return self._events.filter(pl.col("learner_id") == learner_id)

    def skill_names(self) -> dict[str, str]:
        return skill_names(self._course_tables().get("skills")) or super().skill_names()

    # -- system and training -------------------------------------------------------------

    def _system_sampler(self) -> Any:
        if self._sampler is None:
            from learnpulse.collectors.system import SystemSampler

            self._sampler = SystemSampler()
        return self._sampler

    def system(self) -> dict[str, Any]:
        sampler = self._system_sampler()
        thresholds = sampler.config.thresholds.to_dict()
        return {
            **sampler.sample_now(),
            "interval_s": sampler.config.interval_s,
            "thresholds": thresholds,
        }

    def system_history(self) -> list[dict[str, Any]]:
        return self._system_sampler().history()

    def _training_store(self) -> Any:
        if self.store is None or not hasattr(self.store, "training_runs"):
            raise RuntimeError("training runs need a store that keeps them (EventStore)")
        return self.store

    def training_runs(self) -> list[dict[str, Any]]:
        from learnpulse.collectors.training import run_summaries

        return run_summaries(self._training_store())

    def training_run(self, run_id: str) -> dict[str, Any]:
        from learnpulse.collectors.training import run_detail

        detail = run_detail(self._training_store(), run_id)
        if detail is None:
            raise KeyError(f"no training run {run_id!r}")
        return detail


def _loaded_courses() -> list[Any]:
    """The courses this process can name: its course file's (if it loads) and the demo's."""
    from learnpulse.course import CourseUnavailable, default_course, demo_course

    try:
        configured = [default_course()]
    except CourseUnavailable:  # already warned about, naming the file
        configured = []
    return [*configured, demo_course()]


def default_source(course: str | None = None, mode: str | None = None) -> DataSource:
    """The source a dashboard should use here.

    ``mode`` (default ``$LEARNPULSE_DASHBOARD_SOURCE``, else ``auto``): ``http`` reads through
    the server found by :func:`learnpulse.viz.connection.find_server` (an error if none);
    ``direct`` reads the store (``$LEARNPULSE_DB_URL``) in this process; ``auto`` is ``http``
    when running under a Jupyter server, else ``direct``.
    """
    from learnpulse.viz.connection import find_server

    mode = mode or os.environ.get(SOURCE_ENV, "auto")
    if mode not in ("auto", "http", "direct"):
        raise ValueError(f"{SOURCE_ENV} must be auto, http or direct, not {mode!r}")
    course = course or os.environ.get(COURSE_ENV) or None
    server = find_server() if mode != "direct" else None
    if server is not None:
        from learnpulse.viz.http import HttpSource

        return HttpSource(server, course=course)
    if mode == "http":
        raise SourceError("no learnpulse server found (see learnpulse.viz.connection)")
    from learnpulse.store import EventStore

    return DirectSource(store=EventStore(), course=course)
