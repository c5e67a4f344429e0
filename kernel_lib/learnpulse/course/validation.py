"""Build a :class:`~learnpulse.course.model.Course` from plain data, checking every field.

Every problem found is collected (not just the first) and raised together as one
:class:`~learnpulse.course.model.CourseError` naming the exercise or skill and the field.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from learnpulse.course.advice import likely_mistakes
from learnpulse.course.checking import feedback_key_problem
from learnpulse.course.model import (
    EXERCISE_TYPES,
    Course,
    CourseError,
    CourseWarning,
    Exercise,
    Skill,
    TutorPolicy,
    _close,
)
from learnpulse.course.rules import rule_problem
from learnpulse.models.thresholds import MASTERY_THRESHOLD, threshold_problem

SKILL_FIELDS = {"id", "name", "prerequisites", "material", "material_file"}
EXERCISE_FIELDS = {
    "id", "title", "prompt", "skills", "difficulty", "type", "answer", "tolerance", "choices",
    "function", "tests", "hints", "explanation", "solution", "policy", "feedback", "required",
    "forbidden",
}  # fmt: skip
RULE_FIELDS = ("forbidden", "required")
POLICY_FIELDS = {"tutor_enabled", "max_hint_level", "show_code"}
TEST_FORMS = ("args", "expr", "assert")
#: The fields each form of test may have.
TEST_FIELDS = {
    "args": {"args", "kwargs", "expected", "message"},
    "expr": {"expr", "expected", "message"},
    "assert": {"assert", "message"},
}
TEST_EXAMPLE = "{args: [1, 2], expected: 3}, {expr: 'total', expected: 3} or {assert: 'f(1) > 0'}"
ASSERT_EXPECTED = (
    "an assert test has no 'expected': its expression must be true; to compare a value, use "
    "expr: ... with expected: ..."
)


class _Problems(list):
    """Problems found so far, as ``(where, field, message)``."""

    def add(self, where: str, name: str, message: str) -> None:
        self.append((where, name, message))


def _unknown_fields(entry: Mapping, allowed: set[str], where: str, problems: _Problems) -> None:
    for key in entry:
        if key not in allowed:
            hint = _close(str(key), allowed) or f" (the fields are {', '.join(sorted(allowed))})"
            problems.add(where, str(key), f"unknown field{hint}")


def _strings(value: Any, where: str, name: str, problems: _Problems) -> tuple[str, ...]:
    """A str or list of str as a tuple; anything else is a problem."""
    if value is None:
        return ()
    if _is_text(value):
        return (value,) if isinstance(value, str) else tuple(value)
    values = value if isinstance(value, list | tuple) else [value]
    advice = ""
    if any(isinstance(v, bool | int | float) for v in values):  # e.g. choices: [yes, no]
        advice = (
            ": YAML reads an unquoted yes, no, on, off, true or false as a boolean and 3.4 as a "
            "number; put such a value in quotes ('yes', '3.4')"
        )
    problems.add(where, name, f"must be a string or a list of strings, got {value!r}{advice}")
    return ()


def _is_text(value: Any) -> bool:
    """None, a str or a list of str (what :func:`_strings` takes)."""
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def read_utf8(path: Path) -> str:
    """The text of ``path``, which must be UTF-8.

    Raises
    ------
    OSError
        When it cannot be read.
    ValueError
        When it is not UTF-8 (e.g. saved as Latin-1 or Windows-1252 by an editor), naming
        the first bad byte's line and saying how to fix it.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        byte = raw[error.start : error.start + 1].hex()
        raise ValueError(
            f"it is not UTF-8 text (byte 0x{byte} on line {line}): save it as UTF-8"
        ) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _skill(entry: Any, index: int, base_dir: Path | None, problems: _Problems) -> Skill | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) or not entry["id"]:
        problems.add(f"skill #{index}", "id", "each skill needs a mapping with a string 'id'")
        return None
    where = f"skill {entry['id']!r}"
    _unknown_fields(entry, SKILL_FIELDS, where, problems)
    material = entry.get("material") or ""
    if entry.get("material_file"):
        path = Path(base_dir or ".") / entry["material_file"]
        try:
            material = read_utf8(path)
        except OSError as error:
            problems.add(where, "material_file", f"cannot read {path}: {error.strerror}")
        except ValueError as error:
            problems.add(where, "material_file", f"cannot read {path}: {error}")
    if entry.get("material") and entry.get("material_file"):
        problems.add(where, "material", "give material or material_file, not both")
    if not isinstance(material, str):
        problems.add(where, "material", "must be markdown text")
        material = ""
    name = entry.get("name")
    if name is None or not str(name).strip():  # `name:` left empty: the id names the skill
        name = entry["id"]
    prerequisites = _strings(entry.get("prerequisites"), where, "prerequisites", problems)
    _listed_twice(prerequisites, where, "prerequisites", problems)
    return Skill(entry["id"], str(name), prerequisites, material)


def _listed_twice(values: tuple[str, ...], where: str, name: str, problems: _Problems) -> None:
    for value in sorted({v for v in values if values.count(v) > 1}):
        problems.add(where, name, f"lists {value!r} twice: list each once")


def _check_graph(skills: dict[str, Skill], problems: _Problems) -> None:
    for skill in skills.values():
        for prerequisite in skill.prerequisites:
            if prerequisite not in skills:
                hint = _close(prerequisite, skills)
                problems.add(
                    f"skill {skill.id!r}", "prerequisites", f"unknown {prerequisite!r}{hint}"
                )
    # Kahn's algorithm: what never becomes ready is on (or behind) a cycle.
    placed: set[str] = set()
    pending = {s.id: {p for p in s.prerequisites if p in skills} for s in skills.values()}
    while True:
        ready = [s for s, needs in pending.items() if needs <= placed]
        if not ready:
            break
        placed.update(ready)
        for s in ready:
            del pending[s]
    for cycle in _cycles(skills, pending):
        chain = f"{cycle[0]} needs " + "".join(f"{s}, which needs " for s in cycle[1:])
        problems.add(
            f"skill {cycle[0]!r}",
            "prerequisites",
            f"prerequisite cycle: {chain}{cycle[0]}; a skill cannot need itself, even through "
            "others: remove one of these prerequisites",
        )


def _cycles(skills: dict[str, Skill], pending: Iterable[str]) -> list[list[str]]:
    """The prerequisite cycles among ``pending`` (the skills Kahn's algorithm never placed),
    each once, starting at its first skill in authoring order. Every pending skill has a
    pending prerequisite, so following them from any one of them reaches a cycle."""
    stuck, order = set(pending), list(skills)
    cycles: list[list[str]] = []
    seen: set[str] = set()
    for start in (s for s in order if s in stuck):
        walk: list[str] = []
        current = start
        while current not in walk and current not in seen:
            walk.append(current)
            current = next(p for p in skills[current].prerequisites if p in stuck)
        seen.update(walk)
        if current in walk:  # a new cycle, not the way into one already reported
            cycle = walk[walk.index(current) :]
            first = min(cycle, key=order.index)
            at = cycle.index(first)
            cycles.append(cycle[at:] + cycle[:at])
    return cycles


def _policy(value: Any, where: str, problems: _Problems) -> TutorPolicy:
    if value is None:
        return TutorPolicy()
    if isinstance(value, TutorPolicy):
        return value
    if not isinstance(value, Mapping):
        problems.add(where, "policy", "must be a mapping of tutor_enabled/max_hint_level/show_code")
        return TutorPolicy()
    _unknown_fields(value, POLICY_FIELDS, where, problems)
    level = value.get("max_hint_level")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 0):
        problems.add(where, "policy.max_hint_level", f"must be an integer >= 0, got {level!r}")
        level = None
    flags = {k: value.get(k, getattr(TutorPolicy, k)) for k in ("tutor_enabled", "show_code")}
    for key, flag in flags.items():
        if not isinstance(flag, bool):
            problems.add(where, f"policy.{key}", f"must be true or false, got {flag!r}")
    return TutorPolicy(bool(flags["tutor_enabled"]), level, bool(flags["show_code"]))


def _answer(entry: Mapping, where: str, choices: tuple[str, ...], problems: _Problems) -> Any:
    """The answer normalised per type: a number, the correct choice's text, accepted strings."""
    kind, answer = entry.get("type"), entry.get("answer")
    if kind == "numeric":
        if not _is_number(answer):
            problems.add(where, "answer", f"a numeric exercise needs a number, got {answer!r}")
        return answer
    if kind == "choice":
        if not _is_text(entry.get("choices")):
            return answer  # the choices are not text: reported, and nothing to compare with
        if len(choices) < 2 or len(set(choices)) != len(choices):
            problems.add(where, "choices", "a choice exercise needs >= 2 distinct choices")
        if isinstance(answer, int) and not isinstance(answer, bool):
            if 0 <= answer < len(choices):
                return choices[answer]
            problems.add(
                where, "answer", f"choice index {answer} out of range 0..{len(choices) - 1}"
            )
        elif answer not in choices:
            problems.add(where, "answer", f"{answer!r} is not one of the choices")
        return answer
    if kind == "text":
        reported = len(problems)
        accepted = _strings(answer, where, "answer", problems)
        if len(problems) > reported:
            return accepted  # not text: reported
        if not [a for a in accepted if a.strip()]:
            problems.add(where, "answer", "a text exercise needs at least one accepted string")
        return accepted
    return answer


def _tests(entry: Mapping, where: str, problems: _Problems) -> tuple[Mapping[str, Any], ...]:
    """Code tests, each a mapping with exactly one of args/expr/assert, only its own fields and
    compilable expressions."""
    tests = entry.get("tests") or []
    if not isinstance(tests, list | tuple) or not tests:
        problems.add(
            where, "tests", "a code exercise needs a non-empty list of tests (its checker)"
        )
        return ()
    for number, test in enumerate(tests):
        name = f"tests[{number}]"
        if not isinstance(test, Mapping):
            problems.add(where, name, f"must be a mapping such as {TEST_EXAMPLE}, got {test!r}")
            continue
        forms = [f for f in TEST_FORMS if f in test]
        if len(forms) != 1:
            problems.add(where, name, f"needs exactly one of {', '.join(TEST_FORMS)}: {test!r}")
            continue
        if forms[0] == "args" and not entry.get("function"):
            problems.add(where, "function", f"{name} calls a function, so 'function' is required")
        for field_name, message in _test_problems(test, forms[0]):
            problems.add(where, f"{name}.{field_name}" if field_name else name, message)
    return tuple(dict(t) for t in tests if isinstance(t, Mapping))


def _test_problems(test: Mapping, form: str) -> list[tuple[str, str]]:
    """``(field, message)`` for each problem of one test of the form ``form`` (field "" for
    the test as a whole)."""
    found = []
    allowed = TEST_FIELDS[form]
    for key in test:
        if key == "expected" and form == "assert":
            found.append(("expected", ASSERT_EXPECTED))
        elif key not in allowed:
            found.append((str(key), f"unknown field{_close(str(key), allowed)}"))
    if form == "args" and not isinstance(test["args"], list | tuple):
        found.append(("args", "must be a list of positional arguments"))
    if not isinstance(test.get("kwargs") or {}, Mapping):
        found.append(("kwargs", f"must map argument names to values, got {test['kwargs']!r}"))
    if form in ("args", "expr") and "expected" not in test:
        found.append(("", "needs 'expected'"))
    if not isinstance(test.get("message", ""), str):
        found.append(("message", f"must be text, got {test['message']!r}"))
    if form in ("expr", "assert"):
        if not isinstance(test[form], str):
            found.append((form, f"must be a Python expression as text, got {test[form]!r}"))
            return found
        try:
            compile(test[form], "<test>", "eval")
        except SyntaxError as error:
            found.append(("", f"{form} is not a valid expression: {error.msg}"))
    return found


def _hints(entry: Mapping, where: str, problems: _Problems) -> tuple[str, ...]:
    hints = _strings(entry.get("hints"), where, "hints", problems)
    if not hints or not all(h.strip() for h in hints):
        problems.add(where, "hints", "the hint ladder is empty (give at least one non-empty hint)")
    return hints


def _rules(entry: Mapping, where: str, problems: _Problems) -> dict[str, tuple[str, ...]]:
    """``required`` and ``forbidden``: lists of constructs or names, on code exercises only."""
    rules: dict[str, tuple[str, ...]] = {}
    for name in RULE_FIELDS:
        value = entry.get(name)
        rules[name] = ()
        if value is None:
            continue
        if entry.get("type") != "code":
            problems.add(where, name, f"rules apply to code exercises, not {entry.get('type')!r}")
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            problems.add(
                where, name, f"must be a list of constructs or names, e.g. ['for'], got {value!r}"
            )
            continue
        for number, rule in enumerate(value):
            problem = rule_problem(rule)
            if problem:
                problems.add(where, f"{name}[{number}]", problem)
        rules[name] = tuple(dict.fromkeys(r for r in value if isinstance(r, str)))
    both = [r for r in rules["required"] if r in rules["forbidden"]]
    if both:
        problems.add(where, "forbidden", f"{both} also required: a rule is one or the other")
    return rules


def _feedback(
    entry: Mapping, where: str, answer: Any, choices: tuple[str, ...], problems: _Problems
) -> dict[str, str]:
    """Feedback per anticipated wrong answer, keyed as the checker looks it up; a key that
    could never be shown (no such choice, the right answer...) is a problem."""
    feedback = entry.get("feedback") or {}
    if not isinstance(feedback, Mapping) or not all(isinstance(v, str) for v in feedback.values()):
        problems.add(where, "feedback", "must map anticipated answers to feedback text")
        return {}
    kind, tolerance = entry.get("type"), entry.get("tolerance", 0.0)
    if kind not in EXERCISE_TYPES or (kind == "numeric" and not _is_number(answer)):
        return {str(k): v for k, v in feedback.items()}  # the type or answer is a problem
    keyed = {}
    for key, text in feedback.items():
        looked_up, problem = feedback_key_problem(
            kind, key, answer, choices, tolerance if _is_number(tolerance) else 0.0
        )
        if problem:
            problems.add(where, "feedback", problem)
        keyed[looked_up] = text
    return keyed


def _scalar_fields(entry: Mapping, where: str, problems: _Problems) -> None:
    for name in ("prompt",):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            problems.add(where, name, "required text is missing")
    difficulty = entry.get("difficulty")
    if not _is_number(difficulty) or not 0 <= difficulty <= 1:
        problems.add(where, "difficulty", f"must be a number in 0..1, got {difficulty!r}")
    if entry.get("type") not in EXERCISE_TYPES:
        problems.add(
            where, "type", f"must be one of {list(EXERCISE_TYPES)}, got {entry.get('type')!r}"
        )
    tolerance = entry.get("tolerance", 0.0)
    if not _is_number(tolerance) or tolerance < 0:
        problems.add(where, "tolerance", f"must be a number >= 0, got {tolerance!r}")
    function = entry.get("function")
    if function is not None and (not isinstance(function, str) or not function.isidentifier()):
        problems.add(where, "function", f"must be a Python function name, got {function!r}")
    if entry.get("type") == "code" and not str(entry.get("solution") or "").strip():
        problems.add(where, "solution", "a code exercise needs a reference solution")


def _exercise(
    entry: Any, index: int, skills: dict[str, Skill], problems: _Problems
) -> Exercise | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) or not entry["id"]:
        problems.add(f"exercise #{index}", "id", "each exercise needs a mapping with a string 'id'")
        return None
    where = f"exercise {entry['id']!r}"
    _unknown_fields(entry, EXERCISE_FIELDS, where, problems)
    _scalar_fields(entry, where, problems)
    tags = _strings(entry.get("skills"), where, "skills", problems)
    if not tags:
        problems.add(where, "skills", "name at least one skill")
    _listed_twice(tags, where, "skills", problems)  # each attempt would count twice
    for tag in tags:
        if tag not in skills:
            problems.add(where, "skills", f"unknown skill {tag!r}{_close(tag, skills)}")
    choices = _strings(entry.get("choices"), where, "choices", problems)
    kind = entry.get("type")
    answer = _answer(entry, where, choices, problems)
    return Exercise(
        id=entry["id"],
        title=str(entry.get("title") or entry["id"]),
        prompt=str(entry.get("prompt") or ""),
        skills=tags,
        difficulty=float(entry["difficulty"]) if _is_number(entry.get("difficulty")) else 0.5,
        type=str(kind),
        answer=answer,
        tolerance=float(entry.get("tolerance", 0.0))
        if _is_number(entry.get("tolerance", 0))
        else 0,
        choices=choices,
        function=entry.get("function"),
        tests=_tests(entry, where, problems) if kind == "code" else (),
        hints=_hints(entry, where, problems),
        explanation=str(entry.get("explanation") or ""),
        solution=str(entry.get("solution") if entry.get("solution") is not None else ""),
        policy=_policy(entry.get("policy"), where, problems),
        feedback=_feedback(entry, where, answer, choices, problems),
        **_rules(entry, where, problems),
    )


def _unique(entries: list, kind: str, problems: _Problems) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            message = f"duplicate id: another {kind} has it already; give each {kind} its own id"
            problems.add(f"{kind} {entry.id!r}", "id", message)
        seen.add(entry.id)


def _check_solutions(exercises: list[Exercise], problems: _Problems) -> None:
    """Every code exercise's reference solution must pass its own tests and keep its rules."""
    from learnpulse.course.checking import check

    for exercise in exercises:
        if exercise.type == "code" and exercise.solution.strip():
            result = check(exercise, exercise.solution)
            if not result.correct:  # the feedback speaks to a student ("your code")
                message = f"the reference solution fails its own check: {result.feedback}"
                problems.add(f"exercise {exercise.id!r}", "solution", message)


def build_course(
    data: Mapping[str, Any], base_dir: str | Path | None = None, *, source: str | Path | None = None
) -> Course:
    """See :meth:`Course.from_dict`."""
    if not isinstance(data, Mapping):
        problem = ("course", "-", f"expected a mapping, got {type(data).__name__}")
        raise CourseError([problem], source=source)
    problems = _Problems()
    _unknown_fields(
        data, {"id", "title", "skills", "exercises", "mastery_threshold"}, "course", problems
    )
    threshold = data.get("mastery_threshold", MASTERY_THRESHOLD)
    problem = threshold_problem(threshold)
    if problem:
        problems.add("course", "mastery_threshold", problem)
    for name in ("id", "title"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            problems.add("course", name, "required text is missing")
    base = Path(base_dir) if base_dir is not None else None
    raw_skills, raw_exercises = data.get("skills") or [], data.get("exercises") or []
    if not isinstance(raw_skills, list) or not raw_skills:
        problems.add("course", "skills", "needs a non-empty list of skills")
        raw_skills = []
    if not isinstance(raw_exercises, list):
        problems.add("course", "exercises", "must be a list")
        raw_exercises = []
    skill_list = [s for i, e in enumerate(raw_skills) if (s := _skill(e, i, base, problems))]
    _unique(skill_list, "skill", problems)
    skills = {s.id: s for s in skill_list}
    _check_graph(skills, problems)
    exercise_list = [
        x for i, e in enumerate(raw_exercises) if (x := _exercise(e, i, skills, problems))
    ]
    _unique(exercise_list, "exercise", problems)
    if not problems:
        _check_solutions(exercise_list, problems)
    if problems:
        raise CourseError(problems, source=source)
    for where, name, message in likely_mistakes(exercise_list):
        warnings.warn(CourseWarning(where, name, message, source), stacklevel=3)
    exercises = {e.id: e for e in exercise_list}
    return Course(data["id"], data["title"], skills, exercises, float(threshold))
