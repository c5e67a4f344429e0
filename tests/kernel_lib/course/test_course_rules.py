"""Exercise rules (``required`` / ``forbidden``): checked on the answer's syntax tree, and an
answer breaking one is not correct, with feedback naming the rule."""

from __future__ import annotations

import dataclasses

import pytest

from learnpulse.course import CheckResult, check, demo_course
from learnpulse.course.rules import CONSTRUCTS

COURSE = demo_course()
TOTAL = COURSE.exercise("ex-loops-04")  # total(numbers): required [for], forbidden [sum]
POWER = COURSE.exercise("ex-recursion-02")  # power(base, exp): recursion, no **, pow or loop
NO_SUM = "not to use the built-in sum()"


def code(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def diagnosis(result: CheckResult) -> str:
    return result.details["diagnosis"]


LOOP_TOTAL = code(
    "def total(numbers):",
    "    result = 0",
    "    for n in numbers:",
    "        result += n",
    "    return result",
)


def test_the_shipped_exercises_whose_prompt_sets_a_constraint_carry_it_as_rules() -> None:
    rules = {e.id: (e.required, e.forbidden) for e in COURSE.exercises.values() if e.rules}
    assert rules == {
        "ex-loops-04": (("for",), ("sum",)),
        "ex-loops-06": (("loop",), ("max",)),
        "ex-loops-07": (("while",), ()),
        "ex-comprehensions-02": (("dict_comprehension",), ()),
        "ex-exceptions-02": ((), ("catch_all",)),
        "ex-modules-02": (("math",), ()),
        "ex-recursion-02": (("recursion",), ("**", "pow", "loop")),
    }
    for exercise in COURSE.exercises.values():
        assert check(exercise, exercise.solution).correct or exercise.type != "code"


@pytest.mark.parametrize(
    "source",
    [
        LOOP_TOTAL,
        # the student's own variable called sum is not the built-in; words in a comment or a
        # string are no code
        code(
            "def total(numbers):",
            "    # no sum() here, as asked",
            "    sum = 0",
            "    for n in numbers:",
            "        sum += n",
            "    print('sum(numbers) would be easier')",
            "    return sum",
        ),
        code(
            "def total(numbers):",
            "    result = 0",
            "    for i in range(len(numbers)):",
            "        result = result + numbers[i]",
            "    return result",
        ),
    ],
)
def test_a_loop_solution_passes(source: str) -> None:
    result = check(TOTAL, source)
    assert result.correct, result.feedback
    assert (diagnosis(result), result.score) == ("correct", 1.0)


def test_sum_fails_naming_the_rule_and_its_line() -> None:
    result = check(TOTAL, code("def total(numbers):", "    return sum(numbers)"))
    assert not result.correct
    assert diagnosis(result) == "broken_rule"
    assert result.feedback == (
        "All 4 tests pass, but this exercise asks you not to use the built-in sum() (line 2) "
        "and to use a for loop."
    )
    assert result.details["broken_rules"] == ["sum", "for"]
    assert result.score == 0.0  # both rules broken: share of tests 1 x share of rules kept 0
    assert "result" not in result.feedback and "+=" not in result.feedback  # no solution


LOOPING = code("    for n in numbers:", "        pass")


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("def total(numbers):\n    add = sum\n" + LOOPING + "    return add(numbers)\n", 2),
        (
            "from builtins import sum\ndef total(numbers):\n" + LOOPING + "    return sum(numbers)",
            1,
        ),
        ("def total(numbers):\n" + LOOPING + "    return sum(numbers)\n", 4),
    ],
)
def test_sum_is_found_however_it_is_used(source: str, line: int) -> None:
    result = check(TOTAL, source)
    assert diagnosis(result) == "broken_rule"
    assert f"{NO_SUM} (line {line})." in result.feedback
    assert result.score == 0.5  # the for loop is there: one rule of two kept


def test_a_broken_rule_comes_first_when_tests_fail_too() -> None:
    result = check(TOTAL, code("def total(numbers):", "    return sum(numbers) + 1"))
    assert diagnosis(result) == "off_by_one"  # the tests' diagnosis stays
    assert result.feedback.startswith(f"This exercise asks you {NO_SUM} (line 2) and to use a")
    assert "0 of 4 tests pass. total([3, 5, 8]) returned 17" in result.feedback
    assert result.details["broken_rules"] == ["sum", "for"]


def test_a_missing_required_construct_is_named() -> None:
    while_total = code(
        "def total(numbers):",
        "    result, i = 0, 0",
        "    while i < len(numbers):",
        "        result += numbers[i]",
        "        i += 1",
        "    return result",
    )
    result = check(TOTAL, while_total)
    assert result.feedback == "All 4 tests pass, but this exercise asks you to use a for loop."
    assert result.score == 0.5
    countdown = COURSE.exercise("ex-loops-07")
    with_for = code("def countdown(n):", "    return [k for k in range(n, 0, -1)]")
    assert "asks you to use a while loop." in check(countdown, with_for).feedback
    lengths = COURSE.exercise("ex-comprehensions-02")
    looped = code(
        "def lengths(words):", "    out = {}", "    for w in words:", "        out[w] = len(w)",
        "    return out",
    )  # fmt: skip
    assert "to use a dict comprehension." in check(lengths, looped).feedback


RECURSIVE = [
    code(
        "def power(base, exp):",
        "    if exp == 0:",
        "        return 1",
        "    return base * power(base, exp - 1)",
    ),
    # through a helper: power -> times -> power
    code(
        "def power(base, exp):",
        "    return 1 if exp == 0 else times(base, exp)",
        "def times(base, exp):",
        "    return base * power(base, exp - 1)",
    ),
    # a recursive helper the function calls
    code(
        "def power(base, exp):",
        "    return go(base, exp, 1)",
        "def go(base, exp, acc):",
        "    return acc if exp == 0 else go(base, exp - 1, acc * base)",
    ),
    code("power = lambda base, exp: 1 if exp == 0 else base * power(base, exp - 1)"),
    # a method calling itself on self
    code(
        "class Power:",
        "    def of(self, base, exp):",
        "        return 1 if exp == 0 else base * self.of(base, exp - 1)",
        "def power(base, exp):",
        "    return Power().of(base, exp)",
    ),
]


@pytest.mark.parametrize("source", RECURSIVE)
def test_recursion_is_detected(source: str) -> None:
    result = check(POWER, source)
    assert result.correct, result.feedback


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (code("def power(base, exp):", "    return base ** exp"), "not to use the ** operator (line 2)"),  # noqa: E501
        (code("def power(base, exp):", "    return pow(base, exp)"), "not to use the built-in pow() (line 2)"),  # noqa: E501
        (code("import math", "def power(base, exp):", "    return int(math.pow(base, exp))"), "not to use the method .pow() (line 3)"),  # noqa: E501
        (
            code("def power(base, exp):", "    result = 1", "    for _ in range(exp):",
                 "        result *= base", "    return result"),
            "not to use a loop (for, while or a comprehension; line 3)",
        ),
        # calls to another function of the same name, nested or not, are no recursion
        (
            code("def power(base, exp):", "    def power_of(e):", "        return power(base, e)",
                 "    result = 1", "    while exp:", "        result, exp = result * base, exp - 1",
                 "    return result"),
            "to use recursion (a function that calls itself)",
        ),
    ],
)  # fmt: skip
def test_recursion_exercise_rules(source: str, words: str) -> None:
    result = check(POWER, source)
    assert not result.correct and diagnosis(result) == "broken_rule"
    assert words in result.feedback, result.feedback


def test_catch_all_and_required_module() -> None:
    to_int = COURSE.exercise("ex-exceptions-02")
    for handler in ("except:", "except Exception:", "except (ValueError, BaseException):"):
        source = code(
            "def to_int(text, default):",
            "    try:",
            "        return int(text)",
            f"    {handler}",
            "        return default",
        )
        result = check(to_int, source)
        assert "not to use an except that catches every exception" in result.feedback
        assert "line 4)" in result.feedback
    hypotenuse = COURSE.exercise("ex-modules-02")
    by_hand = code("def hypotenuse(a, b):", "    return (a * a + b * b) ** 0.5")
    assert check(hypotenuse, by_hand).feedback.endswith("asks you to use the math module.")
    imported = code("from math import sqrt", "def hypotenuse(a, b):", "    return sqrt(a*a + b*b)")
    assert check(hypotenuse, imported).correct


def test_every_construct_and_a_method_name_can_be_forbidden() -> None:
    """Each construct is recognised where it is used; a name also as a method."""
    samples = {
        "for": "for x in xs: pass", "while": "while False: pass", "loop": "[x for x in xs]",
        "recursion": "def f(n): return f(n)", "comprehension": "list(x for x in xs)",
        "list_comprehension": "[x for x in xs]", "dict_comprehension": "{x: 1 for x in xs}",
        "if": "y = 1 if xs else 2", "try": "try:\n    pass\nfinally:\n    pass",
        "lambda": "f = lambda: 1", "import": "import os", "catch_all": "try:\n    pass\nexcept:\n    pass",  # noqa: E501
        "+": "y = 1 + 2", "-": "y = 1 - 2", "*": "y = 2 * 3", "/": "y = 1 / 2",
        "//": "y = 1 // 2", "%": "y = 1 % 2", "**": "y = 2\ny **= 2",
    }  # fmt: skip
    assert set(samples) == set(CONSTRUCTS)
    for rule, sample in samples.items():
        exercise = dataclasses.replace(
            COURSE.exercise("ex-lists-06"), forbidden=(rule,), required=()
        )
        answer = code("xs = [1, 2, 3, 4]", sample, "def middle(items):", "    return items[1:-1]")
        result = check(exercise, answer)
        assert diagnosis(result) == "broken_rule", (rule, result.feedback)
        assert CONSTRUCTS[rule].description.rstrip(")") in result.feedback
        assert check(exercise, exercise.solution).correct  # items[1:-1] uses none of them
    no_sort = dataclasses.replace(COURSE.exercise("ex-lists-06"), forbidden=("sort",))
    sorting = code("def middle(items):", "    items = list(items)", "    items.sort()",
                   "    return items[1:-1]")  # fmt: skip
    assert "not to use the method .sort() (line 3)" in check(no_sort, sorting).feedback


# -- answers given as a namespace or a function: the rules read their source ------------------


def looped_total(numbers):
    result = 0
    for n in numbers:
        result += n
    return result


def summed_total(numbers):
    return sum(numbers)


def helper_total(numbers):
    for _ in numbers:
        pass
    return add_all(numbers)


def add_all(numbers):
    return sum(numbers)


def test_rules_read_the_source_of_a_function_and_of_its_helpers() -> None:
    assert check(TOTAL, {"total": looped_total}).correct
    assert check(TOTAL, looped_total).correct
    summed = check(TOTAL, {"total": summed_total})
    assert diagnosis(summed) == "broken_rule"
    assert f"{NO_SUM} (in total)" in summed.feedback
    helped = check(TOTAL, {"total": helper_total})
    assert helped.feedback == f"All 4 tests pass, but this exercise asks you {NO_SUM} (in add_all)."


def test_rules_read_the_given_source_of_a_namespace() -> None:
    """``%%check`` passes the cell: its lines are the student's."""
    result = check(TOTAL, {"total": summed_total}, source=code("# my cell", LOOP_TOTAL))
    assert result.correct  # the cell's code is what is judged (here, the loop)
    cell = code("def total(numbers):", "    return sum(numbers)")
    assert f"{NO_SUM} (line 2)" in check(TOTAL, {"total": summed_total}, source=cell).feedback


def test_an_answer_whose_code_cannot_be_read_is_not_correct() -> None:
    result = check(TOTAL, {"total": sum})  # the tests pass: the built-in sum is the function
    assert not result.correct and diagnosis(result) == "rules_unchecked"
    assert "could not read the code of total" in result.feedback
    assert "%%check ex-loops-04" in result.feedback
    compiled = {}
    exec(compile(LOOP_TOTAL, "<nowhere>", "exec"), compiled)  # no source kept anywhere
    assert diagnosis(check(TOTAL, {"total": compiled["total"]})) == "rules_unchecked"
    assert diagnosis(check(TOTAL, {"other": 1})) == "missing_function"  # the tests say it
