"""Greetings, thanks, acknowledgements and goodbyes. "hello", "thanks!" and "ok" got "Happy to
help! Tell me a bit more so I can: what are you working on...", the reply to a question too
vague to answer (or, after the coach, a study plan), and "bye" the course passage on for loops:
they now get a greeting that says what the tutor does, a "you're welcome", a "good, go on" and
a goodbye."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from learnpulse.agents.base import Draft

if TYPE_CHECKING:
    from learnpulse.agents.base import TutorContext

#: First words of a greeting, words of thanks, and the words that may come with them ("hello
#: there", "thanks a lot, that helps"): a message with any other word asks something.
GREETINGS = frozenset({"hi", "hello", "hey", "hiya", "howdy", "good"})
THANKS = frozenset({"thanks", "thank", "thx", "ty", "cheers"})
_WITH_GREETING = frozenset(
    ["there", "tutor", "again", "all", "everyone", "morning", "afternoon", "evening", "day"]
)
_WITH_THANKS = frozenset({"you", "a", "lot", "so", "much", "very", "ok", "okay", "great",
                          "that", "helps", "helped", "it", "makes", "sense", "got", "nice",
                          "cool"})  # fmt: skip
_LEADING_SMALL_TALK = re.compile(
    r"^\W*((hi|hello|hey|hiya|good (morning|afternoon|evening))( there| tutor)?"
    r"|(ok |okay )?(thanks|thank you|thx|cheers))\b[\s,!.:-]*",
    re.I,
)
#: A message that only says the learner follows ("ok", "got it", "that makes sense").
_ACKNOWLEDGEMENT = re.compile(
    r"^\W*((ok(ay)?|alright|cool|great|nice|sure|understood|gotcha|got it|i see"
    r"|(that )?makes sense)\W*)+$",
    re.I,
)
#: A goodbye ("bye", "see you tomorrow", "good night").
_FAREWELL = re.compile(
    r"^\W*(bye|goodbye|good night|see (you|ya)( later| tomorrow| soon)?|cya|later)\W*$", re.I
)
#: What the greeting offers, as the chat's suggested follow-ups.
OFFERS = ("What should I do next?", "How am I doing?", "Show me the course topics")


def small_talk(message: str, context: TutorContext) -> Draft | None:
    """A reply to a greeting, thanks, an acknowledgement or a goodbye alone; None for a
    message that asks anything more."""
    words = re.findall(r"[a-z']+", message.lower())
    if not words:
        return None
    if _ACKNOWLEDGEMENT.match(message):
        text = "Good! Go on with it, and ask me whenever something is unclear."
        return Draft(text, (), 1.0, OFFERS[:2], payload={"small_talk": "acknowledgement"})
    if THANKS & set(words) and set(words) <= THANKS | _WITH_THANKS:
        text = (
            "You're welcome! Ask again whenever something is unclear: a topic, an error, your "
            "code, or the exercise you are on."
        )
        return Draft(text, (), 1.0, OFFERS[:2], payload={"small_talk": "thanks"})
    if _FAREWELL.match(message):
        text = "Good work today! Your progress is saved: next time, ask me what to do next."
        return Draft(text, (), 1.0, (), payload={"small_talk": "farewell"})
    if words[0] in GREETINGS and set(words[1:]) <= _WITH_GREETING and words != ["good"]:
        course = f" of **{context.course.title}**" if context.course else ""
        text = (
            f"Hi! I am the tutor{course}. Ask me about a topic (*what is a list?*), an error "
            "(`%explain` after it) or your code (`%review`); during an exercise I give hints "
            "that lead you on without the answer. I can also say how you are doing and what to "
            "do next."
        )
        return Draft(text, (), 1.0, OFFERS, payload={"small_talk": "greeting"})
    return None


def without_greeting(message: str) -> str:
    """``message`` without a greeting or thanks before it ("hi, what is a list?": "hi" found
    the string methods' passage, whose example is ``"Hi".upper()``)."""
    return _LEADING_SMALL_TALK.sub("", message) or message
