"""One learner's study session in a kernel: attempts, hints, live mastery, accuracy, streak.

Widgets and magics share one :class:`LearnerSession` per process (:func:`current_session`).
It records every attempt and hint as an event (``learnpulse.track``) and keeps the learner's
mastery up to date with an online BKT update after each attempt that is evidence, starting
from the learner's earlier attempts in the store when there are any. Which attempts are
evidence is the rule the instructor's models and analytics follow too
(:mod:`learnpulse.models.knowledge_tracing.evidence`): answering an exercise already solved
again is practice and leaves mastery, accuracy and the run of right answers as they were,
and a right answer after the whole hint ladder counts as wrong.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import polars as pl

from learnpulse.collectors import context
from learnpulse.course import CheckResult, Course, Exercise, default_course
from learnpulse.events import EVENT_FRAME_SCHEMA
from learnpulse.features import COUNTED_CORRECT
from learnpulse.models.knowledge_tracing import BKT, mastery_label, proficiency
from learnpulse.models.knowledge_tracing.evidence import (
    HINT_LADDER_KEY,
    counted_outcome,
    hint_ladder_of,
    tracks_repeats,
)
from learnpulse.models.knowledge_tracing.sequences import attempt_confidence, model_label

log = logging.getLogger(__name__)

#: Longest student answer kept in an attempt event's payload (characters).
MAX_ANSWER_CHARS = 4_000
#: Longest check feedback kept in an attempt event's payload (characters): the tutor answers
#: a follow-up ("why?") of the check about it.
MAX_FEEDBACK_CHARS = 1_000
#: Columns of :meth:`LearnerSession.graded_frame` (what the recommender reads).
GRADED_COLUMNS = (
    "learner_id", "ts", "kind", "item_id", "skills", "correct", COUNTED_CORRECT, "difficulty"
)  # fmt: skip
#: Name of the prior BKT model (the ``model`` column says which parameters were used).
PRIOR_MODEL_NAME = "bkt-prior"
#: What a student is told when an attempt did not count as a plain right or wrong answer.
PRACTICE_NOTE = (
    "Unchanged: you had already solved this exercise, so answering it again is practice. "
    "New exercises on the skill raise your mastery."
)
BOTTOM_OUT_NOTE = (
    "Right after every hint: it counts as not yet known on your own. "
    "Try the next exercise with fewer hints."
)


def prior_bkt() -> BKT:
    """The BKT the widgets use until an instructor provides a fitted one: the mastery model
    of :mod:`learnpulse.models.mastery` with no class data (its EM starting parameters), the
    same prior the tutor agents use, so both show the same mastery."""
    from learnpulse.events import empty_event_frame
    from learnpulse.models.mastery import fit_mastery_model

    return fit_mastery_model(empty_event_frame())


@dataclass
class MasteryChange:
    """P(known) of each skill of an exercise before and after one attempt.

    Attributes
    ----------
    before, after : dict of str to float
    counted_as : bool or None
        How the attempt counted as evidence (see
        :func:`~learnpulse.models.knowledge_tracing.evidence.counted_outcome`): True right,
        False wrong, None not at all (practice on a solved exercise).
    answered_right : bool
        Whether the answer itself was right.
    """

    before: dict[str, float]
    after: dict[str, float]
    counted_as: bool | None = True
    answered_right: bool = True

    @property
    def note(self) -> str:
        """Why mastery did not follow the answer (empty when it did)."""
        if self.counted_as is None:
            return PRACTICE_NOTE
        if self.answered_right and not self.counted_as:
            return BOTTOM_OUT_NOTE
        return ""

    def describe(self, course: Course) -> str:
        """``"Lists and indexing: 67% → 90% (Proficient)"`` per skill, one per line, then
        :attr:`note` if any (``"Lists and indexing: 96% (Mastered)"`` when unchanged)."""
        lines = []
        for skill, after in self.after.items():
            label = mastery_label(np.array([after]), course.mastery_threshold)[0]
            name = course.skills[skill].name if skill in course.skills else skill
            change = (
                f"{after:.0%}"
                if self.counted_as is None
                else f"{self.before[skill]:.0%} → {after:.0%}"
            )
            lines.append(f"{name}: {change} ({label})")
        return "\n".join([*lines, self.note] if self.note else lines)


@dataclass
class LearnerSession:
    """A learner's progress in a course, kept live in the kernel.

    Parameters
    ----------
    course : Course
        Default: :func:`learnpulse.course.default_course` (``$LEARNPULSE_COURSE_FILE``, else
        the demo course; :class:`~learnpulse.course.CourseUnavailable` when the configured
        file cannot be used).
    learner_id : str
        Default: :func:`learnpulse.collectors.context.learner_id`.
    model : BKT
        A fitted BKT (e.g. ``BKT.load(path)``), or the prior one.
    store_url : str, optional
        Store to read the learner's history from (default: the server of
        ``$LEARNPULSE_SERVER_URL`` when set, else ``$LEARNPULSE_DB_URL``); history is read
        once, on first use; a store that cannot be read only means no history.
    """

    course: Course = field(default_factory=default_course)
    learner_id: str = field(default_factory=context.learner_id)
    model: BKT = field(default_factory=prior_bkt)
    store_url: str | None = None
    # Live state, derived from attempts (not arguments).
    mastery: dict[str, float] = field(default_factory=dict, init=False)
    attempts: dict[str, int] = field(default_factory=dict, init=False)
    solved: set[str] = field(default_factory=set, init=False)
    #: Per skill [attempts that are evidence, those counted right]: what mastery rests on.
    counts: dict[str, list[int]] = field(default_factory=dict, init=False)
    days: set[date] = field(default_factory=set, init=False)
    #: Attempts that are evidence, every skill together, and those counted right: accuracy.
    counted_answers: int = field(default=0, init=False)
    counted_right: int = field(default=0, init=False)
    #: Latest run of attempts that are evidence counted right (practice leaves it as it is).
    correct_in_a_row: int = field(default=0, init=False)
    hints_opened: dict[str, int] = field(default_factory=dict, init=False)
    #: The exercise shown or checked last: the tutor's context for questions.
    current_exercise: Exercise | None = field(default=None, init=False)
    #: Called (no arguments) after every attempt, e.g. a progress widget's refresh; weak
    #: references, so a widget that is gone is simply skipped.
    listeners: list[weakref.WeakMethod] = field(default_factory=list, init=False)
    _clock: dict[str, float] = field(default_factory=dict, init=False)  # item -> attempt start
    _graded: list[dict[str, Any]] = field(default_factory=list, init=False)  # oldest first
    _history_loaded: bool = field(default=False, init=False)
    _store: Any = field(default=None, init=False)
    _store_failed: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __repr__(self) -> str:
        tried = sum(self.attempts.values())
        return f"LearnerSession({self.learner_id!r}, course={self.course.id!r}, attempts={tried})"

    # -- history --------------------------------------------------------------------------

    def event_store(self) -> Any:
        """The learner's :class:`~learnpulse.store.EventStore` (opened once), or, in a kernel
        told ``$LEARNPULSE_SERVER_URL`` (a server whose store is PostgreSQL), a
        :class:`~learnpulse.collectors.server_store.ServerStore` reading and logging through
        it (:func:`~learnpulse.collectors.server_store.learner_store`); None when it cannot
        be opened (the widgets then work without history and tutor logging)."""
        with self._lock:
            if self._store is None and not self._store_failed:
                try:
                    from learnpulse.collectors.server_store import learner_store

                    self._store = learner_store(self.store_url)
                except Exception:
                    self._store_failed = True
                    log.warning("learnpulse: the event store cannot be opened", exc_info=True)
            return self._store

    def load_history(self) -> int:
        """Replay the learner's stored attempts and hints in this course (once); how many
        attempts were read.

        The hints already opened count too, from the Hint button and from the tutor: after a
        kernel restart the ladder goes on where it was (it started again at hint 1, recording
        each hint a second time).
        """
        with self._lock:
            if self._history_loaded:
                return 0
            self._history_loaded = True
        store = self.event_store()
        if store is None:
            return 0
        try:
            frame = store.query(
                course=self.course.id,
                learners=self.learner_id,
                kinds=["attempt", "hint", "tutor_message"],
            )
        except Exception:  # no store, or an unreachable one: start from the prior
            log.warning("learnpulse: could not read earlier attempts", exc_info=True)
            return 0
        attempts = frame.filter(pl.col("kind") == "attempt")
        for row in attempts.iter_rows(named=True):
            if row["correct"] is not None and row["item_id"]:
                self._apply(
                    row["item_id"],
                    row["skills"] or [],
                    bool(row["correct"]),
                    row["ts"],
                    row["difficulty"],
                    hints_used=row["hints_used"],
                    hint_ladder=hint_ladder_of(row["payload"]),
                )
        tutor_level = pl.col("payload").str.json_path_match("$.hint_level")
        levels = frame.filter(pl.col("item_id").is_not_null()).select(
            "item_id",
            level=pl.when(pl.col("kind") == "hint")
            .then(pl.col("hints_used"))
            .when(pl.col("kind") == "tutor_message")
            .then(tutor_level.cast(pl.Int32, strict=False)),
        )
        for item, level in levels.group_by("item_id").agg(pl.col("level").max()).rows():
            self.hints_opened[item] = max(self.hints_opened.get(item, 0), level or 0)
        return attempts.height

    def _apply(
        self,
        item_id: str,
        skills: list[str],
        correct: bool,
        ts: datetime,
        difficulty: float | None,
        *,
        hints_used: int | None = None,
        hint_ladder: int | None = None,
    ) -> bool | None:
        """Update counts, streaks and mastery from one attempt; how it counted as evidence
        (:func:`~learnpulse.models.knowledge_tracing.evidence.counted_outcome`)."""
        counted = counted_outcome(
            correct,
            solved_before=tracks_repeats(item_id) and item_id in self.solved,
            hints_used=hints_used,
            hint_ladder=hint_ladder,
        )
        self.attempts[item_id] = self.attempts.get(item_id, 0) + 1
        if correct:
            self.solved.add(item_id)
        self.days.add(ts.date())
        self._graded.append(
            {
                "learner_id": self.learner_id,
                "ts": ts,
                "kind": "attempt",
                "item_id": item_id,
                "skills": list(skills),
                "correct": correct,
                COUNTED_CORRECT: counted,
                "difficulty": difficulty,
            }
        )
        if counted is None:  # practice on a solved exercise: no evidence either way
            return None
        self.counted_answers += 1
        self.counted_right += int(counted)
        self.correct_in_a_row = self.correct_in_a_row + 1 if counted else 0
        for skill in skills:
            self.model.update(self.mastery, skill, counted, item=item_id)
            n = self.counts.setdefault(skill, [0, 0])
            n[0], n[1] = n[0] + 1, n[1] + int(counted)
        return counted

    # -- recording ------------------------------------------------------------------------

    def begin(self, exercise: Exercise) -> None:
        """Make ``exercise`` the current one and start timing it (unless already timed)."""
        self.current_exercise = exercise
        self._clock.setdefault(exercise.id, time.monotonic())

    def _elapsed_ms(self, exercise: Exercise) -> float:
        """Milliseconds since the exercise was shown or last attempted (0 if never shown)."""
        now = time.monotonic()
        started = self._clock.get(exercise.id, now)
        self._clock[exercise.id] = now
        return (now - started) * 1000

    def open_hint(self, exercise: Exercise) -> str | None:
        """Open the next hint of ``exercise`` within its policy (tracked); None when none is
        left."""
        self.load_history()
        level = self.hints_opened.get(exercise.id, 0)
        if level >= exercise.hint_limit:
            return None
        self.hints_opened[exercise.id] = level + 1
        self.record_hint(exercise, level + 1)
        return exercise.hints[level]

    def note_tutor_hints(self, exercise: Exercise, level: int) -> None:
        """The tutor has given ``exercise``'s hints up to ``level``: the Hint button goes on
        from there (it offered hint 1 again). The tutor's message is the event; no ``hint``
        event is recorded."""
        self.load_history()
        if level > self.hints_opened.get(exercise.id, 0):
            self.hints_opened[exercise.id] = level
            self._notify()

    def p_known(self, skill: str) -> float:
        """Current P(known) of ``skill`` (the model's prior before any attempt)."""
        self.load_history()
        if skill in self.mastery:
            return self.mastery[skill]
        return (self.model.lookup_.get(skill) or self.model.lookup_[None])[0]  # its p_init

    def record_attempt(
        self,
        exercise: Exercise,
        result: CheckResult,
        *,
        answer: Any = None,
        source: str = "widget",
    ) -> MasteryChange:
        """Track an ``attempt`` event and update mastery; returns the change per skill.

        The duration is the time since the exercise was shown (:meth:`begin`) or last
        attempted; ``hints_used`` the hints opened so far. The payload holds the hint
        ladder's length, which the instructor's models read to count the attempt as the
        session does.
        """
        self.load_history()
        duration_ms = self._elapsed_ms(exercise)
        before = {s: self.p_known(s) for s in exercise.skills}
        now = datetime.now(timezone.utc)
        hints_used = self.hints_opened.get(exercise.id, 0)
        counted = self._apply(
            exercise.id,
            list(exercise.skills),
            result.correct,
            now,
            exercise.difficulty,
            hints_used=hints_used,
            hint_ladder=len(exercise.hints),
        )
        after = {s: self.p_known(s) for s in exercise.skills}
        payload = {
            "type": exercise.type,
            "diagnosis": result.details.get("diagnosis"),
            "source": source,
            "mastery_before": before,
            "mastery_after": after,
            HINT_LADDER_KEY: len(exercise.hints),
        }
        if answer is not None:
            payload["answer"] = str(answer)[:MAX_ANSWER_CHARS]
            if len(str(answer)) > MAX_ANSWER_CHARS:  # the tutor says it saw the first part
                payload["answer_cut"] = True
        if result.feedback:  # what a follow-up ("why?") to the tutor is about
            payload["feedback"] = result.feedback[:MAX_FEEDBACK_CHARS]
        _track(
            "attempt",
            item_id=exercise.id,
            skills=list(exercise.skills),
            correct=result.correct,
            score=float(result.score),
            duration_ms=int(duration_ms),
            attempt=self.attempts[exercise.id],
            hints_used=hints_used,
            difficulty=exercise.difficulty,
            course_id=self.course.id,
            learner_id=self.learner_id,
            payload=payload,
        )
        self._notify()
        return MasteryChange(before, after, counted, bool(result.correct))

    def _notify(self) -> None:
        alive = []
        for reference in self.listeners:
            callback = reference()
            if callback is None:
                continue
            alive.append(reference)
            try:
                callback()
            except Exception:  # one broken listener must not stop the others
                log.warning("learnpulse: a progress listener failed", exc_info=True)
        self.listeners[:] = alive

    def record_hint(self, exercise: Exercise, level: int) -> None:
        """Track a ``hint`` event: the learner opened hint ``level`` (1-based)."""
        _track(
            "hint",
            item_id=exercise.id,
            skills=list(exercise.skills),
            hints_used=level,
            difficulty=exercise.difficulty,
            course_id=self.course.id,
            learner_id=self.learner_id,
            payload={"level": level, "of": len(exercise.hints)},
        )

    def record_explanation(self, exercise: Exercise) -> None:
        """Track an ``explanation_viewed`` event."""
        _track(
            "explanation_viewed",
            item_id=exercise.id,
            skills=list(exercise.skills),
            course_id=self.course.id,
            learner_id=self.learner_id,
        )

    # -- reading --------------------------------------------------------------------------

    @property
    def accuracy(self) -> float | None:
        """Share of the attempts that are evidence counted right (None: none yet), as the
        instructor's analytics count it (:func:`learnpulse.features.with_evidence`)."""
        self.load_history()
        return self.counted_right / self.counted_answers if self.counted_answers else None

    def streak_days(self, today: date | None = None) -> int:
        """Consecutive days with at least one attempt, ending today (or yesterday)."""
        self.load_history()
        day = today or _today()
        if day not in self.days:
            day -= timedelta(days=1)
        streak = 0
        while day in self.days:
            streak, day = streak + 1, day - timedelta(days=1)
        return streak

    def graded_frame(self) -> pl.DataFrame:
        """The learner's graded attempts (stored and this session's), oldest first.

        Returns
        -------
        polars.DataFrame, shape (n_attempts, 8)
            ``learner_id``, ``ts``, ``kind``, ``item_id``, ``skills``, ``correct``,
            :data:`~learnpulse.features.COUNTED_CORRECT` (how the attempt counted as
            evidence, null: practice, as :func:`~learnpulse.features.with_evidence` marks
            it), ``difficulty``, typed as in the event frame.
        """
        self.load_history()
        types = {**EVENT_FRAME_SCHEMA, COUNTED_CORRECT: pl.Boolean()}
        schema = {name: types[name] for name in GRADED_COLUMNS}
        return pl.DataFrame(self._graded, schema=schema)

    def mastery_frame(self) -> pl.DataFrame:
        """Mastery of every course skill, in course order, with ``model``/``confidence``/
        ``reason``.

        Returns
        -------
        polars.DataFrame, shape (n_skills, 12)
            ``learner_id``, ``skill``, ``name``, ``p_known``, ``mastered``, ``proficiency``,
            ``label``, ``n_attempts``, ``n_correct`` (the attempts that are evidence, as in
            :func:`learnpulse.models.mastery.course_mastery`), ``confidence``, ``model``,
            ``reason``.
        """
        self.load_history()
        skills = list(self.course.skills)
        p = np.array([self.p_known(s) for s in skills])
        n = np.array([self.counts.get(s, [0, 0])[0] for s in skills])
        n_correct = np.array([self.counts.get(s, [0, 0])[1] for s in skills])
        reasons = [_reason(int(a), int(c)) for a, c in zip(n, n_correct, strict=True)]
        fitted = bool(self.model.skills_)
        return pl.DataFrame(
            {
                "learner_id": [self.learner_id] * len(skills),
                "skill": skills,
                "name": [self.course.skills[s].name for s in skills],
                "p_known": p,
                "mastered": p >= self.course.mastery_threshold,
                "proficiency": proficiency(p),
                "label": mastery_label(p, self.course.mastery_threshold),
                "n_attempts": n,
                "n_correct": n_correct,
                "confidence": attempt_confidence(n),
                "model": model_label(self.model.name if fitted else PRIOR_MODEL_NAME),
                "reason": reasons,
            }
        )


def _reason(n_attempts: int, n_correct: int) -> str:
    if n_attempts == 0:
        return "no attempts yet: the course's prior estimate"
    return (
        f"{n_correct} of {n_attempts} attempts correct (BKT after each attempt until an "
        "exercise is solved; practice on solved ones does not count)"
    )


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _track(kind: str, **fields: Any) -> None:
    """``learnpulse.track``; a failure to record is logged, never raised into the notebook."""
    try:
        from learnpulse.collectors.tracking import track

        track(kind, **fields)
    except Exception:
        log.warning("learnpulse: could not record a %s event", kind, exc_info=True)


_session: LearnerSession | None = None
_session_lock = threading.Lock()


def current_session(course: Course | None = None) -> LearnerSession:
    """The process's learner session (created on first use; a different course replaces it).

    Parameters
    ----------
    course : Course, optional
        The course to work on; default: the session's, or on first use
        :func:`learnpulse.course.default_course` (``$LEARNPULSE_COURSE_FILE``, else the demo
        course).

    Raises
    ------
    learnpulse.course.CourseUnavailable
        When no course is given and the configured course file cannot be used (the magics
        show its message in one line).
    """
    global _session
    with _session_lock:
        if _session is None or (course is not None and _session.course.id != course.id):
            _session = LearnerSession(course=course or default_course())
        return _session


def set_session(session: LearnerSession | None) -> None:
    """Use ``session`` from now on (None: a fresh one on next use), e.g. with a fitted model."""
    global _session
    with _session_lock:
        _session = session
