"""Learner models: knowledge tracing, predictive models, scoring, recommendations, alerts.

Models register under the ``learnpulse.models`` entry-point group (:mod:`.registry`).
"""

from learnpulse.models.registry import ENTRY_POINT_GROUP, available_models, load_model

__all__ = ["ENTRY_POINT_GROUP", "available_models", "load_model"]
