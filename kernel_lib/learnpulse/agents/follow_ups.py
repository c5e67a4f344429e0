"""Answers to a follow-up ("why?", "I still don't get it", "can you show a smaller example?")
of something the learner did before: an error the tutor explained, a hint opened, an answer
checked.

What the follow-up is about comes with the conversation (the history entry
:func:`learnpulse.agents.conversation.followed_up` finds, :attr:`TutorContext.follows`); the
code reviewer and the learning assistant answer with the drafts of this module. Asked again
about an error, the explanation takes another angle each time (:mod:`learnpulse.agents.ladder`),
and so does the answer about a hint or a wrong answer checked
(:mod:`learnpulse.agents.exercise_ladder`); the concept behind an error, a hint, a check or the
exercise at hand ("Explain the concept behind this", "explain the concept behind this
exercise") is looked up in the course material (:func:`concept_query`). None of them holds an
exercise's solution: an error is explained on its own line and on small examples of its own, a
hint is put another way from the course material, and the answer checks of the guardrails still
run over every reply.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from learnpulse.agents import ladder
from learnpulse.agents.base import Draft, Source
from learnpulse.agents.conversation import followed_up, topics_in
from learnpulse.agents.errors import ErrorInfo, explanation_parts, locate
from learnpulse.agents.exchanges import MAX_LOGGED_CODE_CHARS

if TYPE_CHECKING:
    from learnpulse.agents.base import TutorContext

#: Words asking to see an example rather than to be told again.
_EXAMPLE_REQUEST = re.compile(r"\b(example|show me|smaller|simpler|demo|demonstrate)\b", re.I)
#: Words asking for the next rung of the hint ladder (anything else about a hint re-words it).
_NEXT_HINT = re.compile(
    r"\b(another|next|more|further|second|third|other)\b.{0,20}\b(hint|clue|tip)s?\b|"
    r"\bstill stuck\b|\b(hint|clue)s? (please|pls)\b",
    re.I,
)
#: What a follow-up's answer says when the code it is about was cut when it was stored.
CODE_CUT_NOTE = (
    "*(Your code was long: I only kept its first {chars:,} characters, so this is about "
    "that part only.)*\n\n"
)
#: The suggested follow-up asking for the concept behind an error, a hint or a review.
CONCEPT_ACTION = "Explain the concept behind this"
#: Words asking about the idea behind what was explained ("Explain the concept behind this"),
#: not for the same explanation again.
_CONCEPT_REQUEST = re.compile(r"\bconcepts?\b|\b(idea|theory|topic) behind\b", re.I)
#: Per exception type: words naming the construct it is about, which find the course section
#: that teaches it ("KeyError" alone also finds the sections on exceptions).
CONCEPT_WORDS = {
    "NameError": "variable name assigned", "UnboundLocalError": "local variable scope",
    "TypeError": "types conversion", "IndexError": "list index position",
    "KeyError": "dictionary keys", "AttributeError": "methods of a type",
    "ValueError": "converting strings to numbers",
    "ZeroDivisionError": "division arithmetic operators",
    "SyntaxError": "syntax colon brackets", "IndentationError": "indentation blocks",
    "TabError": "indentation blocks", "ImportError": "importing a module",
    "ModuleNotFoundError": "importing a module", "RecursionError": "recursion base case",
    "FileNotFoundError": "opening a file path", "StopIteration": "iterator next loop",
}  # fmt: skip
#: Per exception type: a few lines that raise it on their own (never an exercise's code) and
#: what they show. The learner can run them in a cell.
SMALL_EXAMPLES: dict[str, tuple[str, str]] = {
    "NameError": ('print(colour)   # NameError: nothing called `colour` exists yet\ncolour = "red"',
                  "The name is used on the line before it gets its value."),
    "UnboundLocalError": ("count = 0\ndef add():\n    count = count + 1   # UnboundLocalError\n"
                          "add()",
                          "Assigning `count` inside `add` makes it local to `add`, so the outer "
                          "`count` is not used."),
    "TypeError": ('age = "3"\nage + 1   # TypeError: a str and an int do not add up',
                  '`"3"` is text, not the number 3: `int(age) + 1` is 4.'),
    "IndexError": ("letters = ['a', 'b', 'c']\nletters[3]   # IndexError: the last index is 2",
                   "Three items have the indices 0, 1 and 2."),
    "KeyError": ('ages = {"ada": 36}\nages["bob"]   # KeyError: \'bob\'\nages.get("bob")   # None',
                 'The dictionary only has the key `"ada"`; `.get` returns `None` instead.'),
    "AttributeError": ("numbers = [3, 1, 2]\nnumbers.push(4)   # AttributeError: lists have append",
                       "A list's method to add an item is `append`; `dir(numbers)` lists them."),
    "ValueError": ('int("3.5")   # ValueError: not a whole number\nint("35")    # 35',
                   "`int()` takes text, but only text that spells a whole number."),
    "ZeroDivisionError": ("scores = []\nsum(scores) / len(scores)   # ZeroDivisionError",
                          "An empty list has length 0, and nothing can be divided by 0."),
    "SyntaxError": ("if 3 > 2\n    print('yes')   # SyntaxError: the `:` is missing",
                    "Python reads the whole cell first; one missing `:` stops all of it."),
    "IndentationError": ("for n in [1, 2]:\nprint(n)   # IndentationError: the body is not "
                         "indented", "The loop's body must be indented under it."),
    "TabError": ("# a block indented with a tab on one line and spaces on the next",
                 "Indent with spaces only; most editors turn Tab into 4 spaces."),
    "ImportError": ("from math import squareroot   # ImportError: it is called sqrt",
                    "The module exists, the name inside it does not."),
    "ModuleNotFoundError": ("import maths   # ModuleNotFoundError: the module is `math`",
                            "Python looks for a module of exactly that name."),
    "RecursionError": ("def countdown(n):\n    return countdown(n - 1)   # no case where it "
                       "stops\ncountdown(3)   # RecursionError",
                       "Add `if n == 0: return` first: the base case that ends the calls."),
    "FileNotFoundError": ('open("notes.txt")   # FileNotFoundError if it is not in this folder\n'
                          "import os; os.listdir()   # what is here",
                          "A relative name is looked up in the notebook's working folder."),
    "StopIteration": ("it = iter([1])\nnext(it)   # 1\nnext(it)   # StopIteration: nothing left",
                      "An iterator gives each item once; `next(it, None)` returns None instead."),
}  # fmt: skip


def _example(type_name: str) -> tuple[str, str]:
    return SMALL_EXAMPLES.get(
        type_name,
        (f"raise {type_name}('what went wrong')", "Any line can raise it; read its message."),
    )


def error_follow_up(
    message: str,
    error: BaseException | ErrorInfo,
    code: str | None,
    given: list[str] | None = None,
    has_exercise: bool = False,
) -> Draft:
    """A follow-up of an error already explained, from the next angle of the ladder of
    explanations (:mod:`learnpulse.agents.ladder`) the learner has not had yet: in simpler
    words, step by step through the failing line, with an analogy, with a small example that
    raises the same error (first, if the learner asked for one); once all were given, a reply
    that says so and points to a hint or the instructor.

    Parameters
    ----------
    message : str
        The follow-up ("why?", "I still don't get it", "can you show a smaller example?").
    error : BaseException or ErrorInfo
        The error explained before (as :func:`~learnpulse.agents.errors.read_error_record`
        reads it back from the conversation).
    code : str, optional
        The learner's code it came from.
    given : list of str, optional
        The rungs taken since the error was explained (:func:`~learnpulse.agents.ladder.
        rungs_given`); default none.
    has_exercise : bool
        Whether the learner works on an exercise (whose hints the last rung points to).

    Returns
    -------
    Draft
        Its ``payload["rung"]`` is the rung taken; its notes tell a language model the angles
        already taken.
    """
    given = given or []
    info = error if isinstance(error, ErrorInfo) else locate(error, code)
    what, why, where, how = explanation_parts(info)
    traced = ladder.trace(info, what)
    available = [rung for rung in ladder.RUNGS if rung != "trace" or traced]
    rung = ladder.next_rung(given, available, wants_example(message))
    example, shows = _example(info.type_name)
    bodies = {
        "simpler": f"In simpler words: {ladder.plain_words(info.type_name)} In your code: "
        f"{what}\n\n**What to try in your code:** {how}",
        "trace": traced,
        "analogy": f"Think of it this way: {ladder.analogy(info.type_name)}\n\nIn your code: "
        f"{what} {why}",
        "example": "A smaller example that raises the same error:\n\n"
        f"```python\n{example}\n```\n\n{shows}",
    }
    source = Source(f"python:exceptions#{info.type_name}", f"Python exception {info.type_name}")
    said = ladder.said(ladder.RUNGS, given)
    if rung == ladder.RAN_OUT:
        text = _ran_out(info.type_name, where, said, has_exercise)
        actions = ("Give me a hint" if has_exercise else "Review my code", CONCEPT_ACTION)
        note = (
            f"Every way of explaining this {info.type_name} was given ({ladder.listed(said)}): say "
            "so, and suggest a hint or asking the instructor; do not explain it again."
        )
    else:
        more = ladder.still_unclear(available, given)
        text = f"Still about your **{info.type_name}** ({where}).\n\n{bodies[rung]}{more}"
        actions = ("I still don't get it", CONCEPT_ACTION)
        earlier = f"; since then: {ladder.listed(said)}" if said else ""
        note = (
            f"The learner asks again about this {info.type_name}, already explained "
            f"(what, why, where, how to investigate{earlier}). Explain it {ladder.RUNGS[rung]}; "
            "do not repeat what was said, and never give the solution."
        )
    return Draft(text, (source,), 0.85, actions, (note, what, why, how), {"rung": rung})


def _ran_out(type_name: str, where: str, said: list[str], has_exercise: bool) -> str:
    """What the tutor says once every angle of the ladder was given."""
    hint = (
        "ask for a hint (*Give me a hint*), which leads you on without giving the answer away, or "
        if has_exercise
        else ""
    )
    return (
        f"I have explained your **{type_name}** ({where}) every way I have: "
        f"{ladder.listed(said)}. Saying it again would not help. Next, {hint}show your "
        "instructor the line, the error and what you tried: working through it with someone "
        "helps."
    )


def wants_example(message: str) -> bool:
    """Whether ``message`` asks to see an example ("can you show a smaller example?") rather
    than to be told again: the ladders take their example rung first."""
    return bool(_EXAMPLE_REQUEST.search(message))


def asks_for_concept(message: str) -> bool:
    """Whether ``message`` asks about the concept behind what it follows ("Explain the
    concept behind this", "what is the idea behind it?") rather than for it again."""
    return bool(_CONCEPT_REQUEST.search(message))


def asks_for_concept_of_context(message: str, context: TutorContext) -> bool:
    """Whether ``message`` asks about the concept behind what the learner is on now: what it
    follows up (any concept request, :func:`asks_for_concept`), else the error, hint or check
    of the conversation it follows, or the exercise in context ("explain the concept behind
    this exercise"), when it names no topic of the course but theirs ("what is the concept of
    recursion?" during a loops exercise is a question of its own).

    Parameters
    ----------
    message : str
    context : TutorContext
        Its ``follows`` set once the tutor found what the message follows up; before (as the
        router sees it), read from its history.

    Returns
    -------
    bool
    """
    if not asks_for_concept(message):
        return False
    if context.follows is not None:
        return True
    follows = followed_up(message, context.history, context.course)
    if follows is None and context.exercise is None and context.error is None:
        return False
    exercise, course = context.exercise, context.course
    if exercise is None and follows and course is not None:  # a hint or check in the chat
        exercise = course.exercises.get(follows.get("item_id", ""))
    own = set(exercise.skills) if exercise is not None else set()
    named = {topic.partition("#")[0] for topic in topics_in(message, course)}
    return named <= own


def concept_query(context: TutorContext) -> tuple[str, str] | None:
    """What to look up in the course material for the concept behind what a follow-up is
    about, and what that was (for the reply's first line): the construct of an explained
    error (its type, the words of :data:`CONCEPT_WORDS` and its line), else the skill of the
    exercise a hint or a check was of. None if neither is in ``context``.

    Parameters
    ----------
    context : TutorContext
        With the error or the exercise the follow-up is about.

    Returns
    -------
    (str, str) or None
        The query, and markdown naming what it is the concept of.
    """
    error, exercise = context.error, context.exercise
    if error is not None:
        info = error if isinstance(error, ErrorInfo) else locate(error, context.code)
        query = f"{info.type_name} {CONCEPT_WORDS.get(info.type_name, '')} {info.line}"
        where = explanation_parts(info)[2]
        return query, f"your **{info.type_name}** ({where})"
    if exercise is None:
        return None
    skill = context.course.skills.get(exercise.skill) if context.course is not None else None
    return (skill.name if skill else exercise.skill), f"**{exercise.title}**"


def wants_next_hint(message: str) -> bool:
    """Whether ``message`` asks for the next hint ("another hint", "I'm still stuck") rather
    than about the one opened ("I don't understand this hint", "why?")."""
    return bool(_NEXT_HINT.search(message))


def last_hint_shown(context: TutorContext) -> int:
    """The rung of the hint ladder the learner opened last (1-based; 0: none, or hints off)."""
    exercise = context.exercise
    return 0 if exercise is None else min(context.hints_used, exercise.hint_limit)


def hint_again(context: TutorContext, reworded: tuple[Source, str] | None) -> Draft:
    """The hint the learner opened last, put another way: quoted, then explained from the
    course passage that best matches it (``reworded``: its source and first sentences; None
    if none matches).

    Never the next rung of the ladder, nor the solution: the learner asks about this hint.

    Parameters
    ----------
    context : TutorContext
        With the exercise, and at least one of its hints opened (:func:`last_hint_shown`).
    reworded : (Source, str) or None

    Returns
    -------
    Draft
    """
    exercise = context.exercise
    level = last_hint_shown(context)
    assert exercise is not None and level > 0
    hint = exercise.hints[level - 1]
    # no rung numbers: the answer checks run over this text, and "hint 1 of 3" hid the 3 of
    # an exercise whose answer is 3
    lines = [f"The hint you opened last for **{exercise.title}** says:", f"> {hint}"]
    sources = [Source(f"exercise:{exercise.id}/hints", f"{exercise.title}: hint ladder")]
    if reworded is not None:
        source, sentences = reworded
        lines.append(f"Put another way, from *{source.title}*: {sentences}")
        sources.append(source)
    lines.append(
        "Try that idea on a small example in a cell first, then in your answer. Which part of "
        "the hint is unclear: a word, or how it applies to the exercise?"
    )
    actions = ("Another hint", "Explain the concept behind this hint")
    return Draft("\n\n".join(lines), tuple(sources), 0.8, actions, (hint,))


def follow_up_lead(context: TutorContext) -> str:
    """What a follow-up's reply says first: that the code it is about was cut when stored,
    and, after a check, what the check said (:func:`checked_lead`)."""
    follows = context.follows or {}
    lead = CODE_CUT_NOTE.format(chars=MAX_LOGGED_CODE_CHARS) if follows.get("code_cut") else ""
    if follows.get("act") == "attempt" and context.exercise is not None:
        lead += checked_lead(follows, context.exercise.title)
    return lead


def checked_lead(follows: dict[str, Any], title: str) -> str:
    """The line that ties a reply to the answer the learner checked last: what the check
    said (its feedback, as shown then).

    Parameters
    ----------
    follows : dict
        The check's history entry (``correct``, ``feedback``).
    title : str
        The exercise's title.

    Returns
    -------
    str
        Markdown, ending with a blank line.
    """
    verdict = "was right" if follows.get("correct") else "was not right yet"
    feedback = follows.get("feedback", "")
    said = f" The check said: {feedback}" if feedback else ""
    return f"About your last answer to **{title}**: it {verdict}.{said}\n\n"
