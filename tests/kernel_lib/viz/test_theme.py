"""The dashboard page: displayed with inlined resources, every component shares one inline
copy of each of Panel's style sheets and links none from the CDN."""

from __future__ import annotations

import panel as pn
import polars as pl
import pytest
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet, InlineStyleSheet, UIElement
from panel.io.resources import CDN_DIST

from learnpulse.viz import theme
from learnpulse.viz.components import DataTable, KpiCards


@pytest.fixture
def inline_mode():
    before = pn.config.inline
    pn.config.inline = True
    yield
    pn.config.inline = before


def _page() -> theme.Page:
    tables = [DataTable(title=f"t{i}", frame=pl.DataFrame({"learner_id": ["a"]})) for i in range(3)]
    return theme.page("Course", KpiCards(), pn.Row(*tables))


def _sheets(model) -> list:
    return [s for e in model.select({"type": UIElement}) for s in e.stylesheets]


def test_page_inlines_each_panel_sheet_once_and_links_none(inline_mode):
    model = _page()._render_model(Document())
    sheets = _sheets(model)
    linked = [s.url for s in sheets if isinstance(s, ImportedStyleSheet)]
    assert not [url for url in linked if url.startswith(CDN_DIST)], linked
    inline = [s for s in sheets if isinstance(s, InlineStyleSheet)]
    assert inline, "Panel's component sheets should be inlined"
    # Shared: the same CSS text is one object, however many components use it.
    by_css: dict[str, set[int]] = {}
    for sheet in inline:
        by_css.setdefault(sheet.css, set()).add(id(sheet))
    assert len(inline) > len(by_css)
    assert all(len(ids) == 1 for ids in by_css.values())


def test_page_links_sheets_when_resources_are_not_inlined():
    before = pn.config.inline
    pn.config.inline = False
    try:
        model = _page()._render_model(Document())
    finally:
        pn.config.inline = before
    assert any(isinstance(s, ImportedStyleSheet) for s in _sheets(model))


@pytest.mark.parametrize(("in_voila", "kept"), [(True, 1), (False, 2)])
def test_extension_code_is_sent_once_in_voila(monkeypatch, in_voila, kept):
    """Voila runs the JavaScript copy; the lab-extension copy only made its pages heavier."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import publish_display_data
    from IPython.utils.capture import capture_output
    from panel.io.notebook import LOAD_MIME

    InteractiveShell.instance()  # display capture needs a shell
    if in_voila:
        monkeypatch.setenv("VOILA_BASE_URL", "/")
    else:
        monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    bundle = {"application/javascript": "window.loaded = 1", LOAD_MIME: "window.loaded = 1"}
    with capture_output() as page, theme._javascript_only_in_voila():
        publish_display_data(bundle, {"a": 1})
        publish_display_data({"text/plain": "other"})
    first, second = page.outputs
    assert len(first.data) == kept and "application/javascript" in first.data
    assert first.metadata == {"a": 1} and second.data == {"text/plain": "other"}


@pytest.mark.parametrize(
    "text", ["<img src=x onerror=alert(1)>", "a_b_ *c* & [x](javascript:alert(1)) # 1."]
)
def test_plain_text_in_markdown_is_shown_as_written(text, rendered):
    shown = rendered(pn.pane.Markdown(f"### {theme.plain(text)}"))
    assert shown.tags == ["h3"]
    assert shown.text.strip() == text
