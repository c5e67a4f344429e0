"""The router: which agent answers a message, from the message and its context.

An explicit choice always wins. Otherwise code or an error in the message or context goes to
the code reviewer, and so does a question about the learner's last error when none was found
("explain my last error": it says how to get one explained). A request for the concept
behind the exercise, hint or error the learner is on ("explain the concept behind this
exercise",
:func:`~learnpulse.agents.follow_ups.asks_for_concept_of_context`) goes to the learning
assistant, which answers it from the course ("exercise" there names the learner's own: it made
the message the content generator's, which answered with a practice question), unless it also
asks for practice ("generate an exercise on the concept behind this"). Then a follow-up ("a
harder one", "and why?", see :func:`~learnpulse.agents.conversation.is_follow_up`) with no
keyword of an agent other than itself and the learning assistant (whose keywords are question
words) stays with the agent that answered last, unless the learner has opened a hint or checked an
answer since: the newest context wins over an older chat answer
(:func:`~learnpulse.agents.conversation.last_answered_by`), and the tutor answers about it.
Then each agent's keywords are counted (ties go to the earlier agent of :data:`PRIORITY`);
anything else goes to the learning assistant. A question about the exercise's task or the
learner's own answers ("I don't understand this exercise", "what did I get wrong?") goes to the
learning assistant too, before the follow-up rule. Keywords are counted with "this exercise" (the
learner's own, :data:`_THIS_EXERCISE`) read as "it": "can you explain this exercise?" or "help
me with this exercise" asked for no practice question, which the generator's "exercise" gave.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from learnpulse.agents.base import Agent, TutorContext
from learnpulse.agents.conversation import is_follow_up, last_answered_by
from learnpulse.agents.errors import parse_traceback
from learnpulse.agents.exercise_brief import asks_about_the_task, asks_if_right
from learnpulse.agents.follow_ups import asks_for_concept_of_context
from learnpulse.agents.last_error import asks_about_last_error
from learnpulse.agents.mistakes import asks_about_mistakes

if TYPE_CHECKING:
    from learnpulse.course import Exercise

#: Order that breaks keyword ties (the more specific agents first).
PRIORITY = ("reviewer", "generator", "explorer", "coach", "assistant")
#: Agent for everything else.
DEFAULT_AGENT = "assistant"
_CODE = re.compile(r"```|^\s*(def|for|while|if|import|class|return)\b.*$", re.M)
#: Words naming the exercise the learner is on ("the concept behind this exercise"): no
#: request for a new one.
_THIS_EXERCISE = re.compile(
    r"\b(this|that|the|my|current)\s+(exercise|question|problem)\b"
    # exercises done ("I finished the loops exercises, what next?"): no request for new ones
    r"|\b(finished|done|did|completed|solved)\b[\w\s]{0,30}?\bexercises?\b"
    # and counted ("how many exercises have I done?"): the coach's progress
    r"|\bexercises?\b(?=[\w\s]{0,20}?\b(done|finish|finished|complete|completed|solved?)\b)",
    re.I,
)
#: Why a request for the concept behind what the learner is on goes to the learning assistant.
CONCEPT_ROUTING = "a question about the concept behind the exercise, hint or error at hand"
#: Why a question about the exercise's task or the learner's answers goes to it.
OWN_WORK_ROUTING = "a question about the exercise's task or the learner's answers"


def asks_about_own_work(message: str, exercise: Exercise | None = None) -> bool:
    """Whether ``message`` asks about the exercise's task ("I don't understand this exercise";
    "I'm lost" on ``exercise``) or the learner's answers ("what did I get wrong?", "is my
    answer right?", "is it 4?" on ``exercise``)."""
    task = asks_about_the_task(message, exercise)
    return task or asks_about_mistakes(message) or asks_if_right(message, exercise)


def _keyword_hits(message: str, agent: Agent) -> int:
    text = f" {message.lower()} "
    return sum(1 for keyword in agent.keywords if re.search(rf"\b{keyword}", text))


def route(
    message: str,
    context: TutorContext,
    agents: Mapping[str, Agent],
    explicit: str | None = None,
) -> tuple[str, str]:
    """The agent to answer ``message`` and why.

    Returns
    -------
    (str, str)
        Agent name and the routing reason (logged with the exchange).

    Raises
    ------
    ValueError
        If ``explicit`` names no known agent (the message lists the known ones).
    """
    if explicit:
        if explicit not in agents:
            raise ValueError(f"unknown agent {explicit!r}; known agents: {', '.join(agents)}")
        return explicit, "asked for explicitly"
    if "reviewer" in agents and (
        context.code or context.error or _CODE.search(message) or parse_traceback(message)
    ):
        return "reviewer", "the message carries code or an error"
    if "reviewer" in agents and asks_about_last_error(message):  # and none was found
        return "reviewer", "the message asks about the learner's error"
    # "this exercise" is the learner's own: no request for a new one (the generator's keyword)
    own = _THIS_EXERCISE.sub("it", message)
    hits = {name: _keyword_hits(own, agent) for name, agent in agents.items()}
    # The default agent's keywords are question words ("why", "explain")
    specific = {name for name, n in hits.items() if n and name != DEFAULT_AGENT}
    if DEFAULT_AGENT in agents and not specific and asks_for_concept_of_context(message, context):
        return DEFAULT_AGENT, CONCEPT_ROUTING
    # "can you check my answer?": the check decides, with no code to review ("check my" is
    # the code reviewer's keyword, which asked for code)
    judging = asks_if_right(message, context.exercise)
    if DEFAULT_AGENT in agents and (
        judging or (not specific and asks_about_own_work(message, context.exercise))
    ):
        # not a follow-up of whoever answered last: "I don't understand this exercise" after
        # the coach's progress got a study plan
        return DEFAULT_AGENT, OWN_WORK_ROUTING
    last = last_answered_by(context.history)
    # a follow-up with no other agent's keyword ("a harder one" after a practice question)
    # stays with the agent that answered
    if last in agents and specific <= {last} and is_follow_up(message, context.course):
        return last, "a follow-up to the last answer"
    best = max(hits.values(), default=0)
    if best > 0:
        order = [*PRIORITY, *(n for n in agents if n not in PRIORITY)]
        winner = next(name for name in order if hits.get(name) == best)
        return winner, f"keywords of the {winner}"
    return DEFAULT_AGENT, "default agent"
