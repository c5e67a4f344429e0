"""Public-data loaders and the course simulator; each returns a :class:`CourseData`."""

from learnpulse.datasets.assistments import load_assistments_dkt, read_dkt_sequences
from learnpulse.datasets.base import (
    ITEM_FRAME_SCHEMA,
    LEARNER_FRAME_SCHEMA,
    SKILL_FRAME_SCHEMA,
    CourseData,
    DatasetFormatError,
    uuid5_ids,
)
from learnpulse.datasets.oulad import load_oulad, load_oulad_tables, presentation_lengths
from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.datasets.xapi_files import load_xapi, write_xapi

__all__ = [
    "ITEM_FRAME_SCHEMA",
    "LEARNER_FRAME_SCHEMA",
    "SKILL_FRAME_SCHEMA",
    "CourseData",
    "DatasetFormatError",
    "SimulationConfig",
    "load_assistments_dkt",
    "load_oulad",
    "load_oulad_tables",
    "load_xapi",
    "presentation_lengths",
    "read_dkt_sequences",
    "simulate_course",
    "uuid5_ids",
    "write_xapi",
]
