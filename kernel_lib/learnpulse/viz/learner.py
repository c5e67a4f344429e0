"""One learner: the instructor's drill-down and the frames of the student dashboard."""

from __future__ import annotations

import math

import panel as pn
import param
import polars as pl
from panel.viewable import Viewer

from learnpulse.features import COUNTED_CORRECT, with_evidence
from learnpulse.viz import charts, theme

#: Difficulty bands of the per-difficulty chart: (upper bound, label), on the 0-1 scale.
DIFFICULTY_BANDS: tuple[tuple[float, str], ...] = (
    (0.33, "easy (< 0.33)"),
    (0.66, "medium (0.33-0.66)"),
    (1.01, "hard (>= 0.66)"),
)


#: Axis label of accuracy charts: which attempts it counts (the rule of
#: :func:`learnpulse.features.with_evidence`; answering a solved exercise again is practice).
ACCURACY_AXIS = "Accuracy (% right, each exercise until solved)"
#: Accuracy (%) of the attempts that are evidence (each exercise's until it is solved; null on
#: practice, so left out of the mean): :func:`learnpulse.features.with_evidence`.
_ACCURACY = (pl.col(COUNTED_CORRECT).cast(pl.Float64).mean() * 100).alias("accuracy")


def _graded(events: pl.DataFrame) -> pl.DataFrame:
    """The graded attempts of ``events``, marked as evidence or practice (on the learner's
    whole history in ``events``)."""
    marked = with_evidence(events)
    return marked.filter((pl.col("kind") == "attempt") & pl.col("correct").is_not_null())


def weekly_performance(events: pl.DataFrame) -> pl.DataFrame:
    """Per week of attempts: ``week`` (Monday, UTC), ``accuracy`` (%) and ``seconds`` (median
    time per attempt, s) of the attempts that count (practice on solved exercises left out),
    ``attempts`` (all of them). Shape (n_weeks, 4)."""
    counted = pl.col(COUNTED_CORRECT).is_not_null()
    return (
        _graded(events)
        .group_by(pl.col("ts").dt.truncate("1w").dt.date().alias("week"))
        .agg(
            _ACCURACY,
            (pl.col("duration_ms").filter(counted).median() / 1000).alias("seconds"),
            pl.len().cast(pl.Int64).alias("attempts"),
        )
        .sort("week")
    )


def topic_performance(events: pl.DataFrame) -> pl.DataFrame:
    """Per skill attempted: ``skill``, ``attempts`` (all), ``accuracy`` (%, of the attempts that
    count)."""
    return (
        _graded(events)
        .select(COUNTED_CORRECT, "skills")
        .explode("skills")
        .drop_nulls("skills")
        .group_by(pl.col("skills").alias("skill"))
        .agg(pl.len().cast(pl.Int64).alias("attempts"), _ACCURACY)
        .sort("skill")
    )


def difficulty_performance(events: pl.DataFrame) -> pl.DataFrame:
    """Per difficulty band of :data:`DIFFICULTY_BANDS`: ``band``, ``attempts`` (all),
    ``accuracy`` (%, of the attempts that count)."""
    attempts = _graded(events).filter(pl.col("difficulty").is_not_null())
    band = pl.lit(None, pl.String)
    for upper, label in reversed(DIFFICULTY_BANDS):
        band = pl.when(pl.col("difficulty") < upper).then(pl.lit(label)).otherwise(band)
    order = {label: i for i, (_, label) in enumerate(DIFFICULTY_BANDS)}
    return (
        attempts.group_by(band.alias("band"))
        .agg(pl.len().cast(pl.Int64).alias("attempts"), _ACCURACY)
        .sort(pl.col("band").replace_strict(order, return_dtype=pl.Int64))
    )


def learner_predictions(outputs: dict[str, pl.DataFrame], learner_id: str) -> pl.DataFrame:
    """Every model's row(s) about one learner: ``model_output``, ``value``, ``confidence``,
    ``model``, ``reason`` (mastery is left out: it has its own chart)."""
    rows = []
    for key, frame in outputs.items():
        if key == "mastery" or "learner_id" not in frame.columns:
            continue
        mine = frame.filter(pl.col("learner_id") == learner_id)
        for row in mine.to_dicts():
            rows.append(
                {
                    "model_output": key,
                    "value": _shown_value(row),
                    "confidence": row.get("confidence"),
                    "model": row.get("model"),
                    "reason": row.get("reason"),
                }
            )
    schema = {
        "model_output": pl.String,
        "value": pl.String,
        "confidence": pl.Float64,
        "model": pl.String,
        "reason": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _shown_value(row: dict) -> str:
    """A model row's value as an instructor reads it: a knowledge gap's skill and level, a
    recommendation's action and exercise, days left (or the status when there is no
    estimate), the cluster name, a message, or a rounded number; not a ranking score."""
    if row.get("label") and (row.get("name") or row.get("skill")):  # a knowledge gap
        return f"{row.get('name') or row['skill']} ({row['label']})"
    if row.get("action") and (row.get("item_id") or row.get("skill")):  # a recommendation
        return f"{row['action']} {row.get('item_id') or row['skill']}"
    if "days_left" in row:
        days = row["days_left"]
        finite = isinstance(days, int | float) and math.isfinite(days)
        return f"{days:.0f} days ({row.get('status')})" if finite else str(row.get("status"))
    value = row.get("cluster", row.get("value"))
    if value is None:
        value = row.get("message") or row.get("action")
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def _mastery_chart(mastery: pl.DataFrame, skill_labels: dict[str, str]):
    frame = mastery.select(
        pl.col("skill").replace(skill_labels), (pl.col("p_known") * 100).alias("p_known")
    )
    return charts.horizontal_bars(
        frame,
        "skill",
        "p_known",
        title="Mastery per skill",
        xlabel="Skill",
        ylabel="P(known) (%)",
        color=None,
    )


def _weekly_chart(weekly: pl.DataFrame):
    return charts.line(
        weekly,
        "week",
        "accuracy",
        title="Accuracy per week",
        xlabel="Week starting (UTC)",
        ylabel=ACCURACY_AXIS,
    )


class LearnerDrilldown(Viewer):
    """What the models say about one learner, their mastery and weekly accuracy."""

    learner_id = param.String(default=None, allow_None=True)
    skill_labels = param.Dict(default={}, doc="skill id -> readable name")

    def __init__(self, source, **params) -> None:
        super().__init__(**params)
        self.source = source
        self._title = pn.pane.Markdown("Select a learner in the table.")
        # Not linked: Panel would otherwise share the skill axis with the course heatmap's,
        # drawing this learner's bars in the heatmap's order among its rows.
        self._mastery = pn.pane.HoloViews(sizing_mode="stretch_width", linked_axes=False)
        self._weekly = pn.pane.HoloViews(sizing_mode="stretch_width", linked_axes=False)
        self._reasons = pn.widgets.Tabulator(
            show_index=False,
            disabled=True,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            max_height=260,
        )
        # One chart above the other: side by side, in half a page, the mastery bars were
        # squeezed behind the skill names and the P(known) ticks ran into each other.
        self._card = theme.card(
            self._title, self._reasons, self._mastery, self._weekly, title="Learner details"
        )
        self.predictions_frame = pl.DataFrame()
        self._fill()

    @param.depends("learner_id", "skill_labels", watch=True)
    def _fill(self) -> None:
        if not self.learner_id:
            self._mastery.object = self._weekly.object = None
            self._mastery.visible = self._weekly.visible = self._reasons.visible = False
            return
        self._card.loading = True
        try:
            outputs = self.source.predictions(learner=self.learner_id)
            events = self.source.learner_events(self.learner_id)
            mastery = outputs.get("mastery", pl.DataFrame(schema={"learner_id": pl.String}))
            mine = mastery.filter(pl.col("learner_id") == self.learner_id)
            self.predictions_frame = learner_predictions(outputs, self.learner_id)
            self._title.object = f"### {theme.plain(self.learner_id)}\n{events.height:,} events"
            self._reasons.value = self.predictions_frame.to_pandas()
            self._mastery.object = (
                _mastery_chart(mine, self.skill_labels)
                if mine.height
                else charts.no_data("Mastery per skill", "Skill", "P(known) (%)")
            )
            self._weekly.object = _weekly_chart(weekly_performance(events))
            self._mastery.visible = self._weekly.visible = self._reasons.visible = True
        finally:
            self._card.loading = False

    @property
    def charts(self) -> list:
        return [self._mastery.object, self._weekly.object]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card
