"""Learner models: knowledge tracing, predictive models, scoring, recommendations, alerts.

Models register under the ``learnpulse.models`` entry-point group (:mod:`.registry`).

The public functions below are imported on first use, so ``import learnpulse.models`` stays
cheap (no scikit-learn, no torch): ``learnpulse.models.predict_all(events)`` returns every
model's output for a course (:mod:`.course`).
"""

from importlib import import_module

from learnpulse.models.registry import ENTRY_POINT_GROUP, available_models, load_model

#: Public name -> module under ``learnpulse.models`` that defines it.
_LAZY = {
    "predict_all": "course",
    "OUTPUT_KEYS": "course",
    "FittedCourseModels": "course_fit",
    "UnusableModels": "course_fit",
    "fit_course_models": "course_fit",
    "course_mastery": "mastery",
    "fit_mastery_model": "mastery",
    "learning_velocity": "velocity",
    "time_to_completion": "completion",
    "knowledge_gaps": "gaps",
    "recommend": "recommendations",
    "engagement_patterns": "engagement",
    "LearnerClusters": "clusters",
    "SuccessModel": "predictive",
    "RetentionRiskModel": "predictive",
    "PerformanceForecaster": "predictive",
    "learner_scores": "scoring",
    "progress_categories": "scoring",
    "readiness": "standing",
    "peer_comparison": "standing",
    "peer_metrics": "standing",
    "ScoreWeights": "scoring",
    "ScoreSettings": "scoring",
    "ReadinessSettings": "standing",
    "CourseSettings": "settings",
    "Rule": "rules",
    "RuleSettings": "rules",
    "FEEDBACK_RULES": "rules",
    "ALERT_RULES": "rules",
    "learner_signals": "rules",
    "evaluate_rules": "rules",
}

__all__ = ["ENTRY_POINT_GROUP", "available_models", "load_model", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f"learnpulse.models.{_LAZY[name]}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
