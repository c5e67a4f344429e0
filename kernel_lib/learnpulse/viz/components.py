"""Reusable Panel components: each a ``Viewer`` whose ``param`` state is a polars frame.

Set a component's frame (``component.frame = new``) and it redraws; read ``component.element``
(the HoloViews object) or ``component.table`` (the shown rows) to check what it shows.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from html import escape

import holoviews as hv
import panel as pn
import param
import polars as pl
from panel.viewable import Viewer

from learnpulse.viz import charts, theme

#: Change of a KPI below which its trend is shown as flat (same unit as the KPI).
KPI_FLAT_CHANGE = 1e-9
#: KPIs for which a rise is bad news (coloured red when they go up).
KPIS_WORSE_WHEN_HIGHER = frozenset({"at_risk", "seconds_per_attempt"})


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "%":
        return f"{value:.1f} %"
    if unit in ("min", "s"):
        return f"{value:.1f} {unit}"
    return f"{value:,.0f}"


def _fmt_change(change: float, unit: str) -> str:
    """The size of a change as shown: a percentage's in percentage points (60 % -> 62 % is
    "2.0 pp", not a relative "2.0 %")."""
    if unit == "%":
        return f"{change:.1f} pp"
    return _fmt(change, unit)


class KpiCards(Viewer):
    """One card per KPI: value with unit, and its change vs the previous period."""

    kpis = param.ClassSelector(class_=pl.DataFrame, doc="Rows of data.kpi_frame.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._row = pn.FlexBox(sizing_mode="stretch_width")
        self._draw()

    def _card_html(self, row: dict) -> str:
        change, unit = row["change"], row["unit"]
        colour, arrow, text = theme.MUTED, "", "no previous period"
        if change is None and row["value"] is None and row["previous"] is not None:
            text = "no data in this period"
        if change is not None:
            worse_up = row["kpi"] in KPIS_WORSE_WHEN_HIGHER
            shown = _fmt_change(abs(change), unit)
            # Flat too when the change shows as zero (no green arrow for "0.0 min").
            if abs(change) <= KPI_FLAT_CHANGE or shown == _fmt_change(0.0, unit):
                arrow, text = "→", "no change"
            else:
                good = (change > 0) != worse_up
                colour, arrow = (theme.GOOD if good else theme.BAD), ("▲" if change > 0 else "▼")
                text = f"{shown} vs previous"
        return (
            f"<div class='lp-kpi' data-kpi='{escape(row['kpi'])}'>"
            f"<div style='color:{theme.MUTED};font-size:13px'>{escape(row['label'])}</div>"
            f"<div class='lp-kpi-value' style='font-size:28px;font-weight:600;color:#0f172a'>"
            f"{_fmt(row['value'], row['unit'])}</div>"
            f"<div style='color:{colour};font-size:12px'>{arrow} {text}</div></div>"
        )

    @param.depends("kpis", watch=True)
    def _draw(self) -> None:
        rows = [] if self.kpis is None else self.kpis.to_dicts()
        self._row.objects = [
            pn.pane.HTML(self._card_html(row), styles=theme.CARD_STYLES, width=190, margin=(6, 6))
            for row in rows
        ]

    @property
    def cards(self) -> list[pn.pane.HTML]:
        return list(self._row.objects)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._row


class ChartPanel(Viewer):
    """A card holding one chart drawn from ``frame`` by ``draw(frame) -> HoloViews``."""

    frame = param.ClassSelector(class_=pl.DataFrame, allow_None=True)
    title = param.String(default="")

    def __init__(self, draw: Callable[[pl.DataFrame], hv.Element], **params) -> None:
        super().__init__(**params)
        self._draw_chart = draw
        self._pane = pn.pane.HoloViews(sizing_mode="stretch_width", linked_axes=False)
        self._card = theme.card(self._pane, title=self.title)
        self._redraw()

    @param.depends("frame", watch=True)
    def _redraw(self) -> None:
        frame = self.frame if self.frame is not None else pl.DataFrame()
        chart = self._draw_chart(frame)
        # The card already names the chart; only "no data" keeps its title, as the message.
        self._pane.object = chart if charts.is_empty(chart) else chart.opts(title="")

    @property
    def element(self) -> hv.Element:
        return self._pane.object

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card


def _pandas_table(frame: pl.DataFrame):
    return frame.to_pandas()


class DataTable(Viewer):
    """A sortable, filterable, paginated table with CSV export of what is shown."""

    frame = param.ClassSelector(class_=pl.DataFrame, allow_None=True)
    title = param.String(default="")
    filename = param.String(default="table.csv", doc="Name of the exported CSV file.")
    selected = param.String(default=None, allow_None=True, doc="learner_id of the clicked row.")

    def __init__(self, formatters: dict | None = None, **params) -> None:
        super().__init__(**params)
        self._table = pn.widgets.Tabulator(
            # Remote: only the shown page travels to the browser (tables of 10,000 learners).
            pagination="remote",
            page_size=theme.TABLE_PAGE_SIZE,
            show_index=False,
            disabled=True,
            header_filters=True,
            layout="fit_data_stretch",
            formatters=formatters or {},
            sizing_mode="stretch_width",
        )
        self._table.on_click(self._clicked)
        download = pn.widgets.FileDownload(
            callback=self._csv,
            filename=self.filename,
            label="Export CSV",
            color="light",
            width=140,
        )
        self._card = theme.card(download, self._table, title=self.title)
        self._fill()

    @param.depends("frame", watch=True)
    def _fill(self) -> None:
        frame = self.frame if self.frame is not None else pl.DataFrame()
        self._table.value = _pandas_table(frame)

    def _clicked(self, event) -> None:
        shown = self._table.value
        if "learner_id" in shown.columns and event.row is not None:
            learner = shown.iloc[event.row]["learner_id"]
            if isinstance(learner, str):  # not a row saying there is no learner
                self.selected = learner

    def _csv(self) -> io.BytesIO:
        """The rows as filtered and sorted in the table, as CSV."""
        rows = pl.from_pandas(self._table.current_view)
        return io.BytesIO(rows.write_csv().encode())

    @property
    def table(self) -> pl.DataFrame:
        return pl.from_pandas(self._table.value)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card


class MasteryHeatmap(Viewer):
    """P(known) per skill (rows) and learner (columns); learners sortable."""

    mastery = param.ClassSelector(class_=pl.DataFrame, allow_None=True)
    skill_labels = param.Dict(default={}, doc="skill id -> readable name")
    sort_by = param.Selector(
        default="weakest first",
        objects=["weakest first", "strongest first", "learner id"],
        doc="Order of the learners.",
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HoloViews(sizing_mode="stretch_width", linked_axes=False)
        picker = pn.widgets.RadioButtonGroup.from_param(
            self.param.sort_by, color="light", width=360
        )
        note = pn.pane.Markdown(
            f"Showing up to {charts.HEATMAP_MAX_LEARNERS} learners; colour = P(known).",
            styles={"color": theme.MUTED},
        )
        self._card = theme.card(pn.Row(picker, note), self._pane, title="Mastery by skill")
        self._redraw()

    def learner_order(self) -> list[str]:
        """Learners in the chosen order."""
        if self.mastery is None or self.mastery.is_empty():
            return []
        means = self.mastery.group_by("learner_id").agg(pl.col("p_known").mean().alias("mean"))
        if self.sort_by == "learner id":
            ordered = means.sort("learner_id")
        else:
            ordered = means.sort(
                ["mean", "learner_id"], descending=[self.sort_by == "strongest first", False]
            )
        return ordered.get_column("learner_id").to_list()

    @param.depends("mastery", "sort_by", "skill_labels", watch=True)
    def _redraw(self) -> None:
        frame = self.mastery if self.mastery is not None else pl.DataFrame()
        if frame.is_empty():
            self._pane.object = charts.no_data("Mastery by skill", "Learner", "Skill")
            return
        self._pane.object = charts.heatmap(
            frame,
            self.learner_order(),
            title="",  # the card names it
            skill_labels=self.skill_labels,
        )

    @property
    def element(self) -> hv.Element:
        return self._pane.object

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card


class AlertFeed(Viewer):
    """Newest alerts first, coloured by urgency."""

    alerts = param.ClassSelector(class_=pl.DataFrame, allow_None=True)
    limit = param.Integer(default=12, doc="Alerts shown at most.")
    empty_text = param.String(default="No alerts.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._list = pn.Column(sizing_mode="stretch_width", scroll=True, max_height=360)
        self._card = theme.card(self._list, title="Alerts")
        self._fill()

    @param.depends("alerts", watch=True)
    def _fill(self) -> None:
        if self.alerts is None or self.alerts.is_empty():
            self._list.objects = [pn.pane.Markdown(self.empty_text)]
            return
        colours = {"high": theme.BAD, "critical": theme.BAD, "medium": theme.WARNING}
        items = []
        for row in self.alerts.head(self.limit).to_dicts():
            urgency = str(row.get("urgency") or row.get("level") or "info")
            colour = colours.get(urgency, theme.MUTED)
            who = row.get("learner_id") or row.get("metric") or ""
            text = row.get("message") or row.get("reason") or ""
            # Learner ids and messages come from the data: shown as text, never as markup.
            items.append(
                pn.pane.HTML(
                    f"<div class='lp-alert' style='border-left:4px solid {colour};"
                    f"padding:2px 8px'><b>{escape(urgency)}</b> · {escape(str(who))}<br>"
                    f"{escape(str(text))}</div>",
                    margin=(3, 4),
                )
            )
        self._list.objects = items

    @property
    def items(self) -> list:
        return list(self._list.objects)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card
