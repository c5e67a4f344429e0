"""Components render what their frame holds and react when it changes."""

from __future__ import annotations

from types import SimpleNamespace

import holoviews as hv
import polars as pl

from learnpulse.viz import charts, theme
from learnpulse.viz.components import AlertFeed, ChartPanel, DataTable, KpiCards, MasteryHeatmap


def _kpis(accuracy_change: float, at_risk_change: float) -> pl.DataFrame:
    rows = [
        ("accuracy", "Accuracy", "%", 60.0, 60.0 - accuracy_change, accuracy_change),
        ("at_risk", "At risk", "learners", 9.0, 9.0 - at_risk_change, at_risk_change),
        ("sessions", "Sessions", "sessions", 12.0, None, None),
    ]
    schema = ["kpi", "label", "unit", "value", "previous", "change"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_kpi_cards_colour_good_and_bad_news():
    cards = KpiCards(kpis=_kpis(accuracy_change=2.0, at_risk_change=3.0))
    accuracy, at_risk, sessions = (card.object for card in cards.cards)
    assert "60.0 %" in accuracy and "▲" in accuracy and theme.GOOD in accuracy
    assert "▲" in at_risk and theme.BAD in at_risk  # more learners at risk is bad news
    assert "no previous period" in sessions
    cards.kpis = _kpis(accuracy_change=-2.0, at_risk_change=-3.0)
    accuracy, at_risk, _ = (card.object for card in cards.cards)
    assert "▼" in accuracy and theme.BAD in accuracy
    assert theme.GOOD in at_risk


def test_kpi_changes_read_as_shown_on_the_card():
    """A percentage's change is in percentage points; a change that shows as zero has no
    arrow; a KPI with no value this period says so (it said "no previous period")."""
    rows = [
        ("accuracy", "Accuracy", "%", 60.9, 59.7, 1.2),
        ("avg_session_minutes", "Avg. session length", "min", 23.63, 23.60, 0.03),
        ("sessions", "Sessions", "sessions", None, 201.0, None),
    ]
    schema = ["kpi", "label", "unit", "value", "previous", "change"]
    cards = KpiCards(kpis=pl.DataFrame(rows, schema=schema, orient="row"))
    accuracy, minutes, sessions = (card.object for card in cards.cards)
    assert "▲ 1.2 pp vs previous" in accuracy
    assert "→ no change" in minutes and "▲" not in minutes and theme.GOOD not in minutes
    assert "no data in this period" in sessions and "no previous period" not in sessions


def _bars(frame: pl.DataFrame):
    return charts.bars(frame, "day", "n", title="Per day", xlabel="Day", ylabel="Count (n)")


def test_chart_panel_redraws_with_labelled_axes_and_says_when_empty():
    panel = ChartPanel(_bars, title="Per day")
    assert charts.is_empty(panel.element)
    assert charts.NO_DATA in panel.element.opts.get().kwargs["title"]
    panel.frame = pl.DataFrame({"day": ["mon", "tue"], "n": [3, 5]})
    assert isinstance(panel.element, hv.Bars) and len(panel.element) == 2
    assert panel.element.kdims[0].label == "Day" and panel.element.vdims[0].label == "Count (n)"


def test_data_table_exports_the_filtered_rows_and_reports_clicks():
    frame = pl.DataFrame({"learner_id": ["a", "b", "c"], "risk": [0.9, 0.2, 0.7]})
    table = DataTable(frame=frame, title="Risk")
    assert table.table.height == 3
    table._table.add_filter((0.5, 1.0), "risk")
    exported = pl.read_csv(table._csv())
    assert sorted(exported["learner_id"]) == ["a", "c"]
    table._clicked(SimpleNamespace(row=1))
    assert table.selected == "b"


def test_mastery_heatmap_sorts_learners(outputs):
    heatmap = MasteryHeatmap(mastery=outputs["mastery"])
    means = outputs["mastery"].group_by("learner_id").agg(pl.col("p_known").mean())
    weakest = means.sort("p_known")["learner_id"][0]
    strongest = means.sort("p_known")["learner_id"][-1]
    assert heatmap.learner_order()[0] == weakest
    assert isinstance(heatmap.element, hv.HeatMap) and len(heatmap.element) > 0
    assert heatmap.element.vdims[0].label.startswith("P(known)")
    heatmap.sort_by = "strongest first"
    assert heatmap.learner_order()[0] == strongest
    shown = set(heatmap.element.dimension_values("learner_id"))
    assert strongest in shown and len(shown) <= charts.HEATMAP_MAX_LEARNERS
    values = heatmap.element.dimension_values("p_known")
    assert (values == values.round(2)).all()  # the hover showed 0.94817


def test_alert_feed_lists_at_most_its_limit(outputs):
    feed = AlertFeed(alerts=outputs["alerts"], limit=5)
    assert len(feed.items) == min(5, outputs["alerts"].height) > 0
    assert outputs["alerts"]["message"][0] in feed.items[0].object
    feed.alerts = None
    assert "No alerts" in feed.items[0].object


def test_alerts_and_cards_show_the_datas_text_as_text_not_markup(markup_id):
    alerts = pl.DataFrame({
        "learner_id": [markup_id], "urgency": ["high"], "message": ["<b>inactive</b>"],
    })  # fmt: skip
    shown = AlertFeed(alerts=alerts).items[0].object
    assert "<img" not in shown and "<b>inactive" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;" in shown and "&lt;b&gt;inactive" in shown
    kpis = _kpis(1.0, 1.0).with_columns(label=pl.lit("<script>x</script>"))
    assert all("<script>" not in card.object for card in KpiCards(kpis=kpis).cards)


def test_a_click_on_a_row_without_a_learner_selects_nobody():
    table = DataTable(frame=pl.DataFrame({"learner_id": [None], "note": ["no output"]}))
    table._clicked(SimpleNamespace(row=0))
    assert table.selected is None  # was the learner "None"
