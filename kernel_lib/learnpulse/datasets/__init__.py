"""Public-data loaders and the course simulator; each returns a :class:`CourseData`."""

from learnpulse.datasets.base import (
    ITEM_FRAME_SCHEMA,
    LEARNER_FRAME_SCHEMA,
    SKILL_FRAME_SCHEMA,
    CourseData,
    DatasetFormatError,
)

__all__ = [
    "ITEM_FRAME_SCHEMA",
    "LEARNER_FRAME_SCHEMA",
    "SKILL_FRAME_SCHEMA",
    "CourseData",
    "DatasetFormatError",
]
