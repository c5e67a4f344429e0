"""Generated exercises: every template, at both ends of its difficulty, checks right answers
as right and wrong ones as wrong, and rebuilds from its id."""

from __future__ import annotations

import pytest

from learnpulse.agents import ask, generate_exercise, generated_exercise
from learnpulse.agents.generator import SKILLS_WITH_TEMPLATES, TEMPLATES
from learnpulse.course import Course, check
from learnpulse.course.rules import rule_problem


def _right(exercise):
    if exercise.type == "code":
        return exercise.solution
    if exercise.type == "text":
        return exercise.answer[0]
    return exercise.answer


def _wrong(exercise):
    if exercise.type == "code":
        return f"def {exercise.function}(*args):\n    return None\n"
    if exercise.type == "choice":
        return next(c for c in exercise.choices if c != exercise.answer)
    if exercise.type == "text":
        return exercise.answer[0] + "x"
    return exercise.answer + 1


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: f"{t.skill}-{t.build.__name__}")
@pytest.mark.parametrize("end", [0, 1])
def test_every_template_has_a_working_checker(template, end):
    for seed in range(5):
        exercise = generate_exercise(template.skill, template.difficulty[end], seed)
        assert exercise.skills == (template.skill,)
        assert check(exercise, _right(exercise)).correct, exercise.id
        assert not check(exercise, _wrong(exercise)).correct, exercise.id
        assert exercise.solution not in exercise.prompt or exercise.type != "code"


def test_every_course_skill_has_a_template(course):
    assert set(SKILLS_WITH_TEMPLATES) == set(course.skills)


def test_exercises_are_reproducible_and_rebuilt_from_their_id():
    first = generate_exercise("recursion", 0.8, seed=42)
    assert generate_exercise("recursion", 0.8, seed=42) == first
    assert generated_exercise(first.id) == first
    assert generate_exercise("recursion", 0.8, seed=43).prompt != first.prompt
    with pytest.raises(KeyError, match="not a generated exercise id"):
        generated_exercise("gen-999-50-1")


def test_bad_requests_name_the_problem():
    with pytest.raises(ValueError, match="no exercise template for skill 'haskell'"):
        generate_exercise("haskell", 0.5, 1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        generate_exercise("loops", 1.5, 1)


def test_generated_rules_are_valid_and_checked_like_an_authored_exercises():
    """The loops code template asks for a for loop; the checker holds its answers to it."""
    for template in TEMPLATES:
        for end in (0, 1):
            exercise = generate_exercise(template.skill, template.difficulty[end], seed=3)
            assert all(rule_problem(rule) is None for rule in exercise.rules), exercise.id
    practice = generate_exercise("loops", 0.9, seed=3)
    assert practice.required == ("for",) and "using a `for` loop" in practice.prompt
    assert check(practice, practice.solution).correct
    k = int(practice.title.rsplit(" ", 1)[1])
    counted = (
        f"def count_multiples(numbers):\n    return len([n for n in numbers if n % {k} == 0])\n"
    )
    result = check(practice, counted)
    assert not result.correct and result.details["diagnosis"] == "broken_rule"
    assert result.feedback.endswith("but this exercise asks you to use a for loop.")


def _text_course(*skills: str):
    """A course of the instructor's own: skill 'palindromes' (no template) and ``skills``,
    with exercise tb-1 on palindromes and tb-2 on palindromes and ``skills``."""
    exercises = [
        {
            "id": f"tb-{n}",
            "prompt": "Is 'anna' a palindrome (yes or no)?",
            "skills": tags,
            "difficulty": difficulty,
            "type": "text",
            "answer": ["yes"],
            "hints": ["Read it backwards."],
        }
        for n, tags, difficulty in ((1, ["palindromes"], 0.2), (2, ["palindromes", *skills], 0.1))
    ]
    entries = [{"id": skill} for skill in ("palindromes", *skills)]
    return Course.from_dict(
        {"id": "text-basics", "title": "Text basics", "skills": entries, "exercises": exercises}
    )


def test_a_course_without_templated_skills_gets_an_honest_answer():
    """In an instructor's own course, "give me a practice exercise" during one of its
    exercises raised ValueError ("no exercise template for skill 'palindromes'"): the tutor
    said the generator "could not answer this just now"; without a skill to go by it offered
    the demo course's topics, which are not this course's."""
    course = _text_course("lists")
    on_lists = ask("give me a practice exercise", learner_id="ada", course=course, exercise="tb-2")
    assert on_lists.agent == "generator"
    assert on_lists.text.startswith("Here is new practice on **lists** (the skill of the ")
    asked = ask("give me a practice exercise", learner_id="ada", course=course, exercise="tb-1")
    assert asked.text == "Which topic would you like to practise? I can make exercises on: lists."
    course = _text_course()
    told = ask("give me a practice exercise", learner_id="ada", course=course, exercise="tb-1")
    assert told.text.startswith("I can only make new practice exercises on the topics of the ")
    assert told.text.endswith(
        "and Text basics has none of them. Practise with its own exercises instead, e.g. "
        "`%exercise tb-2`, `%exercise tb-1`."
    )


def test_practice_never_comes_out_with_its_code_removed(course):
    """With a code exercise open, 12 of 80 practice questions came out with their code
    replaced by "[code removed: it reproduces this exercise's reference solution...]" (the
    counting question on dicts is ex-dicts-02's solution): questions nobody could answer."""
    broken = []
    for exercise in (e for e in course.exercises.values() if e.type == "code"):
        for learner in ("u0", "u1", "u2", "u3"):
            message = f"give me a practice exercise on {exercise.skills[0]}"
            reply = ask(message, learner_id=learner, course=course, exercise=exercise.id)
            if reply.agent == "generator" and reply.redactions:
                broken.append((exercise.id, learner))
    assert broken == []


def test_practice_that_would_give_the_answer_away_waits_until_it_is_solved(
    course, lite_store, make_event
):
    asked = {"learner_id": "ann", "course": course, "store": lite_store, "exercise": "ex-dicts-02"}
    refused = ask("give me a practice exercise on dicts", **asked)
    assert "would show the answer to the exercise you are working on, Word counts" in refused.text
    assert refused.actions == ("Give me a hint", "Practise lists", "Practise loops")
    lite_store.append([make_event(learner_id="ann", course_id=course.id, item_id="ex-dicts-02")])
    practice = ask("give me a practice exercise on dicts", **asked)
    assert "counts.get(w, 0) + 1" in practice.text and practice.redactions == 0
