"""Knowledge tracing: P(a learner knows a skill) from their responses.

- :class:`BKT`: Bayesian Knowledge Tracing per skill, EM-fitted, with forgetting and per-item
  guess/slip options and an online :meth:`BKT.update`;
- :class:`PFA`: Performance Factors Analysis, the logistic baseline;
- :mod:`.sequences`: the inputs both read (event frames or DKT sequences) and the mastery
  levels (:data:`MASTERY_THRESHOLD`, :func:`proficiency`, :func:`mastery_label`).
"""

from learnpulse.models.knowledge_tracing.bkt import BKT
from learnpulse.models.knowledge_tracing.pfa import PFA
from learnpulse.models.knowledge_tracing.sequences import (
    MASTERY_LABELS,
    MASTERY_THRESHOLD,
    mastery_label,
    proficiency,
    response_frame,
)

__all__ = [
    "BKT",
    "MASTERY_LABELS",
    "MASTERY_THRESHOLD",
    "PFA",
    "mastery_label",
    "proficiency",
    "response_frame",
]
