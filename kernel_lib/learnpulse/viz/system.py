"""The system monitor: CPU, memory and GPU memory with thresholds, kernels, health, alerts.

Samples have the shape of ``GET learnpulse/api/metrics`` (see
:class:`learnpulse.collectors.system.SystemSampler`); the monitor keeps a bounded series of
them and refreshes every ``interval_s`` seconds.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import panel as pn
import param
import polars as pl
from bokeh.models.widgets.tables import NumberFormatter
from panel.viewable import Viewer

from learnpulse.collectors.health import Thresholds
from learnpulse.viz import charts, theme
from learnpulse.viz.components import AlertFeed, ChartPanel, DataTable
from learnpulse.viz.sources import DataSource, SourceError

#: Seconds between refreshes by default.
REFRESH_INTERVAL_S = 2.0
#: Samples kept for the charts.
MAX_POINTS = 600
#: Health score bands of the indicator: below the first is bad, below the second a warning.
HEALTH_BANDS = (50, 80)
#: Bytes per mebibyte (memory is shown in MiB).
MIB = 1024 * 1024
_SERIES = {
    "cpu": ("CPU", "cpu_percent"),
    "memory": ("Memory", "memory_percent"),
    "gpu": ("GPU memory", "gpu_memory_percent"),
}


def sample_row(sample: dict[str, Any]) -> dict[str, Any]:
    """One sample as a flat row: ``ts``, ``cpu``, ``memory``, ``gpu`` (percent; gpu null
    without a GPU) and ``health`` (0-100)."""
    gpu = sample.get("gpu") or {}
    ts = sample["ts"]
    return {
        "ts": datetime.fromisoformat(ts) if isinstance(ts, str) else ts,
        "cpu": (sample.get("cpu") or {}).get("percent"),
        "memory": (sample.get("memory") or {}).get("percent"),
        "gpu": gpu.get("percent") if gpu.get("available") else None,
        "health": (sample.get("health") or {}).get("score"),
    }


def series_frame(samples: list[dict[str, Any]]) -> pl.DataFrame:
    """Samples as a frame (n_samples, 5), oldest first, duplicates (same ts) dropped."""
    schema = {
        "ts": pl.Datetime("us", "UTC"),
        "cpu": pl.Float64,
        "memory": pl.Float64,
        "gpu": pl.Float64,
        "health": pl.Float64,
    }
    if not samples:
        return pl.DataFrame(schema=schema)
    rows = [sample_row(s) for s in samples]
    return pl.DataFrame(rows, schema=schema, orient="row").unique("ts").sort("ts")


#: How the kernels table shows its numbers: a pid as written (Tabulator's default gave
#: "11,107"), CPU and memory to 0.1 (the default gave six decimals: "294.433594" MiB).
KERNEL_TABLE_FORMATS = {
    "pid": NumberFormatter(format="0"),
    "cpu_percent": NumberFormatter(format="0.0"),
    "memory_mib": NumberFormatter(format="0.0"),
}


def kernel_table(sample: dict[str, Any]) -> pl.DataFrame:
    """Per kernel: ``kernel_id``, ``pid``, ``cpu_percent``, ``memory_mib``."""
    rows = [
        (
            kernel_id,
            usage.get("pid"),
            usage.get("cpu_percent"),
            (usage.get("memory_rss") or 0) / MIB,
        )
        for kernel_id, usage in (sample.get("kernels") or {}).items()
    ]
    schema = {
        "kernel_id": pl.String,
        "pid": pl.Int64,
        "cpu_percent": pl.Float64,
        "memory_mib": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def health_window(sample: dict[str, Any]) -> str:
    """What the sample's health describes, e.g. ``"last 60 s"`` (``""`` from a server that
    judged the newest sample alone)."""
    window_s = (sample.get("health") or {}).get("window_s")
    return f"last {window_s:g} s" if isinstance(window_s, (int, float)) else ""


def health_alerts(sample: dict[str, Any]) -> pl.DataFrame:
    """The sample's alerts: ``level`` (as urgency), ``metric``, ``reason`` (each about the
    health window: "CPU at or above 90% (the critical level) in 58 of the 60 samples of the
    last 60 s; now 12.0%")."""
    alerts = (sample.get("health") or {}).get("alerts") or []
    return pl.DataFrame(
        [{"urgency": a["level"], "metric": a["metric"], "reason": a["reason"]} for a in alerts],
        schema={"urgency": pl.String, "metric": pl.String, "reason": pl.String},
    )


def _thresholds(sample: dict[str, Any]) -> dict[str, dict[str, float]]:
    return sample.get("thresholds") or Thresholds().to_dict()


def _metric_chart(column: str, label: str, threshold: dict[str, float] | None):
    def draw(frame: pl.DataFrame):
        chart = charts.line(
            frame,
            "ts",
            column,
            title=f"{label} use",
            xlabel="Time (UTC)",
            ylabel=f"{label} (%)",
            ylim=(0, 100),
        )
        if charts.is_empty(chart) or threshold is None:
            return chart
        return charts.with_thresholds(chart, threshold["warning"], threshold["critical"])

    return draw


class SystemMonitor(Viewer):
    """Live system charts, per-kernel use, a health score and alerts.

    The score and alerts are the newest sample's ``health``: they describe the server's
    health window (the last ``LearnPulseApp.health_window_s`` seconds), which the card says;
    the charts show every sample as measured.
    """

    interval_s = param.Number(
        default=REFRESH_INTERVAL_S, bounds=(0.5, 3600), doc="Seconds between refreshes."
    )
    running = param.Boolean(default=True, doc="Refresh automatically.")

    def __init__(self, source: DataSource, **params: Any) -> None:
        super().__init__(**params)
        self.source = source
        first = source.system()
        thresholds = _thresholds(first)
        self.charts = {
            key: ChartPanel(_metric_chart(key, label, thresholds.get(name)), title=f"{label} (%)")
            for key, (label, name) in _SERIES.items()
        }
        self.kernels = DataTable(
            title="Kernels", filename="kernels.csv", formatters=KERNEL_TABLE_FORMATS
        )
        self.health = pn.indicators.Number(
            label="Health score",
            value=math.nan,
            format="{value:.0f}/100",
            nan_format="–",  # no score yet: not a red 0
            font_size="40pt",
            colors=[
                (HEALTH_BANDS[0], theme.BAD),
                (HEALTH_BANDS[1], theme.WARNING),
                (101, theme.GOOD),
            ],
        )
        self.alerts = AlertFeed(empty_text="No metric above its warning level.")
        self._status = pn.pane.Markdown("", styles={"color": theme.MUTED})
        self._samples = [*source.system_history()[-MAX_POINTS:], first]
        interval = pn.widgets.FloatInput.from_param(
            self.param.interval_s, label="Refresh (s)", width=140
        )
        toggle = pn.widgets.Toggle.from_param(self.param.running, label="Auto-refresh", width=140)
        self._layout = theme.page(
            "System monitor",
            pn.Row(interval, toggle, self._status),
            pn.Row(theme.card(self.health, title="Health", width=260), self.alerts),
            pn.Row(self.charts["cpu"], self.charts["memory"]),
            pn.Row(self._gpu_card(first), self.kernels),
        )
        self._show(first)
        self._callback = None
        self._schedule()

    def _gpu_card(self, sample: dict[str, Any]) -> pn.viewable.Viewable:
        """The GPU chart, or a note saying why there is none (no chart without data)."""
        gpu = sample.get("gpu") or {}
        if gpu.get("available"):
            return self.charts["gpu"]
        return theme.card(
            pn.pane.Markdown(f"No GPU: {gpu.get('reason', 'none reported')}."),
            title="GPU memory (%)",
        )

    def _show(self, sample: dict[str, Any]) -> None:
        series = series_frame(self._samples)
        for chart in self.charts.values():
            chart.frame = series
        self.kernels.frame = kernel_table(sample)
        score = (sample.get("health") or {}).get("score")
        self.health.value = math.nan if score is None else score
        # the score and alerts describe the recent window, not the newest point of the charts
        window = health_window(sample)
        self.health.label = f"Health score, {window}" if window else "Health score"
        over = f" over the {window}" if window else ""
        self.alerts.empty_text = f"No metric at or above its warning level{over}."
        self.alerts.alerts = health_alerts(sample)
        last = series["ts"].max() if series.height else None
        when = f"{last:%H:%M:%S} UTC" if last is not None else "none yet"
        self._status.object = f"Last sample {when} · {series.height} samples shown"

    def refresh(self) -> None:
        """Take the newest sample and redraw; if there is none (the server is unreachable),
        keep the charts and say why on the status line."""
        try:
            sample = self.source.system()
        except SourceError as error:
            self._status.object = f"**No new sample: {theme.plain(error)}**"
            return
        self._samples = [*self._samples[-(MAX_POINTS - 1) :], sample]
        self._show(sample)

    @param.depends("interval_s", "running", watch=True)
    def _schedule(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        if self.running:
            self._callback = pn.state.add_periodic_callback(
                self.refresh, period=int(self.interval_s * 1000)
            )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
