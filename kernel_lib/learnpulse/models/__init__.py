"""Learner models: knowledge tracing, predictive models, scoring, recommendations, alerts."""
