"""Running a student's code for checking: a time limit, captured output, where it failed.

The student's code runs in the student's own process (their kernel), so there is nothing to
sandbox; what matters is that an infinite loop ends, printed output does not spill into the
feedback, and an exception is reported with the student's own line.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

#: Seconds one test case (or running the submitted source) may take before it is stopped.
CODE_TIMEOUT_S = 2.0
#: Seconds between the repeated alarms once a check's time is up, and how long they repeat
#: (see ``_alarm``).
TIMEOUT_REPEAT_S = 0.05
TIMEOUT_GIVE_UP_S = 5.0
#: Longest printed output kept in a check's details.
MAX_CAPTURED_CHARS = 2_000
#: Longest exception message quoted in feedback.
MAX_ERROR_CHARS = 300
_OWN_FOLDER = str(Path(__file__).resolve().parent)


class CheckTimeout(BaseException):
    """Raised inside the student's code when its time is up.

    A BaseException so that the student's ``except Exception:`` does not swallow it.
    """


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """SIGALRM timer on the main thread; an outer timer (e.g. pytest-timeout) is restored.

    Once the time is up the alarm repeats every :data:`TIMEOUT_REPEAT_S` until the code
    stops: a bare ``except:`` in a loop swallows one :class:`CheckTimeout`, not all of them
    (with a single alarm such a loop ran for ever). After :data:`TIMEOUT_GIVE_UP_S` more
    the alarm stops itself, whatever happened, so that it can never outlive the check.
    """
    done = False
    give_up = time.monotonic() + seconds + TIMEOUT_GIVE_UP_S

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if done or time.monotonic() > give_up:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        raise CheckTimeout

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds, TIMEOUT_REPEAT_S)
    try:
        yield
    finally:
        done = True  # first: a late alarm must not interrupt the clean-up
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            left = max(outer_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


@contextlib.contextmanager
def _traced_deadline(seconds: float) -> Iterator[None]:
    """Off the main thread (no signals there): a trace function checks the clock per line."""
    deadline = time.monotonic() + seconds

    def tracer(frame: FrameType, event: str, arg: Any) -> Callable | None:
        if time.monotonic() > deadline:
            raise CheckTimeout
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


def time_limit(seconds: float | None = None) -> contextlib.AbstractContextManager[None]:
    """Context manager raising :class:`CheckTimeout` in the code it wraps after ``seconds``
    (default :data:`CODE_TIMEOUT_S`)."""
    seconds = CODE_TIMEOUT_S if seconds is None else seconds
    on_main = threading.current_thread() is threading.main_thread()
    if on_main and hasattr(signal, "setitimer"):
        return _alarm(seconds)
    return _traced_deadline(seconds)


@dataclass(frozen=True)
class Outcome:
    """What running one piece of student code did.

    ``value`` is the result (None after an error), ``error`` the exception raised (None if
    none), ``timed_out`` whether the time limit stopped it, ``stdout`` what it printed.
    """

    value: Any
    error: BaseException | None
    timed_out: bool
    stdout: str


def run_limited(action: Callable[[], Any], seconds: float | None = None) -> Outcome:
    """Run ``action()`` with a time limit (default :data:`CODE_TIMEOUT_S`) and captured stdout;
    never raises (but Ctrl-C)."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), time_limit(seconds):
            value = action()
    except CheckTimeout:
        return Outcome(None, None, True, buffer.getvalue()[:MAX_CAPTURED_CHARS])
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit from the student's code is a mistake too
        return Outcome(None, error, False, buffer.getvalue()[:MAX_CAPTURED_CHARS])
    return Outcome(value, None, False, buffer.getvalue()[:MAX_CAPTURED_CHARS])


def register_source(source: str, filename: str) -> None:
    """Make ``source`` visible to linecache under ``filename`` (so tracebacks show lines)."""
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)


def student_frame(traceback: TracebackType | None) -> tuple[str, int, str] | None:
    """(filename, line number, source line) of the innermost frame outside learnpulse.course."""
    found = None
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if not code.co_filename.startswith(_OWN_FOLDER):
            line = linecache.getline(code.co_filename, traceback.tb_lineno).strip()
            found = (code.co_filename, traceback.tb_lineno, line)
        traceback = traceback.tb_next
    return found


def cut_text(text: str, limit: int) -> str:
    """``text``, or its first ``limit - 3`` characters and "..."."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def error_message(error: BaseException, limit: int = MAX_ERROR_CHARS) -> str:
    """``str(error)`` cut to ``limit`` characters, or a note when its ``__str__`` raises (a
    student's own exception class may have a broken one)."""
    try:
        return cut_text(str(error), limit)
    except Exception:
        return f"(the {type(error).__name__}'s message could not be read)"


def describe_error(error: BaseException) -> str:
    """``"IndexError: list index out of range (line 3: `return items[i]`)"``; a message is
    cut to :data:`MAX_ERROR_CHARS` (a student's ``ValueError('m' * 5_000_000)`` was 5 MB of
    feedback)."""
    message = error_message(error)
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if isinstance(error, SyntaxError) and error.lineno:
        line = (error.text or "").strip()
        return f"SyntaxError: {error.msg} (line {error.lineno}: `{line}`)"
    where = student_frame(error.__traceback__)
    if where is None:
        return text
    _, number, line = where
    return f"{text} (line {number}: `{line}`)" if line else f"{text} (line {number})"
