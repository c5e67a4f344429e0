"""The content generator: new practice exercises for a skill and difficulty from parameterised
templates, each with an automatic checker.

A template draws its parameters from a seeded random generator and returns an exercise
whose expected answer (or, for code, whose test cases) is *computed* by running the template's
reference code on the drawn parameters, so checker and exercise always agree. Generated
exercises are :class:`learnpulse.course.Exercise` objects checked by
:func:`learnpulse.course.check` like authored ones (rules on the code included: the loops code
template requires a ``for`` loop); an id names template, difficulty and seed,
so :func:`generated_exercise` rebuilds the exercise from its id in any process.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from learnpulse.agents.base import Draft, Source, TutorContext
from learnpulse.agents.guardrails import redact_leaks
from learnpulse.agents.learner import solved
from learnpulse.agents.retrieval import skills_in
from learnpulse.course import Exercise

#: Most exercises generated for one request.
MAX_GENERATED = 5
#: Difficulty (0..1) a learner gets when none is asked for: their P(known) of the skill plus
#: this step (a little beyond what they know), or :data:`DEFAULT_DIFFICULTY` without evidence.
DIFFICULTY_STEP = 0.1
DEFAULT_DIFFICULTY = 0.3
#: Difficulty named in a message -> value.
NAMED_DIFFICULTY = {"easy": 0.2, "easier": 0.2, "medium": 0.5, "hard": 0.8, "harder": 0.8}


@dataclass(frozen=True)
class Template:
    """A parameterised exercise: ``build(rng, difficulty)`` -> Exercise fields."""

    skill: str
    difficulty: tuple[float, float]
    build: Callable[[random.Random, float], dict[str, Any]]


def _run(code: str, expression: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # the template's own code, never the learner's
    return eval(expression, namespace)


def _trace_numeric(title: str, code: str, name: str, hints: tuple[str, ...]) -> dict[str, Any]:
    """A "what is ``name`` after this code" exercise; the answer is computed by running it."""
    return {
        "title": title,
        "prompt": f"What is the value of `{name}` after this code runs?\n\n```python\n{code}```",
        "type": "numeric",
        "answer": _run(code, name),
        "hints": hints,
        "explanation": f"Run the lines in order, tracking `{name}` after each one.",
        "solution": f"{code}print({name})\n",
    }


def _code_exercise(
    title: str,
    prompt: str,
    solution: str,
    function: str,
    inputs: list[tuple],
    hints: tuple,
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A code exercise whose test cases are the reference solution's results on ``inputs``;
    ``required`` constructs are checked as an authored exercise's rules (the prompt says them)."""
    reference = _run(solution, function)
    tests = tuple({"args": list(args), "expected": reference(*args)} for args in inputs)
    return {
        "title": title,
        "prompt": prompt,
        "type": "code",
        "function": function,
        "tests": tests,
        "hints": hints,
        "explanation": "Compare your function's result with the expected value of each test.",
        "solution": solution,
        "required": required,
    }


def _variables(rng: random.Random, difficulty: float) -> dict[str, Any]:
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(2, 9)
    code = f"x = {a}\ny = x + {b}\nx = {c}\n"
    if difficulty > 0.3:
        code += "x, y = y, x\n"
    return _trace_numeric("Tracing assignments", code, "y", ("Track each name line by line.",))


def _expressions(rng: random.Random, difficulty: float) -> dict[str, Any]:
    a, b, c = rng.randint(7, 30), rng.randint(2, 6), rng.randint(2, 5)
    expression = f"{a} // {b} + {a} % {b} * {c}" if difficulty > 0.3 else f"{a} - {b} * {c}"
    return _trace_numeric(
        "Operator precedence",
        f"value = {expression}\n",
        "value",
        ("`*`, `//` and `%` bind tighter than `+` and `-`.",),
    )


def _strings(rng: random.Random, difficulty: float) -> dict[str, Any]:
    word = rng.choice(["notebook", "variable", "function", "sequence", "learning"])
    start, stop = rng.randint(0, 3), rng.randint(4, 7)
    expression = f"'{word}'[{start}:{stop}]" if difficulty > 0.3 else f"'{word}'[{start}]"
    return {
        "title": "Slicing a string",
        "prompt": f"What does `{expression}` evaluate to? (Type the characters without quotes.)",
        "type": "text",
        "answer": (eval(expression),),
        "hints": ("Indexes start at 0; a slice stops before its end index.",),
        "explanation": "Count positions from 0; the character at the stop index is not included.",
        "solution": f"print({expression})\n",
    }


def _conditionals(rng: random.Random, difficulty: float) -> dict[str, Any]:
    x, low, high = rng.randint(0, 20), rng.randint(3, 8), rng.randint(10, 16)
    code = f"x = {x}\nif x < {low}:\n    y = 1\nelif x < {high}:\n    y = 2\nelse:\n    y = 3\n"
    if difficulty > 0.4:
        code += "if x % 2 == 0 and y != 3:\n    y = y * 10\n"
    return _trace_numeric("Which branch runs?", code, "y", ("Only the first true branch runs.",))


def _lists(rng: random.Random, difficulty: float) -> dict[str, Any]:
    values = [rng.randint(1, 9) for _ in range(rng.randint(4, 7))]
    code = f"xs = {values}\nxs.append({rng.randint(1, 9)})\n"
    code += "n = xs[-2] + len(xs)\n" if difficulty > 0.3 else "n = xs[1]\n"
    return _trace_numeric("Indexing a list", code, "n", ("Index -1 is the last item.",))


def _loops(rng: random.Random, difficulty: float) -> dict[str, Any]:
    start, stop, step = rng.randint(0, 3), rng.randint(8, 15), rng.randint(1, 3)
    code = f"total = 0\nfor i in range({start}, {stop}, {step}):\n    total += i\n"
    if difficulty > 0.5:
        skip_even = "    if i % 2 == 0:\n        continue\n    total += i"
        code = code.replace("    total += i", skip_even)
    return _trace_numeric("Loop with range", code, "total", ("range stops before `stop`.",))


def _loops_code(rng: random.Random, difficulty: float) -> dict[str, Any]:
    k = rng.randint(2, 5)
    solution = (
        f"def count_multiples(numbers):\n    count = 0\n    for n in numbers:\n"
        f"        if n % {k} == 0:\n            count += 1\n    return count\n"
    )
    inputs = [([k, k + 1, 2 * k],), ([],), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10],), ([0, -k],)]
    return _code_exercise(
        f"Count the multiples of {k}",
        f"Write `count_multiples(numbers)` that returns how many numbers in the list are "
        f"divisible by {k}, using a `for` loop.",
        solution, "count_multiples", inputs,
        ("Use a counter that starts at 0 before the loop.", f"`n % {k} == 0` tests divisibility."),
        required=("for",),
    )  # fmt: skip


def _functions(rng: random.Random, difficulty: float) -> dict[str, Any]:
    a, b = rng.randint(2, 6), rng.randint(1, 9)
    solution = f"def line(x):\n    return {a} * x + {b}\n"
    return _code_exercise(
        "A function that returns",
        f"Write `line(x)` that **returns** {a}·x + {b}, e.g. `line(0)` returns {b}.",
        solution, "line", [(0,), (1,), (-3,), (10,)],
        ("Use `return`, not `print`.",),
    )  # fmt: skip


def _tuples_sets(rng: random.Random, difficulty: float) -> dict[str, Any]:
    values = [rng.randint(1, 6) for _ in range(rng.randint(6, 10))]
    other = [rng.randint(1, 6) for _ in range(4)]
    code = f"s = set({values})\n"
    code += f"n = len(s & set({other}))\n" if difficulty > 0.4 else "n = len(s)\n"
    return _trace_numeric("Sets drop duplicates", code, "n", ("A set keeps each value once.",))


def _dicts(rng: random.Random, difficulty: float) -> dict[str, Any]:
    words = [rng.choice(["cat", "dog", "owl"]) for _ in range(rng.randint(5, 8))]
    code = f"counts = {{}}\nfor w in {words}:\n    counts[w] = counts.get(w, 0) + 1\n"
    code += "n = counts.get('owl', 0)\n"
    return _trace_numeric("Counting with a dict", code, "n", ("`get` gives 0 for a missing key.",))


def _comprehensions(rng: random.Random, difficulty: float) -> dict[str, Any]:
    n, k = rng.randint(8, 20), rng.randint(2, 4)
    code = f"xs = [i * i for i in range({n}) if i % {k} == 0]\nn_items = len(xs)\n"
    return _trace_numeric("Comprehension length", code, "n_items", ("Count the i kept.",))


def _choice(title: str, prompt: str, choices: list[str], answer: str, hint: str) -> dict[str, Any]:
    return {
        "title": title,
        "prompt": prompt,
        "type": "choice",
        "choices": tuple(choices),
        "answer": answer,
        "hints": (hint,),
        "explanation": f"The answer is {answer}.",
        "solution": answer,
    }


def _exceptions(rng: random.Random, difficulty: float) -> dict[str, Any]:
    cases = {
        "int('seven')": "ValueError", "[1, 2][5]": "IndexError", "{'a': 1}['b']": "KeyError",
        "10 / 0": "ZeroDivisionError", "'3' + 3": "TypeError", "undefined_name": "NameError",
    }  # fmt: skip
    expression = rng.choice(sorted(cases))
    return _choice(
        "Which exception?",
        f"Which exception does `{expression}` raise?",
        sorted(set(cases.values())),
        cases[expression],
        "Think about what is wrong: the type, the value, a missing key or index, or a name.",
    )


def _files(rng: random.Random, difficulty: float) -> dict[str, Any]:
    modes = {"r": "read", "w": "write, emptying the file first", "a": "append to the end"}
    mode = rng.choice(sorted(modes))
    return _choice(
        "File modes",
        f"What does `open(path, '{mode}')` let you do?",
        sorted(modes.values()),
        modes[mode],
        "r = read, w = write (truncates), a = append.",
    )


def _modules(rng: random.Random, difficulty: float) -> dict[str, Any]:
    a, b = rng.randint(2, 12) * 2, rng.randint(2, 12) * 3
    code = f"import math\nn = math.gcd({a}, {b}) + math.floor({a} / {b})\n"
    return _trace_numeric("Using math", code, "n", ("`math.gcd` is the greatest common divisor.",))


def _recursion(rng: random.Random, difficulty: float) -> dict[str, Any]:
    k, base, n = rng.randint(2, 4), rng.randint(0, 3), rng.randint(3, 6)
    code = (
        f"def f(n):\n    if n == 0:\n        return {base}\n    return {k} + f(n - 1)\n"
        f"result = f({n})\n"
    )
    return _trace_numeric("Tracing recursion", code, "result", ("Unfold f(n) down to f(0).",))


def _classes(rng: random.Random, difficulty: float) -> dict[str, Any]:
    start, times, step = rng.randint(0, 5), rng.randint(2, 5), rng.randint(1, 3)
    code = (
        f"class Counter:\n    def __init__(self):\n        self.count = {start}\n"
        f"    def add(self):\n        self.count += {step}\n"
        f"c = Counter()\nfor _ in range({times}):\n    c.add()\nvalue = c.count\n"
    )
    return _trace_numeric("Objects keep state", code, "value", ("Each add() changes self.count.",))


def _testing(rng: random.Random, difficulty: float) -> dict[str, Any]:
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    statements = [f"assert {a} + {b} == {a + b}", f"assert {a} * {b} == {a * b}"]
    wrong = f"assert {a} - {b} == {b - a}" if a != b else f"assert {a} - {b} == 1"
    statements.append(wrong)
    rng.shuffle(statements)
    return _choice(
        "Which assert fails?",
        "Which of these lines raises `AssertionError`?",
        statements,
        wrong,
        "Work out each side of `==` by hand.",
    )


TEMPLATES: tuple[Template, ...] = (
    Template("variables", (0.0, 0.5), _variables),
    Template("expressions", (0.1, 0.6), _expressions),
    Template("strings", (0.1, 0.6), _strings),
    Template("conditionals", (0.2, 0.7), _conditionals),
    Template("lists", (0.1, 0.6), _lists),
    Template("loops", (0.2, 0.7), _loops),
    Template("loops", (0.4, 1.0), _loops_code),
    Template("functions", (0.3, 0.8), _functions),
    Template("tuples_sets", (0.2, 0.7), _tuples_sets),
    Template("dicts", (0.3, 0.8), _dicts),
    Template("comprehensions", (0.4, 0.9), _comprehensions),
    Template("files", (0.3, 0.7), _files),
    Template("exceptions", (0.3, 0.8), _exceptions),
    Template("modules", (0.3, 0.7), _modules),
    Template("recursion", (0.5, 1.0), _recursion),
    Template("classes", (0.5, 1.0), _classes),
    Template("testing", (0.4, 0.9), _testing),
)
SKILLS_WITH_TEMPLATES = tuple(dict.fromkeys(t.skill for t in TEMPLATES))
_GENERATED_ID = re.compile(r"^gen-(?P<template>\d+)-(?P<level>\d{1,3})-(?P<seed>\d+)$")


def _build(template_number: int, level_percent: int, seed: int) -> Exercise:
    """The exercise a template draws at a difficulty (in percent) from a seed; its id says all
    three, so any process can rebuild it (:func:`generated_exercise`)."""
    template = TEMPLATES[template_number]
    fields = template.build(random.Random(seed), level_percent / 100)
    return Exercise(
        id=f"gen-{template_number}-{level_percent}-{seed}",
        skills=(template.skill,),
        difficulty=level_percent / 100,
        **fields,
    )


def generate_exercise(skill: str, difficulty: float, seed: int) -> Exercise:
    """One new exercise practising ``skill`` near ``difficulty`` (0..1), reproducible by ``seed``.

    The template whose difficulty range is centred nearest ``difficulty`` draws it, at
    ``difficulty`` clipped to that range.

    Raises
    ------
    ValueError
        If no template practises ``skill`` or ``difficulty`` is outside 0..1.
    """
    return next(_drafts(skill, difficulty, seed))


def _drafts(skill: str, difficulty: float, seed: int) -> Iterator[Exercise]:
    """The exercise each template of ``skill`` draws from ``seed``, the template whose
    difficulty range is centred nearest ``difficulty`` first (see :func:`generate_exercise`)."""
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be between 0 and 1, got {difficulty!r}")
    candidates = [t for t in TEMPLATES if t.skill == skill]
    if not candidates:
        known = ", ".join(SKILLS_WITH_TEMPLATES)
        raise ValueError(f"no exercise template for skill {skill!r}; templates exist for {known}")
    for template in sorted(candidates, key=lambda t: abs(sum(t.difficulty) / 2 - difficulty)):
        low, high = template.difficulty
        level = min(max(difficulty, low), high)
        yield _build(TEMPLATES.index(template), round(level * 100), seed)


def generated_exercise(exercise_id: str) -> Exercise:
    """The generated exercise ``exercise_id`` (``gen-<template>-<difficulty %>-<seed>``),
    rebuilt from its id, so it can be checked in any process.

    Raises
    ------
    KeyError
        If the id is not a generated exercise's.
    """
    match = _GENERATED_ID.match(exercise_id)
    if not match or int(match["template"]) >= len(TEMPLATES) or int(match["level"]) > 100:
        raise KeyError(f"{exercise_id!r} is not a generated exercise id")
    return _build(int(match["template"]), int(match["level"]), int(match["seed"]))


def _difficulty(message: str, context: TutorContext, skill: str) -> float:
    for word, value in NAMED_DIFFICULTY.items():
        if re.search(rf"\b{word}\b", message, re.I):
            return value
    p_known = context.p_known(skill)
    return DEFAULT_DIFFICULTY if p_known is None else min(1.0, p_known + DIFFICULTY_STEP)


def _count(message: str) -> int:
    number = re.search(r"\b([1-9]\d?)\b", message)
    return min(int(number.group(1)), MAX_GENERATED) if number else 1


def _weakest_skill(context: TutorContext) -> str | None:
    """The practised skill with the lowest P(known) that has a template."""
    if context.mastery.is_empty():
        return None
    rows = context.mastery.filter(pl.col("skill").is_in(SKILLS_WITH_TEMPLATES)).sort("p_known")
    return rows.get_column("skill")[0] if rows.height else None


def render(exercise: Exercise) -> str:
    """An exercise as markdown for the chat (prompt, choices, how to answer; no solution)."""
    lines = [f"**{exercise.title}** (`{exercise.id}`, difficulty {exercise.difficulty:.1f})", ""]
    lines.append(exercise.prompt)
    if exercise.choices:
        lines += ["", *(f"- {choice}" for choice in exercise.choices)]
    if exercise.type == "code":
        lines += ["", f"Your function is checked on {len(exercise.tests)} test cases."]
    return "\n".join(lines)


def _which_topic(context: TutorContext) -> Draft:
    """Ask which topic to practise, among those of the course a template practises; a
    course with none of them (an instructor's own) is told so, with its own exercises."""
    course = context.course
    options = [s for s in SKILLS_WITH_TEMPLATES if course is None or s in course.skills]
    if options:
        text = "Which topic would you like to practise? I can make exercises on: "
        suggested = [s for s in ("loops", "dicts") if s in options] or options[:2]
        actions = tuple(f"Practise {s}" for s in suggested)
        return Draft(text + ", ".join(options) + ".", (), 0.3, actions)
    easiest = sorted(course.exercises.values(), key=lambda e: (e.difficulty, e.id))[:3]
    own = ", ".join(f"`%exercise {e.id}`" for e in easiest)
    text = (
        "I can only make new practice exercises on the topics of the demo course "
        f"({', '.join(SKILLS_WITH_TEMPLATES)}), and {course.title} has none of them."
    )
    text += f" Practise with its own exercises instead, e.g. {own}." if own else ""
    return Draft(text, (), 0.3, ())


class ContentGenerator:
    """Generates new practice exercises for a skill and difficulty (parameterised templates
    with automatic checkers), by default for the learner's weakest skill."""

    name = "generator"
    title = "Content generator"
    description = "Makes new practice exercises for a skill, at the right difficulty."
    keywords = (
        "practice", "exercise", "exercises", "quiz", "question for me", "another one",
        "more questions", "drill", "generate", "test me", r"make it (easier|harder)",
        r"an? (easier|harder) one",
        r"(?:easy|easier|simple|simpler|hard|harder|tough|new|another) (?:question|problem)",
    )  # fmt: skip

    def draft(self, message: str, context: TutorContext) -> Draft:
        named = [s for s in skills_in(message, context.course) if s in SKILLS_WITH_TEMPLATES]
        # an instructor's own course may have skills no template practises
        practised = context.exercise.skills if context.exercise is not None else ()
        current = next((s for s in practised if s in SKILLS_WITH_TEMPLATES), None)
        skill = next(iter(named), None) or current or _weakest_skill(context)
        if skill is None:
            return _which_topic(context)
        difficulty = _difficulty(message, context, skill)
        seed = zlib.crc32(f"{context.learner_id}|{skill}|{len(context.history)}".encode())
        drawn = (
            practice_exercise(skill, difficulty, seed + n, context) for n in range(_count(message))
        )
        exercises = [e for e in drawn if e is not None]
        if not exercises:
            return _would_give_away(skill, context)
        text = "\n\n---\n\n".join(render(e) for e in exercises)
        if named:
            why = ""
        elif current:
            why = " (the skill of the exercise you are working on)"
        else:
            why = f" (your weakest skill so far: P(known) {context.p_known(skill):.2f})"
        intro = (
            f"Here is new practice on **{skill}**{why}. To answer, open it in your notebook "
            f"with `%exercise {exercises[0].id}`."
        )
        source = Source(f"generator:{skill}", f"learnpulse exercise templates: {skill}")
        payload = {"exercises": [e.id for e in exercises], "skill": skill}
        actions = ("Harder", "Easier", "Give me a hint")
        return Draft(f"{intro}\n\n{text}", (source,), 0.85, actions, payload=payload)


def practice_exercise(
    skill: str, difficulty: float, seed: int, context: TutorContext
) -> Exercise | None:
    """The first exercise of :func:`_drafts` that does not show the code of the exercise the
    learner works on (until they solve it), or None. The reply's leak check would remove that
    code (the counting question on dicts is ex-dicts-02's solution), leaving a question nobody
    can answer. (Also the small example on another problem of a follow-up's ladder,
    :mod:`learnpulse.agents.exercise_ladder`.)"""
    current = context.exercise
    if current is None or current.type != "code" or solved(context.events, current.id):
        return next(_drafts(skill, difficulty, seed))
    return next(
        (
            e
            for e in _drafts(skill, difficulty, seed)
            if not redact_leaks(render(e), [current.solution])[1]
        ),
        None,
    )


def _would_give_away(skill: str, context: TutorContext) -> Draft:
    """Why there is no practice on ``skill`` now, and what to do instead."""
    current = context.exercise
    course = context.course
    # the skills it builds on first (the course's prerequisites), then any other
    near = (
        course.skills[skill].prerequisites if course is not None and skill in course.skills else ()
    )
    others = [
        s for s in dict.fromkeys([*near, *SKILLS_WITH_TEMPLATES])
        if s in SKILLS_WITH_TEMPLATES and s != skill and (course is None or s in course.skills)
    ][:2]  # fmt: skip
    text = (
        f"A practice question on **{skill}** now would show the answer to the exercise you are "
        f"working on, {current.title} (`{current.id}`). Solve that one first (`%hint "
        f"{current.id}` gives a nudge), then ask again"
        + (f", or practise another topic: {', '.join(others)}." if others else ".")
    )
    actions = ("Give me a hint", *(f"Practise {s}" for s in others))
    return Draft(text, (), 0.6, actions, payload={"skill": skill})
