"""A message in its conversation: a follow-up of the learner's previous question, or a new one.

"and a dict?", "why?", "what about that?" or "can you give an example?" only make sense with
the question before them; "what is a dict?" after "how do for loops work?" is a new question,
answered as if it came first. A message is a follow-up when it

- opens like one: "and", "what about", "how about"... (:data:`FOLLOW_UP_OPENINGS`);
- points back ("it", "that", "an example": :data:`BACK_REFERENCES`) before naming a thing
  "it" could stand for ("what is a dict and how do I loop over it?" is new);
- is a bare topic ("dicts please");
- or is short (:data:`FOLLOW_UP_WORDS`) and names no topic of the course.

A message that asked about code (``%review``'s "Please review my code.", ``%explain``'s
"Explain my last error.") is a question of its own, about that code, whatever its words: it
is not read with the questions before it, and a follow-up goes back no further than it; nor
past a hint the learner opened or an answer checked (:func:`followed_up`: a follow-up is
about them).

A topic is a skill of the course (by its id or a word of its name) or a section of its
material (every word of the heading). A follow-up is read with the questions it follows, and a
topic it names replaces theirs: "and a dict?" after "what is a tuple?" asks what a dict is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from learnpulse.agents.retrieval import markdown_sections, skill_words, skills_in, tokenize
from learnpulse.agents.tokenizing import EVERYDAY_KEYWORDS, query_tokens

if TYPE_CHECKING:
    from learnpulse.course import Course

#: A message of at most this many words, naming no topic of its own, is a follow-up ("why?",
#: "how come?", "I still don't see").
FOLLOW_UP_WORDS = 4
#: Openings that continue the previous question ("and a dict?", "what about sets?").
FOLLOW_UP_OPENINGS = (
    "and", "or", "but", "also", "so", "then", "plus", "what about", "how about", "what if",
    "same", "instead",
)  # fmt: skip
#: Words pointing back at the previous question or answer ("what does that mean?", "a harder
#: one", "can you give an example?") when they come before any skill the message names.
BACK_REFERENCES = frozenset({
    "it", "its", "that", "this", "these", "those", "them", "they", "one", "ones", "example",
    "examples", "again", "more", "else", "too", "instead",
})  # fmt: skip
#: Words that do not make a bare topic a question of its own ("dicts please").
FILLERS = frozenset({"a", "an", "the", "please", "pls", "now", "ok", "okay", "thanks"})
#: Courses whose topic vocabulary is kept (the oldest is dropped beyond).
CACHED_VOCABULARIES = 8
_WORD = re.compile(r"[\w']+")


@dataclass(frozen=True)
class _Vocabulary:
    """The words naming a course's topics: ``skills`` maps a token to the skills it names;
    ``sections`` holds each heading's tokens and the section's id, ``<skill>#<heading>``;
    ``names`` maps a skill to the tokens of its id and those of its id and name, and
    ``parts`` to its sections' ids, in order."""

    skills: dict[str, frozenset[str]]
    sections: tuple[tuple[frozenset[str], str], ...]
    names: dict[str, tuple[frozenset[str], frozenset[str]]]
    parts: dict[str, tuple[str, ...]]


#: id of a course -> (the course, kept alive so its id is not reused, and its vocabulary).
_VOCABULARIES: dict[int, tuple[Course, _Vocabulary]] = {}


def _vocabulary(course: Course) -> _Vocabulary:
    """``course``'s topic vocabulary (built once: a follow-up reads up to ten earlier
    messages, and tokenizing every heading for each took a few milliseconds)."""
    cached = _VOCABULARIES.get(id(course))
    if cached is not None and cached[0] is course:
        return cached[1]
    skills: dict[str, set[str]] = {}
    sections, names, parts = [], {}, {}
    for skill in course.skills.values():
        by_id, by_name = skill_words(skill)
        names[skill.id] = (frozenset(by_id), frozenset(by_id | by_name))
        for token in by_id | by_name:
            skills.setdefault(token, set()).add(skill.id)
        headings = [heading for heading, _ in markdown_sections(skill.material)]
        parts[skill.id] = tuple(f"{skill.id}#{heading}" for heading in headings)
        for heading in headings:
            if tokens := frozenset(tokenize(heading)):
                sections.append((tokens, f"{skill.id}#{heading}"))
    frozen = {k: frozenset(v) for k, v in skills.items()}
    vocabulary = _Vocabulary(frozen, tuple(sections), names, parts)
    _VOCABULARIES[id(course)] = (course, vocabulary)
    while len(_VOCABULARIES) > CACHED_VOCABULARIES:
        del _VOCABULARIES[next(iter(_VOCABULARIES))]
    return vocabulary


@dataclass(frozen=True)
class _Word:
    """A word of a message and the topics it names: skill ids, or ``<skill>#<heading>`` for a
    section whose heading the whole message names; ``thing`` if it names a skill (a thing "it"
    may stand for: "a dict", not "slice"), ``everyday`` if it is an everyday keyword."""

    text: str
    topics: frozenset[str] = frozenset()
    thing: bool = False
    everyday: bool = False


def _words(message: str, course: Course | None) -> list[_Word]:
    """The words of ``message``, each with the course topics it names."""
    words = [(m.group(), set(tokenize(m.group()))) for m in _WORD.finditer(message.lower())]
    if course is None:
        return [_Word(text) for text, _ in words]
    vocabulary = _vocabulary(course)
    present = set().union(*(tokens for _, tokens in words))
    named_sections = [(t, section) for t, section in vocabulary.sections if t <= present]
    named = []
    for text, tokens in words:
        # a section the message names is more precise than its skill
        sections = {section for t, section in named_sections if t & tokens}
        skills = {s for token in tokens for s in vocabulary.skills.get(token, ())}
        # an everyday keyword ("an example for it") names a topic to tell a new question,
        # but only a whole section heading ("for loops") replaces the earlier question's
        everyday = bool(tokens) and tokens <= EVERYDAY_KEYWORDS and not sections
        thing = bool(skills) and not everyday
        named.append(_Word(text, frozenset(sections or skills), thing, everyday))
    return named


def topics_in(message: str, course: Course | None) -> set[str]:
    """The topics of ``course`` that ``message`` names: skill ids ("dicts" for "a dict") and
    sections (``"lists#Slicing"`` for "how does slicing work?")."""
    return {topic for word in _words(message, course) for topic in word.topics}


def sections_asked_about(message: str, course: Course | None) -> list[str]:
    """Source ids (``course:<skill>#<heading>``) of the sections of ``course`` that
    ``message`` asks about, the first that applies of:

    - those whose heading of two words or more it names, beyond their skill's own name ("an
      example of a while loop": *while loops*; "what are modules?" names no *Your own
      modules*; one word, "write" or "index", is too weak: "how do I write an if else on one
      line" named *Writing*);
    - for a question about one whole skill and nothing else ("explain recursion", "what is a
      module?", not "what is a set?" of *Tuples and sets*), the skill's first section, which
      introduces it;
    - every section of the skills it names ("how do I add an item to a list?": *Lists and
      indexing — Changing a list*, not the Python reference on subscriptions).
    """
    if course is None:
        return []
    vocabulary = _vocabulary(course)
    named = []
    for topic in sorted(topics_in(message, course)):
        skill_id, _, heading = topic.partition("#")
        words = set(tokenize(heading))
        if len(words) > 1 and not words <= vocabulary.names[skill_id][0]:
            named.append(f"course:{topic}")
    if named:
        return named
    words = set(query_tokens(message))
    # the whole skill: all of its id ("set" is half of tuples_sets; "list" names lists, not
    # "List and dict comprehensions") and no word that is not its own
    whole = [s for s, (by_id, every) in vocabulary.names.items() if by_id <= words <= every]
    if len(whole) == 1 and vocabulary.parts[whole[0]]:
        return [f"course:{vocabulary.parts[whole[0]][0]}"]
    skills = skills_in(message, course, by_passage=False)
    return [f"course:{part}" for skill in skills for part in vocabulary.parts.get(skill, ())]


def is_follow_up(message: str, course: Course | None) -> bool:
    """Whether ``message`` only makes sense with the learner's previous question.

    Parameters
    ----------
    message : str
        The learner's message.
    course : Course or None
        Whose skills and sections are the topics a new question may name.

    Returns
    -------
    bool
        True for "and a dict?", "why?", "what about that?", "can you give an example?",
        "dicts please"; False for "what is a dict?" or a longer question naming no topic.
    """
    words = _words(message, course)
    while words and words[0].text in FILLERS:  # "ok and dicts?"
        words.pop(0)
    texts = [w.text for w in words]
    if any(texts[: len(o.split())] == o.split() for o in FOLLOW_UP_OPENINGS):
        return True
    first_thing = next((i for i, w in enumerate(words) if w.thing), len(words))
    if any(w.text in BACK_REFERENCES for w in words[:first_thing]):  # "it" is not the dict
        return True
    if any(w.topics for w in words):  # a bare topic is elliptical, a question about it is not
        return all(w.topics or w.text in FILLERS for w in words)
    return len(words) <= FOLLOW_UP_WORDS


def _topics_replacing(question: str, course: Course | None) -> set[str]:
    """The topics ``question`` names that replace an earlier question's: its skills and
    sections, and the skills of those sections, but not everyday keywords ("for it")."""
    topics = {t for w in _words(question, course) if not w.everyday for t in w.topics}
    return topics | {t.partition("#")[0] for t in topics}


def _without_topics(question: str, replaced_by: set[str], course: Course | None) -> str:
    """``question`` without the words naming a topic none of ``replaced_by`` is."""
    dropped = {w.text for w in _words(question, course) if w.topics and not w.topics & replaced_by}
    kept = [m.group() for m in _WORD.finditer(question) if m.group().lower() not in dropped]
    return " ".join(kept)


def with_previous_question(
    message: str, history: list[dict[str, Any]], course: Course | None = None
) -> str:
    """``message`` as a question that makes sense on its own.

    A follow-up (:func:`is_follow_up`) is preceded by the learner's earlier questions back to
    the last new one; the words of those naming another topic than the follow-up's are left
    out ("what is a tuple?", "and a dict?" -> "what is a and a dict?"). A message that asked
    about code or an error (``%review``, ``%explain``) or followed up a hint or a check is
    always a new one, and a hint opened or an answer checked ends the chain. Anything else is
    returned as it is.

    Parameters
    ----------
    message : str
        The learner's message.
    history : list of dict
        The conversation so far, oldest first (``role``, ``text`` and, optionally, ``code``,
        ``error`` and ``act`` of each entry).
    course : Course, optional
        Whose topics tell new questions from follow-ups.

    Returns
    -------
    str
    """
    if not is_follow_up(message, course):
        return message
    chain = [message]
    for earlier in reversed([m for m in history if m["role"] == "learner"]):
        if earlier.get("act") and not earlier["text"]:  # a hint opened, an answer checked
            break
        chain.append(earlier["text"])
        if _asked_about_something(earlier) or not is_follow_up(earlier["text"], course):
            break
    read: list[str] = []
    later_topics: set[str] = set()
    for question in chain:  # newest first
        read.append(_without_topics(question, later_topics, course) if later_topics else question)
        later_topics |= _topics_replacing(question, course)
    return " ".join(reversed(read))


def _asked_about_something(entry: dict[str, Any]) -> bool:
    """Whether a learner's entry is about code, an error, a hint or a checked answer."""
    return bool(entry.get("code") or entry.get("error") or entry.get("act"))


def last_answered_by(history: list[dict[str, Any]]) -> str:
    """The agent a follow-up stays with: the one that answered the newest entry of the
    conversation; ``""`` when that entry is something the learner did since the last answer
    (a hint opened, an answer checked: what "why?" now asks about, whoever answered before).

    Parameters
    ----------
    history : list of dict
        The conversation so far, oldest first.

    Returns
    -------
    str
    """
    newest = history[-1] if history else {}
    return newest.get("agent", "") if newest.get("role") == "tutor" else ""


def followed_up(
    message: str, history: list[dict[str, Any]], course: Course | None = None
) -> dict[str, Any] | None:
    """The learner's previous entry, if ``message`` follows it up and it was about something
    the tutor can be asked again about: code reviewed (``code``), an error explained
    (``error``, and its ``code``), a hint opened or an answer checked (``act``); a follow-up
    of those carries them again, so "I still don't get it" after "why?" is about them too.
    None for a new question, or after a plain chat question.

    Parameters
    ----------
    message : str
        The learner's message.
    history : list of dict
        The conversation so far, oldest first, as :func:`learnpulse.agents.learner.history`
        gives it.
    course : Course, optional
        Whose topics tell new questions from follow-ups.

    Returns
    -------
    dict or None
    """
    previous = next((m for m in reversed(history) if m["role"] == "learner"), None)
    if previous is None or not _asked_about_something(previous):
        return None
    return previous if is_follow_up(message, course) else None
