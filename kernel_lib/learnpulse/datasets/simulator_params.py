"""Constants, course catalogue and configuration of the course simulator.

Numbers marked *derived* come from public data and are recomputed by
``benchmarks/derive_simulator_params.py`` (``--check`` fails when they drift):

* OULAD — Open University Learning Analytics Dataset (Kuzilek, Hlosta & Zdrahal, Scientific
  Data 4:170171, 2017; CC-BY 4.0), modules AAA..GGG, presentations 2013B, 2013J, 2014B;
* ASSISTments 2009-2010 skill builder, DKT preprocessing (Piech et al., NeurIPS 2015).

Everything else is a modelling assumption, named and documented here or on
:class:`SimulationConfig`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import NamedTuple

# -- derived from public data ----------------------------------------------------------------

#: *Derived*: share of each ``final_result`` among the 21,333 registrations of OULAD
#: ``studentInfo.csv`` (Withdrawn 6,330; Fail 5,075; Pass 8,068; Distinction 1,860).
OULAD_FINAL_RESULT_RATES: dict[str, float] = {
    "Withdrawn": 0.2967,
    "Fail": 0.2379,
    "Pass": 0.3782,
    "Distinction": 0.0872,
}
#: *Derived*: deciles (0, 0.1, ..., 1) of when withdrawn OULAD students unregister, as a fraction
#: of the presentation length (``date_unregistration / module_presentation_length`` clipped to
#: 0..1; about 35 % unregister before the start, which counts as 0).
# fmt: off
OULAD_WITHDRAWAL_QUANTILES: tuple[float, ...] = (
    0.0, 0.0, 0.0, 0.0, 0.0498, 0.1381, 0.2425, 0.3843, 0.5410, 0.7137, 1.0,
)
# fmt: on
#: *Derived*: share of OULAD tutor-marked assignments (TMA) handed in by the students still
#: registered at the due date.
OULAD_TMA_SUBMISSION_RATE = 0.7635
#: *Derived*: share of OULAD TMA submissions after the due date (banked results excluded).
OULAD_TMA_LATE_RATE = 0.1729
#: *Derived*: median days late of a late OULAD TMA submission ...
OULAD_TMA_LATE_DAYS_MEDIAN = 7.0
#: *Derived*: ... and median days between consecutive TMAs of a presentation; their ratio
#: scales lateness to this course's weekly rhythm.
OULAD_TMA_INTERVAL_DAYS_MEDIAN = 35.0
#: *Derived*: log-scale spread of days late (ln(q75 / q25) / 1.349 = ln(11 / 4) / 1.349).
OULAD_TMA_LATE_LOG_SPREAD = 0.75
#: *Derived*: per-skill BKT fitted by Baum-Welch EM on ASSISTments 2009 (``builder_train.csv``,
#: 107 skills with >= 20 student sequences, first 100 opportunities, guess and slip bounded by
#: 0.3): (median, robust spread = IQR / 1.349) across skills of each parameter's logit.
#: Medians as probabilities: p_init 0.67, p_learn 0.11, p_guess 0.21, p_slip 0.21.
ASSISTMENTS_BKT_PRIORS: dict[str, tuple[float, float]] = {
    "p_init": (0.728, 0.965),
    "p_learn": (-2.139, 1.337),
    "p_guess": (-1.348, 1.246),
    "p_slip": (-1.355, 0.900),
}
#: Bound of guess and slip used in the fit (a learner who knows must beat one who guesses).
BKT_MAX_GUESS_SLIP = 0.3

# -- course catalogue (assumptions) -----------------------------------------------------------


class Skill(NamedTuple):
    """A course skill; ``prerequisites`` name earlier skills (the tuple order is topological)."""

    skill_id: str
    name: str
    prerequisites: tuple[str, ...]
    difficulty: float  # typical exercise difficulty, 0 (easy) .. 1 (hard)


#: An introductory Python course, in teaching order.
SKILLS: tuple[Skill, ...] = (
    Skill("variables", "Variables and assignment", (), 0.15),
    Skill("expressions", "Numbers, operators and expressions", ("variables",), 0.2),
    Skill("strings", "Strings and formatting", ("expressions",), 0.3),
    Skill("conditionals", "Booleans and if/elif/else", ("expressions",), 0.3),
    Skill("lists", "Lists and indexing", ("variables",), 0.35),
    Skill("loops", "for and while loops", ("conditionals", "lists"), 0.45),
    Skill("functions", "Defining and calling functions", ("conditionals",), 0.45),
    Skill("tuples_sets", "Tuples and sets", ("lists",), 0.4),
    Skill("dicts", "Dictionaries", ("lists", "loops"), 0.5),
    Skill("comprehensions", "List and dict comprehensions", ("loops", "dicts"), 0.6),
    Skill("files", "Reading and writing files", ("strings", "loops"), 0.5),
    Skill("exceptions", "Exceptions and try/except", ("functions",), 0.55),
    Skill("modules", "Modules and imports", ("functions",), 0.4),
    Skill("recursion", "Recursion", ("functions", "conditionals"), 0.75),
    Skill("classes", "Classes and objects", ("functions", "dicts"), 0.7),
    Skill("testing", "Testing and debugging", ("functions", "exceptions"), 0.6),
)


class ExerciseType(NamedTuple):
    """A kind of exercise: how common, how long an attempt takes, whether code cells run."""

    name: str
    share: float
    attempt_seconds: float  # median time on one attempt at difficulty 0.5 and pace 1
    runs_code: bool


EXERCISE_TYPES: tuple[ExerciseType, ...] = (
    ExerciseType("multiple_choice", 0.3, 45.0, False),
    ExerciseType("fill_in", 0.2, 75.0, False),
    ExerciseType("parsons", 0.1, 100.0, False),
    ExerciseType("code", 0.4, 240.0, True),
)
#: Resources per skill (an ``item_id`` ``res-<skill>-<kind>`` each) and their reading minutes.
RESOURCE_KINDS: dict[str, float] = {"notes": 6.0, "video": 9.0}


class ErrorType(NamedTuple):
    """A Python exception novices' cells raise; ``needs`` is the skill that makes it possible."""

    name: str
    weight: float
    needs: str | None


#: Relative frequency of novices' Python errors. The order (SyntaxError far ahead, then
#: NameError, TypeError...) follows the CS Circles counts in Pritchard, "Frequency distribution
#: of error messages" (PLATEAU 2015); the exact weights are this project's assumption.
ERROR_TYPES: tuple[ErrorType, ...] = (
    ErrorType("SyntaxError", 0.36, None),
    ErrorType("NameError", 0.17, None),
    ErrorType("TypeError", 0.13, None),
    ErrorType("IndentationError", 0.08, "conditionals"),
    ErrorType("IndexError", 0.06, "lists"),
    ErrorType("AttributeError", 0.05, "strings"),
    ErrorType("ValueError", 0.05, "expressions"),
    ErrorType("KeyError", 0.04, "dicts"),
    ErrorType("ZeroDivisionError", 0.02, "expressions"),
    ErrorType("FileNotFoundError", 0.02, "files"),
    ErrorType("RecursionError", 0.01, "recursion"),
    ErrorType("UnboundLocalError", 0.01, "functions"),
)
#: The tutor's five specialised agents and the share of chats routed to each.
TUTOR_AGENTS: dict[str, float] = {
    "learning_assistant": 0.4,
    "code_reviewer": 0.3,
    "knowledge_explorer": 0.12,
    "mentor_coach": 0.1,
    "content_generator": 0.08,
}
#: Relative popularity of each UTC hour (0..23) as a learner's preferred study hour: a small
#: morning bump, a lunch and afternoon plateau and the evening peak of online learners.
# fmt: off
PREFERRED_HOUR_WEIGHTS: tuple[float, ...] = (
    0.3, 0.1, 0.05, 0.02, 0.02, 0.05, 0.2, 0.5, 0.9, 1.2, 1.3, 1.2,
    1.1, 1.2, 1.3, 1.3, 1.3, 1.4, 1.6, 2.0, 2.3, 2.2, 1.6, 0.8,
)
# fmt: on
#: Relative study activity per weekday, Monday first (weekend dip, Sunday catch-up before the
#: Sunday-night quiz deadline).
WEEKDAY_WEIGHTS: tuple[float, ...] = (1.0, 1.0, 0.95, 0.9, 0.7, 0.55, 0.9)
# fmt: off
WEEKDAY_NAMES: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)
# fmt: on
#: Final results in the order learners are graded on the curve, worst first.
COMPLETER_RESULTS: tuple[str, ...] = ("Fail", "Pass", "Distinction")

# -- configuration ----------------------------------------------------------------------------

_DEFAULT_START = datetime(2024, 9, 2, tzinfo=timezone.utc)  # a Monday


@dataclass(frozen=True)
class SimulationConfig:
    """Every setting of :func:`~learnpulse.datasets.simulator.simulate_course`.

    Rates are probabilities, "effects" are shifts on the logit scale per standard deviation
    of the learner trait, durations are medians of log-normal draws unless said otherwise.
    """

    # course shape
    n_learners: int = 1000
    """Learners registered in the course."""
    weeks: int = 12
    """Teaching weeks; skills are spread over them in catalogue order, one quiz per week."""
    seed: int = 0
    """Seed of every random draw: the same config gives identical frames."""
    course_id: str = "demo-python-101"
    """``course_id`` of every row."""
    start: datetime = _DEFAULT_START
    """Start of week 1, timezone-aware (converted to UTC). Quizzes are due 7 days later."""
    exercises_per_skill: tuple[int, int] = (5, 10)
    """Inclusive range of exercises authored per skill."""
    exercise_difficulty_spread: float = 0.12
    """Standard deviation of exercise difficulty around its skill's difficulty."""
    multi_skill_share: float = 0.2
    """Share of exercises that also exercise one prerequisite of their skill."""
    registration_lead_days: float = 14.0
    """Registrations are spread uniformly over this many days before the start."""

    # outcomes (derived from OULAD)
    withdrawn_rate: float = OULAD_FINAL_RESULT_RATES["Withdrawn"]
    """Expected share of learners who withdraw."""
    fail_rate: float = OULAD_FINAL_RESULT_RATES["Fail"]
    """Share of all learners graded Fail (the lowest-graded completers)."""
    distinction_rate: float = OULAD_FINAL_RESULT_RATES["Distinction"]
    """Share of all learners graded Distinction (the best-graded completers); the rest pass."""
    withdrawal_quantiles: tuple[float, ...] = OULAD_WITHDRAWAL_QUANTILES
    """Evenly spaced quantiles of withdrawal time as a fraction of the course."""
    dropout_persistence_weight: float = 0.6
    """Weight of low persistence in the (unit-variance) dropout propensity."""
    dropout_ability_weight: float = 0.3
    """Weight of low ability in the dropout propensity; the rest is noise."""
    disengage_weeks: float = 2.0
    """Activity of a future dropout fades over this many weeks before the withdrawal ..."""
    disengage_floor: float = 0.3
    """... down to this fraction of its usual level."""
    weekly_activity_decay: float = 0.03
    """Relative loss of everybody's activity per week (motivation fades over a course)."""

    # learner traits
    study_hours_median: float = 3.0
    """Median weekly study hours (log-normal across learners)."""
    study_hours_sigma: float = 0.5
    """Log-scale spread of weekly study hours."""
    sessions_per_study_hour: float = 0.25
    """Tracked notebook sessions per weekly study hour (the rest is reading and offline work)."""
    pace_sigma: float = 0.3
    """Log-scale spread of pace (1 = typical; faster learners do more, quicker attempts)."""
    preferred_hour_spread: float = 1.5
    """Standard deviation, in hours, of session start around the learner's preferred hour."""
    weekday_concentration: float = 2.0
    """Gamma shape of each learner's weekday weights; lower means more idiosyncratic rhythms."""

    # knowledge (BKT; priors derived from ASSISTments)
    p_init_prior: tuple[float, float] = ASSISTMENTS_BKT_PRIORS["p_init"]
    """(centre, spread) of a skill's logit P(known before practice)."""
    p_learn_prior: tuple[float, float] = ASSISTMENTS_BKT_PRIORS["p_learn"]
    """(centre, spread) of a skill's logit P(learn from one exercise)."""
    p_guess_prior: tuple[float, float] = ASSISTMENTS_BKT_PRIORS["p_guess"]
    """(centre, spread) of a skill's logit P(right without knowing)."""
    p_slip_prior: tuple[float, float] = ASSISTMENTS_BKT_PRIORS["p_slip"]
    """(centre, spread) of a skill's logit P(wrong while knowing)."""
    skill_spread_scale: float = 0.5
    """Fraction of the ASSISTments across-skill spread used: one coherent course varies less
    than 124 unrelated maths skills."""
    ability_init_effect: float = 0.8
    """Logit shift of P(known before practice) per SD of ability."""
    ability_learn_effect: float = 0.5
    """Logit shift of P(learn) per SD of ability."""
    prereq_learn_penalty: float = 1.5
    """Logit drop of P(learn) when no prerequisite is mastered (scaled by the unmastered share)."""
    difficulty_effect: float = 2.0
    """Logit shift of guess (down) and slip (up) per unit of item difficulty above 0.5."""

    # study sessions
    exercises_per_session: float = 4.0
    """Mean exercises worked on per session at pace 1 (Poisson, at least one)."""
    resources_per_session: float = 0.6
    """Mean resources opened per session (Poisson)."""
    tutor_chats_per_session: float = 0.15
    """Mean tutor conversations per session (Poisson)."""
    tutor_exchanges: float = 0.8
    """Mean extra learner messages in a tutor conversation beyond the first (Poisson)."""
    current_week_focus: float = 0.75
    """Share of exercises on this week's skills; the rest review earlier ones."""
    gap_seconds: float = 30.0
    """Median pause between two activities of a session."""
    attempt_sigma: float = 0.6
    """Log-scale spread of attempt durations."""
    known_speedup: float = 0.7
    """Duration factor of an attempt when the skill is known."""
    message_seconds: float = 40.0
    """Median time to write a tutor message."""
    reply_seconds: float = 4.0
    """Median tutor reply latency."""

    # exercise behaviour
    max_attempts: int = 3
    """Attempts allowed per exercise."""
    retry_rate: float = 0.75
    """P(try again after a wrong attempt)."""
    retry_guess_gain: float = 0.15
    """Added P(right without knowing) on a retry (the feedback helps)."""
    hint_rate_unknown: float = 0.7
    """Mean hints per attempt when the skill is not known (Poisson, capped at max_hint_level)."""
    hint_rate_known: float = 0.08
    """Mean hints per attempt when the skill is known."""
    max_hint_level: int = 3
    """Levels of the hint ladder."""
    hint_guess_gain: float = 0.1
    """Added P(right without knowing) per hint used."""
    explanation_rate_wrong: float = 0.5
    """P(open the explanation) after finally getting an exercise wrong ..."""
    explanation_rate_right: float = 0.05
    """... and after getting it right."""
    explanation_seconds: float = 45.0
    """Median time reading an explanation."""
    confidence_rate: float = 0.3
    """Share of attempts with a self-reported confidence ..."""
    confidence_noise: float = 0.15
    """... which is the real chance of success plus normal noise of this standard deviation."""
    code_tests: int = 5
    """Tests per code exercise: a wrong code attempt scores the share of tests it passes."""
    extra_runs_unknown: float = 0.8
    """Mean extra cell runs before a code attempt when the skill is not known (Poisson) ..."""
    extra_runs_known: float = 0.2
    """... and when it is known."""
    cell_error_rate_unknown: float = 0.45
    """P(a cell run raises) when the skill is not known ..."""
    cell_error_rate_known: float = 0.1
    """... and when it is known."""
    cell_run_ms: float = 250.0
    """Median execution time of a cell, in milliseconds."""

    # assessments (derived from OULAD TMAs)
    quiz_questions: int = 10
    """Questions per weekly quiz, each on one skill taught so far."""
    quiz_recent_share: float = 0.6
    """Share of a quiz's questions on the skills of its own week."""
    submission_rate: float = OULAD_TMA_SUBMISSION_RATE
    """P(hand in a quiz) for a learner of average persistence still in the course."""
    late_rate: float = OULAD_TMA_LATE_RATE
    """P(a submission is late) at average persistence."""
    late_fraction_of_interval: float = OULAD_TMA_LATE_DAYS_MEDIAN / OULAD_TMA_INTERVAL_DAYS_MEDIAN
    """Median lateness as a fraction of the time between two quizzes (one week)."""
    late_sigma: float = OULAD_TMA_LATE_LOG_SPREAD
    """Log-scale spread of lateness."""
    persistence_submit_effect: float = 1.0
    """Logit shift of P(hand in) per SD of persistence (and minus that on P(late))."""
    on_time_hours_before_due: float = 30.0
    """Mean hours before the deadline of an on-time submission (exponential: procrastination)."""

    def __post_init__(self) -> None:
        start = self.start
        if not isinstance(start, datetime) or start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(
                f"SimulationConfig.start must be a timezone-aware datetime, got {start!r}"
            )
        object.__setattr__(self, "start", start.astimezone(timezone.utc))
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(
                f"SimulationConfig.seed must be a non-negative integer, got {self.seed!r}"
            )
        if not isinstance(self.course_id, str) or not 1 <= len(self.course_id) <= 256:
            raise ValueError(
                f"SimulationConfig.course_id must be 1 to 256 characters, got {self.course_id!r}"
            )
        for name in (
            "n_learners",
            "weeks",
            "max_attempts",
            "max_hint_level",
            "quiz_questions",
            "code_tests",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"SimulationConfig.{name} must be a positive integer, got {value!r}"
                )
        low, high = self.exercises_per_skill
        if not 1 <= low <= high:
            raise ValueError(
                f"SimulationConfig.exercises_per_skill must be (low, high) with "
                f"1 <= low <= high, got {self.exercises_per_skill!r}"
            )
        self._check_numbers()

    def _check_numbers(self) -> None:
        """Rates must be probabilities, every other number finite and non-negative."""
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.type not in ("float", float) or isinstance(value, bool):
                continue
            is_rate = spec.name.endswith(("_rate", "_share", "_focus", "_floor"))
            if not math.isfinite(value) or value < 0 or (is_rate and value > 1):
                expected = "a probability in [0, 1]" if is_rate else "finite and >= 0"
                raise ValueError(f"SimulationConfig.{spec.name} must be {expected}, got {value!r}")
        if self.withdrawn_rate + self.fail_rate + self.distinction_rate > 1:
            raise ValueError(
                "SimulationConfig.withdrawn_rate + fail_rate + distinction_rate must not exceed 1"
            )
        if self.dropout_persistence_weight**2 + self.dropout_ability_weight**2 > 1:
            raise ValueError(
                "SimulationConfig.dropout_persistence_weight**2 + "
                "dropout_ability_weight**2 must not exceed 1"
            )
        quantiles = self.withdrawal_quantiles
        if len(quantiles) < 2 or any(b < a for a, b in itertools.pairwise(quantiles)):
            raise ValueError(
                "SimulationConfig.withdrawal_quantiles must be at least two "
                "non-decreasing fractions"
            )

    @property
    def bkt_priors(self) -> dict[str, tuple[float, float]]:
        """The four (centre, spread) BKT priors keyed by parameter name."""
        return {
            "p_init": self.p_init_prior,
            "p_learn": self.p_learn_prior,
            "p_guess": self.p_guess_prior,
            "p_slip": self.p_slip_prior,
        }
