"""The instructor picks the course: the selector lists the store's courses, a switch re-draws
every view from that course alone, the URL names the course, an empty course is empty."""

from __future__ import annotations

import polars as pl
import pytest

from learnpulse.datasets.base import CourseData
from learnpulse.viz import charts
from learnpulse.viz.instructor import InstructorDashboard, course_options
from learnpulse.viz.sources import DirectSource

DEMO, OTHER, EMPTY = "demo-python-101", "stats-201", "new-course"
OTHER_LEARNERS = 15


@pytest.fixture(scope="module")
def store(tmp_path_factory, course):
    """The demo course, a second course whose learners are others (``stats-...``), and a
    course the store describes (its skills) before its first event."""
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course
    from learnpulse.store import EventStore

    other = simulate_course(
        SimulationConfig(n_learners=OTHER_LEARNERS, weeks=6, seed=4, course_id=OTHER)
    )
    renamed = pl.col("learner_id").str.replace("learner", "stats")
    other = CourseData(
        events=other.events.with_columns(renamed),
        learners=other.learners.with_columns(renamed),
        items=other.items,
        skills=other.skills,
    )
    path = tmp_path_factory.mktemp("courses") / "store.db"
    with EventStore(f"sqlite:///{path}") as store:
        store.append_course(course, progress=False)
        store.append_course(other, progress=False)
        empty = other.skills.head(2).with_columns(course_id=pl.lit(EMPTY))
        store.append_course(CourseData(skills=empty), progress=False)
        yield store


@pytest.fixture
def dashboard(store, fitted):
    return InstructorDashboard(DirectSource(store=store, fitted=fitted), live=False)


def _learners(frame: pl.DataFrame | None) -> set[str]:
    return set() if frame is None else set(frame["learner_id"].drop_nulls())


def test_the_selector_lists_the_stores_courses_with_names_and_learners(dashboard, course):
    learners = course.events["learner_id"].n_unique()
    assert dashboard.course == DEMO  # the store's first, as before there was a selector
    assert list(dashboard.param.course.names) == [
        f"Introduction to Python ({DEMO}) · {learners:,} learners",
        f"{EMPTY} · 0 learners",
        f"{OTHER} · {OTHER_LEARNERS} learners",
    ]
    assert dashboard.param.course.names[f"{EMPTY} · 0 learners"] == EMPTY


def test_switching_course_redraws_every_view_from_that_course_alone(dashboard, store, rendered):
    dashboard.risk.selected = dashboard.risk.table["learner_id"][0]  # a demo learner
    assert dashboard.drilldown.learner_id is not None
    dashboard.course = OTHER
    alone = DirectSource(store=store, course=OTHER)
    summary, outputs = alone.summary(dashboard.range), alone.predictions()
    expected = _learners(outputs["retention_risk"])
    assert len(expected) == OTHER_LEARNERS and all(x.startswith("stats") for x in expected)
    assert dashboard.source.course == OTHER
    for learners in (
        _learners(dashboard.risk.table),
        _learners(dashboard.peers.table),
        _learners(dashboard.mastery.mastery),
        _learners(dashboard.clusters.frame),
        _learners(dashboard.alerts.alerts),
    ):
        assert learners <= expected, learners - expected  # nothing of the demo course's
    assert _learners(dashboard.risk.table) == expected
    kpis = dashboard.kpis.kpis.filter(pl.col("kpi") != "at_risk")
    assert kpis.equals(summary["kpis"].filter(pl.col("kpi") != "at_risk"))
    for panel, key in (
        (dashboard.daily, "daily"),
        (dashboard.topics, "topics"),
        (dashboard.questions, "tutor_questions"),
        (dashboard.agents, "tutor_agents"),
        (dashboard.hint_levels, "hint_levels"),
    ):
        assert panel.frame.equals(summary[key]), panel.title
    # the demo learner picked before is not shown as if they were of this course
    assert dashboard.drilldown.learner_id is None and dashboard.risk.selected is None
    assert rendered(dashboard._status).text.startswith(f"{OTHER} · ")
    dashboard.risk.selected = sorted(expected)[0]
    assert dashboard.drilldown.predictions_frame.height > 0  # read from this course's source


def test_switching_back_shows_the_first_course_again(dashboard, store, fitted):
    first = dashboard.kpis.kpis
    first_risk = dashboard.risk.table
    dashboard.course = OTHER
    dashboard.course = DEMO
    assert dashboard.kpis.kpis.equals(first)
    assert dashboard.risk.table.equals(first_risk)  # its fitted models too


def test_a_course_without_events_shows_empty_views_not_an_error(dashboard):
    dashboard.course = EMPTY
    assert dashboard.source.course == EMPTY and dashboard.problem == ""
    assert dashboard.kpis.kpis.filter(pl.col("kpi") == "sessions")["value"].item() == 0
    assert dashboard.risk.table.filter(pl.col("learner_id").is_not_null()).is_empty()
    assert charts.is_empty(dashboard.mastery.element)
    assert {"Popular topics", "Tutor agents", "Mastery"} <= set(dashboard.empty_panels())
    assert dashboard.daily.frame["sessions"].sum() == 0


def test_an_unknown_course_is_named_and_the_course_shown_kept(dashboard, rendered):
    dashboard.course = "no-such-course"
    assert dashboard.course == DEMO and dashboard.source.course == DEMO
    shown = rendered(dashboard._status).text
    assert f"No course 'no-such-course' in the store (courses: {DEMO}, {EMPTY}, {OTHER})" in shown


@pytest.fixture
def in_voila(monkeypatch):
    """As in a Voila kernel (the dashboard is the page): Voila sets ``$VOILA_BASE_URL``."""
    monkeypatch.setenv("VOILA_BASE_URL", "/")


def test_a_url_naming_a_course_opens_it(store, monkeypatch, in_voila):
    # Voila gives a kernel started for a visit the page's query string
    monkeypatch.setenv("QUERY_STRING", f"token=abc&course={OTHER}")
    dashboard = InstructorDashboard(DirectSource(store=store), live=False)
    assert dashboard.course == dashboard.source.course == OTHER
    assert _learners(dashboard.risk.table) <= {f"stats-{i:05d}" for i in range(100)}


def test_the_url_reported_by_the_browser_switches_and_a_pick_is_written_to_it(
    in_voila, store, fitted
):
    dashboard = InstructorDashboard(DirectSource(store=store, fitted=fitted), live=False)
    # a page rendered ahead of the visit learns the URL from the browser, once drawn
    dashboard._address.value = OTHER
    assert dashboard.source.course == OTHER
    dashboard.course = EMPTY
    assert dashboard._address.value == EMPTY  # the URL now names the course shown


def test_a_course_that_cannot_be_read_shows_nothing_of_the_other(store, monkeypatch, rendered):
    """The panels kept what they showed when the new course's data could not be read: the
    selector named one course over the other course's learners."""
    from learnpulse.viz.sources import SourceError

    read = DirectSource.summary

    def summary(source, range_):
        if source.course == OTHER:
            raise SourceError("GET analytics/dashboard: server unreachable")
        return read(source, range_)

    monkeypatch.setattr(DirectSource, "summary", summary)
    dashboard = InstructorDashboard(DirectSource(store=store), live=False)
    dashboard.course = OTHER
    assert dashboard.risk.table.is_empty() and dashboard.mastery.mastery is None
    assert dashboard.kpis.kpis["value"].null_count() == dashboard.kpis.kpis.height
    shown = rendered(dashboard._status).text
    assert shown.startswith(f"{OTHER} · Course data unavailable: ") and "unreachable" in shown


def test_switching_never_closes_the_source_it_was_given(store, monkeypatch):
    """``learnpulse dashboard`` gives every page it serves one source: a page switching
    course must not close it (the other pages' live updates would stop)."""
    closed = []
    monkeypatch.setattr(DirectSource, "close", lambda source: closed.append(source.course))
    dashboard = InstructorDashboard(DirectSource(store=store), live=False)
    dashboard.course = OTHER
    dashboard.course = EMPTY
    assert closed == [OTHER]  # the source it made for the course picked, once left


def test_a_source_over_events_lists_their_courses(course):
    two = pl.concat([course.events, course.events.with_columns(course_id=pl.lit(OTHER))])
    listed = DirectSource(two, course=OTHER).courses()
    learners = course.events["learner_id"].n_unique()
    assert listed.rows() == [
        (DEMO, "Introduction to Python", learners),
        (OTHER, None, learners),
    ]


def test_shown_in_jupyterlab_it_leaves_the_url_alone(store, monkeypatch):
    """JupyterLab's URL is its own: a dashboard among a notebook's outputs neither reads nor
    writes a course there (it would have put ?course= into the notebook's address)."""
    monkeypatch.setenv("QUERY_STRING", f"course={OTHER}")  # not Voila: ignored
    dashboard = InstructorDashboard(DirectSource(store=store), live=False)
    assert dashboard.course == DEMO and dashboard._address is None
    dashboard.course = OTHER  # the selector still works
    assert dashboard.source.course == OTHER


def test_without_a_course_list_the_selector_offers_the_course_shown():
    catalog = pl.DataFrame(schema={"course_id": pl.String})
    assert course_options(catalog, "course-a") == {"course-a": "course-a"}
