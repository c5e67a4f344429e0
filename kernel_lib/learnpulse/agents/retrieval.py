"""Retrieval over what the tutor may quote: course material, exercise explanations, Python docs.

Passages come from each skill's markdown material (one per ``##`` section), each exercise's
explanation (never its solution or hints), and the Python language reference that ships with
the interpreter (:mod:`pydoc_data.topics`, split into chunks). Four retrievers share one
interface: TF-IDF (scikit-learn), BM25 (rank-bm25), sentence embeddings (all-MiniLM-L6-v2, an
optional model that runs offline) and a BM25 + embeddings hybrid; :data:`DEFAULT_METHOD` is the
one the retrieval benchmark chose (``benchmarks/bench_tutor.py``, labelled questions in
``tests/kernel_lib/agents/retrieval_questions.yaml``, tuned on; a held-out set of chat-style
questions in ``retrieval_questions_heldout.yaml``, never tuned on).

Words are read by :mod:`learnpulse.agents.tokenizing` (abbreviations spelt out, question
words dropped, code read as words, typos in a question corrected against the passages'
words); a passage's ``prior`` then weighs the course's material above exercise explanations
and the Python reference, and a skill's first section above its others.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from rank_bm25 import BM25Okapi

from learnpulse.agents.base import Source
from learnpulse.agents.tokenizing import (
    EVERYDAY_KEYWORDS,
    correct_spelling,
    keywords_as_code,
    query_tokens,
    spell_out,
    tokenize,
)
from learnpulse.files import replacing

if TYPE_CHECKING:
    from learnpulse.course import Course, Skill

#: Retrieval method used by the tutor: the best lexical one by Recall@3 on the labelled
#: questions. ``hybrid`` (BM25 + embeddings) scores higher but needs the optional embedding
#: model and seconds to embed the passages once; ``$LEARNPULSE_RETRIEVAL`` selects it.
DEFAULT_METHOD = "bm25"
#: Share of BM25 in the hybrid's score (the embeddings' is the rest), each retriever's scores
#: min-max normalised over the passages first: chosen on the labelled questions (the held-out
#: ones measured once, after; see ``benchmarks/bench_tutor.py``).
HYBRID_BM25_WEIGHT = 0.3
#: Passages embedded per batch.
EMBEDDING_BATCH = 64
#: Largest pydoc chunk, in characters (topics run to 30,000; answers need a paragraph or two).
PYDOC_CHUNK_CHARS = 1500
#: BM25 parameters (Robertson's defaults): term-frequency saturation and length normalisation.
BM25_K1 = 1.5
BM25_B = 0.75
#: Times a passage's title is repeated in its indexed text: titles name the topic exactly.
TITLE_WEIGHT = 3
#: Score multiplier for course material over the Python reference: the course is written for
#: these learners, so it wins a near-tie.
COURSE_BOOST = 1.3
#: Score multiplier for an exercise's explanation: that of the Python reference, below the
#: material's, since it explains one exercise's answer rather than the concept (and the tutor
#: hides it until the exercise is solved).
EXPLANATION_BOOST = 1.0
#: Score multiplier for a section a question asks about
#: (:func:`~learnpulse.agents.conversation.sections_asked_about`): "an example of a while
#: loop" found the *for loops* section, the first of *for and while loops* (3% ahead), and
#: "explain recursion" the section *RecursionError* (12% ahead of the first, *A function
#: that calls itself*: its heading repeats the skill's name).
NAMED_SECTION_BOOST = 1.25
#: Share of the passages at most that a word of a question about something the course does
#: not cover may be found in: such a word is a coincidence ("world" of "Hello, world" in "who
#: won the world cup?"), see :meth:`Index.covers`.
RARE_WORD_SHARE = 0.01
#: Extra multiplier for the first section of a skill's material, which introduces the skill:
#: it wins a near-tie among that skill's sections ("what is a dict?" -> "Keys and values").
LEAD_SECTION_BOOST = 1.1


@dataclass(frozen=True)
class Passage:
    """A piece of text the tutor may quote, and where it comes from.

    ``skill`` is the course skill it teaches (None for the Python reference); ``prior``
    multiplies its retrieval score, whatever the question (:data:`COURSE_BOOST`...).
    """

    source: Source
    text: str
    skill: str | None = None
    prior: float = 1.0

    @property
    def indexed_text(self) -> str:
        return f"{(self.source.title + ' ') * TITLE_WEIGHT}{self.text}"


def markdown_sections(markdown: str) -> list[tuple[str, str]]:
    """``(heading, body)`` of each ``##`` section (text before the first one is its intro)."""
    parts = re.split(r"^## +(.+)$", markdown, flags=re.M)
    intro = parts[0].strip()
    sections = [(parts[i].strip(), parts[i + 1].strip()) for i in range(1, len(parts), 2)]
    if intro and not sections:
        return [("Overview", intro)]
    return sections


def course_passages(course: Course, exclude_exercise: str | None = None) -> list[Passage]:
    """Passages of a course: one per ``##`` section of each skill's material, and each
    exercise's explanation (except ``exclude_exercise``'s). Never solutions or hints."""
    passages = []
    for skill in course.skills.values():
        for number, (heading, body) in enumerate(markdown_sections(skill.material)):
            source = Source(f"course:{skill.id}#{heading}", f"{skill.name} — {heading}")
            prior = COURSE_BOOST * (LEAD_SECTION_BOOST if number == 0 else 1.0)
            passages.append(Passage(source, body, skill.id, prior))
    for exercise in course.exercises.values():
        if exercise.explanation and exercise.id != exclude_exercise:
            source = Source(f"exercise:{exercise.id}/explanation", f"{exercise.title} (explained)")
            explanation = Passage(source, exercise.explanation, exercise.skill, EXPLANATION_BOOST)
            passages.append(explanation)
    return passages


def _topic_title(topic: str, text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), topic)
    return f"Python reference: {first}"


@lru_cache(maxsize=1)
def pydoc_passages() -> tuple[Passage, ...]:
    """The Python language reference shipped with the interpreter, in chunks of at most
    :data:`PYDOC_CHUNK_CHARS` (paragraphs are never split)."""
    from pydoc_data.topics import topics

    passages = []
    for topic, text in sorted(topics.items()):
        source = Source(f"pydoc:{topic}", _topic_title(topic, text))
        chunk: list[str] = []
        for paragraph in re.split(r"\n\s*\n", text):
            if chunk and sum(map(len, chunk)) + len(paragraph) > PYDOC_CHUNK_CHARS:
                passages.append(Passage(source, "\n\n".join(chunk)))
                chunk = []
            chunk.append(paragraph)
        if chunk:
            passages.append(Passage(source, "\n\n".join(chunk)))
    return tuple(passages)


class Retriever(Protocol):
    """Ranks passages for a query."""

    name: str

    def scores(self, query: str) -> np.ndarray:
        """Relevance of every passage to ``query``, shape (n_passages,)."""
        ...


class TfidfRetriever:
    """Cosine similarity of TF-IDF vectors (word uni- and bigrams, sublinear tf)."""

    name = "tfidf"

    def __init__(self, passages: Sequence[Passage]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(
            tokenizer=tokenize, token_pattern=None, lowercase=False, ngram_range=(1, 2),
            sublinear_tf=True,
        )  # fmt: skip
        self.matrix = self.vectorizer.fit_transform([p.indexed_text for p in passages])

    def scores(self, query: str) -> np.ndarray:
        vector = self.vectorizer.transform([query])
        return (self.matrix @ vector.T).toarray().ravel()


class _LuceneBM25(BM25Okapi):
    """Okapi BM25 with Lucene's inverse document frequency, log(1 + (N - n + 0.5) / (n + 0.5)):
    always positive and falling with n. rank-bm25's own floors the idf of a word in more than
    half of the passages at a quarter of the mean idf, so "is" (in 417 of 495 passages)
    weighed more than "function" (in 152)."""

    def _calc_idf(self, nd: dict[str, int]) -> None:
        self.doc_count = nd
        for word, count in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - count + 0.5) / (count + 0.5))


class BM25Retriever:
    """Okapi BM25 (Lucene's idf) over the same tokens. A question is read by its
    :func:`query_tokens` (an everyday keyword only where it is code: "is" in "what is a dict?"
    is English), and a word the passages do not hold as the word one typo away that they do
    (:func:`correct_spelling`: "dictonary")."""

    name = "bm25"

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.bm25 = _LuceneBM25([tokenize(p.indexed_text) for p in passages], k1=BM25_K1, b=BM25_B)

    def query_tokens(self, query: str) -> list[str]:
        """The tokens ``query`` is scored by (:func:`query_tokens`), misspellings corrected."""
        return correct_spelling(query_tokens(query), self.bm25.idf, self.bm25.doc_count)

    def scores(self, query: str) -> np.ndarray:
        return np.asarray(self.bm25.get_scores(self.query_tokens(query)))


class EmbeddingRetriever:
    """Cosine similarity of sentence embeddings (all-MiniLM-L6-v2, run offline; see
    :mod:`learnpulse.agents.local_models`), the question's abbreviations spelt out
    (:func:`spell_out`). Passage embeddings are cached on disk."""

    name = "embedding"

    def __init__(self, passages: Sequence[Passage]) -> None:
        from learnpulse.agents.local_models import embedding_model, embedding_model_path

        self.model = embedding_model()
        texts = [f"{p.source.title}. {p.text}" for p in passages]
        self.matrix = cached_embeddings(self.model, texts, str(embedding_model_path().resolve()))

    def scores(self, query: str) -> np.ndarray:
        vector = self.model.encode([spell_out(query)], normalize_embeddings=True)[0]
        return self.matrix @ vector


def _min_max(scores: np.ndarray) -> np.ndarray:
    """``scores`` rescaled to [0, 1] over the passages (all 0 if they are all equal)."""
    spread = scores.max() - scores.min()
    return (scores - scores.min()) / spread if spread > 0 else np.zeros(len(scores))


class HybridRetriever:
    """BM25 and embeddings: a weighted sum (:data:`HYBRID_BM25_WEIGHT`) of their scores, each
    min-max normalised over the passages.

    Reciprocal rank fusion, used before, left the best passages' scores a few percent apart,
    so the passages' priors (a skill's first section above its others) outweighed relevance;
    normalised scores keep how much better the best passage is. The fused scores are put on
    BM25's scale (the best passage scores BM25's best score), so the answer's confidence reads
    the same, and a question with no word in any passage still finds nothing.
    """

    name = "hybrid"

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.lexical, self.semantic = BM25Retriever(passages), EmbeddingRetriever(passages)

    def scores(self, query: str) -> np.ndarray:
        lexical = self.lexical.scores(query)
        if lexical.max() <= 0:
            return np.zeros(len(lexical))
        semantic = _min_max(self.semantic.scores(query))
        fused = HYBRID_BM25_WEIGHT * _min_max(lexical) + (1 - HYBRID_BM25_WEIGHT) * semantic
        return fused * (lexical.max() / fused.max())


def cached_embeddings(model, texts: list[str], model_id: str) -> np.ndarray:
    """Normalised embeddings of ``texts`` by ``model``, shape (n_texts, dim), from a file named
    by ``model_id`` (where its weights are) and the texts, under
    ``<jupyter data dir>/learnpulse/embeddings`` (encoding the ~500 passages takes seconds;
    reading them back, milliseconds)."""
    import hashlib

    from jupyter_core.paths import jupyter_data_dir

    digest = hashlib.sha256(model_id.encode() + b"\0")
    for text in texts:
        digest.update(text.encode() + b"\0")
    folder = Path(os.environ.get("LEARNPULSE_CACHE_DIR", Path(jupyter_data_dir()) / "learnpulse"))
    path = folder / "embeddings" / f"{digest.hexdigest()[:32]}.npy"
    try:
        matrix = np.load(path)
        if matrix.shape[0] == len(texts):
            return matrix
    except (OSError, ValueError):
        pass
    matrix = model.encode(texts, normalize_embeddings=True, batch_size=EMBEDDING_BATCH)
    try:  # written whole or not at all: another process may read it at the same time
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as partial, open(partial, "wb") as out:
            np.save(out, matrix)
    except OSError:
        pass  # a read-only home: encode again next time
    return matrix


RETRIEVERS = {
    "tfidf": TfidfRetriever,
    "bm25": BM25Retriever,
    "embedding": EmbeddingRetriever,
    "hybrid": HybridRetriever,
}
#: Methods that need the optional embedding model (``learnpulse[local-models]``).
EMBEDDING_METHODS = ("embedding", "hybrid")


@dataclass(frozen=True)
class Hit:
    """A retrieved passage and its score."""

    passage: Passage
    score: float


class Index:
    """Passages plus a retriever; :meth:`search` returns the best passage per source.

    Parameters
    ----------
    passages : sequence of Passage
    method : {"tfidf", "bm25", "embedding", "hybrid"}
    """

    def __init__(self, passages: Sequence[Passage], method: str = DEFAULT_METHOD) -> None:
        if method not in RETRIEVERS:
            raise ValueError(f"unknown retrieval method {method!r}; known: {sorted(RETRIEVERS)}")
        if not passages:
            raise ValueError("cannot build a retrieval index over no passages")
        self.passages = list(passages)
        self.method = method
        self.retriever = RETRIEVERS[method](self.passages)
        self._prior = np.array([p.prior for p in self.passages])
        self._positions: dict[str, list[int]] = {}
        for position, passage in enumerate(self.passages):
            self._positions.setdefault(passage.source.id, []).append(position)

    @cached_property
    def passages_holding(self) -> Mapping[str, int]:
        """How many passages hold each word (:func:`tokenize`'s)."""
        lexical = getattr(self.retriever, "lexical", self.retriever)
        if isinstance(lexical, BM25Retriever):  # counted already
            return lexical.bm25.doc_count
        return Counter(word for p in self.passages for word in set(tokenize(p.indexed_text)))

    def covers(self, question: str) -> bool:
        """Whether the passages are about what ``question`` asks. They are not when at least
        half of its words are in no passage and each of the others, spelling corrected, is in
        at most :data:`RARE_WORD_SHARE` of them: "how do I cook pasta?", "who won the world
        cup?" (a word in a passage or two is a coincidence there). Ranking alone found the
        passages on recursion and on string methods for them, scored like good answers."""
        words = query_tokens(question)
        holding = self.passages_holding
        unknown = [word for word in words if word not in holding]
        if 2 * len(unknown) < len(words) or not words:
            return True
        read = correct_spelling(words, holding, holding)
        return any(holding.get(word, 0) > RARE_WORD_SHARE * len(self.passages) for word in read)

    def search(
        self, query: str, k: int = 3, exclude: Iterable[str] = (), named: Iterable[str] = ()
    ) -> list[Hit]:
        """The ``k`` best passages for ``query``, at most one per source id, best first;
        sources in ``exclude`` and passages scoring 0 are left out. Sources in ``named`` (the
        sections a question asks about) weigh :data:`NAMED_SECTION_BOOST` times more."""
        scores = self.retriever.scores(query) * self._prior
        for source_id in set(named):
            scores[self._positions.get(source_id, [])] *= NAMED_SECTION_BOOST
        excluded = set(exclude)
        hits: list[Hit] = []
        seen: set[str] = set()
        for position in np.argsort(-scores, kind="stable"):
            passage = self.passages[position]
            if scores[position] <= 0 or len(hits) == k:
                break
            if passage.source.id in seen or passage.source.id in excluded:
                continue
            seen.add(passage.source.id)
            hits.append(Hit(passage, float(scores[position])))
        return hits


#: Indexes built so far: (id of the course, method) -> (the course, kept alive so its id is
#: never reused while cached, and its index).
_INDEXES: dict[tuple[int, str], tuple[Course | None, Index]] = {}


def configured_method() -> str:
    """The retrieval method: ``$LEARNPULSE_RETRIEVAL`` if set to a known method, else
    :data:`DEFAULT_METHOD` (an unknown name is logged, and the tutor keeps answering)."""
    method = os.environ.get("LEARNPULSE_RETRIEVAL") or DEFAULT_METHOD
    if method not in RETRIEVERS:
        logging.getLogger(__name__).warning(
            "LEARNPULSE_RETRIEVAL=%r is not a retrieval method (known: %s); using %r",
            method,
            ", ".join(RETRIEVERS),
            DEFAULT_METHOD,
        )
        return DEFAULT_METHOD
    return method


def course_index(course: Course | None, method: str | None = None) -> Index:
    """The (cached) index over ``course``'s passages and the Python reference, by ``method``
    (default: :func:`configured_method`)."""
    method = method or configured_method()
    if method in EMBEDDING_METHODS:
        from learnpulse.agents.local_models import embedding_available

        if not embedding_available():  # the tutor keeps answering, lexically
            logging.getLogger(__name__).warning(
                "retrieval method %r needs the embedding model (learnpulse[local-models]); "
                "using %r",
                method,
                DEFAULT_METHOD,
            )
            method = DEFAULT_METHOD
    key = (id(course), method)
    if key not in _INDEXES:
        own = course_passages(course) if course is not None else []
        _INDEXES[key] = (course, Index([*own, *pydoc_passages()], method))
    return _INDEXES[key][1]


def matches(source_id: str, gold: str) -> bool:
    """Whether a retrieved ``source_id`` is (a part of) the labelled source ``gold``:
    ``course:loops`` matches every section of the loops material."""
    return source_id == gold or source_id.startswith((f"{gold}#", f"{gold}/"))


def recall_at_k(
    index: Index, questions: Sequence[tuple[str, Sequence[str]]], k: int = 3
) -> tuple[float, list[str]]:
    """Share of ``(question, gold sources)`` pairs with a gold source among the top ``k``.

    Returns
    -------
    (float, list of str)
        Recall@k and the questions that missed.
    """
    missed = []
    for question, gold in questions:
        found = [hit.passage.source.id for hit in index.search(question, k)]
        if not any(matches(s, g) for s in found for g in gold):
            missed.append(question)
    return 1 - len(missed) / max(len(questions), 1), missed


#: Retrieval score from which the best passage's skill counts as the skill a message is about.
SKILL_MATCH_SCORE = 10.0
#: Words of skill names too general to name a skill on their own.
GENERIC_SKILL_WORDS = "and or objects calling defining reading writing numbers"


def _first_mention(tokens: list[str], names: set[str], as_code: set[int]) -> int | None:
    """Where ``tokens`` first names one of ``names`` (an everyday keyword only as code)."""
    return next(
        (
            i
            for i, token in enumerate(tokens)
            if token in names and (token not in EVERYDAY_KEYWORDS or i in as_code)
        ),
        None,
    )


def skill_words(skill: Skill) -> tuple[set[str], set[str]]:
    """The tokens naming ``skill``: the words of its id ("dicts"), and those of its name but
    :data:`GENERIC_SKILL_WORDS` ("dictionaries"); never an operator or punctuation (the "/" of
    "if/elif/else")."""
    generic = set(tokenize(GENERIC_SKILL_WORDS))
    by_id = {t for t in tokenize(skill.id.replace("_", " ")) if t[0].isalpha()}
    return by_id, {t for t in tokenize(skill.name) if t[0].isalpha()} - generic


def skills_in(message: str, course: Course | None, *, by_passage: bool = True) -> list[str]:
    """Skills of ``course`` a message names, in order of mention.

    By id ("loops", "dicts", "tuples"), else by a word of the skill's name ("dictionaries",
    "comprehensions"), else (``by_passage``) the skill of the best-matching course passage when
    it matches well; else none. A Python keyword that is an everyday word
    (:data:`EVERYDAY_KEYWORDS`: "a quiz for dictionaries", "let me try") names its skill only
    where the message shows it as code ("if statement", "`for`", "try and except");
    punctuation ("/") never does.

    Parameters
    ----------
    message : str
        The learner's message.
    course : Course or None
        Whose skills may be named (None: no skill is).
    by_passage : bool
        Whether a message naming no skill gets the skill of the passage it finds.

    Returns
    -------
    list of str
        Skill ids, first mentioned first.
    """
    if course is None:
        return []
    tokens = tokenize(message)
    as_code = keywords_as_code(message, tokens)
    words = {skill.id: skill_words(skill) for skill in course.skills.values()}
    for stage in (0, 1):  # by id, then by name
        found = [
            (_first_mention(tokens, names[stage], as_code), skill) for skill, names in words.items()
        ]
        mentioned = sorted((i, skill) for i, skill in found if i is not None)
        if mentioned:
            return list(dict.fromkeys(skill for _, skill in mentioned))
    if not by_passage:
        return []
    hits = [h for h in course_index(course).search(message, 1) if h.passage.skill]
    return [hits[0].passage.skill] if hits and hits[0].score >= SKILL_MATCH_SCORE else []
