"""Training analytics: loss, validation loss, learning rate and accuracy per run, overfitting
markers, and a comparison of runs.

Runs have the shape of ``GET learnpulse/api/training/runs`` (summaries) and
``GET training/runs/<id>`` (a summary with its logged ``metrics``), see
:mod:`learnpulse.collectors.training`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import holoviews as hv
import panel as pn
import param
import polars as pl
from panel.viewable import Viewer

from learnpulse.collectors.training import logged_per_epoch
from learnpulse.viz import charts, theme
from learnpulse.viz.components import ChartPanel, DataTable
from learnpulse.viz.sources import DataSource, SourceError

#: Runs selected for comparison when the dashboard opens (the newest ones).
DEFAULT_COMPARED = 3
#: Metric -> (chart title, y-axis label with unit).
CURVES: dict[str, tuple[str, str]] = {
    "loss": ("Training and validation loss", "Loss (model's objective)"),
    "lr": ("Learning rate", "Learning rate (per step)"),
    "accuracy": ("Accuracy", "Accuracy (share correct, 0-1)"),
}
_METRIC_COLUMNS = ("epoch", "step", "loss", "val_loss", "lr", "accuracy", "val_accuracy")


def runs_table(runs: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per run summary: ``run_id``, ``name``, ``status``, ``epochs``, ``last_loss``,
    ``best_val_loss``, ``best_accuracy``, ``overfitting``, ``reason``."""
    rows = []
    for run in runs:
        verdict = run.get("overfitting") or {}
        best_val = run.get("best_val_loss") or {}
        best_acc = run.get("best_accuracy") or {}
        rows.append({
            "run_id": run["run_id"],
            "name": run["name"],
            "status": run["status"],
            "epochs": run.get("epochs"),
            "last_loss": (run.get("last") or {}).get("loss"),
            "best_val_loss": best_val.get("value"),
            "best_accuracy": best_acc.get("value"),
            "overfitting": bool(verdict.get("overfitting")),
            "reason": verdict.get("reason", ""),
        })  # fmt: skip
    schema = {
        "run_id": pl.String,
        "name": pl.String,
        "status": pl.String,
        "epochs": pl.Int64,
        "last_loss": pl.Float64,
        "best_val_loss": pl.Float64,
        "best_accuracy": pl.Float64,
        "overfitting": pl.Boolean,
        "reason": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def run_labels(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Run id -> how charts and the picker name the run: its name, followed by the start of
    its id when other runs share the name (their curves would be drawn as one)."""
    names = Counter(run["name"] for run in runs)
    return {
        run["run_id"]: run["name"]
        if names[run["name"]] == 1
        else f"{run['name']} ({run['run_id'][:8]})"
        for run in runs
    }


def run_metrics(detail: dict[str, Any], label: str | None = None) -> pl.DataFrame:
    """A run's logged rows (``GET training/runs/<id>``'s ``metrics``) with ``run`` = ``label``
    (default: its name).

    Shape (n_logs, 8): ``run``, ``epoch``, ``step``, ``loss``, ``val_loss``, ``lr``,
    ``accuracy``, ``val_accuracy``.
    """
    schema = {"run": pl.String, **{c: pl.Float64 for c in _METRIC_COLUMNS}}
    rows = [{c: row.get(c) for c in _METRIC_COLUMNS} for row in detail.get("metrics", [])]
    if not rows:
        return pl.DataFrame(schema=schema)
    frame = pl.DataFrame(rows, schema={c: pl.Float64 for c in _METRIC_COLUMNS})
    return frame.select(pl.lit(label or detail["name"]).alias("run"), *_METRIC_COLUMNS)


def x_axis(frame: pl.DataFrame) -> tuple[str, str]:
    """The column the curves are drawn over, and its axis label: the epoch when every run
    shown logged once per epoch (as the example runs and most notebooks do), else the
    logged step (several logs per epoch, or no epoch logged)."""
    runs = frame.partition_by("run", maintain_order=True)
    per_epoch = bool(runs) and all(logged_per_epoch(run) for run in runs)
    return ("epoch", "Epoch") if per_epoch else ("step", "Step")


def overfitting_points(
    details: list[dict[str, Any]], labels: dict[str, str] | None = None
) -> pl.DataFrame:
    """Where each overfitting run's validation loss was lowest: ``run`` (its label in
    ``labels``, default its name), ``step``, ``epoch`` (that log's), ``val_loss`` (the point
    to keep a checkpoint from)."""
    rows = []
    for detail in details:
        label = (labels or {}).get(detail["run_id"], detail["name"])
        verdict = detail.get("overfitting") or {}
        since = verdict.get("since_step")
        if not verdict.get("overfitting") or since is None:
            continue
        metrics = run_metrics(detail).filter(pl.col("step") == since).drop_nulls("val_loss")
        if metrics.height:
            row = {"step": float(since), "epoch": metrics["epoch"][0]}
            rows.append({"run": label, **row, "val_loss": metrics["val_loss"][0]})
    schema = {"run": pl.String, "step": pl.Float64, "epoch": pl.Float64, "val_loss": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def _per_run(frame: pl.DataFrame, column: str, *, ylabel: str, dashed: bool = False):
    """One curve of ``column`` per run over :func:`x_axis`, in the palette's order."""
    if frame.is_empty() or column not in frame.columns:
        return []
    x, xlabel = x_axis(frame)
    curves = []
    for colour, run in zip(
        theme.PALETTE * 3, frame["run"].unique(maintain_order=True), strict=False
    ):
        part = frame.filter(pl.col("run") == run).select(x, column).drop_nulls()
        if part.is_empty():
            continue
        label = f"{run} ({column})"
        curve = hv.Curve(
            part.to_pandas(),
            hv.Dimension(x, label=xlabel),
            hv.Dimension(column, label=ylabel),
            label=label,
        )
        curves.append(
            curve.opts(color=colour, line_width=2, line_dash="dashed" if dashed else "solid")
        )
    return curves


def loss_chart(frame: pl.DataFrame, markers: pl.DataFrame) -> hv.Element:
    """Training loss (solid) and validation loss (dashed) per run, with overfitting markers."""
    title, ylabel = CURVES["loss"]
    curves = _per_run(frame, "loss", ylabel=ylabel) + _per_run(
        frame, "val_loss", ylabel=ylabel, dashed=True
    )
    if not curves:
        return charts.no_data(title, "Epoch", ylabel)
    if markers.height:
        x, xlabel = x_axis(frame)
        curves.append(
            charts.markers(
                markers.rename({"val_loss": "loss"}),
                x,
                "loss",
                label="overfitting from here",
                xlabel=xlabel,
                ylabel=ylabel,
            )
        )
    return hv.Overlay(curves).opts(
        title=title, legend_position="right", **{**theme.CHART_OPTIONS, "height": 320}
    )


def metric_chart(frame: pl.DataFrame, column: str) -> hv.Element:
    """``lr`` or ``accuracy`` per run (validation accuracy dashed, when logged)."""
    title, ylabel = CURVES[column]
    curves = _per_run(frame, column, ylabel=ylabel)
    if column == "accuracy":
        curves += _per_run(frame, "val_accuracy", ylabel=ylabel, dashed=True)
    if not curves:
        return charts.no_data(title, "Epoch", ylabel)
    return hv.Overlay(curves).opts(title=title, legend_position="right", **theme.CHART_OPTIONS)


class TrainingDashboard(Viewer):
    """Runs, their curves and overfitting verdicts; pick runs to compare."""

    compared = param.ListSelector(default=[], objects=[], doc="Run ids shown in the charts.")

    def __init__(self, source: DataSource, **params: Any) -> None:
        super().__init__(**params)
        self.source = source
        self._labels: dict[str, str] = {}
        self.runs = DataTable(title="Runs", filename="training_runs.csv")
        self._markers = overfitting_points([])
        self.loss = ChartPanel(lambda f: loss_chart(f, self._markers), title="Loss")
        self.lr = ChartPanel(lambda f: metric_chart(f, "lr"), title="Learning rate")
        self.accuracy = ChartPanel(lambda f: metric_chart(f, "accuracy"), title="Accuracy")
        picker = pn.widgets.MultiChoice.from_param(self.param.compared, label="Compare runs")
        self._status = pn.pane.Markdown("", styles={"color": theme.MUTED})
        self._layout = theme.page(
            "Training analytics",
            self.runs,
            pn.Row(picker, self._status),
            self.loss,
            pn.Row(self.lr, self.accuracy),
        )
        self.refresh()

    def refresh(self) -> None:
        """Reload the list of runs (keeping the comparison) and redraw."""
        summaries = self.source.training_runs()
        self.runs.frame = runs_table(summaries)
        self._labels = run_labels(summaries)
        # The picker shows the labels and gives run ids.
        self.param.compared.objects = {label: run for run, label in self._labels.items()}
        kept = [run for run in self.compared if run in self._labels]
        self.compared = kept or list(self._labels)[:DEFAULT_COMPARED]
        self._draw()

    @param.depends("compared", watch=True)
    def _draw(self) -> None:
        details, gone = [], []
        for run_id in self.compared:
            try:
                details.append(self.source.training_run(run_id))
            except (KeyError, SourceError):  # deleted since the list was read
                gone.append(self._labels.get(run_id, run_id))
        # the error was raised in a watcher: the charts kept the old runs without a word
        self._status.object = (
            f"No longer stored: {theme.plain(', '.join(gone))} (refresh the list)" if gone else ""
        )
        frames = [run_metrics(d, self._labels.get(d["run_id"])) for d in details]
        frame = pl.concat(frames) if frames else run_metrics({"name": "", "metrics": []})
        self._markers = overfitting_points(details, self._labels)
        for panel in (self.loss, self.lr, self.accuracy):
            panel.frame = frame

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
