"""One look for every dashboard: colours, sizes, and Panel/HoloViews set-up."""

from __future__ import annotations

import panel as pn

#: Main colour (titles, bars, lines).
ACCENT = "#2563eb"
#: Colours of good / warning / bad news (KPI trends, thresholds, risk).
GOOD, WARNING, BAD = "#15803d", "#d97706", "#b91c1c"
#: Muted colour for secondary lines (previous period, validation curves' partner...).
MUTED = "#64748b"
#: Categorical palette (clusters, runs, agents).
PALETTE = ("#2563eb", "#d97706", "#15803d", "#9333ea", "#db2777", "#0891b2", "#65a30d")
#: Colour map of probabilities and mastery (0 = red ... 1 = green).
PROBABILITY_CMAP = "RdYlGn"
#: Height of an ordinary chart, in pixels.
CHART_HEIGHT = 260
#: Height of the mastery heatmap, in pixels.
HEATMAP_HEIGHT = 420
#: Rows per page of tables.
TABLE_PAGE_SIZE = 12
#: Font scale of charts (1 = Bokeh's default sizes).
FONT_SCALE = 1.05
#: Page background and card styling.
PAGE_STYLES = {"background": "#f8fafc"}
CARD_STYLES = {
    "background": "white",
    "border": "1px solid #e2e8f0",
    "border-radius": "8px",
    "box-shadow": "0 1px 2px rgba(15, 23, 42, 0.06)",
}
#: Options every HoloViews chart gets.
CHART_OPTIONS = {
    "responsive": True,
    "height": CHART_HEIGHT,
    "fontscale": FONT_SCALE,
    "toolbar": "right",
    "default_tools": ["pan", "wheel_zoom", "box_zoom", "reset", "save"],
    "active_tools": [],
}

_EXTENSIONS = ("tabulator",)

# Panel talks to the kernel through "comms". In JupyterLab its lab extension hands Panel the
# kernel of each output; Voila cannot load that extension (its front end lacks a module the
# extension needs), so nothing would reach the kernel: no clicks, no updates. In Voila only,
# this hands Panel the page's kernel connection (the one Voila's widget manager uses).
VOILA_COMMS_JS = """
(function () {
  if (window.voila_process === undefined) { return; }
  if ((window.PyViz === undefined) || (window.PyViz instanceof HTMLElement)) {
    window.PyViz = {comms: {}, comm_status: {}, kernels: {}, receivers: {}, plot_index: []};
  }
  if (window.PyViz.voilaKernel) { return; }
  // Looked up at each use: Voila's app and widget manager may not exist yet when this runs.
  const kernel = () => window.jupyterapp._widgetManager.kernel;
  window.PyViz.voilaKernel = {
    registerCommTarget(target, callback) {
      kernel().registerCommTarget(target, (comm, msg) => callback(comm, msg));
    },
    connectToComm(target, id) {
      const comm = kernel().createComm(target, id);
      comm.active = true;
      return comm;
    },
  };
  window.PyViz.kernels = new Proxy(window.PyViz.kernels, {
    has: () => true,
    get: (known, id) => known[id] || window.PyViz.voilaKernel,
  });
})();
"""


def setup() -> None:
    """Load Panel and HoloViews once, with every resource inlined (no CDN: dashboards must
    work offline), and turn on loading indicators."""
    pn.config.inline = True
    pn.extension(*_EXTENSIONS, inline=True, loading_indicator=True, sizing_mode="stretch_width")
    import holoviews as hv
    import hvplot.polars  # noqa: F401  (registers .hvplot on polars frames)

    hv.extension("bokeh", logo=False)
    _publish_voila_comms()


def _publish_voila_comms() -> None:
    """Send :data:`VOILA_COMMS_JS` to the page (a no-op outside Voila and outside IPython)."""
    try:
        from IPython import get_ipython
        from IPython.display import Javascript, display
    except ImportError:
        return
    if get_ipython() is not None and hasattr(get_ipython(), "kernel"):
        display(Javascript(VOILA_COMMS_JS))


def card(*objects, title: str, **kwargs) -> pn.Card:
    """A titled, non-collapsible card in the house style (stretching unless given a width)."""
    kwargs.setdefault("sizing_mode", "fixed" if "width" in kwargs else "stretch_width")
    return pn.Card(
        *objects,
        title=title,
        collapsible=False,
        styles=CARD_STYLES,
        header_background="white",
        margin=(6, 6),
        **kwargs,
    )


def page(title: str, *rows, subtitle: str = "") -> pn.Column:
    """A dashboard page: a header and rows of cards."""
    header = pn.pane.Markdown(
        f"# {title}" + (f"\n{subtitle}" if subtitle else ""),
        styles={"color": "#0f172a"},
        margin=(0, 10),
    )
    return pn.Column(header, *rows, styles=PAGE_STYLES, sizing_mode="stretch_width")
