"""The learner's last error, for "explain my last error" when none is given.

"Explain my last error" (a follow-up the tutor itself suggests) got the course passage on what
an exception is: the chat and ``%tutor`` passed no error, and the tutor did not look for one.
In the notebook the chat and ``%tutor`` now pass the notebook's last exception
(:func:`learnpulse.widgets.chat.ask_tutor`); elsewhere (``tutor/chat``) the tutor reads the
learner's newest ``cell_error`` event: its exception type, and the message and the cell's code
when the notebook collector recorded them.
"""

from __future__ import annotations

import json
import re

import polars as pl

from learnpulse.agents.errors import ErrorInfo

#: The reply to "explain my last error" when there is none to explain.
NO_ERROR_YET = (
    "I have no error of yours to explain yet. Run `%explain` right after a cell fails (it "
    "reads the notebook's last error), or paste the error message here."
)
_LAST_ERROR = re.compile(
    r"\b(my|the|this|that) (last |latest |previous |recent )?(error|exception|traceback)\b"
    r"|\bwhy (did|do) i get (an|this|that|the) error\b"
    r"|\bi (got|get|am getting|'?m getting|keep getting) (an? |this |that )?(error|exception)"
    r"|\b(it|this|my code) (gives|gave|throws|threw|raises|raised|shows) (me )?(an? |this )?"
    r"(error|exception)",
    re.I,
)


def asks_about_last_error(message: str) -> bool:
    """Whether ``message`` asks about the learner's error without giving it ("explain my last
    error", "what does this error mean?")."""
    return bool(_LAST_ERROR.search(message))


def last_cell_error(events: pl.DataFrame) -> tuple[ErrorInfo, str | None] | None:
    """The learner's newest ``cell_error`` event as an :class:`ErrorInfo` and the cell's code
    (None when not recorded); None without one."""
    if events.is_empty() or not {"kind", "ts", "payload"} <= set(events.columns):
        return None
    errors = events.filter(pl.col("kind") == "cell_error").sort("ts")
    if errors.is_empty():
        return None
    try:
        payload = json.loads(errors.get_column("payload")[-1] or "{}")
    except ValueError:
        return None
    if not isinstance(payload, dict) or not payload.get("error_type"):
        return None
    info = ErrorInfo(str(payload["error_type"]), str(payload.get("error_message") or ""))
    code = payload.get("code")
    return info, code if isinstance(code, str) and code.strip() else None
