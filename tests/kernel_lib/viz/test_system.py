"""The system monitor: live series with thresholds, kernels, health, alerts, refresh."""

from __future__ import annotations

import math
import re

import holoviews as hv
import polars as pl
import pytest

from learnpulse.viz import charts, theme
from learnpulse.viz.sources import DirectSource
from learnpulse.viz.system import SystemMonitor, health_alerts, kernel_table, series_frame

SAMPLE = {
    "ts": "2026-01-05T10:00:00+00:00",
    "cpu": {"percent": 95.0},
    "memory": {"percent": 40.0},
    "gpu": {"available": False, "reason": "no NVIDIA driver found"},
    "kernels": {"k-1": {"pid": 10, "cpu_percent": 12.5, "memory_rss": 200 * 1024 * 1024}},
    "health": {
        "score": 37.5,
        "alerts": [{"metric": "cpu_percent", "level": "critical", "reason": "cpu is 95"}],
    },
}


def test_samples_become_series_kernels_and_alerts():
    later = {**SAMPLE, "ts": "2026-01-05T10:00:02+00:00", "cpu": {"percent": 50.0}}
    series = series_frame([SAMPLE, later, SAMPLE])
    assert series.height == 2 and series["cpu"].to_list() == [95.0, 50.0]
    assert series["gpu"].null_count() == 2
    kernels = kernel_table(SAMPLE)
    assert kernels.row(0, named=True)["memory_mib"] == pytest.approx(200.0)
    assert health_alerts(SAMPLE)["urgency"].to_list() == ["critical"]


def test_the_kernels_table_shows_pids_as_written_and_usage_to_a_tenth():
    monitor = SystemMonitor(DirectSource(pl.DataFrame({"ts": [], "learner_id": []})),
                            running=False)  # fmt: skip
    monitor.kernels.frame = kernel_table(SAMPLE)
    shown = {c.field: c.formatter for c in monitor.kernels._table.get_root().columns}
    # Tabulator's defaults: "11,107" for a pid and "294.433594" MiB
    assert {c: shown[c].format for c in ("pid", "cpu_percent", "memory_mib")} == {
        "pid": "0", "cpu_percent": "0.0", "memory_mib": "0.0",
    }  # fmt: skip


@pytest.mark.slow
def test_monitor_refreshes_and_draws_thresholds():
    monitor = SystemMonitor(DirectSource(pl.DataFrame({"ts": [], "learner_id": []})),
                            running=False)  # fmt: skip
    points = len(monitor._samples)
    monitor.refresh()
    assert len(monitor._samples) == points + 1
    cpu = monitor.charts["cpu"].element
    assert not charts.is_empty(cpu)
    assert any(isinstance(part, hv.HLine) for part in cpu)
    assert 0 <= monitor.health.value <= 100
    monitor.interval_s = 5
    monitor.running = True
    assert monitor._callback.period == 5000
    monitor.running = False
    assert monitor._callback is None


def test_a_monitor_whose_server_goes_away_keeps_its_charts_and_says_why(monkeypatch):
    from learnpulse.viz.sources import SourceError

    source = DirectSource(pl.DataFrame({"ts": [], "learner_id": []}))
    monitor = SystemMonitor(source, running=False)
    points = len(monitor._samples)

    def unreachable():
        raise SourceError("GET metrics: server unreachable (Connection refused)")

    monkeypatch.setattr(source, "system", unreachable)
    monitor.refresh()  # raised in the periodic callback: the page froze without a word
    assert len(monitor._samples) == points
    assert "server unreachable" in monitor._status.object


def test_a_metric_chart_keeps_its_0_to_100_axis_under_its_thresholds():
    """Memory at 4-8 % was drawn on a 3.6-8.4 axis, its warning and critical lines (75, 85)
    off the chart: the threshold overlay dropped the chart's ylim."""
    from datetime import datetime, timedelta, timezone

    from learnpulse.viz.system import _metric_chart

    start = datetime(2026, 1, 5, tzinfo=timezone.utc)
    series = pl.DataFrame({
        "ts": [start + timedelta(seconds=2 * i) for i in range(5)],
        "memory": [4.0, 5.0, 6.0, 7.0, 8.0],
    })  # fmt: skip
    chart = _metric_chart("memory", "Memory", {"warning": 75.0, "critical": 85.0})(series)
    plot = hv.renderer("bokeh").get_plot(chart)
    assert (plot.state.y_range.start, plot.state.y_range.end) == (0, 100)
    assert chart.opts.get().kwargs["title"] == "Memory use"


def test_a_sample_without_a_health_score_shows_none_not_a_red_zero(monkeypatch):
    source = DirectSource(pl.DataFrame({"ts": [], "learner_id": []}))
    monkeypatch.setattr(source, "system", lambda: {**SAMPLE, "health": {"alerts": []}})
    monitor = SystemMonitor(source, running=False)
    assert math.isnan(monitor.health.value)  # was 0, drawn in the "bad" colour
    text = monitor.health.get_root().text
    assert "–/100" in text and theme.BAD not in text
    monkeypatch.setattr(source, "system", lambda: SAMPLE)
    monitor.refresh()
    assert monitor.health.value == 37.5


def _monitor(machine) -> SystemMonitor:
    source = DirectSource(pl.DataFrame({"ts": [], "learner_id": []}), sampler=machine.sampler)
    return SystemMonitor(source, running=False)


def _alert_texts(monitor: SystemMonitor) -> list[str]:
    return [item.object for item in monitor.alerts.items]


def test_the_health_card_and_alerts_describe_the_recent_window_not_the_newest_sample(tmp_path):
    """The card read "Health 100/100" while the CPU chart sat above its critical line for
    minutes: the score was the newest sample's, and one quiet sample followed the overload."""
    from tests.kernel_lib.collectors.test_health import FakeMachine

    overloaded = FakeMachine(tmp_path / "overloaded")
    monitor = _monitor(overloaded)
    for busy in [True] * 10 + [False]:
        overloaded.load(busy=busy, memory_percent=50)
        monitor.refresh()
    assert monitor.charts["cpu"].frame["cpu"][-1] == 0.0  # the chart shows the sample as measured
    assert monitor.health.value <= 50  # was 100
    assert monitor.health.label == "Health score, last 60 s"
    [cpu] = _alert_texts(monitor)
    # the first of the 12 samples (the card's first) has the host's CPU: busy or not
    assert re.search(r"CPU at or above 90% \(the critical level\) in 1[01] of the 12 samples of "
                     r"the last 60 s; now 0.0%", cpu)  # fmt: skip

    spiked = FakeMachine(tmp_path / "spiked")
    monitor = _monitor(spiked)
    for busy in [False] * 10 + [True]:
        spiked.load(busy=busy, memory_percent=50)
        monitor.refresh()
    assert monitor.charts["cpu"].frame["cpu"][-1] == 100.0
    assert monitor.health.value == 100  # was critical
    assert _alert_texts(monitor) == ["No metric at or above its warning level over the last 60 s."]
