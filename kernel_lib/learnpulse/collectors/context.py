"""Who and where an event comes from: learner, course and session of this Python process."""

from __future__ import annotations

import getpass
import os
import uuid
from functools import cache

#: Environment variable naming the learner explicitly (wins over everything else).
LEARNER_ENV = "LEARNPULSE_LEARNER_ID"
#: Set by JupyterHub in every single-user server and its kernels.
HUB_USER_ENV = "JUPYTERHUB_USER"
#: Environment variable naming the course events belong to.
COURSE_ENV = "LEARNPULSE_COURSE_ID"
#: Environment variable naming the course file a kernel's widgets, magics and tutor use (see
#: :mod:`learnpulse.course.configured`); its course's id is the events' when
#: ``$LEARNPULSE_COURSE_ID`` is not set.
COURSE_FILE_ENV = "LEARNPULSE_COURSE_FILE"
#: Course of events when ``$LEARNPULSE_COURSE_ID`` is not set: the demo course.
DEFAULT_COURSE_ID = "demo-python-101"

# One study session per process (a kernel is one session) unless a collector starts another.
_session_id = str(uuid.uuid4())


def learner_id() -> str:
    """``$LEARNPULSE_LEARNER_ID``, else ``$JUPYTERHUB_USER``, else the operating-system user."""
    for name in (LEARNER_ENV, HUB_USER_ENV):
        if os.environ.get(name):
            return os.environ[name]
    return _os_user()


@cache
def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an anonymous container uid
        return f"uid-{os.getuid()}"


def course_id() -> str:
    """``$LEARNPULSE_COURSE_ID``, else the id of the course in ``$LEARNPULSE_COURSE_FILE``,
    else :data:`DEFAULT_COURSE_ID`.

    The course file's id keeps the notebook's events (cells, sessions) in the course its
    exercises come from; a file whose course is not ``$LEARNPULSE_COURSE_ID`` is refused by
    :func:`learnpulse.course.configured.default_course`, naming both.
    """
    if os.environ.get(COURSE_ENV):
        return os.environ[COURSE_ENV]
    if os.environ.get(COURSE_FILE_ENV):
        from learnpulse.course.configured import configured_course_id

        return configured_course_id() or DEFAULT_COURSE_ID
    return DEFAULT_COURSE_ID


def session_id() -> str:
    """The current study session of this process."""
    return _session_id


def new_session() -> str:
    """Start a new session (e.g. when the notebook extension is loaded again); return its id."""
    global _session_id
    _session_id = str(uuid.uuid4())
    return _session_id
