"""The instructor dashboard in-process: every panel has data, the range changes the numbers,
new events in the store show up, a learner can be drilled into."""

from __future__ import annotations

import uuid
from datetime import timedelta

import holoviews as hv
import polars as pl
import pytest

from learnpulse.viz import charts
from learnpulse.viz.components import ChartPanel
from learnpulse.viz.instructor import InstructorDashboard
from learnpulse.viz.learner import learner_predictions
from learnpulse.viz.sources import DirectSource


@pytest.fixture(scope="module")
def dashboard(source):
    return InstructorDashboard(source, live=False)


def _chart_panels(dashboard) -> list[ChartPanel]:
    return [v for v in vars(dashboard).values() if isinstance(v, ChartPanel)]


def _labels(element) -> list[str]:
    parts = list(element) if isinstance(element, hv.Overlay) else [element]
    return [d.label for part in parts for d in (*part.kdims, *part.vdims)]


def test_every_chart_has_data_and_axes_with_units(dashboard):
    panels = _chart_panels(dashboard)
    assert len(panels) == 7
    for panel in panels:
        assert not charts.is_empty(panel.element), panel.title
        labels = _labels(panel.element)
        assert any("(" in label for label in labels), (panel.title, labels)
    assert not charts.is_empty(dashboard.mastery.element)


def test_topics_and_mastery_name_skills_as_the_course_does(dashboard, course):
    names = set(course.skills["name"])
    dashboard.risk.selected = dashboard.risk.table["learner_id"][0]
    topics = dashboard.topics.element.data["skill"]
    rows = dashboard.mastery.element.data["skill"]
    learner = dashboard.drilldown.charts[0].data["skill"]  # the selected learner's mastery
    assert set(topics) <= names and set(rows) == names and set(learner) == names


def test_the_topics_chart_measures_the_topics_as_they_were_chosen(dashboard, source):
    """The server picks the popular topics by activity, but the chart drew and ranked them by
    attempts: a topic with more attempts than one shown could be missing, and the order
    disagreed with the API's."""
    chosen = source.summary(dashboard.range)["topics"]
    bars = dashboard.topics.element
    drawn = dict(zip(bars.data["skill"], bars.data[bars.vdims[0].name], strict=True))
    assert drawn == dict(zip(chosen["skill"], chosen["events"], strict=True))


def test_the_session_length_trend_spans_the_days_of_the_sessions_chart(source):
    """Days without a session have no session length: the line's axis ended at the last
    day with one, a week short of the sessions bars beside it."""
    dashboard = InstructorDashboard(source, live=False)
    days = dashboard.daily.frame
    assert days["sessions"][-1] == 0  # the last days: final submissions, no session
    drawn = hv.render(dashboard.durations.element).x_range
    shown = [str(end)[:10] for end in (drawn.start, drawn.end)]  # numpy or Python datetimes
    assert shown == [str(days["date"].min()), str(days["date"].max())]


def test_tables_and_cards_are_filled(dashboard, outputs):
    kpis = dashboard.kpis.kpis
    assert kpis["value"].null_count() == 0
    assert len(dashboard.kpis.cards) == 5
    assert dashboard.risk.table.height == outputs["retention_risk"].height
    assert dashboard.peers.table.height == outputs["peers"].height
    assert dashboard.cluster_table.table["learners"].sum() == outputs["clusters"].height
    assert len(dashboard.alerts.items) > 0
    assert dashboard.problem == ""


def test_the_range_selector_changes_the_numbers(dashboard):
    def sessions() -> float:
        return dashboard.kpis.kpis.filter(pl.col("kpi") == "sessions")["value"][0]

    dashboard.range = "quarter"
    quarter, quarter_days = sessions(), dashboard.daily.frame.height
    dashboard.range = "week"
    week, week_days = sessions(), dashboard.daily.frame.height
    assert week < quarter and (week_days, quarter_days) == (7, 91)
    dashboard.range = "month"


def test_a_range_switch_redraws_only_what_depends_on_the_range(source, monkeypatch):
    """The model outputs do not depend on the range: a switch neither reads them again nor
    redraws their panels (it did both: seconds of the browser's time in a large course)."""
    dashboard = InstructorDashboard(source, live=False)

    def model_panels() -> dict:
        return {
            "heatmap": dashboard.mastery.element,
            "clusters": dashboard.clusters.element,
            "risk": dashboard.risk._table.value,
            "peers": dashboard.peers._table.value,
            "alerts": dashboard.alerts.items[0],
        }

    before, daily = model_panels(), dashboard.daily.element
    reads = []
    monkeypatch.setattr(source, "predictions", lambda *a, **k: reads.append(a) or {})
    dashboard.range = "week"
    assert reads == [] and dashboard.daily.element is not daily
    now = model_panels()
    assert [name for name, shown in before.items() if now[name] is not shown] == []


def test_selecting_a_learner_shows_their_details(dashboard):
    learner = dashboard.risk.table["learner_id"][0]
    dashboard.risk.selected = learner
    details = dashboard.drilldown.predictions_frame
    assert "retention_risk" in details["model_output"].to_list()
    assert details["reason"].str.len_chars().min() > 0
    assert all(not charts.is_empty(chart) for chart in dashboard.drilldown.charts)


def test_a_learners_details_say_what_each_value_is(outputs, course):
    """The drill-down's value column gave knowledge gaps and recommendations their ranking
    scores ("6.34", "0.987") and time to completion bare days, or nothing without progress."""
    learner = outputs["knowledge_gaps"]["learner_id"][0]

    def shown(key: str, outputs=outputs) -> list[str]:
        details = learner_predictions(outputs, learner)
        return details.filter(pl.col("model_output") == key)["value"].to_list()

    def mine(key: str) -> pl.DataFrame:
        return outputs[key].filter(pl.col("learner_id") == learner)

    gaps = mine("knowledge_gaps").select(pl.format("{} ({})", "name", "label"))
    assert shown("knowledge_gaps") == gaps.to_series().to_list()
    assert {value.split(" (")[0] for value in shown("knowledge_gaps")} <= set(course.skills["name"])
    target = pl.coalesce("item_id", "skill")  # a difficulty advice has none: "keep", "easier"
    advice = mine("recommendations").select(
        pl.concat_str("action", target, separator=" ", ignore_nulls=True)
    )
    assert shown("recommendations") == advice.to_series().to_list() != []
    (eta,) = shown("time_to_completion")
    assert eta.endswith(("days (in progress)", "complete", "no progress")), eta
    stalled = outputs["time_to_completion"].with_columns(
        days_left=float("inf"), status=pl.lit("no progress")
    )
    assert shown("time_to_completion", {**outputs, "time_to_completion": stalled}) == [
        "no progress"
    ]


@pytest.mark.slow
def test_new_events_in_the_store_appear_on_the_next_check(tmp_path, course, fitted):
    from learnpulse.store import EventStore

    with EventStore(f"sqlite:///{tmp_path / 'live.db'}") as store:
        store.append_course(course, progress=False)
        dashboard = InstructorDashboard(DirectSource(store=store, fitted=fitted), live=False)
        dashboard.range = "week"
        dashboard.start_live()
        before = dashboard.kpis.kpis.filter(pl.col("kpi") == "sessions")["value"][0]
        assert not dashboard.check_for_updates()
        last = course.events["ts"].max()
        store.append([{
            "id": str(uuid.uuid4()), "ts": (last - timedelta(minutes=5)).isoformat(),
            "learner_id": "learner-00003", "course_id": course.events["course_id"][0],
            "session_id": "live-session", "kind": "session_start",
        }])  # fmt: skip
        assert dashboard.check_for_updates()
        after = dashboard.kpis.kpis.filter(pl.col("kpi") == "sessions")["value"][0]
        assert after == before + 1
        dashboard.stop_live()


def test_the_at_risk_card_follows_the_course_settings(course, fitted, outputs):
    """An instructor who sets a lower dropout threshold sees more learners at risk on the
    card, counted as the alerts are (the card used a fixed 0.5 before)."""
    risk = outputs["retention_risk"].filter(~pl.col("reason").str.starts_with("withdrew"))
    low = float(risk["value"].median())
    source = DirectSource(
        course.events,
        fitted=fitted,
        skills=course.skills,
        items=course.items,
        settings={"rules": {"dropout_risk": low}},
    )
    dashboard = InstructorDashboard(source, live=False)
    card = dashboard.kpis.kpis.filter(pl.col("kpi") == "at_risk")["value"].item()
    assert card == risk.filter(pl.col("value") >= low).height
    assert card > risk.filter(pl.col("value") >= 0.5).height


def test_the_risk_table_marks_the_learners_the_card_counts(course, fitted, outputs):
    """The card said "At risk 12" over a table of every learner by risk: nothing in the
    table said which twelve (withdrawn learners have the highest risk and are not counted)."""
    risk = outputs["retention_risk"].filter(~pl.col("reason").str.starts_with("withdrew"))
    low = float(risk["value"].median())
    source = DirectSource(course.events, fitted=fitted, settings={"rules": {"dropout_risk": low}})
    dashboard = InstructorDashboard(source, live=False)
    card = dashboard.kpis.kpis.filter(pl.col("kpi") == "at_risk")["value"].item()
    table = dashboard.risk.table
    assert 0 < table["at_risk"].sum() == card
    marked = table.filter(pl.col("at_risk"))
    assert set(marked["status"]) == {"enrolled"} and marked["retention_risk"].min() >= low


def test_the_drilldown_shows_a_learner_id_that_is_markup_as_text(dashboard, markup_id, rendered):
    dashboard.drilldown.learner_id = markup_id
    shown = rendered(dashboard.drilldown._title)
    assert "img" not in shown.tags and markup_id in shown.text
    dashboard.drilldown.learner_id = None


def test_a_course_without_events_shows_empty_panels():
    """A new course (or store) has no events yet: the dashboard opens, empty; it raised
    ColumnNotFoundError before (the risk table read a value column no model wrote)."""
    from learnpulse.events import EVENT_FRAME_SCHEMA

    dashboard = InstructorDashboard(
        DirectSource(pl.DataFrame(schema=EVENT_FRAME_SCHEMA)), live=False
    )
    assert dashboard.problem == ""
    assert dashboard.kpis.kpis.filter(pl.col("kpi") == "sessions")["value"].item() == 0
    assert dashboard.risk.table.is_empty() and "Mastery" in dashboard.empty_panels()


def test_live_updates_say_when_the_source_stops_answering_and_resume(source, monkeypatch):
    from learnpulse.viz.sources import SourceError

    dashboard = InstructorDashboard(source, live=False)

    def unreachable():
        raise SourceError("GET status: server unreachable (Connection refused)")

    with monkeypatch.context() as patch:
        patch.setattr(source, "version", unreachable)
        assert not dashboard.check_for_updates()  # raised in the periodic callback
    assert "Live updates paused" in dashboard.problem
    assert "server unreachable" in dashboard._status.object
    assert dashboard.check_for_updates() and dashboard.problem == ""


def test_the_status_line_names_the_course_shown(dashboard, course, rendered):
    # with several courses in the store, nothing said which one the numbers were of
    shown = rendered(dashboard._status).text
    assert shown.startswith(f"{course.events['course_id'][0]} · "), shown


def test_the_status_line_gives_the_update_time_in_utc(dashboard):
    # it was the kernel's local time, beside the period in UTC
    assert dashboard.last_update.utcoffset() == timedelta(0)
    assert f"updated {dashboard.last_update:%H:%M:%S} UTC" in dashboard._status.object
