"""How retrieval reads a student's question: abbreviations, question words, code, typos."""

from __future__ import annotations

import pytest

from learnpulse.agents.tokenizing import (
    correct_spelling,
    keywords_as_code,
    query_tokens,
    spell_out,
    tokenize,
)


@pytest.mark.parametrize(
    ("short", "written_out"),
    [
        ("dict", "dictionary"),
        ("dicts", "dictionaries"),
        ("func args", "function arguments"),
        ("str", "string"),
        ("params", "parameters"),
        ("var", "variable"),
        ("list comps", "list comprehensions"),
        ("fstrings", "f strings"),
    ],
)
def test_programming_abbreviations_read_as_the_words_they_stand_for(short, written_out):
    assert tokenize(short) == tokenize(written_out)


def test_how_a_question_is_asked_is_not_what_it_is_about():
    # "work" found "works with bytes" in the files material for "how does slicing work?"
    assert tokenize("how does slicing work?") == tokenize("slicing") == ["slic"]
    assert tokenize("what's the meaning of a tuple, can you explain") == ["tupl"]


def test_code_is_read_as_what_it_shows():
    assert "slic" in tokenize("what is xs[1:3]") and "slic" in tokenize("word[::-1]")
    assert "index" in tokenize("what does lst[-1] mean")
    assert {"key", "error", "keyerror"} <= set(tokenize("why a KeyError"))
    assert "0.1" in tokenize("0.1 + 0.2")  # a float is one number, not 0 and 1
    # a name written alone as code is what a passage is about
    assert tokenize("`break` leaves the loop").count("break") == 2


@pytest.mark.parametrize(
    ("question", "tokens"),
    [
        ("what is a dict?", ["dictionary"]),  # "is" is English here
        ("what is a and a dict?", ["dictionary"]),  # a follow-up read with its question
        ("can I change one letter in a string", ["chang", "letter", "str"]),
        ("what does the in operator check", ["in", "operator", "check"]),
        ("how do for loops work", ["for", "loop"]),
        ("how do I write an if/else", ["writ", "if", "/", "els"]),
        ("how do try and except work", ["try", "and", "except"]),
        ("difference between and and or", ["and", "and", "or"]),  # only keywords: all kept
    ],
)
def test_everyday_keywords_count_in_a_question_only_as_code(question, tokens):
    assert query_tokens(question) == tokens


def test_keywords_as_code_are_found_by_position():
    message = "is it ok if I use a for loop"
    tokens = tokenize(message)
    assert [tokens[i] for i in sorted(keywords_as_code(message, tokens))] == ["if", "for"]
    message = "quiz me on lists if you can"
    assert keywords_as_code(message, tokenize(message)) == set()
    message = "what does 'for' do here"
    assert keywords_as_code(message, tokenize(message)) == {0}


def test_a_misspelt_word_is_read_as_the_indexed_word_one_typo_away():
    vocabulary = {"dictionary": 60, "except": 40, "function": 150, "exception": 80, "loop": 90}
    typed = ["dictonary", "excpet", "fucntion", "loop", "zzzzzz", "fro"]
    assert correct_spelling(typed, vocabulary, vocabulary) == [
        "dictionary", "except", "function", "loop", "zzzzzz", "fro",
    ]  # fmt: skip
    # of two words one typo away, the commoner
    assert correct_spelling(["caser"], {"case": 1, "cases": 9}, {"case": 1, "cases": 9}) == [
        "cases"
    ]


def test_a_typo_keeps_the_first_letter_and_adds_no_new_last_one():
    """Read as typos, these made "what should I eat for dinner" a question on inner functions
    and "how do I cook pasta" one on recursion; a doubled last letter or two first letters
    swapped are typos."""
    vocabulary = {"inner": 2, "count": 30, "past": 4, "append": 20, "function": 150}
    typed = ["dinner", "mount", "pasta", "appendd", "ufnction"]
    assert correct_spelling(typed, vocabulary, vocabulary) == [
        "dinner", "mount", "pasta", "append", "function",
    ]  # fmt: skip


def test_abbreviations_are_spelt_out_for_the_embedding_model():
    assert spell_out("whats a Dict, and my func's args?") == (
        "whats a dictionary, and my function's arguments?"
    )


def test_the_stop_words_are_scikit_learns():
    """Copied, not imported: importing them took scikit-learn into the first tutor answer."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as SKLEARN_STOP_WORDS

    from learnpulse.agents.tokenizing import ENGLISH_STOP_WORDS

    assert ENGLISH_STOP_WORDS == SKLEARN_STOP_WORDS
