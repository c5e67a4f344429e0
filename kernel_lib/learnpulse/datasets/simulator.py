"""A synthetic introductory Python course: learners, study sessions and learning events.

:func:`simulate_course` draws the course (:func:`~learnpulse.datasets.simulator_course.
build_course`: skills with a prerequisite DAG, exercises, resources, weekly quizzes), learners
who differ in ability, pace, weekly study hours, preferred hours and days, and persistence, and
then, with numpy over all learners at once, what they do (in-session behaviour lives in
:mod:`~learnpulse.datasets.simulator_activities`):

* study sessions on their preferred days and hours (``session_start`` / ``session_end``), each a
  shuffled sequence of activities: exercises, resources (``resource_view``) and tutor
  conversations (``tutor_message``: the learner's message, then the agent's reply);
* an exercise is up to ``max_attempts`` ``attempt`` events, with ``hint`` events from the hint
  ladder, ``cell_executed`` / ``cell_error`` for code exercises and sometimes
  ``explanation_viewed``;
* correctness follows Bayesian Knowledge Tracing per learner and skill: the learner knows the
  skill from the start (p_init) or learns it after a geometric number of exercises (p_learn,
  BKT's transition, no forgetting); ability shifts both, unmastered prerequisites slow
  learning, item difficulty lowers guess and raises slip;
* a weekly quiz (``assessment_submitted``), sometimes late, scored on the skills known;
* ``registration`` before the start; dropouts (OULAD's rate) fade out and ``withdrawal`` ends
  their log; the others are graded on a curve into Fail / Pass / Distinction (OULAD's shares).

Every number is a :class:`SimulationConfig` field or a documented constant of
:mod:`learnpulse.datasets.simulator_params`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import polars as pl
import pyarrow as pa
from tqdm.auto import tqdm

from learnpulse.datasets.base import LEARNER_FRAME_SCHEMA, CourseData
from learnpulse.datasets.simulator_activities import (
    EXERCISE,
    RESOURCE,
    Activities,
    EventLog,
    Sessions,
    Study,
    study_events,
)
from learnpulse.datasets.simulator_course import (
    DAY_US,
    SECOND_US,
    WEEK_US,
    Course,
    build_course,
    epoch_us,
    expand,
    iso,
    lognormal,
    quiz_due_us,
    sigmoid,
)
from learnpulse.datasets.simulator_params import (
    COMPLETER_RESULTS,
    PREFERRED_HOUR_WEIGHTS,
    RESOURCE_KINDS,
    SKILLS,
    WEEKDAY_NAMES,
    WEEKDAY_WEIGHTS,
    SimulationConfig,
)
from learnpulse.events import EVENT_FRAME_SCHEMA, EVENT_KINDS

__all__ = ["SimulationConfig", "simulate_course"]

_NEVER = np.iinfo(np.int64).max
#: A withdrawal is recorded at least this long after the learner's last action.
_LEAVE_AFTER_US = 60 * SECOND_US
#: Random streams, one per stage, so that changing one stage leaves the others' draws alone.
_STAGES = ("course", "learners", "sessions", "activities", "knowledge", "work", "quizzes", "grade")


@dataclass
class _Learners:
    """Learner traits, each shape (n_learners,) unless said otherwise."""

    ability: np.ndarray  # standard normal
    persistence: np.ndarray  # standard normal
    pace: np.ndarray  # log-normal around 1
    hours: np.ndarray  # weekly study hours
    preferred_hour: np.ndarray  # 0..23 UTC
    day_weights: np.ndarray  # (n_learners, 7), Monday first
    dropped: np.ndarray  # bool: will withdraw
    leave_us: np.ndarray  # planned withdrawal, epoch microseconds; _NEVER if not dropped
    registered_us: np.ndarray


@dataclass
class _Run:
    """One simulation: its settings, random streams, course and learners."""

    config: SimulationConfig
    rng: dict[str, np.random.Generator]
    course: Course
    learners: _Learners


def _streams(config: SimulationConfig) -> dict[str, np.random.Generator]:
    """One random stream per stage, derived from the seed and the course id.

    Event ids come from a stream seeded by the whole config, so two different simulations
    written to one store never share an id, while the same config repeats them exactly.
    """
    course_key = int.from_bytes(hashlib.sha256(config.course_id.encode()).digest()[:8], "little")
    children = np.random.SeedSequence([config.seed, course_key]).spawn(len(_STAGES))
    streams = dict(zip(_STAGES, map(np.random.default_rng, children), strict=True))
    fingerprint = int.from_bytes(hashlib.sha256(repr(config).encode()).digest()[:16], "little")
    streams["ids"] = np.random.default_rng([config.seed, fingerprint])
    return streams


def _draw_learners(config: SimulationConfig, rng: np.random.Generator) -> _Learners:
    """Every learner's traits, whether they drop out and when."""
    n = config.n_learners
    ability, persistence, noise = rng.standard_normal((3, n))
    # The dropout propensity has unit variance, so a normal quantile gives the wanted rate.
    w_p, w_a = config.dropout_persistence_weight, config.dropout_ability_weight
    propensity = -w_p * persistence - w_a * ability + np.sqrt(1 - w_p**2 - w_a**2) * noise
    rate = config.withdrawn_rate
    cut = np.inf if rate <= 0 else -np.inf if rate >= 1 else NormalDist().inv_cdf(1 - rate)
    dropped = propensity > cut
    quantiles = np.asarray(config.withdrawal_quantiles)
    when = np.interp(rng.random(n), np.linspace(0, 1, quantiles.size), quantiles).clip(0, 1)
    course_us = config.weeks * WEEK_US
    # OULAD's many withdrawals before the start happen during the first week here.
    offset = np.maximum(when * course_us, rng.random(n) * min(WEEK_US, course_us))
    start = epoch_us(config.start)
    lead = rng.random(n) * config.registration_lead_days * DAY_US
    hour_p = np.asarray(PREFERRED_HOUR_WEIGHTS) / sum(PREFERRED_HOUR_WEIGHTS)
    shape = config.weekday_concentration
    return _Learners(
        ability=ability,
        persistence=persistence,
        pace=np.exp(config.pace_sigma * rng.standard_normal(n)),
        hours=lognormal(rng, config.study_hours_median, config.study_hours_sigma, n),
        preferred_hour=rng.choice(24, n, p=hour_p),
        day_weights=np.asarray(WEEKDAY_WEIGHTS) * rng.gamma(shape, 1 / shape, (n, 7)),
        dropped=dropped,
        leave_us=np.where(dropped, start + offset.astype(np.int64), _NEVER),
        registered_us=start - lead.astype(np.int64),
    )


def _weekly_activity(config: SimulationConfig, leave_us: np.ndarray) -> np.ndarray:
    """Activity level per learner and week, shape (n_learners, weeks), 1 = usual.

    Everybody's motivation decays a little each week; a future dropout fades out over the
    ``disengage_weeks`` before leaving (the signal early-warning models look for).
    """
    middle = epoch_us(config.start) + (np.arange(config.weeks) + 0.5) * WEEK_US
    weeks_left = (leave_us[:, None] - middle[None, :]) / WEEK_US
    fade = np.clip(weeks_left / config.disengage_weeks, 0, 1) if config.disengage_weeks else 1.0
    floor = config.disengage_floor
    decay = (1 - config.weekly_activity_decay) ** np.arange(config.weeks)
    return decay * (floor + (1 - floor) * fade)


def _draw_sessions(run: _Run) -> Sessions:
    """Sessions per learner and week (at most one a day), on preferred days and hours."""
    config, learners, rng = run.config, run.learners, run.rng["sessions"]
    n, weeks = config.n_learners, config.weeks
    rate = learners.hours[:, None] * config.sessions_per_study_hour
    count = np.minimum(rng.poisson(rate * _weekly_activity(config, learners.leave_us)), 7)
    # Days without replacement, weighted by the learner's rhythm: Gumbel top-k.
    calendar = (config.start.weekday() + np.arange(7)) % 7  # weekday of each day of a week
    keys = np.log(learners.day_weights[:, calendar])[:, None, :] + rng.gumbel(size=(n, weeks, 7))
    days = np.argsort(-keys, axis=2).reshape(n * weeks, 7)
    cell, nth = expand(count.ravel())
    learner, week = cell // weeks, cell % weeks
    jitter = config.preferred_hour_spread * rng.standard_normal(cell.size)
    hour = (learners.preferred_hour[learner] + jitter) % 24
    start = epoch_us(config.start)
    midnight = start - start % DAY_US + week * WEEK_US + days[cell, nth] * DAY_US
    begin = midnight + (hour * 3600 * SECOND_US).astype(np.int64)
    keep = (begin >= start) & (begin < learners.leave_us[learner])
    order = np.lexsort((begin[keep], learner[keep]))
    return Sessions(learner[keep][order], week[keep][order], begin[keep][order])


def _pick(course: Course, table: str, week: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniform choice of skill per row among the week's ``table`` skills (see Course)."""
    skills, counts = course.tables[table]
    return skills[week, (rng.random(week.size) * counts[week]).astype(np.int64)]


def _draw_activities(run: _Run, sessions: Sessions) -> Activities:
    """What each session holds, in the order the learner does it."""
    config, course, rng = run.config, run.course, run.rng["activities"]
    pace = run.learners.pace[sessions.learner]
    n_ex = np.maximum(1, rng.poisson(config.exercises_per_session * pace))
    n_res = rng.poisson(config.resources_per_session, pace.size)
    n_tut = rng.poisson(config.tutor_chats_per_session, pace.size)
    session, nth = expand(n_ex + n_res + n_tut)
    kind = (nth >= n_ex[session]).astype(np.int8) + (nth >= (n_ex + n_res)[session])
    order = np.lexsort((rng.random(session.size), session))  # shuffled within each session
    session, kind = session[order], kind[order]
    week = sessions.week[session]
    review = rng.random(session.size) >= config.current_week_focus
    review &= course.tables["earlier"][1][week] > 0
    current, earlier = _pick(course, "current", week, rng), _pick(course, "earlier", week, rng)
    skill = np.where(review, earlier, current)
    item = np.full(session.size, -1)
    ex, res = kind == EXERCISE, kind == RESOURCE
    pick = rng.random(ex.sum()) * course.ex_count[skill[ex]]
    item[ex] = course.ex_first[skill[ex]] + pick.astype(np.int64)
    resource = rng.integers(len(RESOURCE_KINDS), size=res.sum())
    item[res] = course.res_first + skill[res] * len(RESOURCE_KINDS) + resource
    learner = sessions.learner[session]
    return Activities(session, learner, week, kind, skill, item)


def _prerequisites_mastered(
    course: Course, skill: int, init: np.ndarray, after: np.ndarray, done: np.ndarray
) -> np.ndarray | float:
    """Share of ``skill``'s prerequisites each learner has mastered when it is taught, (n,)."""
    pre = np.flatnonzero(course.prereq[skill])
    if pre.size == 0:
        return 1.0
    week = course.intro_week[skill]
    practised = done[:, pre, week - 1] if week > 0 else 0
    return (init[:, pre] | (practised >= after[:, pre])).mean(axis=1)


def _knowledge(run: _Run, acts: Activities) -> np.ndarray:
    """BKT per learner and skill; sets ``acts.known`` and returns the weekly mastery.

    Returns
    -------
    numpy.ndarray, shape (n_learners, n_skills, weeks), bool
        Whether each skill is known at the end of each week.
    """
    config, course, ability = run.config, run.course, run.learners.ability
    n, n_skills, weeks, rng = config.n_learners, len(SKILLS), config.weeks, run.rng["knowledge"]
    ex = np.flatnonzero(acts.kind == EXERCISE)
    group = acts.learner[ex] * n_skills + acts.skill[ex]
    done = np.bincount(group * weeks + acts.week[ex], minlength=n * n_skills * weeks)
    done = done.reshape(n, n_skills, weeks).cumsum(axis=2)  # exercises done by each week's end
    order = np.argsort(group, kind="stable")  # stable: activities are chronological
    opportunity = np.empty(ex.size, dtype=np.int64)
    opportunity[order] = expand(np.bincount(group, minlength=n * n_skills))[1]
    init = np.zeros((n, n_skills), dtype=bool)
    after = np.zeros((n, n_skills), dtype=np.int64)  # exercises until the skill is learnt
    for s in range(n_skills):  # teaching order: prerequisites are drawn first
        unready = 1 - _prerequisites_mastered(course, s, init, after, done)
        learn = course.bkt["p_learn"][s] + config.ability_learn_effect * ability
        learn -= config.prereq_learn_penalty * unready
        p_init = sigmoid(course.bkt["p_init"][s] + config.ability_init_effect * ability)
        init[:, s] = rng.random(n) < p_init
        after[:, s] = rng.geometric(sigmoid(learn))
    acts.known = np.zeros(acts.kind.size, dtype=bool)
    li, sk = acts.learner[ex], acts.skill[ex]
    acts.known[ex] = init[li, sk] | (opportunity >= after[li, sk])
    return init[:, :, None] | (done >= after[:, :, None])


def _logit(p: float) -> float:
    with np.errstate(divide="ignore"):  # a rate of 0 or 1 gives an infinite logit: fine
        return float(np.log(p) - np.log1p(-p))


def _quiz_scores(run: _Run, mastery: np.ndarray) -> np.ndarray:
    """Score 0..100 of every learner on every week's quiz, shape (n_learners, weeks)."""
    config, course, rng = run.config, run.course, run.rng["quizzes"]
    n, weeks, questions = config.n_learners, config.weeks, config.quiz_questions
    week = np.tile(np.repeat(np.arange(weeks), questions), n)
    learner = np.repeat(np.arange(n), weeks * questions)
    recent = rng.random(week.size) < config.quiz_recent_share
    current, covered = _pick(course, "current", week, rng), _pick(course, "covered", week, rng)
    skill = np.where(recent, current, covered)
    slip, guess = sigmoid(course.bkt["p_slip"][skill]), sigmoid(course.bkt["p_guess"][skill])
    right = rng.random(week.size) < np.where(mastery[learner, skill, week], 1 - slip, guess)
    return 100 * right.reshape(n, weeks, questions).mean(axis=2)


def _quizzes(run: _Run, mastery: np.ndarray, log: EventLog) -> np.ndarray:
    """Weekly quiz submissions, some late, none after a withdrawal.

    Returns
    -------
    numpy.ndarray, shape (n_learners,)
        Each learner's grade: mean quiz score over all weeks, 0 for a quiz not handed in.
    """
    config, course, learners = run.config, run.course, run.learners
    score = _quiz_scores(run, mastery)
    rng, shape = run.rng["quizzes"], score.shape
    grit = config.persistence_submit_effect * learners.persistence[:, None]
    handed = rng.random(shape) < sigmoid(_logit(config.submission_rate) + grit)
    late = rng.random(shape) < sigmoid(_logit(config.late_rate) - grit)
    due = quiz_due_us(config)
    opens = epoch_us(config.start) + np.arange(config.weeks) * WEEK_US
    late_by = lognormal(rng, config.late_fraction_of_interval * WEEK_US, config.late_sigma, shape)
    early_by = rng.exponential(config.on_time_hours_before_due * 3600 * SECOND_US, shape)
    ts = np.where(late, due + late_by, np.maximum(due - early_by, opens)).astype(np.int64)
    counted = handed & (ts < learners.leave_us[:, None])
    li, wi = np.nonzero(counted)
    flags = np.array(
        [[log.payload({"late": is_late, "due": iso(d)}) for d in due] for is_late in (False, True)]
    )
    quiz = course.quiz_first + wi
    payload = flags[late[li, wi].astype(np.int64), wi]
    difficulty = course.item_difficulty[quiz]
    columns = {"score": score[li, wi], "attempt": 1, "difficulty": difficulty, "payload": payload}
    log.add("assessment_submitted", ts[li, wi], li, item=quiz, **columns)
    return (score * counted).sum(axis=1) / config.weeks


def _final_results(
    config: SimulationConfig, dropped: np.ndarray, grade: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Withdrawn for dropouts; the others graded on a curve to the configured shares.

    Returns
    -------
    numpy.ndarray of str, shape (n_learners,)
    """
    result = np.full(dropped.size, "Withdrawn", dtype=object)
    stayed = np.flatnonzero(~dropped)
    kept = 1 - config.withdrawn_rate
    if kept <= 0 or stayed.size == 0:
        return result
    ranked = stayed[np.lexsort((rng.random(stayed.size), grade[stayed]))]  # worst first
    passed = kept - config.fail_rate - config.distinction_rate
    shares = np.array([config.fail_rate, passed, config.distinction_rate]) / kept
    bounds = np.round(np.cumsum(shares) * stayed.size).astype(np.int64)
    for name, low, high in zip(COMPLETER_RESULTS, np.r_[0, bounds[:-1]], bounds, strict=True):
        result[ranked[low:high]] = name
    return result


def _enrolment_events(run: _Run, log: EventLog) -> np.ndarray:
    """Registration of everybody, withdrawal of dropouts after their last action.

    Returns
    -------
    numpy.ndarray, shape (n_learners,)
        Withdrawal time (epoch microseconds), ``_NEVER`` for learners who stay.
    """
    learners, n = run.learners, run.config.n_learners
    log.add("registration", learners.registered_us, np.arange(n))
    last = log.last_ts(n)
    leave = np.maximum(learners.leave_us, last + _LEAVE_AFTER_US)
    left = np.where(learners.dropped, leave, _NEVER)
    gone = np.flatnonzero(learners.dropped)
    log.add("withdrawal", left[gone], gone)
    return left


# -- frames -----------------------------------------------------------------------------------


def _uuid_strings(rng: np.random.Generator, ts_us: np.ndarray) -> pl.Series:
    """Version-7 (time-ordered) UUID strings of events at ``ts_us`` (Unix microseconds),
    as :func:`learnpulse.events.new_event_id` makes, with random bits drawn from ``rng``
    (reproducible, unlike uuid6.uuid7)."""
    n = len(ts_us)
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    # the first 48 bits are the Unix time in milliseconds, big-endian
    raw[:, :6] = (ts_us // 1000).astype(">u8").view(np.uint8).reshape(n, 8)[:, 2:]
    raw[:, 6] = raw[:, 6] & 0x0F | 0x70  # version 7
    raw[:, 8] = raw[:, 8] & 0x3F | 0x80  # RFC 4122 variant
    # bytes.hex is the quickest vectorised hex formatting at hand (C speed, one call)
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dashes, (low, high) in enumerate(((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))):
        text[:, low + dashes : high + dashes] = digits[:, low:high]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    return pl.Series("id", pl.from_arrow(array), dtype=pl.String)


def _session_ids(run: _Run, sessions: Sessions, learner_ids: pl.Series) -> pl.Series:
    """``<learner_id>-s<nnn>``, numbering each learner's sessions in time order."""
    nth = expand(np.bincount(sessions.learner, minlength=run.config.n_learners))[1]
    number = pl.Series(nth).cast(pl.String).str.zfill(3)
    return learner_ids.gather(sessions.learner) + "-s" + number


def _event_frame(
    run: _Run, log: EventLog, sessions: Sessions, learner_ids: pl.Series
) -> pl.DataFrame:
    """The event log as an event frame, shape (n_events, len(EVENT_FRAME_SCHEMA)), by time."""
    nullable = ("session", "item", "correct", "duration_ms", "hints_used", "payload")
    codes = log.columns().with_columns(pl.when(pl.col(c) >= 0).then(pl.col(c)) for c in nullable)
    items = run.course.items
    frame = codes.select(
        id=_uuid_strings(run.rng["ids"], codes.get_column("ts").to_numpy()),
        ts=pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        learner_id=learner_ids.gather(codes["learner"]),
        course_id=pl.lit(run.config.course_id),
        session_id=_session_ids(run, sessions, learner_ids).gather(codes["session"]),
        kind=pl.Series(EVENT_KINDS).gather(codes["kind"]),
        item_id=items["item_id"].gather(codes["item"]),
        skills=items["skills"].gather(codes["item"]),
        correct=pl.col("correct") == 1,
        score=pl.col("score").fill_nan(None),
        duration_ms=pl.col("duration_ms"),
        attempt=pl.when(pl.col("attempt") > 0).then(pl.col("attempt")),
        hints_used=pl.col("hints_used"),
        confidence=pl.col("confidence").fill_nan(None),
        difficulty=pl.col("difficulty").fill_nan(None),
        payload=pl.Series(list(log.payloads), dtype=pl.String).gather(codes["payload"]),
    )
    return frame.cast(EVENT_FRAME_SCHEMA)


def _learner_frame(
    run: _Run, learner_ids: pl.Series, outcome: dict[str, np.ndarray]
) -> pl.DataFrame:
    """One row per learner; traits and outcome go to the JSON ``attributes``."""
    learners, n = run.learners, run.config.n_learners
    withdrawn = [iso(t) if t != _NEVER else None for t in outcome["left_us"]]
    attributes = pl.DataFrame(
        {
            "ability": learners.ability.round(3),
            "persistence": learners.persistence.round(3),
            "pace": learners.pace.round(3),
            "study_hours_per_week": learners.hours.round(2),
            "preferred_hour": learners.preferred_hour,
            "preferred_weekday": np.asarray(WEEKDAY_NAMES)[learners.day_weights.argmax(axis=1)],
            "dropped_out": learners.dropped,
            "withdrawn_at": pl.Series(withdrawn, dtype=pl.String),
            "final_result": pl.Series(outcome["result"].tolist(), dtype=pl.String),
            "grade": outcome["grade"].round(1),
            "skills_mastered": outcome["mastery"][:, :, -1].sum(axis=1),
        }
    )
    encoded = attributes.select(pl.struct(pl.all()).struct.json_encode()).to_series()
    course = pl.Series([run.config.course_id] * n, dtype=pl.String)
    return pl.DataFrame(
        {"course_id": course, "learner_id": learner_ids, "attributes": encoded},
        schema=LEARNER_FRAME_SCHEMA,
    )


def simulate_course(
    config: SimulationConfig | None = None, *, progress: bool = False
) -> CourseData:
    """Simulate an introductory Python course (see the module docstring for the model).

    Parameters
    ----------
    config : SimulationConfig, optional
        Every setting; the defaults give the 1,000-learner, 12-week demo course.
    progress : bool
        Show a tqdm progress bar over the simulation stages.

    Returns
    -------
    CourseData
        ``events``, shape (n_events, 16), valid for :func:`learnpulse.events.validate_frame`
        and sorted by ``ts``; ``learners``, shape (n_learners, 3); ``items``, shape (n_items, 5):
        exercises, resources and quizzes; ``skills``, shape (n_skills, 4) with prerequisites.
        The same config gives identical frames, event ids included.
    """
    config = SimulationConfig() if config is None else config
    if not isinstance(config, SimulationConfig):
        raise TypeError(f"config must be a SimulationConfig, not {type(config).__name__}")
    rng = _streams(config)
    bar = tqdm(total=5, desc=f"simulating {config.course_id}", disable=not progress)
    with bar:
        course = build_course(config, rng["course"])
        run = _Run(config, rng, course, _draw_learners(config, rng["learners"]))
        sessions = _draw_sessions(run)
        acts = _draw_activities(run, sessions)
        bar.update()
        mastery = _knowledge(run, acts)
        bar.update()
        log = EventLog()
        study_events(Study(config, course, acts, run.learners.pace, rng["work"], log), sessions)
        bar.update()
        grade = _quizzes(run, mastery, log)
        result = _final_results(config, run.learners.dropped, grade, rng["grade"])
        left_us = _enrolment_events(run, log)
        bar.update()
        width = max(5, len(str(config.n_learners - 1)))
        ids = pl.Series([f"learner-{i:0{width}d}" for i in range(config.n_learners)])
        events = _event_frame(run, log, sessions, ids)
        outcome = {"grade": grade, "mastery": mastery, "result": result, "left_us": left_us}
        learners = _learner_frame(run, ids, outcome)
        bar.update()
    return CourseData(events=events, learners=learners, items=course.items, skills=course.skills)
