"""The simulated course as arrays, plus the time and array helpers the simulator shares.

:func:`build_course` draws a course from the catalogue of
:mod:`~learnpulse.datasets.simulator_params`: exercises per skill with a difficulty and a
type, resources, weekly quizzes, each skill's BKT parameters, and the item and skill frames.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import polars as pl

from learnpulse.datasets.base import ITEM_FRAME_SCHEMA, SKILL_FRAME_SCHEMA
from learnpulse.datasets.simulator_params import (
    BKT_MAX_GUESS_SLIP,
    ERROR_TYPES,
    EXERCISE_TYPES,
    RESOURCE_KINDS,
    SKILLS,
    SimulationConfig,
)

# -- time and the course as arrays -----------------------------------------------------------

SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US
WEEK_US = 7 * DAY_US
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of a timezone-aware datetime."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def iso(us: int) -> str:
    """ISO 8601 UTC text of epoch microseconds."""
    return (_EPOCH + timedelta(microseconds=int(us))).isoformat().replace("+00:00", "Z")


def quiz_due_us(config: SimulationConfig) -> np.ndarray:
    """Due time of each week's quiz, shape (weeks,): a minute before the week ends."""
    ends = epoch_us(config.start) + (np.arange(config.weeks) + 1) * WEEK_US
    return ends - 60 * SECOND_US


@dataclass
class Course:
    """One drawn course as arrays; skills are indexed in catalogue (teaching) order.

    Items are the exercises grouped by skill, then ``len(RESOURCE_KINDS)`` resources per
    skill, then one quiz per week.
    """

    intro_week: np.ndarray  # (n_skills,) 0-based week each skill is taught
    prereq: np.ndarray  # (n_skills, n_skills) bool: [s, p] when p is a prerequisite of s
    bkt: dict[str, np.ndarray]  # logits of p_init, p_learn, p_guess, p_slip, each (n_skills,)
    error_cdf: np.ndarray  # (n_skills, len(ERROR_TYPES)) cumulative error-type probabilities
    tables: dict[str, tuple[np.ndarray, np.ndarray]]  # see _week_tables
    ex_first: np.ndarray  # (n_skills,) item index of each skill's first exercise
    ex_count: np.ndarray  # (n_skills,)
    res_first: int  # item index of the first resource
    quiz_first: int  # item index of the first week's quiz
    item_difficulty: np.ndarray  # (n_items,), NaN for resources
    item_type: np.ndarray  # (n_items,) index into EXERCISE_TYPES, -1 for other items
    items: pl.DataFrame  # ITEM_FRAME_SCHEMA
    skills: pl.DataFrame  # SKILL_FRAME_SCHEMA


def _week_tables(intro_week: np.ndarray, weeks: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Skills to choose from each week: name -> (table, counts).

    ``table`` has shape (weeks, n_skills): row w lists the ``counts[w]`` eligible skills first.
    "current" are the skills taught most recently by week w, "earlier" those taught before
    them, "covered" both.
    """
    covered = intro_week[None, :] <= np.arange(weeks)[:, None]
    latest = np.where(covered, intro_week[None, :], -1).max(axis=1, keepdims=True)
    current = intro_week[None, :] == latest
    masks = {"current": current, "earlier": covered & ~current, "covered": covered}
    return {
        name: (np.argsort(~mask, axis=1, kind="stable"), mask.sum(axis=1))
        for name, mask in masks.items()
    }


def _error_cdf(prereq: np.ndarray) -> np.ndarray:
    """Cumulative error-type probabilities per skill, shape (n_skills, len(ERROR_TYPES)).

    An error type tied to a skill occurs only in that skill or the skills built on it.
    """
    reach = prereq.copy()
    for s in range(len(SKILLS)):  # teaching order is topological: prerequisites are complete
        reach[s] |= reach[prereq[s]].any(axis=0)
    reach |= np.eye(len(SKILLS), dtype=bool)
    index = {skill.skill_id: i for i, skill in enumerate(SKILLS)}
    weights = np.array(
        [
            [e.weight if e.needs is None or reach[s, index[e.needs]] else 0.0 for e in ERROR_TYPES]
            for s in range(len(SKILLS))
        ]
    )
    return np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)


def _exercise_rows(
    config: SimulationConfig, rng: np.random.Generator, intro_week: np.ndarray
) -> list[dict]:
    """One item row per exercise: ``exercises_per_skill`` per skill, grouped by skill."""
    low, high = config.exercises_per_skill
    counts = rng.integers(low, high + 1, len(SKILLS))
    skill = np.repeat(np.arange(len(SKILLS)), counts)
    base = np.array([s.difficulty for s in SKILLS])[skill]
    spread = config.exercise_difficulty_spread * rng.standard_normal(skill.size)
    difficulty = np.round(np.clip(base + spread, 0, 1), 3)
    shares = np.array([t.share for t in EXERCISE_TYPES])
    kind = rng.choice(len(EXERCISE_TYPES), skill.size, p=shares / shares.sum())
    extra = rng.random(skill.size) < config.multi_skill_share
    which = rng.random(skill.size)
    number = np.arange(skill.size) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    rows = []
    for i, s in enumerate(skill):
        own = SKILLS[s]
        tags = [own.skill_id]
        if extra[i] and own.prerequisites:
            tags.append(own.prerequisites[int(which[i] * len(own.prerequisites))])
        rows.append(
            {
                "item_id": f"ex-{own.skill_id}-{number[i]:02d}",
                "skills": tags,
                "difficulty": float(difficulty[i]),
                "type": int(kind[i]),
                "attributes": {
                    "type": "exercise",
                    "exercise_type": EXERCISE_TYPES[kind[i]].name,
                    "week": int(intro_week[s]) + 1,
                },
            }
        )
    return rows


def _other_rows(config: SimulationConfig, intro_week: np.ndarray) -> list[dict]:
    """Item rows of the resources (per skill and kind) and of the weekly quizzes."""
    rows = [
        {
            "item_id": f"res-{skill.skill_id}-{kind}",
            "skills": [skill.skill_id],
            "difficulty": None,
            "type": -1,
            "attributes": {
                "type": "resource",
                "resource_type": kind,
                "minutes": minutes,
                "week": int(intro_week[s]) + 1,
            },
        }
        for s, skill in enumerate(SKILLS)
        for kind, minutes in RESOURCE_KINDS.items()
    ]
    base = np.array([s.difficulty for s in SKILLS])
    for week, due in enumerate(quiz_due_us(config)):
        covered = intro_week <= week
        rows.append(
            {
                "item_id": f"quiz-w{week + 1:02d}",
                "skills": [s.skill_id for s, c in zip(SKILLS, covered, strict=True) if c],
                "difficulty": round(float(base[covered].mean()), 3),
                "type": -1,
                "attributes": {
                    "type": "assessment",
                    "assessment_type": "quiz",
                    "week": week + 1,
                    "due": iso(due),
                    "weight": round(1 / config.weeks, 6),
                    "questions": config.quiz_questions,
                },
            }
        )
    return rows


def _frames(course_id: str, rows: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The item frame of ``rows`` and the skill frame of the catalogue."""
    items = pl.DataFrame(
        [
            {
                "course_id": course_id,
                **{k: r[k] for k in ("item_id", "skills", "difficulty")},
                "attributes": json.dumps(r["attributes"], separators=(",", ":")),
            }
            for r in rows
        ],
        schema=ITEM_FRAME_SCHEMA,
    )
    skills = pl.DataFrame(
        [(course_id, s.skill_id, s.name, list(s.prerequisites)) for s in SKILLS],
        schema=SKILL_FRAME_SCHEMA,
        orient="row",
    )
    return items, skills


def build_course(config: SimulationConfig, rng: np.random.Generator) -> Course:
    """Draw the course: exercises, their difficulty and type, and each skill's BKT parameters."""
    n_skills = len(SKILLS)
    index = {skill.skill_id: i for i, skill in enumerate(SKILLS)}
    prereq = np.zeros((n_skills, n_skills), dtype=bool)
    for s, skill in enumerate(SKILLS):
        prereq[s, [index[p] for p in skill.prerequisites]] = True
    intro_week = np.arange(n_skills) * config.weeks // n_skills
    exercises = _exercise_rows(config, rng, intro_week)
    rows = exercises + _other_rows(config, intro_week)
    bkt = {
        name: centre + config.skill_spread_scale * spread * rng.standard_normal(n_skills)
        for name, (centre, spread) in config.bkt_priors.items()
    }
    cap = math.log(BKT_MAX_GUESS_SLIP / (1 - BKT_MAX_GUESS_SLIP))
    bkt["p_guess"], bkt["p_slip"] = np.minimum(bkt["p_guess"], cap), np.minimum(bkt["p_slip"], cap)
    ex_count = np.bincount([index[r["skills"][0]] for r in exercises], minlength=n_skills)
    items, skills = _frames(config.course_id, rows)
    return Course(
        intro_week=intro_week,
        prereq=prereq,
        bkt=bkt,
        error_cdf=_error_cdf(prereq),
        tables=_week_tables(intro_week, config.weeks),
        ex_first=np.cumsum(ex_count) - ex_count,
        ex_count=ex_count,
        res_first=len(exercises),
        quiz_first=len(exercises) + n_skills * len(RESOURCE_KINDS),
        item_difficulty=np.array(
            [np.nan if r["difficulty"] is None else r["difficulty"] for r in rows]
        ),
        item_type=np.array([r["type"] for r in rows]),
        items=items,
        skills=skills,
    )


# -- array helpers ---------------------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, elementwise (logit -> probability), same shape as ``x``."""
    return 1 / (1 + np.exp(-x))


def lognormal(rng: np.random.Generator, median: float, sigma: float, size: Any) -> np.ndarray:
    """Log-normal draws of shape ``size`` with this median and log-scale spread ``sigma``."""
    return median * np.exp(sigma * rng.standard_normal(size))


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``counts.sum()`` children: parent index and position among its siblings."""
    parent = np.repeat(np.arange(counts.size), counts)
    return parent, np.arange(parent.size) - (np.cumsum(counts) - counts)[parent]


def run_offsets(parent: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Sum of ``step`` over the earlier rows of the same parent (rows grouped by parent)."""
    before = np.cumsum(step) - step
    if parent.size == 0:
        return before
    first = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    return before - np.repeat(before[first], np.diff(np.r_[first, parent.size]))
