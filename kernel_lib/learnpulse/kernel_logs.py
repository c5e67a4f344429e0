"""Where learnpulse's log records go inside a notebook kernel: not into the student's cells.

A kernel's ``sys.stderr`` is the cell's output, and Python prints a record with no handler
there (its "last resort"), traceback and all: a student saw twenty red lines when the store
could not be opened, although the widget had already said so in one friendly line. The
widgets and the magics send learnpulse's records to the kernel process's own stderr instead
(``sys.__stderr__``: the Jupyter server's console, where whoever runs it looks).
"""

from __future__ import annotations

import logging
import sys

#: Records from this level on reach the kernel's console.
KERNEL_LOG_LEVEL = logging.WARNING
_MARK = "_learnpulse_kernel_console"


def log_to_kernel_console() -> None:
    """Give the ``learnpulse`` logger a handler on ``sys.__stderr__`` (once)."""
    logger = logging.getLogger("learnpulse")
    if any(getattr(handler, _MARK, False) for handler in logger.handlers):
        return
    stream = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setLevel(KERNEL_LOG_LEVEL)
    handler.setFormatter(logging.Formatter("[%(levelname)s %(name)s] %(message)s"))
    setattr(handler, _MARK, True)
    logger.addHandler(handler)
