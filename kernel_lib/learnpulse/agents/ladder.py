"""The ladders of explanations: the angles a follow-up takes in turn, asked again and again.

Asked "why?" again, and again, about the same error, a tutor that repeats itself teaches
nothing. Each follow-up takes the next angle the learner has not had yet (:data:`RUNGS`): in
simpler words, step by step through the failing line, with an analogy, with a small example of
its own; then it says it has run out and points to a hint or the instructor. Never the
solution: every angle is about the error, not about the exercise.

A hint opened or an answer checked wrong has a ladder of its own (:data:`EXERCISE_RUNGS`, see
:mod:`learnpulse.agents.exercise_ladder`), climbed the same way.

Which angles were taken is stored with each reply (the ``rung`` of its ``tutor_message``) and
read back from the conversation (:func:`rungs_given`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

from learnpulse.agents.errors import ErrorInfo

#: The angles of the ladder, in the order they are taken, and how each is named to the
#: learner and to a language model.
RUNGS = {
    "simpler": "in simpler words",
    "trace": "step by step through the failing line",
    "analogy": "with an analogy",
    "example": "with a small example of its own",
}
#: The rung after the last: the tutor says it has run out of ways to explain.
RAN_OUT = "ran-out"
#: The rung of an answer about the concept behind the error (not an angle of the error's
#: ladder, but part of the same conversation: the ladder goes on after it), or behind the
#: exercise a hint or a check was of (an angle of that ladder).
CONCEPT = "concept"
#: The angles of the ladder of a hint opened or an answer checked wrong, in the order they are
#: taken, and how each is named (:mod:`learnpulse.agents.exercise_ladder`).
EXERCISE_RUNGS = {
    "reworded": "with the hint in other words",
    "difference": "by what in the answer differs from what the exercise asks",
    CONCEPT: "by the concept the exercise practises (from the course)",
    "example": "with a small example on a different problem",
}
#: What a rung says last when the ladder has more.
STILL_UNCLEAR = "\n\n*Still unclear? Ask again, and I will explain it another way.*"
#: Per exception type: what it means, in the plainest words.
PLAIN_WORDS = {
    "NameError": "Python was asked for a name it has never been given.",
    "UnboundLocalError": "Inside the function, a variable was read before the function gave "
    "it a value.",
    "TypeError": "Two kinds of value were mixed that do not go together, like text and a number.",
    "IndexError": "The code asked for a position the sequence does not have.",
    "KeyError": "The code asked the dictionary for a key it does not have.",
    "AttributeError": "The code asked a value for something it does not have, like a method "
    "of another type.",
    "ValueError": "The value was of the right kind but its content could not be used, like "
    'the text "abc" read as a number.',
    "ZeroDivisionError": "Something was divided by zero, and that has no answer.",
    "SyntaxError": "Python could not read the code, so it ran none of it.",
    "IndentationError": "The lines are not lined up the way Python needs to tell which block "
    "each belongs to.",
    "ImportError": "The module was found, but not the name asked for inside it.",
    "ModuleNotFoundError": "Python found no module with that name.",
    "RecursionError": "The function kept calling itself and never stopped.",
    "FileNotFoundError": "There is no file with that name where Python looked.",
    "StopIteration": "The code asked an iterator for one more item after its last one.",
}
PLAIN_WORDS["TabError"] = PLAIN_WORDS["IndentationError"]
#: Per exception type: the same thing in everyday life.
ANALOGIES = {
    "NameError": 'It is like asking a friend for "the blue folder" when no folder was ever '
    "labelled that way: they cannot guess which one you mean.",
    "UnboundLocalError": 'It is like a recipe that says "add the sauce" in step 2 but makes '
    "the sauce in step 5: inside this function the variable is the function's own, and it "
    "does not exist yet.",
    "TypeError": 'It is like adding 3 apples to the word "three": both mean three to you, but '
    "one is a count and the other is text.",
    "IndexError": "It is like asking for seat 3 in a row of three seats numbered 0, 1 and 2: "
    "there is no such seat.",
    "KeyError": "It is like looking up a word that was never written into a dictionary: the "
    "dictionary cannot make up the entry.",
    "AttributeError": 'It is like pressing "rewind" on a toaster: a real button, but on '
    "another machine.",
    "ValueError": 'It is like a form asking for your age in whole years and getting "twelve '
    'and a half": the right box, but an answer it cannot read.',
    "ZeroDivisionError": "It is like sharing 10 sweets among 0 friends: the question has no "
    "answer.",
    "SyntaxError": "It is like a sentence missing its closing bracket or its punctuation: the "
    "reader cannot tell where the idea ends, so it stops reading.",
    "IndentationError": "It is like a list where one sub-item is not indented under its item: "
    "nobody can tell which item it belongs to.",
    "ImportError": "It is like finding the right book in the library, but not the chapter "
    "you asked for.",
    "ModuleNotFoundError": "It is like asking the library for a book it does not have, or "
    "under a slightly different title.",
    "RecursionError": "It is like two mirrors facing each other: each reflection holds "
    "another, without end, so Python stops it.",
    "FileNotFoundError": "It is like looking for a letter in the kitchen drawer when it is in "
    "the hall drawer, or filed under another name.",
    "StopIteration": 'It is like dealing cards one at a time: after the last card, "next '
    'card" has nothing to give.',
}
ANALOGIES["TabError"] = ANALOGIES["IndentationError"]
GENERIC_PLAIN = "Python could not do what this line asked, and stopped there."
GENERIC_ANALOGY = (
    "It is like a machine on an assembly line given a part it cannot handle: it stops the "
    "whole line and shows a message saying what it got."
)
#: Per exception type: the kind of step of a line that raises it (the trace points at it).
FAILING_STEPS: dict[str, tuple[type[ast.AST], ...]] = {
    "NameError": (ast.Name,),
    "UnboundLocalError": (ast.Name,),
    "KeyError": (ast.Subscript,),
    "IndexError": (ast.Subscript,),
    "AttributeError": (ast.Attribute,),
    "ZeroDivisionError": (ast.BinOp,),
    "TypeError": (ast.BinOp, ast.Call, ast.Subscript),
    "ValueError": (ast.Call,),
    "StopIteration": (ast.Call,),
    "RecursionError": (ast.Call,),
    "FileNotFoundError": (ast.Call,),
}
#: Errors raised while reading the code: none of its lines ran, so there is nothing to trace.
_NOT_RUN = ("SyntaxError", "IndentationError", "TabError")
#: Most steps of a line listed in a trace (the last ones, up to the failing step).
MAX_TRACE_STEPS = 6
_BLOCK_OPENING = re.compile(r":\s*(#.*)?$")


def _evaluation_order(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``node`` in the order Python evaluates them (inner ones first; the value
    of an assignment before its targets)."""
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        children = [node.value, *targets] if node.value is not None else targets
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _evaluation_order(child)
    yield node


def _step(node: ast.AST, source: str) -> str | None:
    """What Python does at ``node`` of ``source``, as the end of a sentence ("looks up the
    name `x`"), quoting the learner's own code."""

    def code(part: ast.AST) -> str:
        return ast.get_source_segment(source, part) or ast.unparse(part)

    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return f"looks up the name `{node.id}`"
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
        return f"looks for `.{node.attr}` on `{code(node.value)}`"
    if isinstance(node, ast.Subscript):
        container, key = code(node.value), code(node.slice)
        if isinstance(node.ctx, ast.Store):
            return f"puts the value at `{key}` in `{container}`"
        return f"takes `{code(node)}`: the item at `{key}` in `{container}`"
    if isinstance(node, ast.Call):
        return f"calls `{code(node)}`"
    if isinstance(node, ast.BinOp | ast.BoolOp | ast.UnaryOp | ast.Compare):
        return f"works out `{code(node)}`"
    return None


def _fails_here(node: ast.AST, info: ErrorInfo) -> bool:
    if not isinstance(node, FAILING_STEPS.get(info.type_name, ())):
        return False
    return not isinstance(node, ast.Name) or info.name in (None, node.id)


def trace(info: ErrorInfo, what: str) -> str | None:
    """The failing line, step by step as Python runs it, up to the step that raises ``info``.

    Parameters
    ----------
    info : ErrorInfo
        The error, with its line.
    what : str
        What went wrong (the explainer's first sentence), said at the failing step.

    Returns
    -------
    str or None
        Markdown; None if the line is unknown, cannot be read on its own, or never ran (a
        SyntaxError).
    """
    line = info.line
    if not line or info.type_name in _NOT_RUN:
        return None
    source = f"{line} pass" if _BLOCK_OPENING.search(line) else line  # "for n in xs:"
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    steps: list[str] = []
    failed = False
    # "looks up the name `len`" before each call said little: the call says it
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in _evaluation_order(tree):
        step = _step(node, source)
        fails = _fails_here(node, info)
        if step is None or (id(node) in called and not fails):
            continue
        if fails:
            steps.append(f"It {step}. **This is the step that raises the {info.type_name}:** "
                         f"{what}")  # fmt: skip
            failed = True
            break
        steps.append(f"It {step}.")
    if not steps:
        return None
    steps = steps[-MAX_TRACE_STEPS:]
    where = f"line {info.lineno}" if info.lineno else "the failing line"
    lines = [f"Step by step, here is what Python does with {where}, `{line}`:", ""]
    lines += [f"{n}. {step}" for n, step in enumerate(steps, 1)]
    ending = (
        "Nothing after that step runs."
        if failed
        else f"One of these steps raises the {info.type_name}."
    )
    lines += ["", f"{ending} To see it yourself, run the steps one at a time in a new cell and "
              "print what each one gives."]  # fmt: skip
    return "\n".join(lines)


def listed(items: list[str]) -> str:
    """``items`` as an English list ("a, b and c")."""
    return " and ".join(filter(None, [", ".join(items[:-1]), *items[-1:]]))


def plain_words(type_name: str) -> str:
    """What an exception of ``type_name`` means, in the plainest words."""
    return PLAIN_WORDS.get(type_name, GENERIC_PLAIN)


def analogy(type_name: str) -> str:
    """An everyday analogy of an exception of ``type_name``."""
    return ANALOGIES.get(type_name, GENERIC_ANALOGY)


def rungs_given(history: list[dict[str, Any]], **about: str) -> list[str]:
    """The rungs the tutor's replies took since what ``about`` names was explained, newest
    first.

    Parameters
    ----------
    history : list of dict
        The conversation so far, oldest first (a tutor entry's ``rung``; a learner entry's
        ``error``, ``act`` and ``item_id``).
    **about : str
        The keys a learner's follow-up holds the same as what it is about: ``error`` (the
        error record, :func:`~learnpulse.agents.errors.error_record`) for an error; ``act``
        and ``item_id`` for a hint opened or an answer checked.

    Returns
    -------
    list of str
        Back through the exchanges about it to its explanation (the first reply that took no
        rung: the error explained, the hint given) or to the hint opened or the answer checked
        (a learner entry with no reply); empty after the explanation itself. Small talk in
        between ("ok", "thanks": a tutor entry's ``small_talk``) is passed over.
    """
    given: list[str] = []
    rung, aside = None, False
    for entry in reversed(history):
        if entry["role"] == "tutor":
            rung, aside = entry.get("rung"), bool(entry.get("small_talk"))
            continue
        if aside:  # "ok", "thanks" in between: neither an angle nor the explanation
            rung, aside = None, False
            continue
        if rung is None or any(entry.get(key) != value for key, value in about.items()):
            break
        given.append(rung)
        rung = None
    return given


def next_rung(given: list[str], available: list[str], wants_example: bool) -> str:
    """The rung a follow-up takes: the first of ``available`` not in ``given`` (the example,
    if the learner asked for one and has not had it); :data:`RAN_OUT` when all were given."""
    left = [rung for rung in available if rung not in given]
    if not left:
        return RAN_OUT
    return "example" if wants_example and "example" in left else left[0]


def said(names: dict[str, str], given: list[str]) -> list[str]:
    """The names of the rungs of a ladder (``names``: its rungs, in order) in ``given``."""
    return [name for rung, name in names.items() if rung in given]


def still_unclear(available: list[str], given: list[str]) -> str:
    """:data:`STILL_UNCLEAR` while more than one rung of ``available`` is left, else ``""``
    (the last angle promises no other)."""
    return STILL_UNCLEAR if len([r for r in available if r not in given]) > 1 else ""
