"""Knowledge tracing: P(a learner knows a skill) from their responses.

- :class:`BKT`: Bayesian Knowledge Tracing per skill, EM-fitted, with forgetting and per-item
  guess/slip and learner-ability-bin options and an online :meth:`BKT.update`
  (:class:`AbilityHistory` carries a learner's history for the ability bins);
- :class:`PFA`: Performance Factors Analysis, the logistic baseline (scikit-learn), and
  :class:`DKT`: Deep Knowledge Tracing (torch LSTM/GRU), both imported on first use: BKT
  alone runs in students' kernels;
- :mod:`.sequences`: the inputs both read (event frames or DKT sequences) and the mastery
  levels (:data:`MASTERY_THRESHOLD`, :func:`proficiency`, :func:`mastery_label`).
"""

from learnpulse.models.knowledge_tracing.ability import AbilityHistory
from learnpulse.models.knowledge_tracing.bkt import BKT
from learnpulse.models.knowledge_tracing.sequences import (
    MASTERY_LABELS,
    MASTERY_THRESHOLD,
    mastery_label,
    proficiency,
    response_frame,
)

__all__ = [
    "BKT",
    "DKT",
    "MASTERY_LABELS",
    "MASTERY_THRESHOLD",
    "PFA",
    "AbilityHistory",
    "mastery_label",
    "proficiency",
    "response_frame",
]


def __getattr__(name: str):
    # DKT needs torch and PFA scikit-learn, each seconds to import: load them when asked for.
    if name == "DKT":
        from learnpulse.models.knowledge_tracing.dkt import DKT

        return DKT
    if name == "PFA":
        from learnpulse.models.knowledge_tracing.pfa import PFA

        return PFA
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
