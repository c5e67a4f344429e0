"""The code reviewer agent: static review of the learner's code and the error explainer; the
current exercise's rules (``required``/``forbidden``) are checked as the exercise's checker does."""

from __future__ import annotations

import ast
import re

from learnpulse.agents.base import Draft, Source, TutorContext
from learnpulse.agents.errors import ErrorInfo, explain_error, parse_traceback
from learnpulse.agents.follow_ups import CONCEPT_ACTION, error_follow_up
from learnpulse.agents.ladder import rungs_given
from learnpulse.agents.last_error import NO_ERROR_YET, asks_about_last_error
from learnpulse.agents.review import format_findings, review_code
from learnpulse.course.rules import Piece, asks_you, broken_rules

_FENCED_CODE = re.compile(r"```[\w+-]*\n(.*?)```", re.S)
#: What the reviewer says of code nested deeper than Python's recursion limit lets it analyse.
TOO_DEEP = (
    "Your code is nested too deeply for me to review (hundreds of brackets, operators or "
    "blocks inside one another). Break the expression into steps with a named variable for "
    "each, then ask again."
)
#: What the reviewer says of code that was cut when stored and no longer parses.
CUT_UNREADABLE = (
    "The part of your code I kept stops in the middle of a statement, so I cannot review it "
    "line by line. Run `%review` on one function (`%review total`) or a shorter cell."
)
ANALYSIS_SOURCES = (
    Source("analysis:pyflakes", "pyflakes static analysis"),
    Source("analysis:learnpulse-review", "learnpulse code checks (ast)"),
)


def code_in(message: str) -> str | None:
    """The code a message carries: its fenced blocks, else None."""
    blocks = _FENCED_CODE.findall(message)
    return "\n".join(blocks) if blocks else None


class CodeReviewer:
    """Reviews code (pyflakes + ast checks: why each finding matters and a hint, never a
    rewrite) and explains the last error (what, why, where, how to investigate)."""

    name = "reviewer"
    title = "Code reviewer"
    description = "Reviews your code and explains error messages, line by line."
    keywords = (
        "review", "traceback", "crash", "wrong with (my|this)", r"line \d+", "doesn't run",
        "does not run", "check my", "look at my",
    )  # fmt: skip

    def draft(self, message: str, context: TutorContext) -> Draft:
        code = context.code or code_in(message)
        error: BaseException | ErrorInfo | None = context.error or parse_traceback(message)
        if context.follows is not None and error is not None:  # "why?" after %explain
            # the next angle of the ladder: asked again, the learner gets another explanation
            given = rungs_given(context.history, error=context.follows.get("error", ""))
            return error_follow_up(message, error, code, given, context.exercise is not None)
        # code stored cut short may end mid-statement: its SyntaxError is not the learner's
        cut = bool(context.follows and context.follows.get("code_cut"))
        parts: list[str] = []
        sources: list[Source] = []
        if error is not None:
            explanation, source = explain_error(error, code)
            parts.append(explanation)
            sources.append(source)
        if code is not None:
            try:
                findings = review_code(code, context_names(context))
            except SyntaxError as syntax_error:
                if cut:
                    parts.append(CUT_UNREADABLE)
                elif error is None:
                    explanation, source = explain_error(syntax_error, code)
                    parts.append(explanation)
                    sources.append(source)
            except RecursionError:
                parts.append(TOO_DEEP)
            else:
                parts.append(format_findings(findings))
                sources.extend(ANALYSIS_SOURCES)
                parts.extend(_broken_rules_note(context, code))
        if not parts and asks_about_last_error(message):
            return Draft(NO_ERROR_YET, (), 0.3, ("Review my last cell",))
        if not parts:
            return Draft(
                "Show me the code you want reviewed (paste it between ``` lines, or run "
                "`%review` in the notebook), or the error message you got, and tell me what "
                "you expected it to do.",
                (),
                0.2,
                ("Explain my last error", "Review my last cell"),
            )
        actions = (CONCEPT_ACTION, "Give me a hint")
        confidence = 0.9 if error is not None else 0.8
        follows = context.follows or {}
        # the review of a code answer checked wrong is the first rung of its ladder
        # (exercise_ladder.py): asked again, the learner gets another angle
        wrong = follows.get("act") == "attempt" and not follows.get("correct")
        payload = {"rung": "difference"} if wrong else {}
        text = "\n\n".join(parts)
        return Draft(text, tuple(sources), confidence, actions, tuple(parts), payload)


def _broken_rules_note(context: TutorContext, code: str) -> list[str]:
    """What the exercise's rules (as the checker applies them) say of ``code``: [] if kept."""
    exercise = context.exercise
    if exercise is None or not exercise.rules:
        return []
    broken = broken_rules(exercise, [Piece(ast.parse(code))])
    if not broken:
        return []
    return [
        f"**The exercise's rules:** this exercise {asks_you([b.phrase for b in broken])}. "
        "Its checker does not accept an answer that breaks them, even when the tests pass."
    ]


def context_names(context: TutorContext) -> tuple[str, ...]:
    """Names the exercise provides to the learner's code (none are undefined there)."""
    exercise = context.exercise
    return (exercise.function,) if exercise is not None and exercise.function else ()
