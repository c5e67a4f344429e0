"""The student's session labels mastery by the course's threshold."""

from __future__ import annotations

import dataclasses

from learnpulse.course import demo_course
from learnpulse.widgets.session import LearnerSession, MasteryChange


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
    change = MasteryChange({skill: 0.2}, {skill: 0.5}).describe(course)
    assert change.endswith("(Mastered)")
