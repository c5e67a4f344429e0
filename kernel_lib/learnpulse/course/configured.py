"""The course a kernel uses unless the notebook gives one: ``$LEARNPULSE_COURSE_FILE``, else the
demo course.

The server extension sets ``$LEARNPULSE_COURSE_FILE`` and ``$LEARNPULSE_COURSE_ID`` for the
kernels it starts from its ``tutor_course_file``; a hub spawner or a notebook (before
``%load_ext learnpulse``) may set them too. The exercise widgets, ``%exercise``, ``%%check``,
``%hint``, ``%progress`` and the tutor then work on that course, and every event of the
notebook names its id.

A configured course that cannot be used (a missing or invalid file, or a file whose course is
not ``$LEARNPULSE_COURSE_ID``) is refused, not replaced by the demo course: the demo's
exercises would be recorded as the student's work (in the demo course, or under the
instructor's course id with the demo's exercise ids), the instructor's exercise ids would be
"unknown exercise" errors, and the instructor, the one person who can fix the file, would see
a notebook that looks as if it works. The problem is warned about once, naming the file and
what is wrong, and each course feature then says it in one line; the rest of the notebook
(code, cell events) keeps working.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from pathlib import Path

from learnpulse.collectors.context import COURSE_ENV, COURSE_FILE_ENV
from learnpulse.course.loading import demo_course, load_course
from learnpulse.course.model import Course, CourseError

log = logging.getLogger(__name__)

#: What a refused course leaves out, and what to do, after the problem itself.
UNAVAILABLE_ADVICE = (
    "exercises, %%check, %hint, %progress and the tutor are off until it is fixed (the rest "
    "of the notebook works): tell your instructor, who can run `learnpulse course check {path}`"
)


class CourseUnavailable(RuntimeError):
    """The course configured for this kernel (``$LEARNPULSE_COURSE_FILE``) cannot be used.

    Attributes
    ----------
    path : str
        The course file, as configured.
    problem : str
        What is wrong with it (the file's errors, or the course id mismatch).
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        advice = UNAVAILABLE_ADVICE.format(path=path)
        super().__init__(
            f"learnpulse: the course file {path} (${COURSE_FILE_ENV}) cannot be used: "
            f"{problem}; {advice}"
        )


def configured_course_file() -> str | None:
    """``$LEARNPULSE_COURSE_FILE`` (None when unset or empty)."""
    return os.environ.get(COURSE_FILE_ENV) or None


def default_course() -> Course:
    """The course of ``$LEARNPULSE_COURSE_FILE``, else the demo course.

    The file is read once per process (per file and ``$LEARNPULSE_COURSE_ID``): restart the
    kernel after editing it.

    Raises
    ------
    CourseUnavailable
        When the configured file cannot be read or is invalid, or when
        ``$LEARNPULSE_COURSE_ID`` is set to another course than the file's; the message names
        the file and the problem.

    Warns
    -----
    UserWarning
        Once, with the same message, when the configured course is refused.
    """
    path = configured_course_file()
    if path is None:
        return demo_course()
    course, problem, _ = _resolve(path, os.environ.get(COURSE_ENV) or None)
    if course is None:
        raise CourseUnavailable(path, problem)
    return course


def configured_course_id() -> str | None:
    """The id of the course in ``$LEARNPULSE_COURSE_FILE``: the course's when it loads, else
    the ``id`` the file gives (so that a broken file's notebook events still name its course),
    else None (no file configured, or no id readable in it)."""
    path = configured_course_file()
    if path is None:
        return None
    return _resolve(path, os.environ.get(COURSE_ENV) or None)[2]


@functools.lru_cache(maxsize=8)
def _resolve(path: str, expected_id: str | None) -> tuple[Course | None, str, str | None]:
    """``(course, problem, course id)`` of the file ``path``: the course and "" when it can be
    used, else None and why (warned about here, once per file and expected id)."""
    course, problem, declared = None, "", None
    try:
        course = load_course(Path(path).expanduser())
        declared = course.id
    except CourseError as error:
        problem, declared = str(error), _declared_id(path)
    except OSError as error:
        problem = f"cannot read it: {error.strerror or error}"
    if course is not None and expected_id is not None and expected_id != course.id:
        problem = (
            f"it holds course {course.id!r} but ${COURSE_ENV} is {expected_id!r}, so the "
            "notebook's events would be split between two courses: set "
            f"{COURSE_ENV}={course.id}, or unset it (the file's id is then used), or point "
            f"{COURSE_FILE_ENV} at the file of course {expected_id!r}"
        )
        course = None
    if course is None:
        message = str(CourseUnavailable(path, problem))
        log.warning("%s", message)
        warnings.warn(message, UserWarning, stacklevel=2)
    return course, problem, declared


def _declared_id(path: str) -> str | None:
    """The top-level ``id`` of a course file that does not validate, if it has one."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found.strip() if isinstance(found, str) and found.strip() else None
