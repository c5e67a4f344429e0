"""Exercise feedback latency per exercise type: the checker alone vs. the whole widget path.

Run with ``learnpulse benchmark widgets`` or ``python benchmarks/bench_widgets.py``. For each
type (numeric, choice, text, code) answers alternate between wrong and right and are checked:

- ``check``: :func:`learnpulse.course.check` alone;
- ``feedback``: an :class:`~learnpulse.widgets.ExerciseWidget` from ``submit()`` until its
  feedback is shown, in a session with a live :class:`~learnpulse.widgets.ProgressWidget`;
- ``attempt``: the whole ``submit()``: feedback, the attempt event handed to
  ``learnpulse.track`` (a real SQLite store in a temporary folder), the BKT mastery update and
  the progress widget's refresh.

The target is feedback within :data:`TARGET_MS` (p95); all three run in the same process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.collectors import tracking
from learnpulse.course import check, demo_course
from learnpulse.widgets import ExerciseWidget, LearnerSession, ProgressWidget

#: Feedback latency the widgets must stay under (95th percentile), milliseconds.
TARGET_MS = 100.0
#: Per type: (exercise id, a wrong answer, a right answer), as a student would type or write.
CASES: dict[str, tuple[str, Any, Any]] = {
    "numeric": ("ex-lists-01", 4, 3),
    "choice": ("ex-lists-02", "c", "b"),
    "text": ("ex-lists-04", "extend", "append"),
    "code": (
        "ex-loops-04",
        "def total(numbers):\n    r = 0\n    for n in numbers:\n        r += n\n        return r\n",
        "def total(numbers):\n    r = 0\n    for n in numbers:\n        r += n\n    return r\n",
    ),
}


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 and p95 (milliseconds) of ``samples_ms``."""
    values = np.asarray(samples_ms)
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def bench_type(kind: str, repeats: int, session: LearnerSession) -> dict[str, dict[str, float]]:
    """Latencies of one exercise type: checker, widget feedback, whole attempt."""
    exercise_id, wrong, right = CASES[kind]
    exercise = session.course.exercise(exercise_id)
    widget = ExerciseWidget(exercise, session=session)
    feedback_at: list[float] = []
    widget.observe(lambda change: feedback_at.append(time.perf_counter()), names="feedback")
    checker, feedback, attempt = [], [], []
    for i in range(repeats):
        answer = right if i % 2 else wrong
        checker.append(timed(lambda answer=answer: check(exercise, answer)))
        widget.feedback = ""  # so that every submit changes it and is observed
        feedback_at.clear()
        started = time.perf_counter()
        widget.submit(answer)
        ended = time.perf_counter()
        feedback.append((feedback_at[-1] - started) * 1000)
        attempt.append((ended - started) * 1000)
    return {
        "check": percentiles(checker),
        "feedback": percentiles(feedback),
        "attempt": percentiles(attempt),
    }


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="learnpulse benchmark widgets", description=__doc__)
    parser.add_argument("--repeats", type=int, default=100, help="answers checked per type")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "repeats")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'events.db'}"
        sink = tracking.configure(store_url=url, spool_dir=Path(tmp) / "spool")
        session = LearnerSession(course=demo_course(), learner_id="bench", store_url=url)
        progress = ProgressWidget(session=session)  # refreshed after every attempt
        result = {kind: bench_type(kind, args.repeats, session) for kind in CASES}
        delivered = sink.flush(30.0)
        sink.close()
    rows = [
        {"type": kind, "path": path, **{k: round(v, 2) for k, v in stats.items()}}
        for kind, paths in result.items()
        for path, stats in paths.items()
    ]
    feedback_p95 = max(paths["feedback"]["p95_ms"] for paths in result.values())
    summary = {
        "per_type": result,
        "target_ms": TARGET_MS,
        "worst_feedback_p95_ms": round(feedback_p95, 2),
        "meets_target": feedback_p95 < TARGET_MS,
        "events_delivered": delivered,
        "progress_refreshed": progress.recommendation is not None,
    }
    print(f"worst feedback p95 {feedback_p95:.1f} ms (target < {TARGET_MS:.0f} ms)")
    print_report(pl.DataFrame(rows), summary, as_json=args.json)
    return summary


if __name__ == "__main__":
    run()
