"""The student dashboard: my scores and their trends, where I stand, what to do next.

A student sees only themself: through the server the data source is the student's own token
(the server returns only their rows); in-process the learner is given explicitly.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param
import polars as pl
from panel.viewable import Viewer

from learnpulse.viz import charts, theme
from learnpulse.viz.components import ChartPanel, DataTable, KpiCards
from learnpulse.viz.learner import (
    ACCURACY_AXIS,
    difficulty_performance,
    topic_performance,
    weekly_performance,
)
from learnpulse.viz.sources import DataSource

#: Recommendation kinds in the order the study plan lists them.
PLAN_ORDER = ("next_exercise", "revision", "difficulty")
_CARD_KEYS = ("score", "accuracy", "seconds_per_attempt", "readiness")


def _row(outputs: dict[str, pl.DataFrame], key: str, learner_id: str) -> dict[str, Any]:
    frame = outputs.get(key)
    if frame is None or "learner_id" not in frame.columns:
        return {}
    mine = frame.filter(pl.col("learner_id") == learner_id)
    return mine.row(0, named=True) if mine.height else {}


def _last_two(weekly: pl.DataFrame, column: str) -> tuple[float | None, float | None]:
    values = weekly.get_column(column).drop_nulls().to_list() if weekly.height else []
    latest = values[-1] if values else None
    return latest, (values[-2] if len(values) > 1 else None)


def student_cards(
    outputs: dict[str, pl.DataFrame], weekly: pl.DataFrame, learner_id: str
) -> pl.DataFrame:
    """KPI rows (see :func:`learnpulse.viz.data.kpi_rows`) of one learner: overall score vs a
    week earlier, latest week's accuracy and time per attempt vs the week before, readiness."""
    score = _row(outputs, "score", learner_id)
    progress = _row(outputs, "progress", learner_id)
    readiness = _row(outputs, "readiness", learner_id)
    accuracy, accuracy_before = _last_two(weekly, "accuracy")
    seconds, seconds_before = _last_two(weekly, "seconds")
    probability = readiness.get("probability")
    values = {
        "score": ("Overall score", "points", score.get("value"), progress.get("score_before")),
        "accuracy": ("Accuracy until solved (latest week)", "%", accuracy, accuracy_before),
        "seconds_per_attempt": ("Time per attempt", "s", seconds, seconds_before),
        "readiness": (
            f"Readiness ({readiness.get('value', 'unknown')})",
            "%",
            None if probability is None else probability * 100,
            None,
        ),
    }
    rows = []
    for key in _CARD_KEYS:
        label, unit, value, before = values[key]
        change = None if value is None or before is None else value - before
        rows.append((key, label, unit, value, before, change))
    schema = ["kpi", "label", "unit", "value", "previous", "change"]
    return pl.DataFrame(rows, schema=schema, orient="row").cast(
        {c: pl.Float64 for c in ("value", "previous", "change")}
    )


def percentiles(outputs: dict[str, pl.DataFrame], learner_id: str) -> pl.DataFrame:
    """``measure``, ``percentile`` (0-100) of the learner among peers (score, accuracy,
    mastery, activity)."""
    peers = _row(outputs, "peers", learner_id)
    rows = [
        (name, peers.get(f"{name}_percentile"))
        for name in ("score", "accuracy", "mastery", "activity")
        if peers.get(f"{name}_percentile") is not None
    ]
    return pl.DataFrame(rows, schema=["measure", "percentile"], orient="row")


def study_plan(outputs: dict[str, pl.DataFrame], learner_id: str) -> pl.DataFrame:
    """The learner's recommendations: ``kind``, ``rank``, ``skill``, ``item_id``, ``action``,
    ``reason``, in :data:`PLAN_ORDER` then rank order."""
    recommendations = outputs.get("recommendations")
    columns = ["kind", "rank", "skill", "item_id", "action", "reason"]
    if recommendations is None or recommendations.is_empty():
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    order = {kind: i for i, kind in enumerate(PLAN_ORDER)}
    return (
        recommendations.filter(pl.col("learner_id") == learner_id)
        .select(columns)
        .sort(pl.col("kind").replace_strict(order, default=len(order)), "rank")
    )


def _trend_chart(weekly: pl.DataFrame):
    return charts.line(
        weekly,
        "week",
        "accuracy",
        title="Accuracy per week",
        xlabel="Week starting (UTC)",
        ylabel=ACCURACY_AXIS,
    )


def _speed_chart(weekly: pl.DataFrame):
    return charts.line(
        weekly,
        "week",
        "seconds",
        title="Time per attempt",
        xlabel="Week starting (UTC)",
        ylabel="Median time per attempt (s)",
    )


def _topic_chart(frame: pl.DataFrame):
    return charts.horizontal_bars(
        frame,
        "skill",
        "accuracy",
        title="Accuracy per topic",
        xlabel="Skill",
        ylabel=ACCURACY_AXIS,
        color=None,
    )


def _difficulty_chart(frame: pl.DataFrame):
    return charts.bars(
        frame,
        "band",
        "accuracy",
        title="Accuracy per difficulty",
        xlabel="Difficulty (0-1 scale)",
        ylabel=ACCURACY_AXIS,
    )


def _percentile_chart(frame: pl.DataFrame):
    return charts.bars(
        frame,
        "measure",
        "percentile",
        title="Where I stand among peers",
        xlabel="Measure",
        ylabel="Percentile (0-100)",
        ylim=(0, 100),
    )


class StudentDashboard(Viewer):
    """One learner's own progress.

    Parameters
    ----------
    source : DataSource
    learner_id : str
        The learner shown; through the server, the signed-in user (see
        :meth:`learnpulse.viz.http.HttpSource.user`).
    """

    learner_id = param.String(default=None, allow_None=True)

    def __init__(self, source: DataSource, **params: Any) -> None:
        super().__init__(**params)
        if not self.learner_id:
            raise ValueError("StudentDashboard needs the learner_id of the student")
        self.source = source
        self.cards = KpiCards()
        self.accuracy = ChartPanel(_trend_chart, title="Accuracy trend")
        self.speed = ChartPanel(_speed_chart, title="Speed trend")
        self.topics = ChartPanel(_topic_chart, title="Per topic")
        self.difficulty = ChartPanel(_difficulty_chart, title="Per difficulty")
        self.percentile = ChartPanel(_percentile_chart, title="Percentile among peers")
        self.plan = DataTable(title="Recommendations and study plan", filename="study_plan.csv")
        self._layout = theme.page(
            "My progress",
            self.cards,
            pn.Row(self.accuracy, self.speed),
            pn.Row(self.topics, self.difficulty),
            pn.Row(self.percentile, self.plan),
            subtitle=f"Learner **{theme.plain(self.learner_id)}**",
        )
        self.refresh()

    def refresh(self) -> None:
        """Reload the learner's events and predictions and redraw."""
        self._layout.loading = True
        try:
            events = self.source.learner_events(self.learner_id)
            outputs = self.source.predictions(learner=self.learner_id)
            weekly = weekly_performance(events)
            named = pl.col("skill").replace(self.source.skill_names())
            self.cards.kpis = student_cards(outputs, weekly, self.learner_id)
            self.accuracy.frame = weekly
            self.speed.frame = weekly
            self.topics.frame = topic_performance(events).with_columns(named)
            self.difficulty.frame = difficulty_performance(events)
            self.percentile.frame = percentiles(outputs, self.learner_id)
            self.plan.frame = study_plan(outputs, self.learner_id).with_columns(named)
        finally:
            self._layout.loading = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
