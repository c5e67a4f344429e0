"""Guardrails: the instructor's per-exercise policy, solution-leak detection, sufficiency check.

Leak detection compares every piece of code in a reply (fenced blocks, inline code, runs of
lines that parse as Python) with the exercise's reference solution by *normalised AST*:
identifiers that are not built-ins become ``_``, constants become their type, docstrings go,
``x += y`` reads as ``x = x + y``.
A reply leaks when its code covers at least :data:`LEAK_COVERAGE` of the solution's
structure (statements matched whole, compound ones partially through their bodies).
Renaming variables or changing numbers does not hide a leak; string equality is never used.
Nor does writing the code in a form a learner can decode (:func:`disguised_code`: base64,
full-width or other compatibility characters, a string with escaped line breaks). Code
translated to another language is not recognised.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from learnpulse.agents.base import Draft

if TYPE_CHECKING:
    from learnpulse.course import Exercise

#: Share of the solution's (normalised) AST nodes that a reply's code may reproduce before it
#: counts as a leak and is redacted.
LEAK_COVERAGE = 0.5
#: Solutions smaller than this many AST nodes are checked for an exact structural match only
#: (a two-node solution such as ``return x`` would otherwise make most code a leak).
MIN_SOLUTION_NODES = 4
#: Messages with fewer content words than this, and no code, error or exercise, are too vague
#: to answer: the tutor asks what the learner tried.
MIN_CONTENT_WORDS = 2
#: A question about one term, which needs no more words.
_TERM_QUESTION = re.compile(
    r"^\W*(what(?: is|'s| are| does)|how (?:do|does)|explain|define)\s+(?:an?\s+|the\s+)?"
    r"(?P<term>[\w.]+)(?:\s+(?:do|work|works|mean|means|for|statement|module|keyword))?\W*$",
    re.I,
)
REDACTED = (
    "[code removed: it reproduces this exercise's reference solution. Try writing it "
    "yourself; ask for a hint if you are stuck.]"
)
ANSWER_HIDDEN = "[answer hidden: work it out, then check it in the exercise]"
#: Stands for a code block of a reply while the learner works on an exercise whose policy
#: turns code off (:func:`withheld_notice` names the exercise).
WITHHELD = "[code example withheld: your instructor turned off code in replies for {exercise}]"
_BUILTIN_NAMES = frozenset(dir(builtins))
_FENCED = re.compile(r"```[\w+-]*\n(.*?)(?:```|\Z)", re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
_QUOTE_MARK = re.compile(r"^[ \t]*>[ \t]?", re.M)
#: Base64 runs long enough to hold a statement (shorter ones are ordinary words and ids).
_BASE64 = re.compile(r"(?<![\w+/=])[A-Za-z0-9+/]{24,}={0,2}(?![\w+/=])")
#: Escapes of a string literal that hide line breaks and quotes in one line of text.
_ESCAPE = re.compile(r"\\([nt\"'\\])")
_UNESCAPED = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
#: A string literal holding an escaped line break (its contents are group 2).
_ESCAPED_STRING = re.compile(r"""(["'])((?:(?!\1)[^\\\n]|\\.)*\\n(?:(?!\1)[^\\\n]|\\.)*)\1""")
#: Where a statement starts after prose on the same line ("Type: def f(x):").
_STATEMENT_START = re.compile(r"\b(?:def|class|for|while|if|with|try|import|from|return)\b")
#: Words that carry no content in a question (fillers, greetings, pronouns, "stuck").
FILLER_WORDS = (
    "a an the i me my it its is are was be to of in on for and or but not no this that what "
    "how why do does did can could would should help please hi hello hey thanks thank you "
    "stuck work working works doesnt dont don't doesn't anything something idea lost get "
    "understand know with just so ok okay"
)
_STOP_WORDS = frozenset(FILLER_WORDS.split())
_SOLUTION_REQUESTS = re.compile(
    r"(give|show|tell|write|send|paste|print)\b.{0,40}\b(code|solution|answer)|"
    r"\b(full|whole|complete|reference|model|correct)\s+(code|solution|answer)|"
    r"\bwhat(?:'s| is| was) the (?:right |real )?(?:answer|solution)\b|"
    r"ignore (all |your |the )?(previous |prior )?(instructions|rules)|"
    r"\bi am (the |your )?(instructor|teacher|professor|admin)|\bi'm (the |your )?"
    r"(instructor|teacher|professor|admin)|do my homework|solve (it|this) for me",
    re.I,
)


class _Normaliser(ast.NodeTransformer):
    """Rename-invariant form: non-built-in identifiers -> ``_``, constants -> their type."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(id=node.id if node.id in _BUILTIN_NAMES else "_", ctx=ast.Load())

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return ast.arg(arg="_")

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant(value=type(node.value).__name__)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.name, node.returns, node.decorator_list = "_", None, []
        node.body = _without_docstring(node.body)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.generic_visit(node)
        node.name = "_"
        node.body = _without_docstring(node.body)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        # ``total += n`` is ``total = total + n``: one form, so that rewriting it hides nothing
        self.generic_visit(node)
        value = ast.BinOp(left=node.target, op=node.op, right=node.value)
        return ast.Assign(targets=[node.target], value=value, type_comment=None)

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        self.generic_visit(node)
        node.arg = "_" if node.arg else None
        return node


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return (body[1:] or [ast.Pass()]) if is_doc else body


#: What parsing a piece of text as Python may raise (RecursionError: nested too deeply).
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


def _parse(code: str) -> ast.Module | None:
    """``code`` parsed; a fragment (an unclosed block, a block body cut from its header) is
    parsed line by line, each line a statement (a block header gets an empty body). Code
    quoted in markdown (lines starting with ``>``, never Python) is read without the marks."""
    code = _QUOTE_MARK.sub("", code)
    try:
        return ast.parse(textwrap.dedent(code))
    except _UNPARSABLE:
        pass
    statements = _line_statements(code)
    return ast.Module(body=statements, type_ignores=[]) if statements else None


def _line_statements(code: str) -> list[ast.stmt]:
    statements: list[ast.stmt] = []
    for line in _QUOTE_MARK.sub("", code).splitlines():
        text = line.strip()
        text = f"{text} pass" if text.endswith(":") else text
        try:
            statements.extend(ast.parse(text).body)
        except _UNPARSABLE:
            continue
    return statements


def _size(node: ast.AST) -> int:
    return sum(1 for _ in ast.walk(node))


def _statements(tree: ast.AST) -> Iterable[ast.stmt]:
    return (n for n in ast.walk(tree) if isinstance(n, ast.stmt))


def _bodies(statement: ast.stmt) -> list[ast.stmt]:
    children: list[ast.stmt] = []
    for name in ("body", "orelse", "finalbody"):
        children.extend(getattr(statement, name, []) or [])
    for handler in getattr(statement, "handlers", []) or []:
        children.extend(handler.body)
    return children


@dataclass(frozen=True)
class Fingerprint:
    """A normalised program: the dump of every statement (all levels) and of every expression."""

    statements: Counter
    expressions: frozenset[str]
    top: tuple[ast.stmt, ...]
    size: int


@lru_cache(maxsize=256)
def fingerprint(code: str) -> Fingerprint | None:
    """The normalised fingerprint of ``code``, or None if it does not parse.

    Code nested too deeply to normalise whole (Python's recursion limit: a 600-deep
    expression beside a solution) is fingerprinted line by line, as a fragment, skipping the
    lines that are themselves too deep: it neither crashes the tutor nor hides the rest.
    """
    tree = _parse(code)
    if tree is None:
        return None
    try:
        return _fingerprint(tree)
    except RecursionError:
        pass
    prints = []
    for statement in _line_statements(code):
        try:
            prints.append(_fingerprint(ast.Module(body=[statement], type_ignores=[])))
        except RecursionError:
            continue
    if not prints:
        return None
    merged = _merge(prints)
    top = tuple(part for one in prints for part in one.top)
    return Fingerprint(merged.statements, merged.expressions, top, sum(p.size for p in prints))


def _fingerprint(tree: ast.Module) -> Fingerprint:
    tree = _Normaliser().visit(tree)
    # Functions are compared by their bodies: the signature is given in the exercise prompt.
    top = [
        part
        for statement in tree.body
        for part in (
            statement.body
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
            else [statement]
        )
    ]
    statements = Counter(ast.dump(s) for s in _statements(tree))
    expressions = frozenset(
        ast.dump(n) for n in ast.walk(tree) if isinstance(n, ast.expr) and _size(n) > 2
    )
    return Fingerprint(statements, expressions, tuple(top), sum(_size(s) for s in top))


def _covered(statement: ast.stmt, candidate: Fingerprint) -> int:
    """AST nodes of ``statement`` found in ``candidate`` (whole, else through its bodies)."""
    if candidate.statements[ast.dump(statement)]:
        return _size(statement)
    return sum(_covered(child, candidate) for child in _bodies(statement))


def _merge(prints: Iterable[Fingerprint]) -> Fingerprint:
    statements: Counter = Counter()
    expressions: set[str] = set()
    for one in prints:
        statements.update(one.statements)
        expressions |= one.expressions
    return Fingerprint(statements, frozenset(expressions), (), 0)


def coverage(candidate_code: str | Sequence[str], solution_code: str) -> float:
    """Share (0..1) of the solution's normalised structure that the candidate code reproduces.

    ``candidate_code`` may be several pieces (the code blocks of one reply): together they
    count, so a solution split over two blocks is still found.
    """
    pieces = [candidate_code] if isinstance(candidate_code, str) else list(candidate_code)
    solution = fingerprint(solution_code)
    prints = [p for p in map(fingerprint, pieces) if p is not None]
    if solution is None or not prints or solution.size == 0:
        return 0.0
    candidate = _merge(prints)
    covered = sum(_covered(s, candidate) for s in solution.top)
    if solution.size < MIN_SOLUTION_NODES:
        return 1.0 if covered == solution.size else 0.0
    # A lone expression (e.g. an inline ``sum(x) / len(x)``) counts when it is the solution's.
    if covered == 0 and len(solution.top) == 1 and isinstance(solution.top[0], ast.Return):
        value = solution.top[0].value
        if value is not None and ast.dump(value) in candidate.expressions:
            covered = _size(value)
    return covered / solution.size


def code_segments(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, code)`` of the code in a reply: fenced blocks, inline code, and runs of
    at least two consecutive lines that parse as Python outside fences (an LLM's bare code)."""
    segments = [(m.start(), m.end(), m.group(1)) for m in _FENCED.finditer(text)]
    fenced = [(s, e) for s, e, _ in segments]

    def outside(position: int) -> bool:
        return all(not s <= position < e for s, e in fenced)

    segments += [
        (m.start(), m.end(), m.group(1)) for m in _INLINE.finditer(text) if outside(m.start())
    ]
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and outside(offsets[end]) and _looks_like_code(lines[end]):
            end += 1
        code = _code_from(textwrap.dedent("".join(lines[start:end])))
        if end - start >= 2 and code is not None:
            segments.append((offsets[start], offsets[end], code))
        start = max(end, start + 1)
    return segments


def _code_from(chunk: str) -> str | None:
    """``chunk`` as code (None: not Python). Prose before the statement on its first line
    ("Type: def f(x):") is cut off, else the whole block would be read line by line."""
    try:
        ast.parse(chunk)
        return chunk
    except _UNPARSABLE:
        pass
    first, newline, rest = chunk.partition("\n")
    start = _STATEMENT_START.search(first)
    if start is not None and start.start() > 0:
        trimmed = first[start.start() :] + newline + rest
        try:
            ast.parse(trimmed)
            return trimmed
        except _UNPARSABLE:
            pass
    return chunk if _parse(chunk) is not None else None


def disguised_code(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, decoded)`` for the parts of ``text`` that a learner can decode into code.

    Base64 runs (decoded when they are UTF-8 text), and the whole text when it reads
    differently in compatibility form (NFKC: full-width ``ｒｅｔｕｒｎ`` is ``return``) or with
    a string literal's escapes undone (``"def f(x):\\n    return x"``, in quotes or not).
    """
    views = []
    for match in _BASE64.finditer(text):
        run = match.group()
        try:
            decoded = base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
        views.append((match.start(), match.end(), decoded))
    for match in _ESCAPED_STRING.finditer(text):
        views.append((match.start(), match.end(), _unescape(match.group(2))))
    for decoded in (unicodedata.normalize("NFKC", text), _unescape(text)):
        if decoded != text:
            views.append((0, len(text), decoded))
    return views


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda match: _UNESCAPED[match.group(1)], text)


def _looks_like_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and bool(re.search(r"[=():\[\]]|^(return|pass|break)\b", stripped))


class ReplyGuard:
    """Redacts solution leaks (and, by policy, code) from a reply, whole or as it streams.

    :meth:`feed` takes chunks and returns the text that is safe to show so far: whole
    paragraphs, and code blocks only once closed, each checked together with the code already
    let through (a solution split over several blocks is still caught). :meth:`close` returns
    the rest.

    Parameters
    ----------
    solutions : sequence of str
        Reference solutions the reply must not reproduce.
    withhold : bool
        Remove every fenced code block not quoting ``allowed_code`` (policy ``show_code`` off).
    withheld : str
        What stands for a removed block (:func:`withheld_notice`).
    allowed_code : sequence of str
        The learner's own code, which a reply may quote (it is never a leak).
    answers : sequence of re.Pattern
        The expected answer of a numeric, choice or text exercise (:func:`answer_patterns`):
        hidden wherever it appears.
    """

    def __init__(
        self,
        solutions: Sequence[str],
        *,
        withhold: bool = False,
        withheld: str = WITHHELD.format(exercise="this exercise"),
        allowed_code: Sequence[str] = (),
        answers: Sequence[re.Pattern] = (),
    ) -> None:
        self.solutions = [s for s in solutions if s and s.strip()]
        self.withhold, self.withheld = withhold, withheld
        self.allowed_code = list(allowed_code)
        self.answers = list(answers)
        self.redactions = 0
        self._pending = ""
        self._kept: list[str] = []
        self._released = ""

    def feed(self, chunk: str) -> str:
        self._pending += chunk
        cut = _safe_cut(self._pending)
        if cut <= 0:
            return ""
        part, self._pending = self._pending[:cut], self._pending[cut:]
        return self._guard(part)

    def close(self) -> str:
        part, self._pending = self._pending, ""
        return self._guard(part) if part else ""

    def _guard(self, part: str) -> str:
        if self.withhold:
            part, withheld = withhold_code(part, self.allowed_code, self.withheld)
            self.redactions += withheld
        leaks = []
        own = "\n".join(self.allowed_code)
        for start, end, code in code_segments(part):
            if code.strip() and code.strip() in own:
                continue
            if self._leaks([*self._kept, code]):
                leaks.append((start, end))
            else:
                self._kept.append(code)
        part = _replace(part, leaks, REDACTED)
        self.redactions += len(leaks)
        # Unfenced code mixed with prose may never parse line by line: check all the text too.
        if self._leaks([self._released + part]):
            part = REDACTED
            self.redactions += 1
        disguised = [
            (start, end)
            for start, end, decoded in disguised_code(part)
            if self._leaks([*self._kept, decoded, *(c for _, _, c in code_segments(decoded))])
        ]
        part = _replace(part, disguised, REDACTED)
        self.redactions += len(disguised)
        for pattern in self.answers:
            part, hidden = pattern.subn(ANSWER_HIDDEN, part)
            self.redactions += hidden
        self._released += part
        return part

    def _leaks(self, code: list[str]) -> bool:
        return any(coverage(code, solution) >= LEAK_COVERAGE for solution in self.solutions)


def _safe_cut(text: str) -> int:
    """End of the last complete paragraph of ``text`` outside any open code fence (0: none)."""
    cut = 0
    for match in re.finditer(r"\n\s*\n", text):
        if text.count("```", 0, match.start()) % 2 == 0:
            cut = match.end()
    return cut


def redact_leaks(text: str, solutions: Sequence[str]) -> tuple[str, int]:
    """``text`` with the code that reproduces any of ``solutions`` replaced by a notice.

    Returns
    -------
    (str, int)
        The safe text and how many segments were redacted.
    """
    guard = ReplyGuard(solutions)
    safe = guard.feed(text) + guard.close()
    return safe, guard.redactions


def withhold_code(
    text: str, allowed: Iterable[str] = (), notice: str = WITHHELD.format(exercise="this exercise")
) -> tuple[str, int]:
    """``text`` with ``notice`` for its fenced code blocks, except those quoting ``allowed``
    code (the learner's own). For exercises whose policy forbids code in replies."""
    own = "\n".join(allowed)
    blocks = [(m.start(), m.end()) for m in _FENCED.finditer(text) if m.group(1).strip() not in own]
    return _replace(text, blocks, notice), len(blocks)


def withheld_notice(exercise: Exercise) -> str:
    """What stands for the code a reply may not show while the learner works on
    ``exercise``: it names the exercise, which a question in the chat need not mention."""
    return WITHHELD.format(exercise=f"'{exercise.title}' ({exercise.id}) until you solve it")


def _replace(text: str, spans: list[tuple[int, int]], notice: str) -> str:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        text = text[:start] + notice + text[end:]
    return text


def asks_for_solution(message: str) -> bool:
    """Whether ``message`` asks for the answer or tries to talk the tutor out of its rules."""
    return bool(_SOLUTION_REQUESTS.search(message))


def content_words(message: str) -> list[str]:
    """The words of ``message`` that carry meaning (stop words and fillers removed)."""
    words = re.findall(r"[a-zA-Z_][a-zA-Z_']+", message.lower())
    return [w for w in words if w not in _STOP_WORDS and len(w) > 1]


def too_vague(message: str, *, has_code: bool, has_error: bool, has_exercise: bool) -> bool:
    """Whether the tutor should ask what the learner tried before answering: too few content
    words, unless it asks what one term is ("what is pdb?", "what does nonlocal do?", "how do
    decorators work?" were asked what was tried)."""
    if has_code or has_error:
        return False
    few = len(content_words(message)) < MIN_CONTENT_WORDS
    term = _TERM_QUESTION.match(message)
    named = term is not None and bool(content_words(term.group("term")))
    return few and not has_exercise and not named


def tell_me_more() -> Draft:
    """The reply to a question too vague to answer: what the learner works on and tried."""
    return Draft(
        "Happy to help! Tell me a bit more so I can: what are you working on, what did you "
        "try, and what happened (the error message or the output you got)?",
        (),
        0.2,
        ("Explain my last error", "Review my code", "Show me the course topics"),
        payload={"sufficiency": "asked what the learner tried"},
    )


def answer_patterns(exercise: Exercise) -> list[re.Pattern]:
    """Patterns of the expected answer of a numeric, choice or text exercise, as it could be
    written in a reply (``8`` and ``8.0``; a choice's text; each accepted string), matched as a
    whole token. None for code exercises (their leaks are found by AST)."""
    if exercise.type == "code" or exercise.answer is None:
        return []
    values = exercise.answer if isinstance(exercise.answer, tuple | list) else (exercise.answer,)
    numbers: set[str] = set()
    texts: set[str] = set()
    for value in values:
        if exercise.type == "choice" and isinstance(value, int) and not isinstance(value, bool):
            value = exercise.choices[value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            numbers |= {f"{value:g}", str(float(value)), str(value)}
        elif str(value).strip():
            texts.add(str(value).strip())
    # A number is not part of a longer one (8 in 18 or 0.8); a text is a whole word or phrase.
    number = [rf"(?<![\w.]){re.escape(n)}(?!\w|\.\d)" for n in numbers]
    text = [rf"(?<!\w){re.escape(t)}(?!\w)" for t in texts]
    return [re.compile(p, re.I) for p in sorted([*number, *text], key=len, reverse=True)]
