"""Time to completion on a simulated course: are the days left and their interval borne out?

Run with ``learnpulse benchmark completion [--learners N] [--seed S] [--weeks W ...] [--json]``.
A BKT fitted on an earlier simulated cohort (seed + 1) traces a course (``--seed``). At each
cut-off (``--weeks`` after the first event, each before the last), for every goal
(consecutive runs of ``--goal-size`` skills in prerequisite order, and the whole course), each
learner whom :func:`~learnpulse.models.completion.time_to_completion` finds "in progress" is
followed to the first response after which every goal skill is mastered (BKT P(known) >= the mastery
threshold), if that happens before the course's last event.

Two paces are compared in the same run: the gains on the goal's skills (what
``time_to_completion`` uses) and the gains on every skill (what it used before 2026-12-07).
Reported for each, pooled over cut-offs and goals: learners in progress and how many reached
the goal; of those, the share whose days fall inside the interval and the median absolute
error of the days; of those who did not, the share told they would finish within the days the
course had left ("optimistic"); and how many of the learners found making "no progress" did
reach the goal.

In the simulated course learners move on to the next week's skills and seldom come back, so
most goals of a few skills are never fully mastered: this measures how honest the estimates
are about that, not how well a course where learners work to mastery is predicted.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

import polars as pl

from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.models.completion import IN_PROGRESS, NO_PROGRESS, time_to_completion
from learnpulse.models.gaps import prerequisite_graph
from learnpulse.models.knowledge_tracing import MASTERY_THRESHOLD
from learnpulse.models.mastery import course_mastery, fit_mastery_model, trace_mastery
from learnpulse.models.velocity import weekly_progress

#: Cut-offs, in weeks after the course's first event.
WEEKS = (4, 6, 8)
#: Skills per goal (consecutive in prerequisite order).
GOAL_SIZE = 3
PACES = ("goal skills", "every skill")
_DAY_SECONDS = 86_400


def goals(skills: pl.DataFrame, size: int) -> list[list[str]]:
    """Consecutive runs of ``size`` skills in prerequisite order, then the whole course."""
    order = list(prerequisite_graph(skills).order)
    runs = [order[i : i + size] for i in range(0, len(order), size)]
    return [run for run in runs if len(run) == size] + [order]


def reached(responses: pl.DataFrame, goal: list[str], cut) -> pl.DataFrame:
    """Per learner, the first response after ``cut`` after which every ``goal`` skill is
    mastered (``reached_at``); learners who never get there have no row."""
    mastered = (pl.col("p_after") >= MASTERY_THRESHOLD).cast(pl.Int32)
    change = mastered - mastered.shift(1).over("learner_id", "skill").fill_null(0)
    return (
        responses.filter(pl.col("skill").is_in(goal))
        .sort("learner_id", "ts", "skill")
        .with_columns(n_mastered=change.cum_sum().over("learner_id"))
        .filter((pl.col("n_mastered") == len(goal)) & (pl.col("ts") > cut))
        .group_by("learner_id")
        .agg(reached_at=pl.col("ts").min())
    )


def check_weeks(events: pl.DataFrame, weeks: list[int]) -> None:
    """ValueError for a cut-off at or after the course's last event: nobody can reach a goal
    after it, so every estimate was scored against nothing (at week 20 of a 12-week course
    every learner was "no progress" and the measures were empty)."""
    start, end = events.get_column("ts").min(), events.get_column("ts").max()
    late = [week for week in weeks if start + timedelta(weeks=week) >= end]
    if late:
        span = (end - start) / timedelta(weeks=1)
        raise ValueError(
            f"--weeks {late[0]} is not before the end of the simulated course (its last event "
            f"is {span:.1f} weeks after its first): give cut-offs before it"
        )


def outcomes(data, model, weeks: tuple[int, ...], size: int) -> pl.DataFrame:
    """One row per (cut-off, goal, pace, learner): the estimate and what happened."""
    events = data.events
    start, end = events.get_column("ts").min(), events.get_column("ts").max()
    responses = trace_mastery(events, model=model).responses
    rows = []
    for week in weeks:
        cut = start + timedelta(weeks=week)
        trace = trace_mastery(events, model=model, at=cut)
        mastery = course_mastery(events, skills=data.skills, model=model, at=cut)
        every = weekly_progress(events, trace=trace, at=cut)
        for goal in goals(data.skills, size):
            on_goal = weekly_progress(events, trace=trace, at=cut, skills=goal)
            for pace, progress in zip(PACES, (on_goal, every), strict=True):
                estimate = time_to_completion(
                    events, mastery, skills=data.skills, goal_skills=goal, at=cut, progress=progress
                )
                happened = estimate.join(reached(responses, goal, cut), on="learner_id", how="left")
                rows.append(
                    happened.select(
                        "learner_id",
                        "status",
                        "days_left",
                        "days_low",
                        "days_high",
                        actual=(pl.col("reached_at") - cut).dt.total_seconds() / _DAY_SECONDS,
                        days_remaining=pl.lit((end - cut).total_seconds() / _DAY_SECONDS),
                        pace=pl.lit(pace),
                        week=pl.lit(week),
                        goal=pl.lit(",".join(goal)),
                    )
                )
    return pl.concat(rows)


def summary(rows: pl.DataFrame) -> pl.DataFrame:
    """The measures of the module docstring, one row per pace."""
    got = pl.col("actual").is_not_null()
    inside = (pl.col("days_low") <= pl.col("actual")) & (pl.col("actual") <= pl.col("days_high"))
    going = pl.col("status") == IN_PROGRESS
    return (
        rows.group_by("pace", maintain_order=True)
        .agg(
            in_progress=going.sum(),
            reached=(going & got).sum(),
            coverage=inside.filter(going & got).mean(),
            median_abs_error_days=(pl.col("days_left") - pl.col("actual"))
            .abs()
            .filter(going & got)
            .median(),
            optimistic=(pl.col("days_left") < pl.col("days_remaining")).filter(going & ~got).mean(),
            no_progress=(pl.col("status") == NO_PROGRESS).sum(),
            no_progress_reached=((pl.col("status") == NO_PROGRESS) & got).sum(),
        )
        .with_columns(pl.col("coverage", "median_abs_error_days", "optimistic").round(3))
    )


def run(argv: list[str] | None = None) -> dict:
    """Parse ``argv``, run the benchmark, print a table; return the result dict."""
    parser = argparse.ArgumentParser(prog="learnpulse benchmark completion", description=__doc__)
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weeks", type=int, nargs="+", default=list(WEEKS))
    parser.add_argument("--goal-size", type=int, default=GOAL_SIZE)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "learners", "weeks", "goal_size")
    data = simulate_course(SimulationConfig(n_learners=args.learners, seed=args.seed))
    check_weeks(data.events, args.weeks)
    earlier = simulate_course(SimulationConfig(n_learners=args.learners, seed=args.seed + 1))
    model = fit_mastery_model(earlier.events)
    table = summary(outcomes(data, model, tuple(args.weeks), args.goal_size))
    by_pace = {row.pop("pace"): row for row in table.iter_rows(named=True)}
    result = {
        "learners": args.learners,
        "weeks": args.weeks,
        "goals": len(goals(data.skills, args.goal_size)),
        **{f"{k}_{p.replace(' ', '_')}": v for p, row in by_pace.items() for k, v in row.items()},
    }
    print_report(table, result, as_json=args.json)
    return result


if __name__ == "__main__":
    run()
