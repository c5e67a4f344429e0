"""Learner-model speed on a simulated course: mastery, velocity, completion, gaps, recommend.

Run with ``learnpulse benchmark learner_models`` or ``python benchmarks/bench_learner_models.py``.
Every step runs ``--repeat`` times on the same simulated course; the fastest run's wall and CPU
time are reported (CPU time, with ``POLARS_MAX_THREADS=1``, is steadier on a shared machine).
``BKT.mastery`` runs too, as the baseline of the course-mastery path.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import polars as pl

from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.models.completion import time_to_completion
from learnpulse.models.gaps import knowledge_gaps
from learnpulse.models.mastery import course_mastery, fit_mastery_model, trace_mastery
from learnpulse.models.recommendations import recommend
from learnpulse.models.velocity import learning_velocity, weekly_progress


def _best(step: Callable[[], Any], repeat: int) -> tuple[tuple[float, float], Any]:
    """(wall, CPU) seconds of the fastest of ``repeat`` runs, and the step's result."""
    best, result = (float("inf"), float("inf")), None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = step()
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best, result


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="learnpulse benchmark learner_models")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "learners", "repeat")
    course = simulate_course(SimulationConfig(n_learners=args.learners))
    events, skills, items = course.events, course.skills, course.items
    times: dict[str, tuple[float, float]] = {}
    times["fit_mastery_model"], model = _best(lambda: fit_mastery_model(events), 1)
    times["BKT.mastery (baseline)"], _ = _best(lambda: model.mastery(events), args.repeat)
    times["course_mastery"], mastery = _best(
        lambda: course_mastery(events, skills=skills, model=model), args.repeat
    )
    times["trace_mastery"], trace = _best(lambda: trace_mastery(events, model=model), args.repeat)
    times["weekly_progress (trace given)"], progress = _best(
        lambda: weekly_progress(events, trace=trace), args.repeat
    )
    times["learning_velocity (progress given)"], _ = _best(
        lambda: learning_velocity(events, progress=progress), args.repeat
    )
    times["learning_velocity (model given)"], _ = _best(
        lambda: learning_velocity(events, model=model), args.repeat
    )
    times["time_to_completion (progress given)"], _ = _best(
        lambda: time_to_completion(events, mastery, skills=skills, progress=progress),
        args.repeat,
    )
    times["knowledge_gaps"], _ = _best(lambda: knowledge_gaps(mastery, skills), args.repeat)
    times["recommend (every learner)"], _ = _best(
        lambda: recommend(mastery, items, skills, events, goal="classes"), args.repeat
    )
    one = mastery["learner_id"][0]
    times["recommend (one learner)"], _ = _best(
        lambda: recommend(mastery, items, skills, events, learner=one, goal="classes"),
        args.repeat,
    )
    table = pl.DataFrame(
        {
            "step": list(times),
            "wall_seconds": [round(wall, 3) for wall, _ in times.values()],
            "cpu_seconds": [round(cpu, 3) for _, cpu in times.values()],
        }
    )
    result = {
        "n_learners": args.learners,
        "n_events": events.height,
        "wall_seconds": {step: wall for step, (wall, _) in times.items()},
        "cpu_seconds": {step: cpu for step, (_, cpu) in times.items()},
    }
    print(f"{args.learners} learners, {events.height} events (best of {args.repeat})")
    print_report(table, result, as_json=args.json)
    return result


if __name__ == "__main__":
    run()
