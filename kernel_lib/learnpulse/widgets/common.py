"""What every student widget shares: a text rendering, markdown, and never raising.

Each widget is an ipywidgets box whose display bundle also carries a ``text/plain`` rendering
(:class:`TextFallback`): JupyterLab 4 and Notebook 7 show the live widget, a plain terminal
IPython (or a static render of the notebook) shows the text. Callbacks are wrapped by
:func:`guarded`: an unexpected error is logged and shown as one short friendly line in the
widget, never raised into the student's notebook.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as widgets
from markdown_it import MarkdownIt

from learnpulse.kernel_logs import log_to_kernel_console

log = logging.getLogger("learnpulse.widgets")
log_to_kernel_console()  # widgets run in kernels: records must not land in the cells

#: What the student sees when something inside learnpulse fails (``{what}`` names the action).
FRIENDLY_ERROR = (
    "Sorry, learnpulse could not {what} just now. Your notebook and your work are fine; "
    "try again, and tell your instructor if it keeps happening."
)
#: Colours of feedback (correct / not yet / neutral), readable on light and dark themes.
COLOURS = {"good": "#1a7f37", "bad": "#b42318", "info": "#57606a"}

# Student and tutor text is rendered without raw HTML (no script injection through a message).
_markdown = MarkdownIt("commonmark", {"html": False})

Method = TypeVar("Method", bound=Callable[..., Any])


def markdown_html(text: str) -> str:
    """Markdown rendered to HTML, with any raw HTML in it escaped."""
    return _markdown.render(text or "")


def coloured(text: str, tone: str) -> str:
    """``text`` (escaped) as HTML in the colour of ``tone`` (a key of :data:`COLOURS`)."""
    return f'<span style="color:{COLOURS[tone]}">{html.escape(text)}</span>'


def guarded(what: str) -> Callable[[Method], Method]:
    """Decorate a widget method so that an error is logged and shown, never raised.

    The widget must have a :meth:`TextFallback.show_problem`; the method returns None on error.
    """

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def wrapper(self: TextFallback, *args: Any, **kwargs: Any) -> Any:
            self.clear_problem()  # an earlier failure is not this action's
            try:
                return method(self, *args, **kwargs)
            except Exception:
                log.exception("learnpulse widget failed to %s", what)
                self.show_problem(FRIENDLY_ERROR.format(what=what))
                return None

        return wrapper  # type: ignore[return-value]

    return decorate


class TextFallback(widgets.VBox):
    """A VBox whose display bundle includes a text rendering (see module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = widgets.HTML()
        self.problem = ""

    def as_text(self) -> str:
        """The widget as plain text (what a terminal shows)."""
        raise NotImplementedError

    def show_problem(self, message: str) -> None:
        """Show a friendly one-line problem report in the widget."""
        self.problem = message
        self.status.value = coloured(message, "bad")

    def clear_problem(self) -> None:
        """Take a problem report down (a later action went through)."""
        if self.problem:
            self.problem = ""
            self.status.value = ""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        try:
            data = dict(super()._repr_mimebundle_(**kwargs) or {})
        except Exception:  # a closed widget has no live view; the text still works
            data = {}
        data["text/plain"] = str(self)
        return data

    def __str__(self) -> str:
        """:meth:`as_text`, or a friendly line if it fails (print(widget) never raises)."""
        try:
            return self.as_text()
        except Exception:
            log.exception("learnpulse widget text rendering failed")
            return FRIENDLY_ERROR.format(what="show this")
