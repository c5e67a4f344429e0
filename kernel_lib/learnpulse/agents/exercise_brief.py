"""What an exercise asks, put plainly: the reply to "I don't understand this exercise", "what
am I supposed to do?" or "can you explain the question?".

Before, these got the course passage on the exercise's topic (a student who did not see what
the task was got a lecture on for loops), and without an exercise in context a passage of the
Python reference on asynchronous context managers. Now :func:`task_brief` restates the task:
the question part by part, what the answer must be (a number, one of the options, a function
and how the check calls it, never what it returns), the exercise's rules on the code, the
topic it practises with its course section, and the way on (which part is unclear? the next
hint). Asked with no exercise in context (or for a hint, or whether an answer is right),
:func:`which_exercise` asks which one is meant and names those the learner worked on last,
unsolved. "Is my answer right?" is the check's to say, not the tutor's
(:func:`checking_draft`). A message naming an exercise by its id ("explain ex-loops-04") is
about that one (:func:`named_exercise`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from learnpulse.agents.base import Draft, Source
from learnpulse.agents.exercise_ladder import hint_action
from learnpulse.agents.follow_ups import asks_for_concept
from learnpulse.agents.learner import unsolved_exercises
from learnpulse.agents.retrieval import course_index
from learnpulse.course.rules import all_rules

if TYPE_CHECKING:
    from learnpulse.agents.base import TutorContext
    from learnpulse.course import Course, Exercise

#: Unsolved exercises named when the learner asks about "this exercise" with none open.
RECENT_EXERCISES = 3
_TASK = r"(exercise|question|task|problem|assignment|prompt)"
_THIS_TASK = rf"\b(this|the|that|my) {_TASK}\b"
#: "Is my answer right?", "can you check my answer?"
_IS_IT_RIGHT = re.compile(
    r"\b(is|was) (my|this|the) (answer|code|solution) (right|correct|ok|okay|good)\b"
    r"|\bam i (right|correct)\b|\b(check|grade|mark) my (answer|solution)\b",
    re.I,
)
#: An answer put to the tutor to judge: "is it 4?", "is the answer append?", "would b be
#: correct?", "it's 3, right?" (``value``: the answer).
_PROPOSED = re.compile(
    r"^\W*(?:so |then )?(?:is|was) (?:it|the answer|the solution|that)\s+(?P<value>[^\s?]+)\W*$"
    r"|^\W*would (?P<would>[^\s?]+) be (?:right|correct|the answer)\W*$"
    r"|^\W*(?:i think )?(?:it'?s|it is) (?P<think>[^\s?,]+),? (?:right|correct)\W*$",
    re.I,
)
#: "I'm lost": about the exercise at hand when one is open (it names no other subject).
_LOST = r"^\W*(i'?m|i am|i feel)( so| really| completely| totally| a bit)? (lost|confused)\W*$"
#: Ways of saying the task itself is unclear (not a hint, not the concept behind it).
_ABOUT_THE_TASK = re.compile(
    "|".join(
        (
            rf"\b(don'?t|do not|can'?t|cannot|not sure i)( really| quite)? "
            rf"(understand|get|follow)\b.*\b{_TASK}\b",
            rf"\bconfus\w*\b.*\b{_TASK}\b",
            rf"\bwhat (does|is) (this|the|that|it)( {_TASK})? "
            r"(ask|want|mean|expect|looking for|about)",
            r"\bwhat (am i|are we|do i|should i|must i)( supposed| meant| expected)?"
            r"( to| have to| need to)? do\b",
            rf"\b(explain|rephrase|restate|clarify|reword|break down|simplify)\b.*{_THIS_TASK}",
        )
    ),
    re.I,
)
_FENCE = re.compile(r"```.*?```", re.S)
#: Sentence ends, not after "e.g." or "i.e." (a prompt's example follows them).
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!e\.g\.)(?<!i\.e\.)\s+(?=[A-Z`(\"'])")


def asks_about_the_task(message: str, exercise: Exercise | None = None) -> bool:
    """Whether ``message`` says the exercise itself is unclear ("I don't get the question",
    "what am I supposed to do here?", "can you explain this exercise?"; "I'm lost" with
    ``exercise`` given); naming ``exercise`` by its id counts as "this exercise" ("explain
    ex-loops-04"). Asking for the concept behind it is not
    (:func:`~learnpulse.agents.follow_ups.asks_for_concept`)."""
    lost = False
    if exercise is not None:
        message = re.sub(rf"(?<![\w-]){re.escape(exercise.id)}(?![\w-])", "this exercise", message)
        lost = bool(re.search(_LOST, message, re.I))
    return (lost or bool(_ABOUT_THE_TASK.search(message))) and not asks_for_concept(message)


def asks_if_right(message: str, exercise: Exercise | None = None) -> bool:
    """Whether ``message`` asks the tutor to judge an answer: "is my answer right?", or, on
    ``exercise``, an answer of its kind put to the tutor ("is it 4?" of a number, "would b be
    correct?" of a choice, "is it append?" of a word; not "is it possible?" of a number)."""
    if _IS_IT_RIGHT.search(message):
        return True
    proposed = _PROPOSED.search(message) if exercise is not None else None
    if proposed is None or exercise is None:
        return False
    value = next(v for v in proposed.groups() if v).strip("`'\".")
    if exercise.type == "numeric":
        return re.fullmatch(r"[-+]?\d+(\.\d+)?", value) is not None
    if exercise.type == "choice":
        letters = [chr(97 + i) for i in range(len(exercise.choices))]
        choices = [str(c).lower() for c in exercise.choices]
        return value.lower() in letters or value.lower() in choices
    return exercise.type == "text"


def refers_to_an_exercise(message: str) -> bool:
    """Whether ``message`` speaks of an exercise at hand ("this exercise", "the question")."""
    return bool(re.search(_THIS_TASK, message, re.I))


def named_exercise(message: str, course: Course) -> Exercise | None:
    """The course exercise whose id ``message`` names ("explain ex-loops-04"); None if it
    names none, or more than one."""
    named = {word for word in re.findall(r"[\w-]+", message) if word in course.exercises}
    return course.exercises[named.pop()] if len(named) == 1 else None


def task_brief(context: TutorContext) -> Draft:
    """What the exercise in ``context`` asks, part by part, and what its answer must be.

    Nothing of the answer: the question's own words (shown to the learner already), the kind
    of answer, how the check calls a function (the first test's arguments, never what it
    returns), the rules, the topic. The prompt's code blocks are described, not repeated (an
    exercise whose instructor turned code off would show them as withheld).
    """
    exercise = context.exercise
    assert exercise is not None
    parts = _parts(exercise.prompt)
    lines = [f"Here is what **{exercise.title}** asks, part by part:", ""]
    lines += [f"{number}. {part}" for number, part in enumerate(parts, 1)]
    blocks = _FENCE.findall(exercise.prompt)
    # the lines between a block's fences, blank ones left out
    code_lines = sum(1 for b in blocks for line in b.splitlines()[1:-1] if line.strip())
    if code_lines > 0 and exercise.type != "code":
        shows = f"The exercise shows {_counted(code_lines, 'line')} of code"
        lines += ["", f"{shows}: go through them one at a time, writing down what each name "
                  "holds after each line."]  # fmt: skip
    lines += ["", f"**Your answer:** {_answer_kind(exercise)}"]
    if exercise.rules:
        lines.append(f"**Rules:** the exercise {all_rules(exercise)}.")
    topic, section = _topic(exercise, context.course)
    if topic:
        cited = f" (the course section *{section.title}* explains it)" if section else ""
        lines.append(f"**It practises:** *{topic}*{cited}.")
    action = hint_action(context)
    way_on = (
        f"If you see what is asked but not how to start, ask for a hint (*{action[0]}*, or "
        f"`%hint {exercise.id}` in a cell)."
        if action
        else "If you see what is asked but not how to start, try the idea on a small example "
        "in a cell first."
    )
    lines += ["", f"Which part is unclear? Tell me which, and I will go over it. {way_on}"]
    sources = (Source(f"exercise:{exercise.id}", f"{exercise.title}: the exercise"),)
    sources += (section,) if section else ()
    actions = (*action, f"Explain {topic}") if topic else action
    note = (
        "The learner does not see what the exercise asks: restate it in simpler words, part by "
        "part, and say what kind of answer it wants; never the answer or the code that solves it."
    )
    return Draft("\n".join(lines), sources, 0.85, actions, (note,), {"brief": exercise.id})


#: Why the tutor does not say whether an answer is right (it would give the right one away).
NOT_JUDGED = (
    "I do not say whether an answer is right: the exercise's check does, and tells you what "
    "differs."
)
#: What the learner wants of an exercise not named (:func:`which_exercise`): the reply's first
#: words, how to name it in the chat (none: the chat cannot do it), and what to do in a cell.
_WANTED = {
    "explain": (
        "Which exercise do you mean? None is open in this conversation.",
        "Explain {}",
        "open it with `%exercise {}` in a cell and ask from there, and I will go over what it asks",
    ),
    "hint": (
        "A hint for which exercise? None is open in this conversation.",
        "A hint for {}",
        "run `%hint {}` in a cell",
    ),
    "check": (
        f"{NOT_JUDGED} Which exercise is it? None is open in this conversation.",
        "",
        "Check your answer with the exercise's **Check** button (`%exercise {}`), or with "
        "`%%check` and its id at the top of the cell with your code",
    ),
}


def which_exercise(context: TutorContext, wanted: str = "explain") -> Draft:
    """Asked about "this exercise" with none in context (to explain it, for a ``"hint"``, or
    to ``"check"`` an answer): which one, and the exercises the learner worked on last and
    has not solved."""
    lead, named, in_a_cell = _WANTED[wanted]
    recent = _recent_unsolved(context)
    listed = "; ".join(f"**{e.title}** (`{e.id}`)" for e in recent)
    worked = f" You worked on these last: {listed}." if recent else ""
    example = recent[0].id if recent else "<id>"
    way = in_a_cell.format(example)
    if named:
        way = f"Name it by its id (*{named.format(example).lower()}*), or {way}"
    text = f"{lead}{worked} {way}."
    actions = tuple(named.format(e.id) for e in recent) if named else ()
    return Draft(text, (), 0.5, actions, payload={"sufficiency": "asked which exercise"})


def checking_draft(context: TutorContext) -> Draft:
    """ "Is my answer right?": the check says so, not the tutor (it would give the answer
    away); how to check the exercise in context, or which exercise is meant."""
    exercise = context.exercise
    if exercise is None:
        return which_exercise(context, "check")
    how = (
        f"put `%%check {exercise.id}` at the top of the cell with your code and run it"
        if exercise.type == "code"
        else f"answer in the exercise (`%exercise {exercise.id}`) and press **Check**"
    )
    text = (
        f"{NOT_JUDGED} For **{exercise.title}**, {how}. If it says not yet, ask me *what "
        "differs in my answer?* and we go through it, without the answer given away."
    )
    source = Source(f"exercise:{exercise.id}/check", f"{exercise.title}: the check")
    return Draft(text, (source,), 0.8, ("What differs in my answer?", *hint_action(context)))


def _parts(prompt: str) -> list[str]:
    """The prose sentences of ``prompt`` (code blocks left out)."""
    prose = " ".join(_FENCE.sub(" ", prompt).split())
    return [part.strip() for part in _SENTENCE_END.split(prose) if part.strip()]


def _answer_kind(exercise: Exercise) -> str:
    """What an answer to ``exercise`` must be, in words (nothing of the expected answer)."""
    if exercise.type == "numeric":
        return "a number."
    if exercise.type == "choice":
        options = "; ".join(f"*{choice}*" for choice in exercise.choices)
        return f"one of its {len(exercise.choices)} options: {options}."
    if exercise.type == "text":
        return (
            "a short text. Case, spaces around punctuation, quotes and a final full stop do not "
            "matter."
        )
    calls = [t for t in exercise.tests if "args" in t or "kwargs" in t]
    names = [t["expr"] for t in exercise.tests if "expr" in t]
    if exercise.function:
        what = f"a function `{exercise.function}` defined in a code cell of your notebook"
    elif names:
        what = f"code that leaves {', '.join(f'`{n}`' for n in names)} set in your notebook"
    else:
        what = "code run in your notebook"
    if calls and exercise.function:
        first = calls[0]
        arguments = [repr(a) for a in first.get("args", ())]
        arguments += [f"{k}={v!r}" for k, v in first.get("kwargs", {}).items()]
        call = f"`{exercise.function}({', '.join(arguments)})`"
        return f"{what}. The check calls it on {_counted(len(calls), 'case')}, such as {call}."
    return f"{what}. The check runs {_counted(len(exercise.tests), 'test')} on it."


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _topic(exercise: Exercise, course: Course | None) -> tuple[str, Source | None]:
    """The name of the skill ``exercise`` practises, and the course section teaching it."""
    skill = course.skills.get(exercise.skill) if course else None
    if skill is None:
        return exercise.skill, None
    hits = course_index(course).search(skill.name, 5)
    section = next((h.passage.source for h in hits if h.passage.skill == skill.id), None)
    return skill.name, section


def _recent_unsolved(context: TutorContext) -> list[Exercise]:
    """Course exercises the learner attempted or opened hints of, latest first, unsolved."""
    course = context.course
    if course is None:
        return []
    found = unsolved_exercises(context.events, course.exercises, ("attempt", "hint"))
    return [course.exercises[i] for i in found.get_column("item_id")[:RECENT_EXERCISES]]
