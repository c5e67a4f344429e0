"""The page's address: one query parameter of the browser's URL, read and written live.

A dashboard links to what it shows through its URL (``?course=demo-python-101``). Panel's own
``pn.state.location`` does not do for Voila: it exists only for the first Panel output of a
kernel, and in a notebook page it never writes the URL (it waits for the page to be idle,
which a notebook page never reports). :class:`UrlParameter` is a small element of the page
that reports the parameter once the page is drawn and rewrites the URL when it changes, in
Voila and on a Panel server (:func:`owns_the_page`).
"""

from __future__ import annotations

import os
from typing import ClassVar
from urllib.parse import parse_qs

import panel as pn
import param
from panel.reactive import ReactiveHTML

# Read once the element is drawn: a kernel that rendered the page ahead of the visit
# (pre-heated) did not know the URL the visitor came with.
_READ = """
const given = new URLSearchParams(window.location.search).get(data.key);
if (given !== null && given !== data.value) { data.value = given; }
"""
# replaceState: the URL names what is shown, and Back does not step through every pick.
_WRITE = """
const url = new URL(window.location.href);
if (data.value) { url.searchParams.set(data.key, data.value); }
else { url.searchParams.delete(data.key); }
if (url.href !== window.location.href) {
  window.history.replaceState(window.history.state, "", url.href);
}
"""


class UrlParameter(ReactiveHTML):
    """Query parameter ``key`` of the page's URL, both ways.

    ``value`` becomes what the URL names once the page is drawn in a browser (unchanged when
    it names nothing); setting ``value`` writes it into the URL, keeping the other
    parameters, without reloading the page. Takes no room on the page.
    """

    key = param.String(doc="Name of the query parameter.")
    value = param.String(default=None, allow_None=True, doc="Its value (None: not in the URL).")

    _template: ClassVar[str] = '<div id="address" style="display: none"></div>'
    _scripts: ClassVar[dict[str, str]] = {"render": _READ, "value": _WRITE}

    def __init__(self, **params) -> None:
        params.setdefault("margin", 0)
        params.setdefault("height", 0)
        params.setdefault("sizing_mode", "fixed")
        params.setdefault("width", 0)
        super().__init__(**params)


def owns_the_page() -> bool:
    """Whether a dashboard made here is the page in the browser, whose URL it may follow
    and write: in Voila (which gives its kernels ``$VOILA_BASE_URL``, pre-rendering ones
    too) or a Panel server session; not an output among others in JupyterLab, whose URL is
    JupyterLab's own."""
    session = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
    return session or "VOILA_BASE_URL" in os.environ


def query_value(key: str, query: str | None = None) -> str | None:
    """The value of ``key`` in the URL the page was asked with, when known before the page
    is drawn; else None (then :class:`UrlParameter` reports it from the browser).

    ``query`` (``"a=1&b=2"``, a leading ``?`` allowed) overrides where it is read from: in
    a Panel server session, the session's request; in Voila, ``$QUERY_STRING``, which Voila
    gives a kernel it starts for a visit (not one that rendered the page ahead of it).
    """
    if query is None:
        location = pn.state.location if pn.state.curdoc is not None else None
        query = location.search if location is not None and location.search else None
    if query is None:
        query = os.environ.get("QUERY_STRING", "")
    values = parse_qs(query.lstrip("?")).get(key)
    return values[-1] if values else None
