"""How the tutor's retrieval reads a question or a passage: the words that carry its topic.

Students write "whats a dict", "how do i make a func", "how does slicing work like xs[1:3]";
the course writes "dictionary", "function" and "slice". :func:`tokenize` brings both to the
same tokens:

- abbreviations programmers use are spelt out (:data:`ABBREVIATIONS`: dict -> dictionary,
  func -> function, str -> string, args -> arguments...), in passages as in questions;
- English stop words and the words of how a question is asked (:data:`QUESTION_WORDS`: "how
  does X work", "what does X mean") are left out; Python keywords that are English words
  ("if", "in", "for") are kept;
- code is read as what it shows: ``xs[1:3]`` also says "slice", ``xs[-1]`` "index", and
  ``KeyError`` also says "key error";
- words are folded by a light stemmer ("loops"/"looping" -> "loop").

:func:`query_tokens` reads a question: an everyday keyword counts only where it is code
("what is a dict?" is about dictionaries, "the in operator" about ``in``), and
:func:`correct_spelling` maps a misspelt word ("dictonary", "excpet") to the indexed word it
is one typo away from. :func:`spell_out` writes the abbreviations of a question in full for
a model that reads whole sentences.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from itertools import pairwise

#: Shortest word the stemmer still shortens, and the shortest stem it leaves.
MIN_STEM = 3
#: Shortest (stemmed) word :func:`correct_spelling` corrects: shorter ones are too often
#: one letter away from another real word.
MIN_CORRECTED = 5
#: Abbreviations of programming words, spelt out before anything else (a student's "dict" is
#: the course's "dictionary"; the course's code writes ``dict`` and ``str`` too).
ABBREVIATIONS = {
    "dict": "dictionary", "dicts": "dictionaries", "func": "function", "funcs": "functions",
    "fn": "function", "str": "string", "strs": "strings", "fstring": "f string",
    "fstrings": "f strings", "int": "integer", "ints": "integers", "bool": "boolean",
    "bools": "booleans", "arg": "argument", "args": "arguments", "param": "parameter",
    "params": "parameters", "var": "variable", "vars": "variables", "lst": "list",
    "comp": "comprehension", "comps": "comprehensions", "listcomp": "list comprehension",
    "listcomps": "list comprehensions", "diff": "difference", "msg": "message",
    "num": "number", "nums": "numbers", "obj": "object", "objs": "objects",
    "attr": "attribute", "attrs": "attributes", "elem": "element", "elems": "elements",
    "char": "character", "chars": "characters", "idx": "index", "init": "__init__",
    "expr": "expression", "exprs": "expressions", "stmt": "statement", "err": "error",
    "exc": "exception", "env": "environment", "temp": "temporary", "tmp": "temporary",
}  # fmt: skip
#: How a question is asked, not what it asks about: these words match passages at random
#: ("work" in "how does slicing work?" found "works with bytes" in the files material).
QUESTION_WORDS = (
    "does doing work works worked working like mean means meaning use uses using used make "
    "makes making way python code thing things stuff whats thats hows wheres explain "
    "explained example examples please pls help difference differences different want need "
    "know happen happens happening"
)
#: Python keywords that are also English stop words: kept, since questions name them ("try
#: and except", "the in operator"); "as" is left out, being mostly English in questions.
KEYWORDS_KEPT = frozenset(
    ["if", "else", "for", "while", "not", "in", "is", "and", "or", "none", "from", "with", "except"]
)
_TOKEN = re.compile(r"[a-z_][a-z0-9_]*|\d+(?:\.\d+)?|//|\*\*|==|!=|<=|>=|:=|<<|>>|[-+*/%<>=]")
_CONTRACTION = re.compile(r"(?<=[a-z])(?:n't|'(?:s|re|ve|ll|d|m))\b")
_SLICE = re.compile(r"\w\[[^\]\s]*:[^\]\s]*\]")
_SUBSCRIPT = re.compile(r"\w\[-?\d+\]")
_CAMEL = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b")
_CAMEL_PART = re.compile(r"[A-Z][a-z]+")
_QUOTED_WORD = re.compile(r"[`'\"](\w+)[`'\"]")
_NAME_AS_CODE = re.compile(r"`([A-Za-z_]\w*)`")
_WORD = re.compile(r"[A-Za-z]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


#: English stop words: the Glasgow Information Retrieval Group's list, as scikit-learn ships
#: it (``sklearn.feature_extraction.text.ENGLISH_STOP_WORDS``, the same 318 words). Copied:
#: importing it took scikit-learn and SciPy into a kernel's first tutor answer (seconds).
_STOP_WORD_LIST = (
    "a about above across after afterwards again against all almost alone along already also "
    "although always am among amongst amoungst amount an and another any anyhow anyone anything "
    "anyway anywhere are around as at back be became because become becomes becoming been before "
    "beforehand behind being below beside besides between beyond bill both bottom but by call can "
    "cannot cant co con could couldnt cry de describe detail do done down due during each eg "
    "eight either eleven else elsewhere empty enough etc even ever every everyone everything "
    "everywhere except few fifteen fifty fill find fire first five for former formerly forty "
    "found four from front full further get give go had has hasnt have he hence her here "
    "hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if in "
    "inc indeed interest into is it its itself keep last latter latterly least less ltd made many "
    "may me meanwhile might mill mine more moreover most mostly move much must my myself name "
    "namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere "
    "of off often on once one only onto or other others otherwise our ours ourselves out over own "
    "part per perhaps please put rather re same see seem seemed seeming seems serious several she "
    "should show side since sincere six sixty so some somehow someone something sometime "
    "sometimes somewhere still such system take ten than that the their them themselves then "
    "thence there thereafter thereby therefore therein thereupon these they thick thin third this "
    "those though three through throughout thru thus to together too top toward towards twelve "
    "twenty two un under until up upon us very via was we well were what whatever when whence "
    "whenever where whereafter whereas whereby wherein whereupon wherever whether which while "
    "whither who whoever whole whom whose why will with within without would yet you your yours "
    "yourself yourselves"
)
ENGLISH_STOP_WORDS = frozenset(_STOP_WORD_LIST.split())
_STOP_WORDS = ENGLISH_STOP_WORDS - KEYWORDS_KEPT


def _stem(word: str) -> str:
    """A light, consistent suffix folding: plural, then -ing/-ed, then a final e
    ("files"/"file" -> "fil", "defining"/"define" -> "defin", "classes"/"class" -> "class")."""
    if len(word) <= MIN_STEM:
        return word
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > MIN_STEM:
        word = word[:-1]
    return word


def word_stems(words: str) -> frozenset[str]:
    """The stems of space-separated ``words``, as :func:`tokenize` folds them (for word
    lists written in code; no stop words are removed)."""
    return frozenset(_stem(word) for word in words.split())


_QUESTION_STEMS = word_stems(QUESTION_WORDS)
#: Python keywords that are also everyday English words ("a quiz for dictionaries", "let me
#: try", "an example for it"): whether they name a topic depends on how they are used.
EVERYDAY_KEYWORDS = word_stems("if else for while not in is and or with from none try except")
#: Everyday keywords that join others ("try and except"): passed over when looking for a
#: keyword's neighbour.
CONNECTIVES = word_stems("and or")
#: Words that, right after an everyday keyword, show it is meant as code ("if statement",
#: "try block", "the in operator").
CODE_CONSTRUCT_WORDS = word_stems(
    "statement statements loop loops block blocks clause clauses keyword operator"
)


def _code_words(text: str) -> str:
    """``text`` with what its code shows said in words: a slice, an index, the words of a
    CamelCase name (``FileNotFoundError`` -> "File Not Found Error"); a name written alone as
    code (`` `and` ``, `` `break` ``) is what the text is about, so it counts twice."""
    text = _NAME_AS_CODE.sub(lambda m: f"{m.group()} {m.group(1)}", text)
    text = _SLICE.sub(lambda m: f"{m.group()} slice ", text)
    text = _SUBSCRIPT.sub(lambda m: f"{m.group()} index ", text)
    return _CAMEL.sub(lambda m: f"{m.group()} {' '.join(_CAMEL_PART.findall(m.group()))}", text)


def _spelt_out(words: list[str]) -> list[str]:
    return [part for word in words for part in ABBREVIATIONS.get(word, word).split()]


def spell_out(text: str) -> str:
    """``text`` with its abbreviations (:data:`ABBREVIATIONS`) written in full, the rest as it
    is: "whats a dict" -> "whats a dictionary" (for a model that reads whole sentences)."""
    return _WORD.sub(lambda m: ABBREVIATIONS.get(m.group().lower(), m.group()), text)


def tokenize(text: str) -> list[str]:
    """The tokens of ``text`` that say what it is about.

    Lower-case words with abbreviations spelt out (:data:`ABBREVIATIONS`), without English
    stop words (Python keywords kept) or question words (:data:`QUESTION_WORDS`), folded by
    :func:`_stem`; operator tokens (``//``, ``==``, ``:=``...) that questions name; "slice",
    "index" and the parts of CamelCase names where code shows them.

    Parameters
    ----------
    text : str
        A question or a passage.

    Returns
    -------
    list of str
        Its tokens, in order.
    """
    text = _code_words(text.replace("\u2019", "'"))
    words = _spelt_out(_TOKEN.findall(_CONTRACTION.sub("", text.lower())))
    stop = _STOP_WORDS
    stems = (_stem(word) if word[0].isalpha() else word for word in words if word not in stop)
    return [stem for stem in stems if stem not in _QUESTION_STEMS]


def keywords_as_code(text: str, tokens: list[str]) -> set[int]:
    """Positions in ``tokens`` (of ``text``) of the everyday keywords used as code, not as
    English: quoted (`` `for` ``, "'if'"), followed by a construct word ("if statement"), or
    next to another keyword ("try and except", "if/else": operators and :data:`CONNECTIVES`
    between are passed over).

    Parameters
    ----------
    text : str
        A message.
    tokens : list of str
        Its tokens (:func:`tokenize`).

    Returns
    -------
    set of int
    """
    quoted = {token for word in _QUOTED_WORD.findall(text) for token in tokenize(word)}
    words = [i for i, token in enumerate(tokens) if token[0].isalnum() or token[0] == "_"]
    following = {i: tokens[j] for i, j in pairwise(words)}
    as_code = {
        i
        for i in words
        if tokens[i] in EVERYDAY_KEYWORDS
        and (tokens[i] in quoted or following.get(i) in CODE_CONSTRUCT_WORDS)
    }
    joined = [i for i in words if tokens[i] not in CONNECTIVES]  # "try [and] except"
    for i, j in pairwise(joined):
        if tokens[i] in EVERYDAY_KEYWORDS and tokens[j] in EVERYDAY_KEYWORDS:
            as_code |= {i, j}
    return as_code


def query_tokens(question: str) -> list[str]:
    """The tokens of ``question`` to look passages up by: :func:`tokenize`'s, but an everyday
    keyword only where it is used as code (:func:`keywords_as_code`; "is" in "what is a
    dict?" is English), unless the question is made of keywords ("and and or").

    Parameters
    ----------
    question : str

    Returns
    -------
    list of str
    """
    tokens = tokenize(question)
    if all(token in EVERYDAY_KEYWORDS for token in tokens):
        return tokens
    as_code = keywords_as_code(question, tokens)
    return [t for i, t in enumerate(tokens) if t not in EVERYDAY_KEYWORDS or i in as_code]


def _one_typo_away(word: str) -> set[str]:
    """Words one deletion, transposition, replacement or insertion away from ``word``
    (Norvig, "How to write a spelling corrector", 2007), except by two changes that make other
    words into the course's more often than they fix a typo: a first letter changed, dropped
    or added (a word's first letter is seldom the misspelt one: "dinner" is not "inner",
    "mount" not "count"), and a last letter dropped that does not repeat the one before it
    ("pasta" is not "past"; "appendd" is "append")."""
    splits = [(word[:i], word[i:]) for i in range(1, len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if len(b) > 1 or a[-1] == b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in [("", word), *splits] if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return deletes | transposes | replaces | inserts


def correct_spelling(
    tokens: list[str], vocabulary: Container[str], frequency: Mapping[str, int]
) -> list[str]:
    """``tokens`` with each word the ``vocabulary`` does not know replaced by its most frequent
    word one typo away ("dictonary" -> "dictionary"), if there is one.

    Parameters
    ----------
    tokens : list of str
        Tokens of a question (:func:`query_tokens`).
    vocabulary : container of str
        The tokens of the indexed passages.
    frequency : mapping of str to int
        How many passages hold each word of the vocabulary: of two words one typo away, the
        commoner is taken.

    Returns
    -------
    list of str
    """
    corrected = []
    for token in tokens:
        if token in vocabulary or len(token) < MIN_CORRECTED or not token.isalpha():
            corrected.append(token)
            continue
        known = [word for word in _one_typo_away(token) if word in vocabulary]
        corrected.append(max(known, key=lambda w: (frequency.get(w, 0), w)) if known else token)
    return corrected
