"""The instructor picks the course in a real browser: a link names the course (also for the
dashboard rendered ahead of the visit), the selector switches every view without a page
reload, and a course without events shows empty views."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.viz.instructor import EMPTY_NOTE
from tests.browser.conftest import VIEWPORT, screenshot
from tests.browser.servers import (
    COURSE,
    STUDENT_TOKEN,
    TEACHER_TOKEN,
    TEST_WEEKS,
    JupyterServer,
    PanelServer,
    serve_folder,
    simulated_store,
)
from tests.browser.test_dashboards import (
    RENDER_TIMEOUT_MS,
    no_error_output,
    open_instructor,
    sessions,
    shows,
    wait_until,
)

pytestmark = pytest.mark.slow

#: The second course (simulated) and one the store describes before its first event.
OTHER, EMPTY = "stats-201", "new-course"
OTHER_LEARNERS = 25


def _add_courses(url: str) -> None:
    """The store's second course, of the same weeks as the first, and an empty course."""
    from learnpulse.datasets.base import CourseData
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course
    from learnpulse.store import EventStore

    now = datetime.now(timezone.utc)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(weeks=TEST_WEEKS + 1)
    other = simulate_course(
        SimulationConfig(
            n_learners=OTHER_LEARNERS, weeks=TEST_WEEKS, seed=5, course_id=OTHER, start=start
        )
    )
    with EventStore(url) as store:
        store.append_course(other, progress=False)
        skills = other.skills.head(2).with_columns(course_id=pl.lit(EMPTY))
        store.append_course(CourseData(skills=skills), progress=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with two courses and an empty one, pre-rendering the instructor dashboard
    (of its first course, the demo's) as ``learnpulse demo``'s does."""
    tmp = tmp_path_factory.mktemp("courses")
    url = simulated_store(tmp / "store.db", learners=60, training=False)
    _add_courses(url)
    server = JupyterServer(serve_folder(tmp), url, preheat=True)
    yield server
    server.stop()


def month_sessions(server, course: str) -> int:
    kpis = server.api(f"analytics/dashboard?range=month&wait=true&course={course}")["kpis"]
    return int(next(k["value"] for k in kpis if k["kpi"] == "sessions"))


def status_names(page, course: str) -> bool:
    """Does the status line start with ``course`` (the course the numbers are of)?"""
    return shows(page, f"{course} ·")


def course_picker(page):
    return page.locator("select").first


def test_a_link_naming_a_course_opens_it(browser, server):
    """The kernel that rendered the page ahead of the visit showed the demo course; the link
    names the other, which the page shows once it reaches the browser."""
    server.spare_kernels(RENDER_TIMEOUT_MS / 1000)  # the pre-rendered page is ready
    expected = month_sessions(server, OTHER)
    assert expected != month_sessions(server, COURSE)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    try:
        open_instructor(page, server, query=f"&course={OTHER}")
        wait_until(lambda: status_names(page, OTHER) and sessions(page) == expected)
        picked = course_picker(page)
        other = picked.locator("option", has_text=OTHER).get_attribute("value")
        # the picker may show the course a moment after its numbers do (CI, a loaded machine)
        wait_until(lambda: picked.input_value() == other, shown=picked.input_value)
        screenshot(page, "instructor-linked-course")
        assert no_error_output(page) and page.errors == []
    finally:
        context.close()


def test_the_selector_switches_every_view_without_a_reload(browser, server):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    try:
        open_instructor(page, server)
        wait_until(lambda: status_names(page, COURSE))
        page.evaluate("window.notReloaded = true")  # gone if the page loads again
        options = course_picker(page).locator("option").all_inner_texts()
        # named as the course file names it, with its learners; the others by their ids
        demo = f"Introduction to Python ({COURSE}) · 60 learners"
        assert any(o.startswith(demo) for o in options)
        assert any(o.startswith(f"{OTHER} · {OTHER_LEARNERS} learners") for o in options)
        assert any(o.startswith(f"{EMPTY} · 0 learners") for o in options)

        course_picker(page).select_option(label=next(o for o in options if OTHER in o))
        expected = month_sessions(server, OTHER)
        wait_until(lambda: status_names(page, OTHER) and sessions(page) == expected)
        # the address is a link to what is shown
        wait_until(lambda: f"course={OTHER}" in page.evaluate("window.location.search"))

        course_picker(page).select_option(label=next(o for o in options if EMPTY in o))
        wait_until(lambda: status_names(page, EMPTY) and sessions(page) == 0)
        wait_until(lambda: shows(page, EMPTY_NOTE))
        screenshot(page, "instructor-empty-course")
        wait_until(lambda: f"course={EMPTY}" in page.evaluate("window.location.search"))
        assert page.evaluate("window.notReloaded") is True
        assert no_error_output(page) and page.errors == []
    finally:
        context.close()


def test_served_by_panel_a_link_names_the_course_too(browser, server, tmp_path):
    """``learnpulse dashboard instructor`` serves the dashboard with Panel: the same link."""
    app = tmp_path / "instructor.py"
    app.write_text(
        "from learnpulse.viz import theme\n"
        "from learnpulse.viz.launch import dashboard\n"
        "theme.setup()\n"
        "dashboard('instructor').servable()\n"
    )
    panel = PanelServer(app, server, TEACHER_TOKEN, tmp_path)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(f"{panel.url}?course={OTHER}", wait_until="commit")
        page.wait_for_selector(".lp-kpi", timeout=RENDER_TIMEOUT_MS)
        expected = month_sessions(server, OTHER)
        wait_until(lambda: status_names(page, OTHER) and sessions(page) == expected)
        options = course_picker(page).locator("option").all_inner_texts()
        course_picker(page).select_option(label=next(o for o in options if EMPTY in o))
        wait_until(lambda: status_names(page, EMPTY) and sessions(page) == 0)
        wait_until(lambda: f"course={EMPTY}" in page.evaluate("window.location.search"))
    finally:
        context.close()
        panel.stop()


def test_a_student_gets_no_course_list(server):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError, match="403"):
        server.api("analytics/courses", token=STUDENT_TOKEN)
    listed = server.api("analytics/courses")["courses"]
    assert [c["course_id"] for c in listed] == sorted([COURSE, OTHER, EMPTY])
