"""A simulated course, course models fitted on an earlier cohort, and an in-process source."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest

from learnpulse.viz import theme

#: Learners of the simulated course (and of the earlier cohort the models learn from).
LEARNERS, PAST_LEARNERS, WEEKS = 120, 200, 12


@pytest.fixture(scope="session", autouse=True)
def panel_setup():
    theme.setup()


@pytest.fixture(scope="session")
def course():
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course

    return simulate_course(SimulationConfig(n_learners=LEARNERS, weeks=WEEKS, seed=0))


@pytest.fixture(scope="session")
def fitted():
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course
    from learnpulse.models.course_fit import fit_course_models

    past = simulate_course(SimulationConfig(n_learners=PAST_LEARNERS, weeks=WEEKS, seed=1))
    return fit_course_models(past)


@pytest.fixture(scope="session")
def source(course, fitted):
    """An in-process source over the course (predictions computed once, then cached)."""
    from learnpulse.viz.sources import DirectSource

    return DirectSource(course.events, fitted=fitted, skills=course.skills, items=course.items)


@pytest.fixture(scope="session")
def outputs(source):
    return source.predictions()


@pytest.fixture(scope="session")
def markup_id() -> str:
    """A learner id that is markup: a dashboard rendering it as HTML would run its script."""
    return "<img src=x onerror=alert(1)>&'\""


class _Text(HTMLParser):
    """The text a browser shows for some HTML, and the tags it would make."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.tags = "", []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text += data


@pytest.fixture(scope="session")
def rendered():
    """What the browser gets from a Markdown pane (Panel sends its HTML escaped once)."""
    return lambda pane: _Text(html.unescape(pane.get_root().text))
