"""What an instructor authors: skills with their teaching material, exercises, tutor policy.

A :class:`Course` holds skills (a prerequisite graph) and exercises. Build one with
:meth:`Course.from_dict` (in a notebook) or :func:`learnpulse.course.load_course` (YAML); both
validate everything and raise :class:`CourseError` naming the exercise or skill and the field.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from learnpulse.models.thresholds import MASTERY_THRESHOLD, threshold_problem

#: Exercise types and what ``answer`` holds for each.
EXERCISE_TYPES: dict[str, str] = {
    "numeric": "the expected number",
    "choice": "the correct choice (its text, or its 0-based index)",
    "text": "the accepted strings (synonyms included)",
    "code": "unused: code is checked by ``tests`` against ``function`` or names it defines",
}
#: Relative tolerance a numeric exercise gets when the author gives none: float rounding only.
DEFAULT_NUMERIC_TOLERANCE = 1e-9
#: How many close matches an unknown exercise or skill id lists.
CLOSE_MATCHES = 3


class CourseError(ValueError):
    """Invalid course content; ``problems`` lists ``(where, field, message)`` triples.

    ``where`` is ``"exercise 'ex-lists-01'"``, ``"skill 'loops'"`` or ``"course"``.
    ``source`` is the course file the content was read from (None when built from data), and
    the message names it: an instructor may keep several courses.
    """

    def __init__(
        self, problems: Iterable[tuple[str, str, str]], source: str | Path | None = None
    ) -> None:
        self.problems = list(problems)
        self.source = None if source is None else str(source)
        lines = [f"{where}: field '{name}': {message}" for where, name, message in self.problems]
        origin = "course content" if source is None else f"course file {self.source}"
        super().__init__(f"{len(self.problems)} problem(s) in {origin}: " + "; ".join(lines))


class CourseWarning(UserWarning):
    """Course content that loads but is likely a mistake: a hint ladder that gives away the
    reference solution, a ``max_hint_level`` above the number of hints.

    Issued with :func:`warnings.warn` by :meth:`Course.from_dict` and
    :func:`~learnpulse.course.load_course`, one per problem; ``where``, ``field`` and
    ``source`` are as in :class:`CourseError`, ``problem`` is the message alone.
    """

    def __init__(self, where: str, name: str, message: str, source: str | Path | None = None):
        self.where, self.field, self.problem = where, name, message
        self.source = None if source is None else str(source)
        origin = "course content" if source is None else f"course file {self.source}"
        super().__init__(f"{origin}: {where}: field '{name}': {message}")


@dataclass(frozen=True)
class TutorPolicy:
    """What the tutor may do for one exercise (set by the instructor).

    Parameters
    ----------
    tutor_enabled : bool
        Whether the tutor chat answers questions about this exercise at all (e.g. off in a test).
    max_hint_level : int or None
        How many hints of the ladder a student may open (0 = none); None = the whole ladder.
    show_code : bool
        Whether tutor replies may contain code for this exercise (never the reference solution).
    """

    tutor_enabled: bool = True
    max_hint_level: int | None = None
    show_code: bool = False

    def hint_limit(self, ladder_length: int) -> int:
        """Number of hints a student may open out of a ladder of ``ladder_length``."""
        if self.max_hint_level is None:
            return ladder_length
        return min(self.max_hint_level, ladder_length)


@dataclass(frozen=True)
class Skill:
    """A skill of the course.

    Parameters
    ----------
    id : str
    name : str
        Human-readable name, e.g. "Lists and indexing".
    prerequisites : tuple of str
        Ids of the skills to know first.
    material : str
        Markdown teaching text for the skill; the tutor answers from it (``##`` sections are cited
        as sources).
    """

    id: str
    name: str
    prerequisites: tuple[str, ...] = ()
    material: str = ""


@dataclass(frozen=True)
class Exercise:
    """One exercise; see :data:`EXERCISE_TYPES` for what ``answer`` holds per ``type``.

    Parameters
    ----------
    id, title, prompt : str
        ``prompt`` is markdown shown to the student.
    skills : tuple of str
        Skills practised; the first is the main one.
    difficulty : float
        0 (easy) .. 1 (hard).
    type : {"numeric", "choice", "text", "code"}
    answer : Any
        Expected number, correct choice, or tuple of accepted strings.
    tolerance : float
        Numeric: absolute tolerance (0 = :data:`DEFAULT_NUMERIC_TOLERANCE` relative).
    choices : tuple of str
        Choice: the options, in display order.
    function : str or None
        Code: name of the function the student writes.
    tests : tuple of dict
        Code: each ``{"args": [...], "kwargs": {...}, "expected": v}`` (calls ``function``),
        ``{"expr": "name", "expected": v}`` (evaluates in the student's namespace) or
        ``{"assert": "expression"}``; optional ``"message"`` explains a failure.
    hints : tuple of str
        The hint ladder, from a nudge to a worked sub-step.
    explanation : str
        Shown after a correct answer (there is no "give up" that shows it before), and a
        passage the tutor may cite for the other exercises.
    solution : str
        Reference solution: for the tutor's leak detection and instructors, never shown to students.
    policy : TutorPolicy
    feedback : Mapping of str to str
        Specific feedback for anticipated wrong answers, e.g. a misconception a distractor
        stands for; keyed by the wrong number (``"4"``), a choice's text or 0-based index, or
        the text answer (compared normalised). Validation refuses a key that could never be
        shown (no such choice, a right answer, feedback on a code exercise).
    required, forbidden : tuple of str
        Code: rules on how the answer is written, checked on its syntax tree: constructs
        (``"for"``, ``"while"``, ``"loop"``, ``"recursion"``, ``"**"``... see
        :data:`learnpulse.course.rules.CONSTRUCTS`) or Python names (a built-in such as
        ``"sum"``, a module such as ``"math"``, a method such as ``"sort"``) the answer must
        use / must not use. An answer breaking one is not correct, and its feedback names the
        rule.
    """

    id: str
    title: str
    prompt: str
    skills: tuple[str, ...]
    difficulty: float
    type: str
    answer: Any = None
    tolerance: float = 0.0
    choices: tuple[str, ...] = ()
    function: str | None = None
    tests: tuple[Mapping[str, Any], ...] = ()
    hints: tuple[str, ...] = ()
    explanation: str = ""
    solution: str = ""
    policy: TutorPolicy = field(default_factory=TutorPolicy)
    feedback: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule on the code (forbidden, then required)."""
        return (*self.forbidden, *self.required)

    @property
    def skill(self) -> str:
        """The main skill (the first of ``skills``)."""
        return self.skills[0]

    @property
    def hint_limit(self) -> int:
        """How many hints the student may open under the policy."""
        return self.policy.hint_limit(len(self.hints))


def _close(word: str, options: Iterable[str]) -> str:
    matches = difflib.get_close_matches(word, list(options), n=CLOSE_MATCHES, cutoff=0.5)
    return f" (did you mean {', '.join(repr(m) for m in matches)}?)" if matches else ""


@dataclass(frozen=True)
class Course:
    """A course: skills (a prerequisite DAG) and exercises, both keyed by id.

    Build with :meth:`from_dict` or :func:`learnpulse.course.load_course`; both validate.
    ``mastery_threshold`` is the P(known) from which a skill counts as mastered in this course
    (optional in the file): the student widgets and the tutor read it from here.
    """

    id: str
    title: str
    skills: dict[str, Skill]
    exercises: dict[str, Exercise]
    mastery_threshold: float = MASTERY_THRESHOLD

    def __post_init__(self) -> None:
        # also when built directly (dataclasses.replace...): 95 (a percentage) would make
        # every widget fail later, without saying why
        problem = threshold_problem(self.mastery_threshold)
        if problem:
            raise CourseError([("course", "mastery_threshold", problem)])

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        base_dir: str | Path | None = None,
        *,
        source: str | Path | None = None,
    ) -> Course:
        """A validated course from plain data (what the YAML file holds).

        Parameters
        ----------
        data : mapping
            ``{"id", "title", "skills": [...], "exercises": [...]}``; see the demo course YAML.
        base_dir : path, optional
            Folder that ``material_file`` entries are relative to.
        source : path, optional
            The file ``data`` was read from, named by errors and warnings.

        Raises
        ------
        CourseError
            Naming every invalid exercise/skill and field.

        Warns
        -----
        CourseWarning
            For content that is valid but likely a mistake (see :class:`CourseWarning`).
        """
        from learnpulse.course.validation import build_course

        return build_course(data, base_dir, source=source)

    def exercise(self, exercise_id: str) -> Exercise:
        """The exercise ``exercise_id``; KeyError names it and close matches."""
        try:
            return self.exercises[exercise_id]
        except KeyError:
            hint = _close(exercise_id, self.exercises)
            raise KeyError(f"no exercise {exercise_id!r} in course {self.id!r}{hint}") from None

    def skill(self, skill_id: str) -> Skill:
        """The skill ``skill_id``; KeyError names it and close matches."""
        try:
            return self.skills[skill_id]
        except KeyError:
            hint = _close(skill_id, self.skills)
            raise KeyError(f"no skill {skill_id!r} in course {self.id!r}{hint}") from None

    def topological_order(self) -> list[str]:
        """Skill ids, every skill after its prerequisites (ties in authoring order)."""
        order: list[str] = []
        placed: set[str] = set()
        pending = list(self.skills)
        while pending:
            ready = [s for s in pending if set(self.skills[s].prerequisites) <= placed]
            if not ready:  # validation rejects cycles; this guards hand-built instances
                raise CourseError([("course", "skills", f"prerequisite cycle among {pending}")])
            order.append(ready[0])
            placed.add(ready[0])
            pending.remove(ready[0])
        return order

    def ancestors(self, skill_id: str) -> set[str]:
        """Every skill ``skill_id`` depends on, directly or not (itself excluded)."""
        seen: set[str] = set()
        stack = list(self.skill(skill_id).prerequisites)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.skills[current].prerequisites)
        return seen

    def descendants(self, skill_id: str) -> set[str]:
        """Every skill that depends on ``skill_id``, directly or not."""
        self.skill(skill_id)
        return {s for s in self.skills if skill_id in self.ancestors(s)}

    def exercises_for(self, skill_id: str) -> list[Exercise]:
        """Exercises practising ``skill_id``, easiest first."""
        self.skill(skill_id)
        found = [e for e in self.exercises.values() if skill_id in e.skills]
        return sorted(found, key=lambda e: (e.difficulty, e.id))

    def items_frame(self) -> pl.DataFrame:
        """The exercises as an item frame (the store's ``ITEM_FRAME_SCHEMA``).

        Returns
        -------
        polars.DataFrame, shape (n_exercises, 5)
            ``course_id``, ``item_id``, ``skills``, ``difficulty``, ``attributes`` (JSON text:
            ``type`` "exercise", ``exercise_type``, ``title``).
        """
        from learnpulse.datasets.base import ITEM_FRAME_SCHEMA

        rows = [
            {
                "course_id": self.id,
                "item_id": e.id,
                "skills": list(e.skills),
                "difficulty": e.difficulty,
                "attributes": json.dumps(
                    {"type": "exercise", "exercise_type": e.type, "title": e.title}
                ),
            }
            for e in self.exercises.values()
        ]
        return pl.DataFrame(rows, schema=ITEM_FRAME_SCHEMA)

    def skills_frame(self) -> pl.DataFrame:
        """The skills as a skill frame (the store's ``SKILL_FRAME_SCHEMA``), course order.

        Returns
        -------
        polars.DataFrame, shape (n_skills, 4)
            ``course_id``, ``skill_id``, ``name``, ``prerequisites``.
        """
        from learnpulse.datasets.base import SKILL_FRAME_SCHEMA

        rows = [
            {
                "course_id": self.id,
                "skill_id": s.id,
                "name": s.name,
                "prerequisites": list(s.prerequisites),
            }
            for s in self.skills.values()
        ]
        return pl.DataFrame(rows, schema=SKILL_FRAME_SCHEMA)
