"""One look for every dashboard: colours, sizes, and Panel/HoloViews set-up."""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
from collections.abc import Callable, Iterator
from functools import cache

import panel as pn
from bokeh.models import ImportedStyleSheet, UIElement
from panel.io.notebook import LOAD_MIME, replace_inline_css

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
#: Bar charts show a few bars: zoom and pan tools do nothing useful there, and each chart's
#: toolbar is a dozen more models for the browser to build.
BAR_CHART_OPTIONS = {"toolbar": None, "default_tools": []}

_EXTENSIONS = ("tabulator",)
log = logging.getLogger(__name__)

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
    import holoviews as hv

    # HoloViews only: hvplot's import would load the notebook extension once more (~1 s);
    # notebooks that plot with .hvplot import hvplot.polars themselves. Before Panel's: it
    # loads Panel's extension itself (without Tabulator), so Panel's call then adds only
    # Tabulator's code, inlined. In the other order HoloViews reloaded Tabulator from a CDN,
    # which offline held the first draw until the requests failed.
    with _javascript_only_in_voila():
        hv.extension("bokeh", logo=False, inline=True)
        pn.extension(*_EXTENSIONS, inline=True, loading_indicator=True, sizing_mode="stretch_width")
    # Canvas, not WebGL: charts of a few thousand glyphs draw quicker on a canvas, and WebGL
    # without a GPU (headless or remote browsers) is a slow software renderer.
    hv.renderer("bokeh").webgl = False
    _publish_voila_comms()


@contextlib.contextmanager
def _javascript_only_in_voila() -> Iterator[None]:
    """Display the extensions' code once, not twice, in a Voila kernel.

    Panel and HoloViews send their (inlined: 3.6 MB) code as two copies in one output: as
    JavaScript, and as Panel's lab extension's own type, which Voila cannot load (see
    :data:`VOILA_COMMS_JS`). The page carried and parsed both; in Voila only the first is
    sent. Voila gives its kernels ``VOILA_BASE_URL``.
    """
    if "VOILA_BASE_URL" not in os.environ:
        yield
        return
    from IPython.display import publish_display_data
    from IPython.utils.capture import capture_output

    with capture_output(stdout=False, stderr=False) as captured:
        yield
    for output in captured.outputs:
        data = {mime: value for mime, value in output.data.items() if mime != LOAD_MIME}
        publish_display_data(
            data, output.metadata, transient=output.transient, update=output.update
        )


def _publish_voila_comms() -> None:
    """Send :data:`VOILA_COMMS_JS` to the page (a no-op outside Voila and outside IPython)."""
    try:
        from IPython import get_ipython
        from IPython.display import Javascript, display
    except ImportError:
        return
    if get_ipython() is not None and hasattr(get_ipython(), "kernel"):
        display(Javascript(VOILA_COMMS_JS))


#: Characters Markdown reads as formatting (escaped with a backslash by :func:`plain`).
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def plain(text: object) -> str:
    """``text`` (a learner id, a message from the data) to put in a Markdown pane, shown as
    written: an HTML tag in it is text, not markup the browser runs, and ``*`` or ``_`` do not
    format. For an HTML pane, ``html.escape`` is enough."""
    return _MARKDOWN_SYNTAX.sub(r"\\\1", html.escape(str(text), quote=False))


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
    return Page(header, *rows, styles=PAGE_STYLES, sizing_mode="stretch_width")


def unavailable(title: str, error: Exception) -> Page:
    """A dashboard page saying why it has no data (server unreachable, token refused...)."""
    message = pn.pane.Markdown(
        f"**Data unavailable:** {plain(error)}\n\nReload the page to try again.",
        styles={"color": BAD},
        margin=(0, 10),
    )
    return page(title, message)


class Page(pn.Column):
    """A dashboard's top layout: a ``Column`` that is quick to display in a notebook or Voila.

    Displaying a layout with inlined resources (:func:`setup`), Panel copies each style sheet
    into each component, and every copy recomputes the whole document: quadratic in the
    number of components (~10 s and 1.7 MB of page for the instructor dashboard). A page
    swaps in one shared inline copy per sheet, with the document's updates held until the
    end; Panel then finds nothing left to copy.
    """

    def __init__(self, *objects, **params):
        super().__init__(*objects, **params)
        self._when_shown: list[Callable[[], None]] = []

    def when_shown(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once, when the page first reaches a browser.

        On a Panel server that is when the session loads. In a notebook or Voila it is when
        the browser opens the page's comm, which is not when the cell ran if Voila rendered
        the page ahead of the visit (a pre-heated kernel, see ``learnpulse_server.preheat``):
        changes pushed before that would be lost, the browser drawing what the cell output
        held. Outside both (no document, no comm) it is called at once.
        """
        self._when_shown.append(callback)

    def _shown(self, *_: object) -> None:
        callbacks, self._when_shown = self._when_shown, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a dashboard must not break its page over one callback
                log.exception("learnpulse: a dashboard's on-show callback failed")

    def get_root(self, doc=None, comm=None, preprocess=True):
        root = super().get_root(doc, comm, preprocess)
        if comm is None:
            pn.state.onload(self._shown)
        return root

    def _render_mimebundle(self, model, doc, comm, location=None):
        bundle = super()._render_mimebundle(model, doc, comm, location)
        _, client_comm = self._comms[model.ref["id"]]
        opened = client_comm._on_open  # Panel's: starts the comm to the browser

        def on_open(message) -> None:
            if opened is not None:
                opened(message)
            self._shown()

        client_comm._on_open = on_open
        return bundle

    def _render_model(self, doc=None, comm=None):
        model = super()._render_model(doc, comm)
        if pn.config.inline:
            with model.document.models.freeze():
                for element in model.select({"type": UIElement}):
                    sheets = [_inline_sheet(s) for s in element.stylesheets]
                    if sheets != element.stylesheets:
                        element.stylesheets = sheets
        return model


def _inline_sheet(sheet):
    """The shared inline copy of an imported Panel style sheet; other sheets unchanged."""
    return _inline_copy(sheet.url) if isinstance(sheet, ImportedStyleSheet) else sheet


@cache
def _inline_copy(url: str):
    # Panel's own replacement (reads its CSS files); the same object for every component.
    return replace_inline_css(ImportedStyleSheet(url=url))
