"""Checking a student's answer: correct or not, a score, and specific feedback.

:func:`check` never raises for a student's mistake (wrong type, exception in their code,
infinite loop...): every outcome is a :class:`CheckResult` whose ``feedback`` says what exactly
is wrong, without giving the expected answer away (a failing code test shows its own expected
value, as a test report does). ``details["diagnosis"]`` names the kind of mistake for widgets
and agents: ``correct``, ``wrong``, ``wrong_type``, ``off_by_one``, ``sign``, ``scale``,
``close``, ``misconception``, ``not_a_choice``, ``near_miss``, ``no_return``, ``printed``,
``wrong_length``, ``wrong_order``, ``exception``, ``timeout``, ``syntax_error``,
``missing_function``, ``failed_assert``, ``broken_rule`` (the tests pass but the code breaks a
rule of the exercise, listed in ``details["broken_rules"]``), ``rules_unchecked`` (the tests
pass but the code the rules are about could not be read), ``checker_error``.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import string
from dataclasses import dataclass, field
from difflib import SequenceMatcher, get_close_matches
from typing import Any

from learnpulse.course.model import DEFAULT_NUMERIC_TOLERANCE, Exercise

log = logging.getLogger(__name__)

#: Relative distance under which a numeric answer outside tolerance is called "close".
CLOSE_RELATIVE = 0.05
#: Similarity (difflib ratio) above which a short-text answer is a near miss (a typo).
NEAR_MISS_RATIO = 0.8
#: Longest text answer compared for a near miss (the comparison is quadratic: a 1 MB answer
#: took seconds, and is no spelling slip).
NEAR_MISS_MAX_CHARS = 200
#: Longest repr of a student's value quoted back in feedback.
MAX_REPR = 80


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one answer.

    Attributes
    ----------
    correct : bool
    score : float
        0..1; a code answer scores the share of its tests passed.
    feedback : str
        What is right or wrong, specifically, for the student.
    details : dict
        ``diagnosis`` (see module doc) and type-specific facts (``passed``, ``total``,
        ``failed_test``...).
    """

    correct: bool
    score: float
    feedback: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        mark = "✔" if self.correct else "✘"
        return f"{mark} {self.feedback}"


def short_repr(value: Any) -> str:
    """repr of ``value`` cut to :data:`MAX_REPR` characters."""
    text = repr(value)
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."


def describe_value(value: Any) -> str:
    """``"a str '5'"``, ``"a list [1, 2]"``: the type and value, for feedback."""
    name = type(value).__name__
    article = "an" if name[:1] in "aeiou" else "a"
    return f"{article} {name} {short_repr(value)}"


def result(correct: bool, feedback: str, diagnosis: str, score: float | None = None, **details):
    """A :class:`CheckResult` with ``details["diagnosis"]`` set."""
    score = (1.0 if correct else 0.0) if score is None else score
    return CheckResult(correct, score, feedback, {"diagnosis": diagnosis, **details})


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numbers_equal(given: float, expected: float, tolerance: float = 0.0) -> bool:
    """Equal within ``tolerance`` (absolute) or, if 0, within float rounding."""
    if tolerance > 0:
        return abs(given - expected) <= tolerance + 1e-12
    return math.isclose(given, expected, rel_tol=DEFAULT_NUMERIC_TOLERANCE, abs_tol=1e-12)


def numeric_slip(given: float, expected: float, tolerance: float) -> tuple[str, str] | None:
    """(diagnosis, feedback) for a recognisable numeric slip, else None."""
    if numbers_equal(abs(given - expected), 1, tolerance):
        return "off_by_one", (
            f"{short_repr(given)} is off by one. Check where your count starts and stops: "
            "indexes start at 0 and range(a, b) stops before b."
        )
    if expected != 0 and numbers_equal(given, -expected, tolerance):
        return "sign", f"{short_repr(given)} has the wrong sign; check the order of a subtraction."
    if expected != 0 and any(numbers_equal(given, expected * f, tolerance) for f in (100, 0.01)):
        return "scale", (
            f"{short_repr(given)} is off by a factor of 100: a percentage instead of a "
            "fraction (or the reverse)?"
        )
    if expected != 0 and abs(given - expected) <= CLOSE_RELATIVE * abs(expected):
        return "close", (
            f"{short_repr(given)} is close but not within the accepted tolerance; "
            "check rounding and the last step of your calculation."
        )
    return None


def check_numeric(exercise: Exercise, given: Any) -> CheckResult:
    expected = exercise.answer
    if not is_number(given):
        advice = ""
        if isinstance(given, str):
            try:
                float(given)
                plain = short_repr(given.strip())[1:-1]  # the digits, without quotes
                advice = f" Give the number itself ({plain}, not {short_repr(given)})."
            except ValueError:
                advice = " Give a number such as 42 or 3.5."
        return result(
            False,
            f"You gave {describe_value(given)}, expected a number.{advice}",
            "wrong_type",
            given_type=type(given).__name__,
        )
    if not math.isfinite(given):
        return result(False, f"You gave {short_repr(given)}, expected a finite number.", "wrong")
    if numbers_equal(given, expected, exercise.tolerance):
        return result(True, f"Correct: {short_repr(given)}.", "correct")
    specific = exercise.feedback.get(_number_key(given))
    if specific:
        return result(False, specific, "misconception")
    slip = numeric_slip(given, expected, exercise.tolerance)
    if slip:
        return result(False, slip[1], slip[0])
    return result(
        False, f"{short_repr(given)} is not right. Try the hint if you are stuck.", "wrong"
    )


def _number_key(value: float) -> str:
    """``5.0`` and ``5`` both as ``"5"`` (how authors write anticipated answers)."""
    return str(int(value)) if float(value).is_integer() else str(value)


_QUOTES = "\"'`"
_TRAILING = ".!?;,"


def normalise_text(text: str) -> str:
    """Case-folded, trimmed, inner whitespace collapsed, quotes and final punctuation dropped."""
    text = " ".join(str(text).split()).casefold().strip(_QUOTES + " ").rstrip(_TRAILING + " ")
    # Spaces next to punctuation do not matter: "len( x )" is "len(x)".
    punct = re.escape(string.punctuation)
    return re.sub(rf"\s*([{punct}])\s*", r"\1", text)


def check_text(exercise: Exercise, given: Any) -> CheckResult:
    if not isinstance(given, str | int | float) or isinstance(given, bool):
        return result(
            False, f"You gave {describe_value(given)}, expected a short text.", "wrong_type"
        )
    answer = normalise_text(str(given))
    if not answer:
        return result(False, "Your answer is empty: type a word or short phrase.", "wrong")
    accepted = {normalise_text(a) for a in exercise.answer}
    if answer in accepted:
        return result(True, f"Correct: {short_repr(given)}.", "correct")
    specific = {normalise_text(k): v for k, v in exercise.feedback.items()}.get(answer)
    if specific:
        return result(False, specific, "misconception")
    close = (SequenceMatcher(None, answer, a).ratio() >= NEAR_MISS_RATIO for a in accepted)
    if len(answer) <= NEAR_MISS_MAX_CHARS and any(close):
        return result(False, f"{short_repr(given)} is very close: check the spelling.", "near_miss")
    return result(False, f"{short_repr(given)} is not what we are looking for.", "wrong")


def _choice_index(exercise: Exercise, given: Any) -> int | None:
    """Index of the choice ``given`` names: the index, its letter (a, b, ...) or its text."""
    choices = exercise.choices
    if isinstance(given, int) and not isinstance(given, bool):
        return given if 0 <= given < len(choices) else None
    if not isinstance(given, str):
        return None
    wanted = normalise_text(given)
    texts = [normalise_text(c) for c in choices]
    if wanted in texts:
        return texts.index(wanted)
    letter = wanted.rstrip(")")
    if len(letter) == 1 and "a" <= letter < chr(ord("a") + len(choices)):
        return ord(letter) - ord("a")
    return None


def check_choice(exercise: Exercise, given: Any) -> CheckResult:
    index = _choice_index(exercise, given)
    if index is None:
        last = chr(ord("a") + len(exercise.choices) - 1)
        return result(
            False,
            f"{short_repr(given)} is not one of the choices: answer a..{last} or a choice's text.",
            "not_a_choice",
        )
    chosen = exercise.choices[index]
    if chosen == exercise.answer:
        return result(True, f"Correct: {chosen}", "correct", choice=index)
    specific = exercise.feedback.get(chosen) or exercise.feedback.get(str(index))
    if specific:
        return result(False, specific, "misconception", choice=index)
    return result(False, f"{short_repr(chosen)} is not correct.", "wrong", choice=index)


def feedback_key_problem(
    kind: str, key: Any, answer: Any, choices: tuple[str, ...] = (), tolerance: float = 0.0
) -> tuple[str, str | None]:
    """How the checker looks up an author's anticipated-answer feedback ``key`` of an exercise
    of type ``kind``, and why it would never be shown (None when it can be).

    Returns
    -------
    (str, str or None)
        The key as the checker looks it up (a number as ``"4"`` for ``4.0``) and the problem
        (e.g. "'c' is not one of the choices ...").
    """
    text = str(key)
    never = "so this feedback is never shown"
    if kind == "numeric":
        try:
            number = float(text)
        except ValueError:
            return text, f"{text!r} is not a number: feedback here is for a wrong number, e.g. '4'"
        if is_number(answer) and numbers_equal(number, answer, tolerance):
            return text, f"{text!r} is the answer (checked correct), {never}"
        return _number_key(number), None
    if kind == "text":
        if normalise_text(text) in {normalise_text(a) for a in answer}:
            return text, f"{text!r} is an accepted answer (checked correct), {never}"
        return text, None
    if kind == "choice":
        index = int(text) if text.isdigit() and int(text) < len(choices) else None
        if text not in choices and index is None:
            close = get_close_matches(text, choices, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return text, f"{text!r} is not one of the choices{hint}: give one's text or index"
        if (choices[index] if index is not None else text) == answer:
            return text, f"{text!r} is the correct choice, {never}"
        return text, None
    return text, (
        f"{text!r}: a {kind} exercise shows no feedback for anticipated answers (only numeric, "
        "choice and text ones do): a code test's 'message' explains its failure"
    )


def check(
    exercise: Exercise, answer_or_namespace: Any, *, source: str | None = None
) -> CheckResult:
    """Check a student's answer to ``exercise``.

    Parameters
    ----------
    exercise : Exercise
    answer_or_namespace : Any
        numeric/choice/text: the answer (a choice by text, index or letter). code: the source
        code (str), a namespace (mapping, e.g. the notebook's ``user_ns``) holding the function
        or names the tests use, or the function itself.
    source : str, optional
        code: the code that defined the namespace's names (e.g. a ``%%check`` cell), on which
        the exercise's ``required``/``forbidden`` rules are checked; without it, they are
        checked on the source of the functions (and of the notebook helpers they call).

    Returns
    -------
    CheckResult
        Never raises for a student's mistake; a failure of the checker itself is reported as
        ``diagnosis="checker_error"`` and logged.
    """
    if not isinstance(exercise, Exercise):
        raise TypeError(f"check() needs an Exercise, got {type(exercise).__name__}")
    from learnpulse.course.code_check import check_code

    checkers = {
        "numeric": check_numeric,
        "text": check_text,
        "choice": check_choice,
        "code": functools.partial(check_code, source=source),
    }
    try:
        return checkers[exercise.type](exercise, answer_or_namespace)
    except Exception as error:  # a bug in the checker must not reach the student's notebook
        log.exception("checker failed on exercise %s", exercise.id)
        return result(
            False,
            f"Sorry, the checker itself failed ({type(error).__name__}); your answer was not "
            "graded. Please tell your instructor.",
            "checker_error",
        )
