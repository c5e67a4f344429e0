"""The demo course: same skills as the simulator, material and exercises, graph helpers."""

from __future__ import annotations

from collections import Counter

import pytest

from learnpulse.agents.guardrails import LEAK_COVERAGE, coverage
from learnpulse.course import (
    EXERCISE_TYPES,
    Course,
    Exercise,
    Skill,
    TutorPolicy,
    check,
    demo_course,
)
from learnpulse.course.advice import hint_code
from learnpulse.datasets.simulator_params import SKILLS


@pytest.fixture(scope="module")
def course() -> Course:
    return demo_course()


def test_demo_course_skills_are_the_simulators(course: Course) -> None:
    assert course.id == "demo-python-101"
    assert list(course.skills) == [s.skill_id for s in SKILLS]
    for simulated in SKILLS:
        skill = course.skills[simulated.skill_id]
        assert isinstance(skill, Skill)
        assert skill.prerequisites == simulated.prerequisites
        assert skill.name == simulated.name


def test_every_skill_has_real_teaching_material(course: Course) -> None:
    for skill in course.skills.values():
        sections = [line for line in skill.material.splitlines() if line.startswith("## ")]
        assert len(skill.material.split()) >= 150, skill.id
        assert len(sections) >= 3, skill.id
        assert "```" in skill.material or "`" in skill.material, skill.id


def test_exercises_cover_every_skill_and_the_lesson_has_all_types(course: Course) -> None:
    main_skill = Counter(e.skill for e in course.exercises.values())
    assert all(main_skill[s] >= 2 for s in course.skills), main_skill
    for lesson in ("lists", "loops"):
        types = {e.type for e in course.exercises.values() if e.skill == lesson}
        assert types == set(EXERCISE_TYPES), (lesson, types)
        assert main_skill[lesson] >= 6
    for exercise in course.exercises.values():
        assert isinstance(exercise, Exercise)
        assert exercise.id.startswith(f"ex-{exercise.skill}-")  # the simulator's item ids
        assert 0 <= exercise.difficulty <= 1
        assert exercise.hints and exercise.explanation and exercise.solution


def test_every_reference_answer_checks_correct(course: Course) -> None:
    for exercise in course.exercises.values():
        answer = exercise.answer
        if exercise.type == "text":
            answer = exercise.answer[0]
        elif exercise.type == "code":
            answer = exercise.solution
        result = check(exercise, answer)
        assert result.correct and result.score == 1.0, (exercise.id, result)


def test_no_hint_ladder_gives_away_the_solution(course: Course) -> None:
    """All of an exercise's hints together reproduce less of its reference solution than
    the tutor's own leak check allows in a reply. The last hints of seven exercises were
    their solution's code (e.g. ``return base * power(base, exp - 1)``), quoted to students
    by the Hint button and the tutor."""
    leaky = {
        ex.id: round(coverage([c for h in ex.hints for c in hint_code(h)], ex.solution), 2)
        for ex in course.exercises.values()
        if ex.solution
    }
    assert {k: v for k, v in leaky.items() if v >= LEAK_COVERAGE} == {}


def test_topological_order_puts_prerequisites_first(course: Course) -> None:
    order = course.topological_order()
    assert sorted(order) == sorted(course.skills)
    position = {skill: i for i, skill in enumerate(order)}
    for skill in course.skills.values():
        for prerequisite in skill.prerequisites:
            assert position[prerequisite] < position[skill.id]


def test_ancestors_and_descendants(course: Course) -> None:
    assert course.ancestors("variables") == set()
    assert course.ancestors("loops") == {"conditionals", "lists", "expressions", "variables"}
    assert "comprehensions" in course.descendants("lists")
    assert "lists" not in course.descendants("loops")
    with pytest.raises(KeyError, match="did you mean 'loops'"):
        course.ancestors("loop")


def test_exercise_lookup_names_close_matches(course: Course) -> None:
    assert course.exercise("ex-lists-01").skill == "lists"
    with pytest.raises(KeyError) as raised:
        course.exercise("ex-list-01")
    message = str(raised.value)
    assert "ex-list-01" in message and "ex-lists-01" in message


def test_exercises_for_a_skill_easiest_first(course: Course) -> None:
    found = course.exercises_for("loops")
    assert all("loops" in e.skills for e in found)
    assert [e.difficulty for e in found] == sorted(e.difficulty for e in found)
    assert {e.id for e in found} >= {f"ex-loops-0{i}" for i in range(1, 8)}


def test_policy_limits_the_hint_ladder() -> None:
    assert TutorPolicy().hint_limit(3) == 3
    assert TutorPolicy(max_hint_level=1).hint_limit(3) == 1
    assert TutorPolicy(max_hint_level=5).hint_limit(3) == 3
    assert TutorPolicy(max_hint_level=0).hint_limit(3) == 0
