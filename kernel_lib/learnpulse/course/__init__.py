"""Course content an instructor authors: skills (a prerequisite graph with teaching material),
exercises (numeric, choice, short text, code) with hint ladders and tutor policies, and the
checker that gives students specific feedback.

>>> from learnpulse.course import demo_course, check
>>> course = demo_course()
>>> check(course.exercise("ex-lists-01"), 3).correct  # doctest: +SKIP
"""

from learnpulse.course.checking import CheckResult, check
from learnpulse.course.configured import COURSE_FILE_ENV, CourseUnavailable, default_course
from learnpulse.course.loading import DEMO_COURSE_FILE, demo_course, load_course
from learnpulse.course.model import (
    EXERCISE_TYPES,
    Course,
    CourseError,
    CourseWarning,
    Exercise,
    Skill,
    TutorPolicy,
)

__all__ = [
    "COURSE_FILE_ENV",
    "DEMO_COURSE_FILE",
    "EXERCISE_TYPES",
    "CheckResult",
    "Course",
    "CourseError",
    "CourseUnavailable",
    "CourseWarning",
    "Exercise",
    "Skill",
    "TutorPolicy",
    "check",
    "default_course",
    "demo_course",
    "load_course",
]
