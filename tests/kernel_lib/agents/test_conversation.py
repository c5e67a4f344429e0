"""Follow-ups and new questions, told apart with the demo course's topics."""

from __future__ import annotations

import pytest

from learnpulse.agents.conversation import (
    followed_up,
    is_follow_up,
    last_answered_by,
    sections_asked_about,
    topics_in,
    with_previous_question,
)


@pytest.mark.parametrize(
    "message",
    [
        "and a dict?",
        "ok and sets?",
        "what about that?",
        "what if the list is empty?",
        "why?",
        "how come?",
        "can you give an example?",
        "can you give an example for it?",  # "for" is English here, not the for loop
        "how do I slice it?",  # slicing is a section, not a thing "it" could stand for
        "what does that mean?",
        "a harder one please",
        "dicts please",  # a bare topic
        "recursion",
    ],
)
def test_elliptical_messages_are_follow_ups(course, message):
    assert is_follow_up(message, course)


@pytest.mark.parametrize(
    "message",
    [
        "what is a dict?",
        "what is a tuple?",
        "explain recursion",
        "what is the accumulator pattern?",  # a section of the loops material
        "what does while do?",
        "what is a dict and how do I loop over it?",  # "it" is the dict
        "what does the nonlocal statement do",  # long enough to stand on its own
    ],
)
def test_questions_naming_their_own_topic_are_new(course, message):
    assert not is_follow_up(message, course)


def _history(*questions: str) -> list[dict[str, str]]:
    return [{"role": "learner", "text": q, "agent": "assistant"} for q in questions]


def test_a_follow_up_is_read_with_the_questions_back_to_the_last_new_one(course):
    history = _history("what is a list?", "what is a tuple?", "and a dict?")
    read = with_previous_question("why?", history, course)
    assert read == "what is a and a dict? why?"  # the dict replaced the tuple, the list is gone
    assert with_previous_question("what is a set?", history, course) == "what is a set?"


def test_a_follow_up_keeps_the_words_of_the_topic_it_continues(course):
    history = _history("how do I read a text file line by line")
    read = with_previous_question("and writing?", history, course)
    assert "file" in read and "read" not in read.split()  # same skill, another section
    assert topics_in(read, course) == {"files", "files#Writing"}


def test_without_a_course_only_the_wording_tells_a_follow_up():
    assert is_follow_up("and a dict?", None) and is_follow_up("why?", None)
    assert not is_follow_up("how do I sort a list of names by length", None)
    assert with_previous_question("why?", _history("what is a list?")) == "what is a list? why?"


def test_a_message_about_code_is_a_question_of_its_own(course):
    """%review logs "Please review my code.", short enough to be a follow-up: the review was
    read with the chat question before it, and so was a "why?" after the review."""
    review = {"role": "learner", "text": "Please review my code.", "code": "x = 1\n"}
    history = [*_history("what is a tuple?"), review]
    assert with_previous_question("why?", history, course) == "Please review my code. why?"
    assert followed_up("why?", history, course) is review
    assert followed_up("how do I fix it?", history, course) is review
    assert followed_up("what is a tuple?", history, course) is None  # a new question
    assert followed_up("why?", [*history, *_history("what is a set?")], course) is None


def test_a_follow_up_is_about_the_error_hint_or_check_before_it(course):
    """After %explain, a hint or a check, "why?" was read with the chat question asked before
    them (the error was not found again; a hint or a check was not in the conversation)."""
    explained = {
        "role": "learner", "text": "Explain my last error.", "code": "d = {}\nd['x']\n",
        "error": "  File \"<cell>\", line 2, in <module>\n    d['x']\nKeyError: 'x'",
    }  # fmt: skip
    hint = {"role": "learner", "text": "", "act": "hint", "item_id": "ex-loops-04"}
    checked = {"role": "learner", "text": "", "act": "attempt", "item_id": "ex-loops-04"}
    for entry in (explained, hint, checked):
        history = [*_history("what is a tuple?"), entry]
        for follow_up in ("why?", "I still don't get it", "can you show a smaller example?"):
            assert followed_up(follow_up, history, course) is entry, (entry, follow_up)
        assert followed_up("what is recursion?", history, course) is None
        assert "tuple" not in with_previous_question("why?", history, course)


def test_a_hint_or_check_since_the_last_answer_is_the_newest_context():
    """The router kept "why?" with the coach when a hint was opened after the coach's plan."""
    chat = [
        {"role": "learner", "text": "make me a study plan", "agent": "coach"},
        {"role": "tutor", "text": "**Study plan**", "agent": "coach"},
    ]
    assert last_answered_by(chat) == "coach"
    for act in ("hint", "attempt"):
        opened = {"role": "learner", "text": "", "agent": "", "act": act, "item_id": "ex-1"}
        assert last_answered_by([*chat, opened]) == ""
    assert last_answered_by([]) == ""


CONDITIONALS_HEADINGS = (
    "Booleans and comparisons", "Logical operators", "if, elif, else", "Indentation",
    "Conditional expressions",
)  # fmt: skip


@pytest.mark.parametrize(
    ("message", "sections"),
    [
        ("show me an example of a while loop", ["course:loops#while loops"]),
        ("how do I loop over a dict?", ["course:dicts#Looping over a dictionary"]),
        # a whole skill: its first section; "modules" names no section "Your own modules"
        ("what are modules?", ["course:modules#Importing a module"]),
        ("explain recursion", ["course:recursion#A function that calls itself"]),
        # "list" is the id of lists, and a word of the name "List and dict comprehensions"
        ("what is a list?", ["course:lists#Creating lists"]),
        ("what is a list comprehension?", ["course:comprehensions#List comprehensions"]),
        # a one-word heading is not named ("Writing"); the skills named are
        (
            "how do I write an if else on one line?",
            [f"course:conditionals#{h}" for h in CONDITIONALS_HEADINGS],
        ),
        ("hello there", []),
    ],
)
def test_the_sections_a_question_asks_about(course, message, sections):
    """Chosen on the labelled retrieval questions: Recall@1 0.835 -> 0.859 with the sections
    weighed up (Recall@3 0.953 either way)."""
    assert sections_asked_about(message, course) == sections
