"""HoloViews charts over polars frames: every axis labelled with its unit, one theme.

Each function takes the frame a data source returns and gives a HoloViews object; an empty
frame gives an empty chart whose title says there is no data, never an error.
"""

from __future__ import annotations

import itertools

import holoviews as hv
import polars as pl

from learnpulse.viz import theme

#: Learners shown in the mastery heatmap at most (the selection comes first).
HEATMAP_MAX_LEARNERS = 40
#: Points a scatter draws at most (a seeded random sample beyond: the shape stays, the page
#: stays light); the x-axis label says when it is a sample.
SCATTER_MAX_POINTS = 2_000


def heatmap_candidates(peers: pl.DataFrame, limit: int = HEATMAP_MAX_LEARNERS) -> list[str]:
    """Learners any ordering of the mastery heatmap can show: the ``limit`` weakest and
    strongest by mastery percentile (``peers`` output) and the first ``limit`` by id."""
    if peers.is_empty() or "mastery_percentile" not in peers.columns:
        return []
    ranked = peers.sort("mastery_percentile", "learner_id")["learner_id"]
    by_id = peers["learner_id"].sort()
    chosen = [*ranked.head(limit), *ranked.tail(limit), *by_id.head(limit)]
    return sorted(set(chosen))


def _opts(element: hv.Element, title: str, **extra) -> hv.Element:
    return element.opts(title=title, **{**theme.CHART_OPTIONS, **extra})


#: Title suffix of a chart with nothing to show.
NO_DATA = ": no data"


def no_data(title: str, xlabel: str, ylabel: str) -> hv.Element:
    """An empty, labelled chart saying there is nothing to show."""
    return _opts(hv.Curve([], xlabel, ylabel), f"{title}{NO_DATA}")


def is_empty(chart: hv.Element) -> bool:
    """True for a :func:`no_data` chart (or any chart without a data point)."""
    if isinstance(chart, hv.Overlay):
        return all(is_empty(part) for part in chart)
    return len(chart) == 0


def _pandas(frame: pl.DataFrame):
    """Bokeh/HoloViews take pandas frames: converted here, at the plotting edge only."""
    return frame.to_pandas()


def bars(
    frame: pl.DataFrame, x: str, y: str, *, title: str, xlabel: str, ylabel: str, **opts
) -> hv.Element:
    """Vertical bars of ``y`` per ``x``."""
    if frame.is_empty():
        return no_data(title, xlabel, ylabel)
    element = hv.Bars(_pandas(frame.select(x, y)), hv.Dimension(x, label=xlabel), (y, ylabel))
    return _opts(
        element, title, color=theme.ACCENT, tools=["hover"], **theme.BAR_CHART_OPTIONS, **opts
    )


def line(
    frame: pl.DataFrame,
    x: str,
    y: str | list[str],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    labels: dict[str, str] | None = None,
    **opts,
) -> hv.Element:
    """One line per column of ``y`` over ``x`` (with points), labelled by ``labels``.

    The x-axis spans every row's ``x``, also those without a value (e.g. every day of a
    period): beside a bar chart of the same rows, the dates line up."""
    columns = [y] if isinstance(y, str) else list(y)
    present = [c for c in columns if c in frame.columns and frame[c].drop_nulls().len()]
    if frame.is_empty() or not present:
        return no_data(title, xlabel, ylabel)
    curves = []
    for colour, column in zip(theme.PALETTE, present, strict=False):
        points = _pandas(frame.select(x, column).drop_nulls())
        label = (labels or {}).get(column, column)
        kdims, vdims = hv.Dimension(x, label=xlabel), hv.Dimension(column, label=ylabel)
        curve = hv.Curve(points, kdims, vdims, label=label).opts(color=colour, line_width=2)
        dots = hv.Scatter(points, kdims, vdims, label=label).opts(color=colour, size=4)
        curves.extend([curve, dots])
    overlay = hv.Overlay(curves)
    legend = {"show_legend": len(present) > 1, "legend_position": "top_left"}
    span = _pandas(frame.select(x).drop_nulls())[x]
    axis = {"xlim": (span.min(), span.max())}
    return overlay.opts(title=title, **{**theme.CHART_OPTIONS, **legend, **axis, **opts})


def horizontal_bars(
    frame: pl.DataFrame, x: str, y: str, *, title: str, xlabel: str, ylabel: str, color: str | None
) -> hv.Element:
    """Horizontal bars of ``y`` per category ``x`` (largest on top), optionally coloured by
    the 0-100 column ``color``."""
    if frame.is_empty():
        return no_data(title, xlabel, ylabel)
    ordered = frame.sort(y)
    vdims = [hv.Dimension(y, label=ylabel)]
    opts = {"color": theme.ACCENT}
    if color is not None:
        vdims.append(hv.Dimension(color, label=f"{color.capitalize()} (%)"))
        opts = {"color": color, "cmap": theme.PROBABILITY_CMAP, "clim": (0, 100), "colorbar": True}
    element = hv.Bars(_pandas(ordered), hv.Dimension(x, label=xlabel), vdims)
    return _opts(
        element, title, invert_axes=True, tools=["hover"], **theme.BAR_CHART_OPTIONS, **opts
    )


def heatmap(
    mastery: pl.DataFrame, learners: list[str], *, title: str, skill_labels: dict[str, str]
) -> hv.Element:
    """P(known) of each (skill, learner) for the given learners, in their order."""
    xlabel, ylabel = "Learner", "Skill"
    shown = learners[:HEATMAP_MAX_LEARNERS]
    cells = mastery.filter(pl.col("learner_id").is_in(shown)).select(
        "learner_id", "skill", "p_known"
    )
    if cells.is_empty():
        return no_data(title, xlabel, ylabel)
    # two decimals: the hover showed P(known) as 0.94817 (colours cannot show more either)
    cells = cells.with_columns(
        pl.col("skill").replace(skill_labels).alias("skill"), pl.col("p_known").round(2)
    )
    element = hv.HeatMap(
        _pandas(cells),
        [hv.Dimension("learner_id", label=xlabel), hv.Dimension("skill", label=ylabel)],
        hv.Dimension("p_known", label="P(known) (probability)", range=(0, 1)),
    )
    return _opts(
        element,
        title,
        cmap=theme.PROBABILITY_CMAP,
        clim=(0, 1),
        colorbar=True,
        xrotation=60,
        tools=["hover"],
        height=theme.HEATMAP_HEIGHT,
        xlim=(None, None),
    ).redim.values(learner_id=shown)


def scatter(
    frame: pl.DataFrame, x: str, y: str, by: str, *, title: str, xlabel: str, ylabel: str
) -> hv.Element:
    """Points ``(x, y)`` coloured by the category ``by`` (with a legend)."""
    if frame.is_empty():
        return no_data(title, xlabel, ylabel)
    if frame.height > SCATTER_MAX_POINTS:  # said on the axis: titles may be left out
        xlabel = f"{xlabel} · random {SCATTER_MAX_POINTS:,} of {frame.height:,} shown"
        frame = frame.sample(SCATTER_MAX_POINTS, seed=0)
    categories = frame.get_column(by).cast(pl.String).unique().sort().to_list()
    colours = dict(zip(categories, itertools.cycle(theme.PALETTE)))
    # One glyph coloured by category, not one per category: a third of the browser's models
    points = hv.Scatter(
        _pandas(frame.select(x, y, pl.col(by).cast(pl.String), "learner_id")),
        hv.Dimension(x, label=xlabel),
        [hv.Dimension(y, label=ylabel), by, "learner_id"],
    )
    return points.opts(
        color=by,
        cmap=colours,
        size=6,
        alpha=0.7,
        tools=["hover"],
        show_legend=True,
        legend_position="right",
        title=title,
        **{**theme.CHART_OPTIONS, "height": 320},
    )


def with_thresholds(chart: hv.Element, warning: float | None, critical: float | None):
    """Overlay dashed warning and critical levels on a chart."""
    lines = []
    if warning is not None:
        lines.append(hv.HLine(warning).opts(color=theme.WARNING, line_dash="dashed"))
    if critical is not None:
        lines.append(hv.HLine(critical).opts(color=theme.BAD, line_dash="dashed"))
    # The chart's options (title, ylim...) do not carry over to the product: set them again.
    return (chart * hv.Overlay(lines)).opts(**chart.opts.get().kwargs)


def markers(
    frame: pl.DataFrame, x: str, y: str, *, label: str, xlabel: str, ylabel: str
) -> hv.Element:
    """Red triangles at ``(x, y)`` (e.g. where a run started overfitting)."""
    kdims, vdims = hv.Dimension(x, label=xlabel), hv.Dimension(y, label=ylabel)
    return hv.Scatter(_pandas(frame.select(x, y)), kdims, vdims, label=label).opts(
        color=theme.BAD, marker="triangle", size=12
    )
