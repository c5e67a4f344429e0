"""check(): specific feedback for every exercise type, and never an exception for a mistake."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learnpulse.course import CheckResult, check, demo_course, running

COURSE = demo_course()
TOTAL = COURSE.exercise("ex-loops-04")  # total(numbers) with a for loop


def diagnosis(result: CheckResult) -> str:
    return result.details["diagnosis"]


# -- numeric -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "correct", "kind", "words"),
    [
        (3, True, "correct", "Correct"),
        (3.0, True, "correct", "Correct"),
        ("3", False, "wrong_type", "you gave a str '3', expected a number"),
        ("three", False, "wrong_type", "a number such as"),
        (True, False, "wrong_type", "bool"),
        ([3], False, "wrong_type", "a list [3]"),
        (4, False, "misconception", "length of the list"),  # the author's anticipated mistake
        (2, False, "off_by_one", "off by one"),
        (-3, False, "sign", "wrong sign"),
        (300, False, "scale", "factor of 100"),
        (17, False, "wrong", "not right"),
        (float("nan"), False, "wrong", "finite"),
    ],
)
def test_numeric_feedback(answer, correct: bool, kind: str, words: str) -> None:
    result = check(COURSE.exercise("ex-lists-01"), answer)
    assert (result.correct, diagnosis(result)) == (correct, kind)
    assert words.lower() in result.feedback.lower()
    assert result.score == (1.0 if correct else 0.0)


def test_numeric_tolerance_and_close_answers() -> None:
    exact = COURSE.exercise("ex-expressions-01")  # 50, no tolerance given
    assert not check(exact, 50.01).correct
    assert diagnosis(check(exact, 50.5)) == "close"
    tolerant = exact.__class__(**{**exact.__dict__, "tolerance": 0.1})
    assert check(tolerant, 50.05).correct
    assert not check(tolerant, 50.2).correct


def test_numeric_feedback_never_gives_the_answer_away() -> None:
    exercise = COURSE.exercise("ex-expressions-01")
    for wrong in (17, 51, "50", 49.5, 5000):
        assert "50" not in check(exercise, wrong).feedback.replace("5000", "").replace(
            "'50'", ""
        ).replace("(50, not", "")


# -- choice and text ------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["30", 1, "b", "B)", " 30 "])
def test_choice_accepts_text_index_or_letter(answer) -> None:
    assert check(COURSE.exercise("ex-lists-02"), answer).correct


def test_choice_wrong_and_invalid() -> None:
    exercise = COURSE.exercise("ex-lists-02")
    wrong = check(exercise, "c")
    assert not wrong.correct and diagnosis(wrong) == "misconception"
    assert "nums[-1] is the last element" in wrong.feedback
    assert wrong.details["choice"] == 2
    invalid = check(exercise, "z")
    assert diagnosis(invalid) == "not_a_choice" and "a..d" in invalid.feedback
    assert diagnosis(check(exercise, 9)) == "not_a_choice"


@pytest.mark.parametrize("answer", ["append", "  APPEND ", "append()", "'append'", "append."])
def test_text_is_normalised(answer: str) -> None:
    assert check(COURSE.exercise("ex-lists-04"), answer).correct


def test_text_synonyms_misconceptions_and_typos() -> None:
    modules = COURSE.exercise("ex-modules-01")
    assert check(modules, "math.sqrt( 16 )").correct  # spaces around punctuation ignored
    lists = COURSE.exercise("ex-lists-04")
    assert diagnosis(check(lists, "Extend")) == "misconception"
    typo = check(lists, "apend")
    assert diagnosis(typo) == "near_miss" and "append" not in typo.feedback.replace("apend", "")
    assert diagnosis(check(lists, "sort")) == "wrong"
    assert diagnosis(check(lists, "")) == "wrong"
    assert diagnosis(check(lists, None)) == "wrong_type"
    assert check(COURSE.exercise("ex-recursion-01"), "The base case").correct


# -- code -------------------------------------------------------------------------------------


def code(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_code_reports_first_failing_case_with_input_expected_and_got() -> None:
    result = check(
        TOTAL,
        code(
            "def total(numbers):",
            "    result = 0",
            "    for i in range(len(numbers) - 1):",
            "        result += numbers[i]",
            "    return result",
        ),
    )
    assert not result.correct
    assert result.details["passed"] == 1 and result.details["total"] == 4  # only [] passes
    assert result.score == pytest.approx(0.25)
    assert "total([3, 5, 8]) returned 8, expected 16" in result.feedback


def test_code_exception_names_the_students_line() -> None:
    result = check(
        TOTAL,
        code(
            "def total(numbers):",
            "    result = 0",
            "    for i in range(len(numbers) + 1):",
            "        result += numbers[i]",
            "    return result",
        ),
    )
    assert diagnosis(result) == "exception"
    assert "IndexError: list index out of range" in result.feedback
    assert "line 4: `result += numbers[i]`" in result.feedback


@pytest.mark.parametrize(
    ("source", "kind", "words"),
    [
        (code("def total(numbers):", "    print(sum(numbers))"), "printed", "instead of return"),
        (code("def total(numbers):", "    sum(numbers)"), "no_return", "forget return"),
        (code("def totl(numbers):", "    return 0"), "missing_function", "'totl'"),
        (code("total = 5"), "missing_function", "not a function"),
        (code("def total(numbers)", "    return 0"), "syntax_error", "line 1"),
        (code("def total(numbers):", "    return str(sum(numbers))"), "wrong_type", "a str"),
        (code("import nosuchmodule_xyz"), "exception", "ModuleNotFoundError"),
        (code("def total(numbers):", "    return sum(numbers) + 1"), "off_by_one", "off by one"),
    ],
)
def test_code_mistakes_get_specific_feedback(source: str, kind: str, words: str) -> None:
    result = check(TOTAL, source)
    assert not result.correct
    assert diagnosis(result) == kind, result.feedback
    assert words in result.feedback


def test_code_list_results_off_by_one_and_order() -> None:
    countdown = COURSE.exercise("ex-loops-07")
    one_too_many = code(
        "def countdown(n):",
        "    out = []",
        "    while n >= 0:",
        "        out.append(n)",
        "        n -= 1",
        "    return out",
    )
    result = check(countdown, one_too_many)
    assert diagnosis(result) == "wrong_length" and "one element too many" in result.feedback
    reversed_order = code("def countdown(n):", "    return list(range(1, n + 1))")
    assert diagnosis(check(countdown, reversed_order)) == "wrong_order"


def test_code_checked_from_a_namespace_or_a_function() -> None:
    def total(numbers):
        result = 0
        for n in numbers:
            result += n
        return result

    assert check(TOTAL, {"total": total, "other": 1}).correct
    assert check(TOTAL, total).correct
    assert not check(TOTAL, {"other": 1}).correct
    assert diagnosis(check(TOTAL, 42)) == "wrong_type"


def test_code_assert_tests_show_the_authors_message() -> None:
    counter = COURSE.exercise("ex-classes-02")
    shared = code(
        "class Counter:",
        "    count = 0",
        "    def increment(self):",
        "        Counter.count += 1",
        "    def value(self):",
        "        return Counter.count",
    )
    result = check(counter, shared)
    assert diagnosis(result) == "failed_assert"
    assert "set it on self in __init__" in result.feedback


def test_code_does_not_let_a_mutating_function_spoil_the_tests() -> None:
    mutating = code(
        "def total(numbers):",
        "    s = 0",
        "    for n in numbers:",
        "        s += n",
        "    numbers.clear()",
        "    return s",
    )
    assert check(TOTAL, mutating).correct  # each test gets its own copy of the arguments
    assert TOTAL.tests[0]["args"] == [[3, 5, 8]]


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr(running, "CODE_TIMEOUT_S", 0.2)


LOOPS_FOREVER = code("def total(numbers):", "    while True:", "        pass")


def test_infinite_loop_is_stopped_on_the_main_thread(short_timeout) -> None:
    started = time.monotonic()
    result = check(TOTAL, LOOPS_FOREVER)
    assert diagnosis(result) == "timeout" and "never ends" in result.feedback
    assert time.monotonic() - started < 1.5  # one test times out, the rest are skipped


def test_infinite_loop_is_stopped_off_the_main_thread(short_timeout) -> None:
    results: list[CheckResult] = []
    worker = threading.Thread(target=lambda: results.append(check(TOTAL, LOOPS_FOREVER)))
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert diagnosis(results[0]) == "timeout"


def test_students_except_exception_cannot_swallow_the_timeout(short_timeout) -> None:
    stubborn = code(
        "def total(numbers):",
        "    while True:",
        "        try:",
        "            pass",
        "        except Exception:",
        "            pass",
    )
    assert diagnosis(check(TOTAL, stubborn)) == "timeout"


@pytest.mark.timeout(30)
def test_a_bare_except_in_a_loop_cannot_swallow_the_timeout(short_timeout) -> None:
    """A natural wrong answer (retry until it parses): one swallowed alarm hung the kernel.
    (Widgets and magics check on the kernel's main thread, where the alarm repeats.)"""
    retries = code(
        "def total(numbers):",
        "    while True:",
        "        try:",
        "            return int('forty')",
        "        except:",
        "            pass",
    )
    started = time.monotonic()
    assert diagnosis(check(TOTAL, retries)) == "timeout"
    assert time.monotonic() - started < 5
    # no repeating alarm is left (pytest-timeout's own timer, outside it, is restored)
    time.sleep(0.3)
    assert signal.getitimer(signal.ITIMER_REAL)[1] == 0.0


def test_check_rejects_a_non_exercise() -> None:
    with pytest.raises(TypeError, match="needs an Exercise"):
        check("ex-lists-01", 3)  # a programming error, not a student's mistake


ANSWERS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(exercise_id=st.sampled_from(sorted(COURSE.exercises)), answer=ANSWERS)
def test_check_never_raises_for_any_answer(exercise_id: str, answer) -> None:
    result = check(COURSE.exercise(exercise_id), answer)
    assert isinstance(result, CheckResult)
    assert 0.0 <= result.score <= 1.0
    assert result.feedback
    assert result.details["diagnosis"] != "checker_error", result.feedback


def test_feedback_quotes_a_huge_answer_or_error_only_in_part() -> None:
    """Answers and error messages are echoed back cut short (a 1 MB answer gave 2 MB of
    feedback, and took seconds to compare for a spelling slip)."""
    numeric = COURSE.exercise("ex-lists-01")
    text = next(e for e in COURSE.exercises.values() if e.type == "text")
    started = time.monotonic()
    for exercise, answer in ((numeric, "9" * 1_000_000), (text, "x" * 1_000_000)):
        assert len(check(exercise, answer).feedback) < 500
    assert time.monotonic() - started < 1.0
    loud = code("def total(numbers):", "    raise ValueError('m' * 5_000_000)")
    assert len(check(TOTAL, loud).feedback) < 2_000


def test_an_exception_with_a_broken_message_is_still_described() -> None:
    # str(error) raised inside the checker: a "checker_error" instead of the student's error
    broken = code(
        "class Oops(Exception):",
        "    def __str__(self):",
        "        raise RuntimeError('no message')",
        "def total(numbers):",
        "    raise Oops()",
    )
    result = check(TOTAL, broken)
    assert result.details["diagnosis"] == "exception", result.feedback
    assert "Oops: (the Oops's message could not be read)" in result.feedback
