"""The instructor dashboard: a class at a glance, who is at risk and why, live.

``InstructorDashboard(source)`` composes the components of :mod:`learnpulse.viz.components`
over a :class:`~learnpulse.viz.sources.DataSource`; ``dashboards/instructor.ipynb`` only
creates one and displays it.

The course selector lists the store's courses (:meth:`DataSource.courses`); picking one
re-draws every panel from a source of that course (:meth:`DataSource.for_course`). The page's
URL names the course shown (``?course=<id>``, :data:`COURSE_PARAMETER`, kept in step by
:class:`~learnpulse.viz.address.UrlParameter`): a link to it opens that course.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import panel as pn
import param
import polars as pl
from bokeh.models.widgets.tables import NumberFormatter
from panel.viewable import Viewer

from learnpulse.viz import charts, data, predictions, theme
from learnpulse.viz.address import UrlParameter, owns_the_page, query_value
from learnpulse.viz.components import AlertFeed, ChartPanel, DataTable, KpiCards, MasteryHeatmap
from learnpulse.viz.learner import ACCURACY_AXIS, LearnerDrilldown
from learnpulse.viz.sources import DataSource, SourceError

#: Seconds between checks for new events when live updates are on.
LIVE_INTERVAL_S = 2.0
_PROBABILITY = NumberFormatter(format="0.00")
_ONE_DECIMAL = NumberFormatter(format="0.0")
_TICK = {"type": "tickCross", "crossElement": False}
#: Status-line words before the list of charts that are empty in the current range.
EMPTY_NOTE = "No data in this range"
#: Query parameter of the page's URL naming the course shown.
COURSE_PARAMETER = "course"


def course_options(catalog: pl.DataFrame, shown: str | None) -> dict[str, str]:
    """The selector's choices, label -> course id: each course of ``catalog`` (see
    :meth:`DataSource.courses`) by its name and id with its learners, and ``shown`` (by its
    id) when the catalog does not list it (the list could not be read)."""
    options = {}
    for row in catalog.iter_rows(named=True):
        name = f"{row['name']} ({row['course_id']})" if row["name"] else row["course_id"]
        learners = row["learners"]
        options[f"{name} · {learners:,} learner{'' if learners == 1 else 's'}"] = row["course_id"]
    if shown is not None and shown not in options.values():
        options[shown] = shown
    return options


def _daily_sessions(frame: pl.DataFrame):
    return charts.bars(
        frame,
        "date",
        "sessions",
        title="Sessions per day",
        xlabel="Date (UTC)",
        ylabel="Sessions (count)",
        xrotation=45,
    )


def _durations(frame: pl.DataFrame):
    return charts.line(
        frame,
        "date",
        "avg_session_minutes",
        title="Session length",
        xlabel="Date (UTC)",
        ylabel="Mean session length (min)",
    )


def _topics(frame: pl.DataFrame):
    # The topics are the period's most active ones (analytics ``popular_skills``): drawn by
    # the same measure, so that the bars rank them as they were chosen.
    return charts.horizontal_bars(
        frame,
        "skill",
        "events",
        title="Most active topics",
        xlabel="Skill",
        ylabel="Activity (events)",
        color="accuracy",
    )


def _clusters(frame: pl.DataFrame):
    return charts.scatter(
        frame,
        "accuracy",
        "attempts",
        "cluster",
        title="Learner clusters",
        xlabel=ACCURACY_AXIS,
        ylabel="Attempts (count)",
    )


def _questions(frame: pl.DataFrame):
    return charts.bars(
        frame,
        "date",
        "questions",
        title="Questions to the tutor per day",
        xlabel="Date (UTC)",
        ylabel="Questions (count)",
        xrotation=45,
    )


def _agents(frame: pl.DataFrame):
    return charts.horizontal_bars(
        frame,
        "agent",
        "messages",
        title="Agents used",
        xlabel="Agent",
        ylabel="Messages (count)",
        color=None,
    )


def _hint_levels(frame: pl.DataFrame):
    return charts.bars(
        frame.with_columns(pl.col("level").cast(pl.String)) if frame.height else frame,
        "level",
        "hints",
        title="Hint levels reached",
        xlabel="Hint level (1 = first hint)",
        ylabel="Hints shown (count)",
    )


def cluster_descriptions(clusters: pl.DataFrame) -> pl.DataFrame:
    """Per cluster: ``cluster`` description, ``learners``, mean accuracy (%) and attempts."""
    return (
        clusters.group_by("cluster")
        .agg(
            pl.len().cast(pl.Int64).alias("learners"),
            pl.col("accuracy").mean().round(1).alias("mean_accuracy_pct"),
            pl.col("attempts").mean().round(0).alias("mean_attempts"),
        )
        .sort("learners", descending=True)
    )


class InstructorDashboard(Viewer):
    """KPIs, activity, topics, mastery, risk, clusters, peers, alerts and tutor use.

    Parameters
    ----------
    source : DataSource
        Where the numbers come from (in-process or the server's API), and the course shown
        first unless ``course`` or the page's URL (``?course=``) names another.
    course : str, optional
        The course shown; picking another in the selector re-draws every panel for it.
    range : {"week", "month", "quarter", "course"}
        The time range shown; changing it recomputes every panel.
    live : bool
        Check the source for new events every ``live_interval_s`` seconds and redraw,
        from when the dashboard is first shown in a browser.
    """

    range = param.Selector(default=data.DEFAULT_RANGE, objects=list(data.RANGE_NAMES))
    # Not checked by param: a course the store does not hold gets a message (_switch_course).
    course = param.Selector(
        default=None,
        objects=[],
        allow_None=True,
        check_on_set=False,
        doc="The course shown: picking another re-draws every panel for it. The page's "
        "address names it (?course=<id>), to bookmark or share.",
    )
    live = param.Boolean(default=True)
    live_interval_s = param.Number(default=LIVE_INTERVAL_S, bounds=(0.2, None))
    last_update = param.Date(default=None, allow_None=True)
    problem = param.String(default="", doc="Why some panels are empty, if they are.")

    def __init__(self, source: DataSource, **params: Any) -> None:
        requested = params.pop("course", None) or (
            query_value(COURSE_PARAMETER) if owns_the_page() else None
        )
        super().__init__(**params)
        self.source = source
        self._version: int | None = None
        # (source version, outputs) of the last predictions read: they do not depend on the
        # range, so a range switch reuses them until new events arrive.
        self._outputs: tuple[int, dict[str, pl.DataFrame]] | None = None
        self._course_note = ""  # why the course asked for is not the one shown
        self._catalog = self._read_catalog()
        self._given_source = source  # the caller's: maybe shared by other pages, never closed
        if requested and requested != source.course and self._knows(requested):
            self.source = source.for_course(requested)
        if pn.state.curdoc is not None and pn.state.curdoc.session_context:
            pn.state.on_session_destroyed(lambda _context: self._close_own_source())
        self._build()
        self.refresh()
        self._show_course()
        if self._address is not None:
            self._address.param.watch(self._url_changed, "value")
            self.param.watch(self._course_to_url, "course")
        self._callback = None
        if self.live:
            self._layout.when_shown(self.start_live)

    def _build(self) -> None:
        self.kpis = KpiCards()
        self.daily = ChartPanel(_daily_sessions, title="Daily sessions")
        self.durations = ChartPanel(_durations, title="Session duration trend")
        self.topics = ChartPanel(_topics, title="Popular topics")
        self.mastery = MasteryHeatmap()
        self.risk = DataTable(
            title="At-risk learners (click a row for details)",
            filename="at_risk_learners.csv",
            formatters={
                # ticked: the learners the At risk card counts (the others, listed by risk,
                # are below the course's dropout threshold)
                "at_risk": _TICK,
                **{
                    c: _PROBABILITY for c in ("retention_risk", "success_probability", "confidence")
                },
            },
        )
        self.drilldown = LearnerDrilldown(source=self.source)
        self.risk.param.watch(lambda e: setattr(self.drilldown, "learner_id", e.new), "selected")
        self.clusters = ChartPanel(_clusters, title="Learner clusters")
        self.cluster_table = DataTable(title="Cluster descriptions", filename="clusters.csv")
        self.peers = DataTable(
            title="Peer ranking",
            filename="peer_ranking.csv",
            formatters={
                c: _ONE_DECIMAL
                for c in ("score", "percentile", "accuracy_percentile", "mastery_percentile")
            },
        )
        self.alerts = AlertFeed(empty_text="No alert model output yet.")
        self.questions = ChartPanel(_questions, title="Tutor questions")
        self.agents = ChartPanel(_agents, title="Tutor agents")
        self.hint_levels = ChartPanel(_hint_levels, title="Hint ladder")
        self._status = pn.pane.Markdown("", styles={"color": theme.MUTED}, margin=(0, 10))
        # the page's URL, where the dashboard is the page (not an output in JupyterLab)
        self._address = UrlParameter(key=COURSE_PARAMETER) if owns_the_page() else None
        courses = pn.widgets.Select.from_param(
            self.param.course, name="Course", width=380, css_classes=["lp-course-selector"]
        )
        selector = pn.widgets.RadioButtonGroup.from_param(
            self.param.range,
            color="primary",
            variant="outline",
            width=380,
            label="Time range",
        )
        self._layout = theme.page(
            "Course dashboard",
            pn.Row(courses, *[self._address] if self._address is not None else []),
            pn.Row(selector, self._status),
            self.kpis,
            pn.Row(self.daily, self.durations),
            pn.Row(self.topics, self.alerts),
            self.mastery,
            pn.Row(self.risk, self.drilldown),
            pn.Row(self.clusters, self.cluster_table),
            pn.Row(self.peers, self.questions),
            pn.Row(self.agents, self.hint_levels),
        )

    @param.depends("range", watch=True)
    def refresh(self) -> bool:
        """Recompute every panel for the current range (shows a loading indicator); True
        when they were drawn.

        If the source cannot answer (the server refuses or is unreachable) the panels keep
        what they showed and the status line says why.
        """
        self._layout.loading = True
        try:
            self._version = self.source.version()  # before reading: newer events redraw again
            summary = self.source.summary(self.range)
            self._fill(summary, self._predictions(self._version))
        except SourceError as error:
            self.problem = f"Course data unavailable: {error}"
            self._status.object = f"**{theme.plain(self.problem)}**"
            return False
        finally:
            self._layout.loading = False
        return True

    # -- the course shown ---------------------------------------------------------------------

    def _read_catalog(self) -> pl.DataFrame:
        """The courses to pick from; when they cannot be listed (a server without the route,
        a refusal), none: the selector then offers the course shown alone."""
        try:
            return self.source.courses()
        except SourceError:
            return pl.DataFrame(schema={"course_id": pl.String})

    def _knows(self, course: str) -> bool:
        """Whether ``course`` may be shown; when it may not, the status line says why."""
        known = self._catalog["course_id"].to_list()
        if course in known or not known:  # an unlisted store: the source says if it is not
            self._course_note = ""
            return True
        self._course_note = f"No course {course!r} in the store (courses: {', '.join(known)})"
        return False

    def _show_course(self) -> None:
        """The selector's choices and value: the course the source shows."""
        self.param.course.objects = course_options(self._catalog, self.source.course)
        self.course = self.source.course

    @param.depends("course", watch=True)
    def _switch_course(self) -> None:
        """Re-draw every panel for the course picked, from a source of its own: nothing of
        the other course (its cached predictions, the learner in the drill-down) stays."""
        if self.course is None or self.course == self.source.course:
            return
        self._catalog = self._read_catalog()  # a course may have been added since
        if not self._knows(self.course):
            self._show_course()  # back to the course shown, saying why
            self._status.object = f"**{theme.plain(self._course_note)}**"
            return
        new = self.source.for_course(self.course)
        self._close_own_source()
        self.source = new
        self._version, self._outputs = None, None
        self.risk.selected = None
        self.drilldown.param.update(learner_id=None)
        self.drilldown.source = self.source
        if not self.refresh():
            self._clear()  # what they showed was of the other course
        self._show_course()

    def _clear(self) -> None:
        """Empty every panel, the status line naming the course and why it has no data."""
        self.kpis.kpis = data.kpi_rows(pl.DataFrame(schema={"kpi": pl.String}))
        for panel in vars(self).values():
            if isinstance(panel, ChartPanel | DataTable):
                panel.frame = None
        self.mastery.mastery = self.alerts.alerts = None
        self._status.object = f"**{theme.plain(self.source.course)}** · {self._status.object}"

    def _close_own_source(self) -> None:
        """Close the source of a course picked here (its live streams); not the one given,
        which a Panel server shares between the pages it serves."""
        if self.source is not self._given_source:
            self.source.close()

    def _url_changed(self, *_: Any) -> None:
        """The page's URL names a course (reported once the page is drawn): show it."""
        if self._address.value and self._address.value != self.course:
            self.course = self._address.value

    def _course_to_url(self, *_: Any) -> None:
        """Name the course shown in the page's URL: the address is a link to it."""
        self._address.value = self.course

    def _predictions(self, version: int) -> dict[str, pl.DataFrame]:
        """The source's model outputs at ``version`` (read again only for a new version)."""
        if self._outputs is not None and self._outputs[0] == version:
            self.problem = ""
            return self._outputs[1]
        try:
            outputs, self.problem = self.source.predictions(), ""
        except SourceError as error:  # descriptive panels still work without the models
            self._outputs = None
            self.problem = f"Model outputs unavailable: {error}"
            return {}
        self._outputs = (version, outputs)
        return outputs

    def _fill(self, summary: dict[str, Any], outputs: dict[str, pl.DataFrame]) -> None:
        # At risk: counted from the same predictions as the table (withdrawn learners are
        # not at risk any more), so the card and the table agree.
        at_risk = predictions.at_risk_count(outputs)
        _update(
            self.kpis,
            kpis=summary["kpis"].with_columns(
                pl.when(pl.col("kpi") == "at_risk")
                .then(pl.lit(at_risk, pl.Float64))
                .otherwise(pl.col("value"))
                .alias("value")
            ),
        )
        _update(self.daily, frame=summary["daily"])
        _update(self.durations, frame=summary["daily"])
        _update(self.topics, frame=summary["topics"])
        _update(self.questions, frame=summary["tutor_questions"])
        _update(self.agents, frame=summary["tutor_agents"])
        _update(self.hint_levels, frame=summary["hint_levels"])
        # The model outputs do not depend on the range, and most events leave most of them
        # as they were: only what changed is drawn again (and sent to the browser).
        for named in (self.mastery, self.drilldown):  # skills as the course names them
            if named.skill_labels != summary["skill_names"]:
                named.skill_labels = summary["skill_names"]
        _update(self.mastery, mastery=outputs.get("mastery"))
        risk = predictions.risk_table(outputs)
        _update(self.risk, frame=_missing("retention_risk") if risk is None else risk)
        _update(self.peers, frame=predictions.peer_ranking(outputs))
        clusters = predictions.cluster_points(outputs)
        _update(self.clusters, frame=clusters)
        _update(
            self.cluster_table,
            frame=None if clusters is None else cluster_descriptions(clusters),
        )
        _update(self.alerts, alerts=outputs.get("alerts"))
        self.last_update = datetime.now(timezone.utc)  # the status line speaks UTC
        period = summary["period"]
        empty = self.empty_panels()
        course = f"**{theme.plain(summary['course'])}** · " if summary.get("course") else ""
        self._status.object = (
            f"{course}{period['start']:%Y-%m-%d} to {period['end']:%Y-%m-%d %H:%M} UTC · "
            f"updated {self.last_update:%H:%M:%S} UTC"
            + (f" · **{theme.plain(self.problem)}**" if self.problem else "")
            + (f" · **{theme.plain(self._course_note)}**" if self._course_note else "")
            + (f" · {EMPTY_NOTE}: {', '.join(empty)}" if empty else "")
        )

    def empty_panels(self) -> list[str]:
        """Titles of the charts with nothing to show in the current range."""
        panels = [p for p in vars(self).values() if isinstance(p, ChartPanel)]
        empty = [p.title for p in panels if charts.is_empty(p.element)]
        if charts.is_empty(self.mastery.element):
            empty.append("Mastery")
        return empty

    # -- live updates ----------------------------------------------------------------------

    def check_for_updates(self) -> bool:
        """Redraw if the source has new events since the last check; True if it did.

        If the source cannot answer, the panels stay as they are and the status line says
        why (the next check tries again)."""
        try:
            changed = self.source.version() != self._version
        except SourceError as error:
            self._version = None  # the next check that gets an answer redraws
            self.problem = f"Live updates paused: {error}"
            self._status.object = f"**{theme.plain(self.problem)}**"
            return False
        if changed:
            self.refresh()
        return changed

    def start_live(self) -> None:
        """Redraw if events arrived since the panels were filled, then check for new events
        every ``live_interval_s`` seconds (in a notebook or server).

        A shown dashboard starts this itself when it reaches the browser (see
        :meth:`learnpulse.viz.theme.Page.when_shown`).
        """
        self.check_for_updates()
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(
                self.check_for_updates, period=int(self.live_interval_s * 1000)
            )

    def stop_live(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _update(component: param.Parameterized, **frames: pl.DataFrame | None) -> None:
    """Set a component's frames, leaving out those equal to what it shows: setting a frame
    redraws the panel and sends it to the browser again (for the tables, heatmap and scatter
    of a large course, seconds of a browser's time at each range switch or new event)."""
    changed = {
        name: frame for name, frame in frames.items() if not _same(getattr(component, name), frame)
    }
    if changed:
        component.param.update(changed)


def _same(old: pl.DataFrame | None, new: pl.DataFrame | None) -> bool:
    if old is None or new is None:
        return old is new
    return old.schema == new.schema and old.equals(new)


def _missing(model: str) -> pl.DataFrame:
    """A one-row table saying a model's output is not available from this source."""
    return pl.DataFrame(
        {"learner_id": [None], "note": [f"no '{model}' model output available"]},
        schema={"learner_id": pl.String, "note": pl.String},
    )
