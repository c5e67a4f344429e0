"""What simulated learners do inside a study session, and the event log it goes to.

Each activity of a session (an exercise, a resource, a tutor conversation) is expanded into
its events with numpy over all activities of a kind at once; :func:`study_events` then lays the
activities end to end inside their sessions and writes everything to an :class:`EventLog`,
which keeps integer codes until :mod:`learnpulse.datasets.simulator` turns them into a frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import polars as pl

from learnpulse.datasets.simulator_course import (
    SECOND_US,
    Course,
    expand,
    lognormal,
    run_offsets,
    sigmoid,
)
from learnpulse.datasets.simulator_params import (
    ERROR_TYPES,
    EXERCISE_TYPES,
    RESOURCE_KINDS,
    TUTOR_AGENTS,
    SimulationConfig,
)
from learnpulse.events import EVENT_KINDS

EXERCISE, RESOURCE, TUTOR = 0, 1, 2  # activity kinds
#: Order of one learner's events sharing a timestamp: registration first, a session opens
#: before and closes after what happens in it, withdrawal last; everything else ranks 2.
_RANK = {"registration": 0, "session_start": 1, "session_end": 3, "withdrawal": 4}
#: Delay between an action and the one it triggers (answer -> explanation).
_REACTION_US = SECOND_US


@dataclass
class Sessions:
    """Study sessions sorted by learner then start, each shape (n_sessions,)."""

    learner: np.ndarray
    week: np.ndarray
    start_us: np.ndarray
    end_us: np.ndarray | None = None


@dataclass
class Activities:
    """Activities sorted by session then time, each shape (n_activities,)."""

    session: np.ndarray
    learner: np.ndarray
    week: np.ndarray
    kind: np.ndarray  # EXERCISE, RESOURCE or TUTOR
    skill: np.ndarray
    item: np.ndarray  # -1 for tutor conversations
    known: np.ndarray | None = None  # bool: the skill is known when the activity starts
    start_us: np.ndarray | None = None


class EventLog:
    """Event columns gathered as numpy parts (codes, not strings), one frame at the end."""

    _DEFAULTS: ClassVar[dict[str, Any]] = {
        "session": -1,
        "item": -1,
        "correct": -1,
        "score": np.nan,
        "duration_ms": -1,
        "attempt": 0,
        "hints_used": -1,
        "confidence": np.nan,
        "difficulty": np.nan,
        "payload": -1,
    }

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.payloads: dict[str, int] = {}

    def payload(self, value: dict[str, Any]) -> int:
        """Code of a payload (its compact JSON text is kept once)."""
        text = json.dumps(value, separators=(",", ":"))
        return self.payloads.setdefault(text, len(self.payloads))

    def add(self, kind: str, ts: np.ndarray, learner: np.ndarray, **columns: Any) -> None:
        """Append events of one kind; ``columns`` are codes or arrays of shape (len(ts),)."""
        unknown = set(columns) - set(self._DEFAULTS)
        if unknown:
            raise TypeError(f"not event columns: {sorted(unknown)}")
        size = len(ts)
        part = {"ts": np.asarray(ts, dtype=np.int64), "learner": learner}
        part["kind"] = np.full(size, EVENT_KINDS.index(kind), dtype=np.int8)
        part["rank"] = np.full(size, _RANK.get(kind, 2), dtype=np.int8)
        for name, default in self._DEFAULTS.items():
            part[name] = np.broadcast_to(columns.get(name, default), size)
        self.parts.append(part)

    def last_ts(self, n_learners: int) -> np.ndarray:
        """Each learner's latest event time so far, shape (n_learners,)."""
        last = np.full(n_learners, np.iinfo(np.int64).min)
        for part in self.parts:
            np.maximum.at(last, part["learner"], part["ts"])
        return last

    def columns(self) -> pl.DataFrame:
        """All parts as one frame of codes, sorted by time (then learner, rank, insertion)."""
        data = {name: np.concatenate([part[name] for part in self.parts]) for name in self.parts[0]}
        return pl.DataFrame(data).sort(["ts", "learner", "rank"], maintain_order=True)


@dataclass
class Study:
    """What the in-session functions share."""

    config: SimulationConfig
    course: Course
    acts: Activities
    pace: np.ndarray  # (n_learners,)
    rng: np.random.Generator
    log: EventLog


class _Relative(NamedTuple):
    """Events of activities ``rows``, ``offset`` microseconds after each activity starts."""

    kind: str
    rows: np.ndarray
    offset: np.ndarray
    columns: dict[str, Any]


def _relative(kind: str, rows: np.ndarray, offset: np.ndarray, **columns: Any) -> _Relative:
    return _Relative(kind, rows, offset, columns)


@dataclass
class _Attempts:
    """Attempts at the exercise activities ``rows``; matrices of shape (rows.size, max_attempts)."""

    rows: np.ndarray
    exists: np.ndarray  # bool: the learner made this attempt
    correct: np.ndarray
    hints: np.ndarray
    p_right: np.ndarray
    dur: np.ndarray  # microseconds
    begin: np.ndarray  # offset of the attempt's start in its activity
    difficulty: np.ndarray  # (rows.size,)
    code: np.ndarray  # (rows.size,) bool: a code exercise (cells run)


def _attempts(study: Study, rows: np.ndarray) -> _Attempts:
    """Draw up to ``max_attempts`` attempts per exercise: stop when right or giving up."""
    config, course, acts, rng = study.config, study.course, study.acts, study.rng
    shape = (rows.size, config.max_attempts)
    known, item, skill = acts.known[rows][:, None], acts.item[rows], acts.skill[rows]
    difficulty = course.item_difficulty[item]
    shift = (config.difficulty_effect * (difficulty - 0.5))[:, None]
    guess = sigmoid(course.bkt["p_guess"][skill][:, None] - shift)
    slip = sigmoid(course.bkt["p_slip"][skill][:, None] + shift)
    hint_rate = np.where(known, config.hint_rate_known, config.hint_rate_unknown)
    hints = np.minimum(rng.poisson(hint_rate, shape), config.max_hint_level)
    retry = np.arange(shape[1]) > 0
    helped = guess + config.hint_guess_gain * hints + config.retry_guess_gain * retry
    # Hints and feedback help a learner who does not know, never beyond one who does.
    p_right = np.where(known, 1 - slip, np.minimum(helped, 1 - slip))
    correct = rng.random(shape) < p_right
    again = ~correct & (rng.random(shape) < config.retry_rate)
    exists = np.ones(shape, dtype=bool)
    exists[:, 1:] = np.cumprod(again[:, :-1], axis=1).astype(bool)
    kind = course.item_type[item]
    # attempt_seconds is the median at difficulty 0.5: half of it at 0, 1.5 times at 1.
    typical = np.array([t.attempt_seconds for t in EXERCISE_TYPES])[kind] * (0.5 + difficulty)
    typical *= np.where(known[:, 0], config.known_speedup, 1.0) / study.pace[acts.learner[rows]]
    spread = lognormal(rng, SECOND_US, config.attempt_sigma, shape)
    dur = np.where(exists, typical[:, None] * spread, 0).astype(np.int64)
    code = np.array([t.runs_code for t in EXERCISE_TYPES])[kind]
    begin = np.cumsum(dur, axis=1) - dur
    return _Attempts(rows, exists, correct, hints, p_right, dur, begin, difficulty, code)


def _hint_events(study: Study, a: _Attempts, r: np.ndarray, c: np.ndarray) -> _Relative:
    """The hint ladder: an attempt's hints spread over its first half."""
    levels = [study.log.payload({"level": k + 1}) for k in range(study.config.max_hint_level)]
    owner, nth = expand(a.hints[r, c])
    hr, hc = r[owner], c[owner]
    at = a.begin[hr, hc] + a.dur[hr, hc] * (nth + 1) // (2 * a.hints[hr, hc] + 2)
    return _relative(
        "hint",
        a.rows[hr],
        at,
        attempt=hc + 1,
        hints_used=nth + 1,
        difficulty=a.difficulty[hr],
        payload=np.array(levels)[nth],
    )


def _cell_events(study: Study, a: _Attempts, r: np.ndarray, c: np.ndarray) -> list[_Relative]:
    """Code cells run over the second half of each code attempt; some raise an error."""
    config, rng = study.config, study.rng
    known = study.acts.known[a.rows][r]
    extra = np.where(known, config.extra_runs_known, config.extra_runs_unknown)
    runs = np.where(a.code[r], 1 + rng.poisson(extra), 0)
    owner, nth = expand(runs)
    rr, rc = r[owner], c[owner]
    slot = a.dur[rr, rc] // (2 * runs[owner] + 2)
    at = a.begin[rr, rc] + a.dur[rr, rc] // 2 + slot * (nth + 1)
    run_us = lognormal(rng, config.cell_run_ms * 1000, config.attempt_sigma, owner.size)
    run_us = run_us.astype(np.int64)
    fail_rate = np.where(known[owner], config.cell_error_rate_known, config.cell_error_rate_unknown)
    fails = rng.random(owner.size) < fail_rate
    cdf = study.course.error_cdf[study.acts.skill[a.rows[rr[fails]]]]
    error = np.minimum((rng.random(fails.sum())[:, None] > cdf).sum(axis=1), len(ERROR_TYPES) - 1)
    names = np.array([study.log.payload({"error_type": e.name}) for e in ERROR_TYPES])
    # The error is reported when the run ends, before the next slot begins.
    ends = at + np.minimum(run_us, slot // 2)
    return [
        _relative("cell_executed", a.rows[rr], at, attempt=rc + 1, duration_ms=run_us // 1000),
        _relative(
            "cell_error",
            a.rows[rr[fails]],
            ends[fails],
            attempt=rc[fails] + 1,
            payload=names[error],
        ),
    ]


def _exercise_work(study: Study, rows: np.ndarray) -> tuple[np.ndarray, list[_Relative]]:
    """Attempts, hints, cell runs and explanations of the exercise activities ``rows``."""
    config, rng = study.config, study.rng
    a = _attempts(study, rows)
    r, c = np.nonzero(a.exists)  # row-major: by exercise, then attempt
    right = a.correct[r, c]
    partial = np.floor(rng.random(r.size) * config.code_tests) / config.code_tests
    noisy = a.p_right[r, c] + config.confidence_noise * rng.standard_normal(r.size)
    reported = rng.random(r.size) < config.confidence_rate
    events = [
        _relative(
            "attempt",
            rows[r],
            a.begin[r, c] + a.dur[r, c],
            correct=right.astype(np.int8),
            score=np.where(right, 1.0, np.where(a.code[r], partial, 0.0)),
            duration_ms=a.dur[r, c] // 1000,
            attempt=c + 1,
            hints_used=a.hints[r, c],
            confidence=np.where(reported, np.clip(noisy, 0, 1).round(2), np.nan),
            difficulty=a.difficulty[r],
        ),
        _hint_events(study, a, r, c),
        *_cell_events(study, a, r, c),
    ]
    every, last = np.arange(rows.size), a.exists.sum(axis=1) - 1
    finished = a.begin[every, last] + a.dur[every, last]
    right = a.correct[every, last]
    view = rng.random(rows.size) < np.where(
        right, config.explanation_rate_right, config.explanation_rate_wrong
    )
    median = config.explanation_seconds * SECOND_US
    read = lognormal(rng, median, config.attempt_sigma, rows.size).astype(np.int64)
    events.append(
        _relative(
            "explanation_viewed",
            rows[view],
            finished[view] + _REACTION_US,
            duration_ms=read[view] // 1000,
            difficulty=a.difficulty[view],
        )
    )
    return finished + view * (_REACTION_US + read), events


def _resource_work(study: Study, rows: np.ndarray) -> tuple[np.ndarray, list[_Relative]]:
    """A resource is opened at the start of its activity and read for its typical minutes."""
    kind = (study.acts.item[rows] - study.course.res_first) % len(RESOURCE_KINDS)
    minutes = np.array(list(RESOURCE_KINDS.values()))[kind]
    read = minutes * lognormal(study.rng, 60 * SECOND_US, study.config.attempt_sigma, rows.size)
    read = read.astype(np.int64)
    opened = np.zeros(rows.size, dtype=np.int64)
    return read, [_relative("resource_view", rows, opened, duration_ms=read // 1000)]


def _tutor_work(study: Study, rows: np.ndarray) -> tuple[np.ndarray, list[_Relative]]:
    """A conversation with one agent: learner messages, each followed by the agent's reply."""
    config, rng = study.config, study.rng
    chat, _ = expand(1 + rng.poisson(config.tutor_exchanges, rows.size))
    write, reply = (
        lognormal(rng, seconds * SECOND_US, config.attempt_sigma, chat.size).astype(np.int64)
        for seconds in (config.message_seconds, config.reply_seconds)
    )
    begin = run_offsets(chat, write + reply)
    share = np.array(list(TUTOR_AGENTS.values()))
    agent = rng.choice(share.size, rows.size, p=share / share.sum())[chat]
    said = {
        role: np.array([study.log.payload({"role": role, "agent": name}) for name in TUTOR_AGENTS])
        for role in ("learner", "tutor")
    }
    total = np.bincount(chat, weights=write + reply, minlength=rows.size).astype(np.int64)
    return total, [
        _relative("tutor_message", rows[chat], begin + write, payload=said["learner"][agent]),
        _relative("tutor_message", rows[chat], begin + write + reply, payload=said["tutor"][agent]),
    ]


_WORK: dict[int, Callable[[Study, np.ndarray], tuple[np.ndarray, list[_Relative]]]] = {
    EXERCISE: _exercise_work,
    RESOURCE: _resource_work,
    TUTOR: _tutor_work,
}


def _without_overlaps(sessions: Sessions, length: np.ndarray) -> np.ndarray:
    """Session starts moved, where needed, to just after the learner's previous session.

    Sessions are on different days, but a late-night one can run past midnight into the next.
    Each pass is vectorised; a pass can only push a clash onto the next session, so few
    passes are needed.
    """
    start = sessions.start_us.copy()
    same = sessions.learner[1:] == sessions.learner[:-1]
    while True:
        ready = start[:-1] + length[:-1] + _REACTION_US
        clash = np.flatnonzero(same & (start[1:] < ready))
        if clash.size == 0:
            return start
        start[clash + 1] = ready[clash]


def study_events(study: Study, sessions: Sessions) -> None:
    """Every event of every session: activity contents first, then their place in time.

    Sets ``study.acts.start_us`` and ``sessions.end_us`` (and moves a session that would
    overlap the previous one).
    """
    acts, n_acts = study.acts, study.acts.kind.size
    durations = np.zeros(n_acts, dtype=np.int64)
    relative: list[_Relative] = []
    for kind, work in _WORK.items():
        rows = np.flatnonzero(acts.kind == kind)
        durations[rows], events = work(study, rows)
        relative += events
    # A pause before every activity and before the session ends; activities do not overlap.
    median = study.config.gap_seconds * SECOND_US
    size = n_acts + sessions.learner.size
    pause = lognormal(study.rng, median, study.config.attempt_sigma, size).astype(np.int64)
    step = pause[:n_acts] + durations
    busy = np.bincount(acts.session, weights=step, minlength=sessions.learner.size)
    length = busy.astype(np.int64) + pause[n_acts:]
    sessions.start_us = _without_overlaps(sessions, length)
    sessions.end_us = sessions.start_us + length
    offset = run_offsets(acts.session, step) + pause[:n_acts]
    acts.start_us = sessions.start_us[acts.session] + offset
    for kind, rows, after, columns in relative:
        ts, learner = acts.start_us[rows] + after, acts.learner[rows]
        study.log.add(
            kind, ts, learner, session=acts.session[rows], item=acts.item[rows], **columns
        )
    numbers = np.arange(sessions.learner.size)
    took_ms = (sessions.end_us - sessions.start_us) // 1000
    study.log.add("session_start", sessions.start_us, sessions.learner, session=numbers)
    study.log.add(
        "session_end", sessions.end_us, sessions.learner, session=numbers, duration_ms=took_ms
    )
