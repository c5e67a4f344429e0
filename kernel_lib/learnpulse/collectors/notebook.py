"""Notebook activity: an IPython extension recording cell executions and study sessions.

``%load_ext learnpulse`` (or ``learnpulse.collectors.notebook.load_ipython_extension(ip)``)
records, for every cell run, a ``cell_executed`` event (duration, success, execution count,
cell id) and, when the cell raised, a ``cell_error`` event (exception type) - as the course
simulator does. Loading starts a ``session_start``; unloading or the kernel's exit ends it with
``session_end``. The cell's code and error message are recorded only when configured.

The hooks only time the cell and queue an event for the background sink: they never touch the
store or the disk and never raise into the notebook (a failure is logged and counted).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from learnpulse.collectors import context
from learnpulse.collectors.sink import EventSink
from learnpulse.collectors.tracking import default_sink, make_event

log = logging.getLogger(__name__)

#: Set to 1 to record each cell's source code in the event payload (off by default: privacy).
RECORD_CODE_ENV = "LEARNPULSE_RECORD_CODE"
#: Set to 1 to record error messages (not just exception types) in ``cell_error`` payloads.
RECORD_ERROR_MESSAGE_ENV = "LEARNPULSE_RECORD_ERROR_MESSAGES"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class NotebookConfig:
    """What the notebook collector records beyond timing and success.

    Attributes
    ----------
    record_code : bool
        Put the cell's source in the payload (``code``), cut to ``max_text_chars``.
    record_error_message : bool
        Put the exception's message in ``cell_error`` payloads (``error_message``).
    max_text_chars : int
        Longest code or message kept (payloads must stay under the event size limit).
    max_text_bytes : int
        Most bytes the code or the message may take in the payload's JSON, where a non-ASCII
        character takes 6 or 12: both together stay under ``events.MAX_PAYLOAD_BYTES``.
    """

    record_code: bool = False
    record_error_message: bool = False
    max_text_chars: int = 8_000
    max_text_bytes: int = 24_000

    @classmethod
    def from_environment(cls) -> NotebookConfig:
        return cls(_flag(RECORD_CODE_ENV), _flag(RECORD_ERROR_MESSAGE_ENV))


class NotebookActivity:
    """Records one IPython shell's cell runs as events (see the module docstring).

    Parameters
    ----------
    shell : IPython.core.interactiveshell.InteractiveShell
        The shell whose ``pre_run_cell`` / ``post_run_cell`` events are observed.
    sink : EventSink, optional
        Where events go; default the process's sink (:func:`default_sink`).
    config : NotebookConfig, optional
        Default: from ``$LEARNPULSE_RECORD_CODE`` / ``$LEARNPULSE_RECORD_ERROR_MESSAGES``.
    """

    def __init__(
        self, shell: Any, sink: EventSink | None = None, config: NotebookConfig | None = None
    ):
        self.shell, self._sink = shell, sink
        self.config = config or NotebookConfig.from_environment()
        self.failures = 0
        self.session_id: str | None = None
        self._session_started = 0.0
        # Cells started and not yet ended, innermost last: a cell may run another one
        # (``%rerun``, ``get_ipython().run_cell``) before it ends itself.
        self._cells: list[_Cell] = []

    @property
    def sink(self) -> EventSink:
        return self._sink if self._sink is not None else default_sink()

    def start(self) -> None:
        """Begin a session and observe cell runs."""
        self.session_id = context.session_id() if _first_session() else context.new_session()
        self._session_started = time.monotonic()
        self._emit("session_start")
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        atexit.register(self.stop)

    def stop(self) -> None:
        """Stop observing and end the session (idempotent)."""
        if self.session_id is None:
            return
        for name, callback in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            with contextlib.suppress(ValueError):  # already unregistered
                self.shell.events.unregister(name, callback)
        duration_ms = int((time.monotonic() - self._session_started) * 1000)
        self._emit("session_end", duration_ms=duration_ms)
        self.session_id = None
        atexit.unregister(self.stop)

    def pre_run_cell(self, info: Any) -> None:
        try:
            code = getattr(info, "raw_cell", None) if self.config.record_code else None
            cell = _Cell(info, getattr(info, "cell_id", None), code, time.perf_counter())
            self._cells.append(cell)
        except Exception:
            self._failed()

    def post_run_cell(self, result: Any) -> None:
        try:
            self._record(result)
        except Exception:
            self._failed()

    def _ended(self, result: Any) -> _Cell | None:
        """The cell ``result`` ends (the innermost one when ``result`` does not say which);
        None after a post without pre (the extension was loaded inside this cell)."""
        info = getattr(result, "info", None)
        for index in range(len(self._cells) - 1, -1, -1):
            if info is None or self._cells[index].info is info:
                cell = self._cells[index]
                del self._cells[index:]  # cells inside it that never ended are gone too
                return cell
        return None

    def _record(self, result: Any) -> None:
        cell = self._ended(result)
        if cell is None:
            return
        duration_ms = int((time.perf_counter() - cell.started) * 1000)
        if result is None:  # the run itself was aborted (an interrupted async cell)
            error: BaseException | None = sys.exc_info()[1] or KeyboardInterrupt()
            execution_count = None
        else:
            error = result.error_in_exec or result.error_before_exec
            execution_count = result.execution_count
        cell_id, code = cell.cell_id, cell.code
        payload: dict[str, Any] = {"success": error is None, "execution_count": execution_count}
        if cell_id:
            payload["cell_id"] = cell_id
        if code is not None:
            payload["code"] = self._clip(code)
        self._emit("cell_executed", duration_ms=duration_ms, payload=payload)
        if error is not None:
            details = {"error_type": type(error).__name__}
            if self.config.record_error_message:
                details["error_message"] = self._clip(_message(error))
            self._emit("cell_error", duration_ms=duration_ms, payload={**payload, **details})

    def _clip(self, text: str) -> str:
        """``text`` cut to the configured characters and JSON bytes; unpaired surrogates,
        which the store refuses, become "?"."""
        text = text[: self.config.max_text_chars].encode("utf-8", "replace").decode("utf-8")
        size = len(json.dumps(text))
        while size > self.config.max_text_bytes and text:  # each pass keeps the share that fits
            text = text[: len(text) * self.config.max_text_bytes // size]
            size = len(json.dumps(text))
        return text

    def _emit(self, kind: str, **fields: Any) -> None:
        try:
            self.sink.put(make_event(kind, session_id=self.session_id, **fields))
        except Exception:
            self._failed()

    def _failed(self) -> None:
        self.failures += 1
        if self.failures == 1:  # once, not once per cell
            log.warning("learnpulse: notebook activity not recorded", exc_info=True)


def _message(error: BaseException) -> str:
    """``str(error)``, or a placeholder when the exception cannot even say that."""
    try:
        return str(error)
    except Exception:
        return f"<unprintable {type(error).__name__}>"


@dataclass(frozen=True)
class _Cell:
    """A cell that started running: its ``ExecutionInfo``, id, code (if recorded), start."""

    info: Any
    cell_id: str | None
    code: str | None
    started: float


_sessions_started = 0
_active: dict[int, NotebookActivity] = {}


def _first_session() -> bool:
    global _sessions_started
    _sessions_started += 1
    return _sessions_started == 1


def load_ipython_extension(ipython: Any) -> None:
    """Start recording this shell's cell runs (a second load is a no-op)."""
    if id(ipython) in _active:
        return
    activity = NotebookActivity(ipython)
    activity.start()
    _active[id(ipython)] = activity


def unload_ipython_extension(ipython: Any) -> None:
    """Stop recording and end the session."""
    activity = _active.pop(id(ipython), None)
    if activity is not None:
        activity.stop()


def active(ipython: Any) -> NotebookActivity | None:
    """The collector observing ``ipython``, if loaded."""
    return _active.get(id(ipython))
