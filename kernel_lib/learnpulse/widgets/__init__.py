"""Student widgets (ipywidgets 8): exercises with feedback and hints, the tutor chat, progress.

Every widget also renders as text (a plain terminal IPython, a static notebook) and never
raises into the student's notebook. They share the kernel's :class:`LearnerSession`, which
records attempts and hints as events and keeps the learner's mastery live.

>>> from learnpulse.widgets import ExerciseWidget, ProgressWidget, TutorChatWidget
>>> ExerciseWidget("ex-lists-01")  # doctest: +SKIP
"""

from learnpulse.widgets.chat import TutorChatWidget
from learnpulse.widgets.exercise import ExerciseWidget
from learnpulse.widgets.progress import ProgressWidget, Recommendation, recommend_next
from learnpulse.widgets.session import (
    LearnerSession,
    MasteryChange,
    current_session,
    prior_bkt,
    set_session,
)

__all__ = [
    "ExerciseWidget",
    "LearnerSession",
    "MasteryChange",
    "ProgressWidget",
    "Recommendation",
    "TutorChatWidget",
    "current_session",
    "prior_bkt",
    "recommend_next",
    "set_session",
]
