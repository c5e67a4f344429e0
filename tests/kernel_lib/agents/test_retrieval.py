"""Retrieval quality on labelled student questions, and what may (not) be retrieved."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from learnpulse.agents.retrieval import (
    DEFAULT_METHOD,
    EMBEDDING_METHODS,
    RETRIEVERS,
    Index,
    course_index,
    course_passages,
    matches,
    pydoc_passages,
    recall_at_k,
    skills_in,
    tokenize,
)

QUESTIONS = Path(__file__).with_name("retrieval_questions.yaml")
HELD_OUT = Path(__file__).with_name("retrieval_questions_heldout.yaml")
#: Recall@3 the tutor's retrieval must reach on the labelled questions.
MIN_RECALL_AT_3 = 0.9
#: Recall@3 on the held-out questions (never tuned on), a little below the 0.930 (66 of 71)
#: and 0.944 (67) that BM25 and the hybrid reach (0.789 and 0.817 before they read
#: abbreviations, question words, code and typos).
MIN_HELD_OUT_RECALL_AT_3 = 0.9


def _labelled(path: Path) -> list[tuple[str, list[str]]]:
    return [(row["q"], row["sources"]) for row in yaml.safe_load(path.read_text())["questions"]]


@pytest.fixture(scope="module")
def questions():
    return _labelled(QUESTIONS)


@pytest.fixture(scope="module")
def held_out():
    return _labelled(HELD_OUT)


@pytest.fixture(scope="module")
def passages(course):
    return [*course_passages(course), *pydoc_passages()]


@pytest.fixture(scope="module")
def indexes(passages):
    return {m: Index(passages, m) for m in RETRIEVERS}


@pytest.fixture(scope="module")
def recalls(indexes, questions):
    return {m: recall_at_k(index, questions, 3) for m, index in indexes.items()}


def test_labelled_questions_cover_course_and_reference(questions, course):
    assert len(questions) >= 60
    golds = [g for _, sources in questions for g in sources]
    assert {g.split(":")[0] for g in golds} == {"course", "pydoc"}
    assert {g.split(":")[1] for g in golds if g.startswith("course:")} == set(course.skills)


def test_default_method_reaches_recall_at_3(recalls):
    recall, missed = recalls[DEFAULT_METHOD]
    assert recall >= MIN_RECALL_AT_3, f"Recall@3 {recall:.3f}; missed: {missed}"


def test_held_out_questions_label_passages_of_every_skill(held_out, questions, passages, course):
    assert len(held_out) >= 40
    assert not {q for q, _ in held_out} & {q for q, _ in questions}  # held out indeed
    golds = [g for _, sources in held_out for g in sources]
    assert set(golds) <= {p.source.id for p in passages}  # each label is one passage
    # a question's first label is the course section answering it
    per_skill = Counter(sources[0].removeprefix("course:").split("#")[0] for _, sources in held_out)
    assert set(per_skill) == set(course.skills) and min(per_skill.values()) >= 3


@pytest.mark.parametrize("method", [DEFAULT_METHOD, "hybrid"])
def test_held_out_questions_reach_recall_at_3(indexes, held_out, method):
    """Chat-style questions ("whats a tuple", "how do i make a func", typos) find the section
    that answers them."""
    recall, missed = recall_at_k(indexes[method], held_out, 3)
    assert recall >= MIN_HELD_OUT_RECALL_AT_3, f"Recall@3 {recall:.3f}; missed: {missed}"


#: Rank at which the reported questions must find their passage, by method: the hybrid's
#: embeddings put "Dict and set comprehensions" above the dicts material, and "Exception
#: hierarchy" above "What an exception is".
REPORTED_FOUND_AT = {DEFAULT_METHOD: 1, "hybrid": 2}


@pytest.mark.parametrize("method", REPORTED_FOUND_AT)
@pytest.mark.parametrize(
    ("question", "answered_by"),
    [
        # "List and dict comprehensions" won: the student wrote "dict", the course "Dictionaries"
        ("what is a dict?", ("course:dicts#",)),
        # "work" found "works with bytes" in files#Opening a file
        ("how does slicing work?", ("course:lists#Slicing", "course:strings#Indexing and slicing")),
        # "else and finally" or "Exception hierarchy" came first
        (
            "how do exceptions work?",
            ("course:exceptions#What an exception is", "course:exceptions#Handling exceptions"),
        ),
    ],
)
def test_everyday_questions_find_the_passage_answering_them(indexes, method, question, answered_by):
    found = [h.passage.source.id for h in indexes[method].search(question, 3)]
    assert any(s.startswith(answered_by) for s in found[: REPORTED_FOUND_AT[method]]), found


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("what is a dict?", "course:dicts#Keys and values"),
        ("how do exceptions work?", "course:exceptions#What an exception is"),
        ("what is a function?", "course:functions#Defining a function"),
        ("what is a module", "course:modules#Importing a module"),
    ],
)
def test_a_question_about_a_whole_skill_gets_its_first_section(course, question, section):
    """The first section of a skill's material introduces it: it wins a near-tie."""
    assert course_index(course).search(question, 1)[0].passage.source.id == section


def test_the_hybrids_relevance_outweighs_the_lead_section_prior(indexes):
    """Fused by reciprocal rank, the best passages scored a few percent apart, and the prior
    of a skill's first section decided: "Tuples" came before "Unpacking"."""
    found = indexes["hybrid"].search("how do I unpack a tuple?", 1)
    assert found[0].passage.source.id == "course:tuples_sets#Unpacking"


def test_exercise_explanations_weigh_less_than_the_material(course):
    # "Word counts (explained)", one exercise's one-liner, came first
    hits = course_index(course).search("how do I count how many times each word appears", 3)
    assert hits[0].passage.source.id == "course:dicts#Counting with a dictionary"


#: Questions neither the course nor the Python reference is about. Each shares a word with a
#: passage or two ("world" of "Hello, world"), or is a typo away from one ("pasta", "past").
OFF_TOPIC = (
    "how do I cook pasta?", "who won the world cup?", "what's the weather tomorrow?",
    "what should I eat for dinner", "how tall is mount everest", "tell me a joke",
    "what is the capital of france",
)  # fmt: skip


@pytest.mark.parametrize("method", ["bm25", "tfidf"])
def test_the_index_tells_the_questions_it_does_not_cover(indexes, questions, held_out, method):
    """The ranking alone answers them (the string methods for the world cup); every labelled
    and held-out question is covered."""
    index = indexes[method]
    assert index.search("who won the world cup?")
    assert [question for question in OFF_TOPIC if index.covers(question)] == []
    assert [q for q, _ in [*questions, *held_out] if not index.covers(q)] == []


def test_weighing_the_sections_a_question_asks_about_finds_more_first(course, questions):
    """What the learning assistant does (:func:`sections_asked_about`): more labelled
    questions get a right passage first (0.835 -> 0.859 when chosen)."""
    from learnpulse.agents.conversation import sections_asked_about

    index = course_index(course)

    def first_right(named) -> int:
        return sum(
            any(matches(index.search(q, 1, (), named(q))[0].passage.source.id, g) for g in gold)
            for q, gold in questions
        )

    assert first_right(lambda q: sections_asked_about(q, course)) > first_right(lambda q: [])


def test_default_method_is_the_best_lexical_one(recalls):
    lexical = [m for m in RETRIEVERS if m not in EMBEDDING_METHODS]
    best = max(lexical, key=lambda m: recalls[m][0])
    assert recalls[DEFAULT_METHOD][0] == recalls[best][0]


def test_hybrid_retrieval_beats_each_of_its_parts(recalls):
    """BM25 + embeddings (the optional local model) find more than either alone."""
    hybrid = recalls["hybrid"][0]
    assert hybrid >= MIN_RECALL_AT_3
    assert hybrid > recalls["bm25"][0] and hybrid > recalls["embedding"][0]


def test_a_method_needing_a_missing_model_falls_back_to_bm25(course, monkeypatch):
    import learnpulse.agents.local_models as local_models

    monkeypatch.setenv("LEARNPULSE_EMBEDDING_MODEL", "/nonexistent/model")
    monkeypatch.setenv("LEARNPULSE_RETRIEVAL", "hybrid")
    assert not local_models.embedding_available()
    assert course_index(course).method == DEFAULT_METHOD


def test_passages_never_hold_solutions_or_hints(course):
    passages = course_passages(course)
    assert not any(p.source.id.endswith(("/solution", "/hints")) for p in passages)
    for exercise in course.exercises.values():
        body = exercise.solution.strip()
        if "\n" in body:  # multi-line code solutions
            assert not any(body in p.text for p in passages), exercise.id


def test_current_exercise_explanation_is_excluded(course):
    excluded = "exercise:ex-loops-04/explanation"
    assert any(p.source.id == excluded for p in course_passages(course))
    hits = course_index(course).search("sum of a list accumulator", 10, exclude=[excluded])
    assert excluded not in [h.passage.source.id for h in hits]


def test_search_cites_sections_and_pydoc_topics(course):
    hits = course_index(course).search("what does the nonlocal statement do", 3)
    assert hits[0].passage.source.id == "pydoc:nonlocal"
    assert course_index(course).search("zzzz qqqq", 3) == []


def test_tokens_fold_plurals_and_keep_operators():
    assert tokenize("Loops looping loop") == ["loop", "loop", "loop"]
    assert "//" in tokenize("what does // do") and "class" in tokenize("classes")


@pytest.mark.parametrize(
    ("message", "skills"),
    [
        ("give me an exercise on loops", ["loops"]),
        ("practice dictionaries please", ["dicts"]),
        ("quiz me on tuples", ["tuples_sets"]),
        ("what about recursion and classes", ["recursion", "classes"]),
        # everyday words named skills first: "for" loops, "if" conditionals, "try" exceptions
        ("give me a practice question for booleans", ["conditionals"]),
        ("quiz me on debugging if you can", ["testing"]),
        ("let me try an exercise on indexing", ["lists"]),
        # used as code they still do
        ("how do if statements work", ["conditionals"]),
        ("what should I learn before try and except?", ["exceptions"]),
        ("practice `for` please", ["loops"]),
    ],
)
def test_skills_named_in_a_message(course, message, skills):
    assert skills_in(message, course) == skills


def test_punctuation_names_no_skill(course):
    # the "/" of "if/elif/else" and "try/except" named conditionals and exceptions
    message = "what is the difference between / and //"
    assert skills_in(message, course, by_passage=False) == []
    assert skills_in(message, course) == ["expressions"]  # by the passage it finds


def test_unknown_method_is_refused(course):
    with pytest.raises(ValueError, match="unknown retrieval method 'magic'"):
        Index(course_passages(course), "magic")


def test_an_unknown_retrieval_method_is_logged_and_replaced(course, monkeypatch, caplog):
    monkeypatch.setenv("LEARNPULSE_RETRIEVAL", "telepathy")
    assert course_index(course).method == DEFAULT_METHOD
    assert "LEARNPULSE_RETRIEVAL='telepathy'" in caplog.text


def test_embedding_cache_is_per_model_and_texts(tmp_path, monkeypatch):
    import numpy as np

    from learnpulse.agents.retrieval import cached_embeddings

    class CountingEncoder:  # stands in for the model: the cache, not the model, is tested
        calls = 0

        def encode(self, texts, **options):
            self.calls += 1
            return np.full((len(texts), 3), float(self.calls))

    monkeypatch.setenv("LEARNPULSE_CACHE_DIR", str(tmp_path))
    encoder = CountingEncoder()
    first = cached_embeddings(encoder, ["a", "b"], "/models/one")
    assert (cached_embeddings(encoder, ["a", "b"], "/models/one") == first).all()
    assert encoder.calls == 1  # read back, not encoded again
    cached_embeddings(encoder, ["a", "b"], "/models/two")
    cached_embeddings(encoder, ["a", "c"], "/models/one")
    assert encoder.calls == 3
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 3
