"""A simulated course, course models fitted on an earlier cohort, and an in-process source."""

from __future__ import annotations

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
