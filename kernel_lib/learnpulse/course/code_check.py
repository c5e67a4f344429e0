"""Checking code answers: the student's function (or names) against the exercise's tests.

Each test runs with a time limit and captured output on deep copies of its arguments, so a
function that mutates its input cannot spoil the next test. The first failing test is reported
with its input, expected value and what the student's code gave or raised (and on which line).
An exercise's rules (``required``/``forbidden``, :mod:`learnpulse.course.rules`) are then checked
on the code: an answer breaking one is not correct, and the feedback names the rule.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping
from difflib import get_close_matches
from typing import Any

from learnpulse.course.checking import (
    CheckResult,
    describe_value,
    is_number,
    numbers_equal,
    numeric_slip,
    result,
    short_repr,
)
from learnpulse.course.model import Exercise
from learnpulse.course.rules import all_rules, answer_code, asks_you, broken_rules
from learnpulse.course.running import Outcome, describe_error, register_source, run_limited

_submissions = itertools.count(1)


def _namespace(exercise: Exercise, submitted: Any) -> dict[str, Any] | CheckResult:
    """The names the tests see: the executed source, the given namespace, or the function."""
    if isinstance(submitted, Mapping):
        return dict(submitted)
    if callable(submitted) and exercise.function:
        return {exercise.function: submitted}
    if not isinstance(submitted, str):
        return result(
            False,
            f"You gave {describe_value(submitted)}; a code exercise needs your code "
            f"(or your function {exercise.function or ''}).",
            "wrong_type",
        )
    filename = f"<submission {next(_submissions)} for {exercise.id}>"
    register_source(submitted, filename)
    try:
        code = compile(submitted, filename, "exec")
    except SyntaxError as error:
        return result(False, f"Your code does not parse: {describe_error(error)}.", "syntax_error")
    namespace: dict[str, Any] = {"__name__": "__student__"}
    outcome = run_limited(lambda: exec(code, namespace))
    if outcome.timed_out or outcome.error is not None:
        return _run_failure("Running your code", outcome)
    return namespace


def _run_failure(what: str, outcome: Outcome, **details: Any) -> CheckResult:
    if outcome.timed_out:
        return result(
            False,
            f"{what} took too long and was stopped: is there a loop that never ends (a while "
            "condition that never becomes false)?",
            "timeout",
            **details,
        )
    assert outcome.error is not None
    return result(False, f"{what} raised {describe_error(outcome.error)}.", "exception", **details)


def _find_function(exercise: Exercise, namespace: dict[str, Any]) -> Callable | CheckResult:
    name = exercise.function
    assert name is not None
    found = namespace.get(name)
    if callable(found):
        return found
    if found is not None:
        return result(
            False,
            f"{name} is {describe_value(found)}, not a function: define it with def {name}(...):",
            "missing_function",
        )
    defined = [k for k, v in namespace.items() if callable(v) and not k.startswith("_")]
    close = get_close_matches(name, defined, n=1, cutoff=0.6)
    also = f" You defined {close[0]!r}: is that it, misspelt?" if close else ""
    return result(
        False,
        f"I could not find a function named {name!r}: define it with def {name}(...): and run "
        f"the cell.{also}",
        "missing_function",
    )


def _call_text(name: str, test: Mapping[str, Any]) -> str:
    parts = [short_repr(a) for a in test.get("args", ())]
    parts += [f"{k}={short_repr(v)}" for k, v in (test.get("kwargs") or {}).items()]
    return f"{name}({', '.join(parts)})"


def same_value(got: Any, expected: Any) -> bool:
    """Equal, numbers within float rounding, containers compared element by element."""
    if is_number(got) and is_number(expected):
        return numbers_equal(got, expected)
    if isinstance(got, list | tuple) and type(got) is type(expected):
        return len(got) == len(expected) and all(map(same_value, got, expected))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(same_value(got[k], expected[k]) for k in got)
    return type(got) is type(expected) and bool(got == expected)


def mismatch_advice(got: Any, expected: Any, stdout: str) -> tuple[str, str]:
    """(diagnosis, advice) explaining why ``got`` differs from ``expected``."""
    if got is None and expected is not None:
        if stdout.strip() and stdout.strip() in (str(expected), repr(expected)):
            return "printed", "It printed the right value instead of returning it: use return."
        return "no_return", "Did you forget return (or is it inside a branch that was skipped)?"
    if is_number(got) and is_number(expected):
        slip = numeric_slip(got, expected, 0.0)
        return slip if slip else ("wrong", "")
    if type(got) is not type(expected):
        return "wrong_type", (
            f"It returned {describe_value(got)}, but {type(expected).__name__} is expected."
        )
    if isinstance(got, list | tuple | str) and abs(len(got) - len(expected)) == 1:
        more = "one element too many" if len(got) > len(expected) else "one element too few"
        return (
            "wrong_length",
            f"That is {more}: check the bounds of your loop or range (off-by-one).",
        )
    if isinstance(got, list) and sorted(map(repr, got)) == sorted(map(repr, expected)):
        return "wrong_order", "The right elements, in the wrong order."
    return "wrong", ""


def _run_test(
    exercise: Exercise, test: Mapping[str, Any], namespace: dict[str, Any]
) -> CheckResult | None:
    """None when the test passes, else the failure as a CheckResult (score filled in later)."""
    message = f" {test['message']}" if test.get("message") else ""
    if "assert" in test:
        outcome = run_limited(lambda: eval(test["assert"], dict(namespace)))
        if outcome.timed_out or outcome.error is not None:
            return _run_failure(f"Checking `{test['assert']}`", outcome)
        if outcome.value:
            return None
        return result(False, f"This check failed: `{test['assert']}`.{message}", "failed_assert")
    if "expr" in test:
        label = f"`{test['expr']}`"
        outcome = run_limited(lambda: eval(test["expr"], dict(namespace)))
        if isinstance(outcome.error, NameError):
            return result(
                False,
                f"{label} is not defined: did you create it and run the cell?",
                "missing_function",
            )
    else:
        function = _find_function(exercise, namespace)
        if isinstance(function, CheckResult):
            return function
        args = copy.deepcopy(list(test.get("args", ())))
        kwargs = copy.deepcopy(dict(test.get("kwargs") or {}))
        label = _call_text(exercise.function or "", test)
        outcome = run_limited(lambda: function(*args, **kwargs))
    if outcome.timed_out or outcome.error is not None:
        return _run_failure(label, outcome, failed_test=label)
    if same_value(outcome.value, test["expected"]):
        return None
    diagnosis, advice = mismatch_advice(outcome.value, test["expected"], outcome.stdout)
    verb = "returned" if "args" in test else "is"
    return result(
        False,
        f"{label} {verb} {short_repr(outcome.value)}, expected {short_repr(test['expected'])}. "
        f"{advice}{message}".strip(),
        diagnosis,
        failed_test=label,
        got=short_repr(outcome.value),
        expected=short_repr(test["expected"]),
    )


def _run_tests(exercise: Exercise, namespace: dict[str, Any]) -> CheckResult:
    """Run every test of ``exercise``; report the first failure, score the share passed."""
    total, passed, first_failure = len(exercise.tests), 0, None
    for test in exercise.tests:
        failure = _run_test(exercise, test, namespace)
        if failure is None:
            passed += 1
            continue
        first_failure = first_failure or failure
        if failure.details["diagnosis"] in ("timeout", "missing_function"):
            break  # the remaining tests would fail the same way, slowly
    if first_failure is None:
        return result(True, f"All {total} tests pass.", "correct", passed=passed, total=total)
    return CheckResult(
        False,
        passed / total,
        f"{passed} of {total} tests pass. {first_failure.feedback}",
        {**first_failure.details, "passed": passed, "total": total},
    )


def _apply_rules(
    exercise: Exercise, tested: CheckResult, submitted: Any, source: str | None
) -> CheckResult:
    """``tested`` (the tests' outcome) with the exercise's rules on the code taken into account.

    An answer breaking a rule is not correct; its score is the share of tests passed times the
    share of rules kept. When the tests pass, the diagnosis is ``broken_rule`` (or
    ``rules_unchecked`` when the code could not be read); when they fail, theirs stays.
    """
    code = answer_code(exercise, submitted, source)
    if isinstance(code, str):  # unreadable: no rule counts as kept
        if not tested.correct:
            return CheckResult(False, 0.0, tested.feedback, tested.details)
        return result(
            False,
            f"{tested.feedback} But I could not read {code} to check the rules: this exercise "
            f"{all_rules(exercise)}. Write your code in the answer box, or run it in a cell "
            f"starting with %%check {exercise.id}.",
            "rules_unchecked",
            **{k: v for k, v in tested.details.items() if k != "diagnosis"},
            broken_rules=list(exercise.rules),
        )
    broken = broken_rules(exercise, code)
    if not broken:
        return tested
    score = tested.score * (1 - len(broken) / len(exercise.rules))
    asked = asks_you([b.phrase for b in broken])
    details = {**tested.details, "broken_rules": [b.rule for b in broken]}
    if tested.correct:
        feedback = f"All {tested.details['total']} tests pass, but this exercise {asked}."
        return CheckResult(False, score, feedback, {**details, "diagnosis": "broken_rule"})
    return CheckResult(False, score, f"This exercise {asked}. {tested.feedback}", details)


def check_code(exercise: Exercise, submitted: Any, source: str | None = None) -> CheckResult:
    """Check a code answer: run the exercise's tests, then check its rules on the code.

    Parameters
    ----------
    exercise : Exercise
    submitted : str, mapping or callable
        The source code, a namespace holding the names the tests use, or the function.
    source : str, optional
        The code that defined ``submitted``'s names (e.g. the ``%%check`` cell), for the rules;
        without it they are checked on the source of the functions the tests use.
    """
    namespace = _namespace(exercise, submitted)
    if isinstance(namespace, CheckResult):
        return namespace
    tested = _run_tests(exercise, namespace)
    return _apply_rules(exercise, tested, submitted, source) if exercise.rules else tested
