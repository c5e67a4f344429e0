"""The student side follows the course's mastery threshold, and failures stay out of cells."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from learnpulse.course import CourseError, demo_course
from learnpulse.models.recommendations import recommend
from learnpulse.widgets import ExerciseWidget, LearnerSession
from learnpulse.widgets.progress import ProgressWidget, recommend_next
from learnpulse.widgets.session import MasteryChange
from tests.kernel_lib.widgets import helpers
from tests.kernel_lib.widgets.helpers import TrackedStore

tracked_store = helpers.tracked_store  # the fixture


def test_the_course_threshold_decides_mastered_and_the_label():
    course = dataclasses.replace(demo_course(), mastery_threshold=0.3)
    session = LearnerSession(course, learner_id="ada", store_url="sqlite://")
    frame = session.mastery_frame()
    p = frame["p_known"].to_numpy()
    assert (frame["mastered"].to_numpy() == (p >= 0.3)).all()
    above = frame.filter(frame["p_known"] >= 0.3)
    assert above.height and set(above["label"]) == {"Mastered"}
    assert (p < 0.95).all(), "under the default threshold none would be"
    skill = next(iter(course.skills))
    assert MasteryChange({skill: 0.2}, {skill: 0.5}).describe(course).endswith("(Mastered)")


def test_the_next_exercise_follows_the_course_threshold():
    """It ranked gaps against 0.95 whatever the course said."""
    course = dataclasses.replace(demo_course(), mastery_threshold=0.6)
    session = LearnerSession(course, learner_id="ada", store_url="sqlite://")
    session.mastery.update({"variables": 0.99, "expressions": 0.55, "lists": 0.2})
    expected = recommend(
        session.mastery_frame(),
        course.items_frame(),
        course.skills_frame(),
        session.graded_frame(),
        learner="ada",
        mastery_threshold=0.6,
    )
    first = expected.filter(expected["kind"] == "next_exercise").row(0, named=True)
    assert recommend_next(session).exercise.id == first["item_id"]


def test_a_course_threshold_out_of_range_is_named_when_built():
    with pytest.raises(CourseError, match=r"mastery_threshold.*must be a number in \(0, 1\]"):
        dataclasses.replace(demo_course(), mastery_threshold=95)


def test_printing_a_widget_never_raises(tracked_store: TrackedStore):
    widget = ProgressWidget(skills="lists")  # a bare string: not a list of skills
    assert "Sorry" in str(widget)


def test_a_later_success_takes_an_earlier_problem_down(tracked_store: TrackedStore, monkeypatch):
    widget = ExerciseWidget("ex-lists-01")
    monkeypatch.setattr(tracked_store.session, "record_attempt", _fail)
    widget.submit(3)
    assert widget.problem and "Sorry" in str(widget)
    monkeypatch.undo()
    widget.submit(3)
    assert widget.problem == "" and "Sorry" not in str(widget)


def _fail(*args, **kwargs):
    raise RuntimeError("the store went away")


def test_a_failure_is_logged_to_the_kernel_console_not_the_cell(tmp_path):
    """A cell's stderr is the notebook: the traceback went there, after the friendly line."""
    script = (
        "import os\n"
        "os.environ['LEARNPULSE_DB_URL'] = 'sqlite:////proc/nowhere/x.db'\n"
        "from learnpulse.widgets import ExerciseWidget\n"
        "import sys, io\n"
        "cell = io.StringIO(); sys.stderr = cell\n"
        "w = ExerciseWidget('ex-lists-01'); w.submit(3)\n"
        "sys.stderr = sys.__stderr__\n"
        "print('CELL:' + repr(cell.getvalue()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "CELL:''" in done.stdout
