"""Course simulator speed: learner-weeks and events simulated per second.

Run with ``learnpulse benchmark simulator`` or ``python benchmarks/bench_simulator.py``
(``--learners 1000 10000 --weeks 12 --repeat 3``). Each size is simulated ``--repeat`` times
after a small warm-up run, and the fastest run is reported.
"""

from __future__ import annotations

import argparse
import time

import polars as pl

from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.datasets.simulator import SimulationConfig, simulate_course

#: Seconds a 12-week simulation should stay under: "a few seconds" for 1,000 learners,
#: "well under a minute" for 10,000.
TARGET_SECONDS = {1_000: 5.0, 10_000: 30.0}


def bench(n_learners: int, weeks: int, repeat: int, seed: int = 0) -> dict[str, float]:
    """Time ``simulate_course`` for one size; the best of ``repeat`` runs."""
    config = SimulationConfig(n_learners=n_learners, weeks=weeks, seed=seed)
    best, events = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        data = simulate_course(config)
        best = min(best, time.perf_counter() - started)
        events = data.events.height
    result = {
        "learners": n_learners,
        "weeks": weeks,
        "events": events,
        "seconds": best,
        "learner_weeks_per_s": n_learners * weeks / best,
        "events_per_s": events / best,
    }
    if weeks == 12 and n_learners in TARGET_SECONDS:
        result["target_seconds"] = TARGET_SECONDS[n_learners]
    return result


def run(argv: list[str] | None = None) -> dict:
    """Parse ``argv``, run the benchmark, print a table; return the results by size."""
    parser = argparse.ArgumentParser(prog="learnpulse benchmark simulator", description=__doc__)
    parser.add_argument("--learners", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (best is kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "learners", "weeks", "repeat")
    simulate_course(SimulationConfig(n_learners=10, weeks=2))  # warm-up: imports, caches
    results = {str(n): bench(n, args.weeks, args.repeat) for n in args.learners}
    table = pl.DataFrame(list(results.values())).with_columns(
        pl.col("seconds").round(2),
        pl.col("learner_weeks_per_s", "events_per_s").round(0).cast(pl.Int64),
    )
    print_report(table, results, as_json=args.json)
    return results


if __name__ == "__main__":
    run()
