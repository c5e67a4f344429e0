"""Static review of a learner's code: pyflakes plus ast checks, each finding with why and a hint.

The review never rewrites the learner's code: every finding names the line, says why it
matters and gives a hint to act on.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pyflakes import checker as pyflakes_checker

#: Cyclomatic complexity (1 + decision points) above which a function is "needlessly complex".
COMPLEXITY_LIMIT = 10
#: Deepest nesting of blocks (if/for/while/with/try) before the review suggests flattening.
NESTING_LIMIT = 4
#: Names PEP 8 advises against: easily confused with 1 and 0.
AMBIGUOUS_NAMES = frozenset({"l", "O", "I"})
#: Built-ins a learner's variable should not hide (the rest are rarely used as names).
SHADOWABLE_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_") and n.islower())
_SNAKE = re.compile(r"^_{0,2}[a-z][a-z0-9_]*$|^_$")
_CAPWORDS = re.compile(r"^_?[A-Z][A-Za-z0-9]*$")
_BLOCKS = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.AsyncFor, ast.AsyncWith)
_DECISIONS = (ast.If, ast.For, ast.While, ast.IfExp, ast.ExceptHandler, ast.comprehension)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


@dataclass(frozen=True)
class Finding:
    """One review comment.

    Parameters
    ----------
    line : int
        1-based line in the reviewed code.
    check : str
        Short id: ``undefined-name``, ``unused-variable``, ``shadowed-builtin``,
        ``mutable-default``, ``bare-except``, ``complexity``, ``nesting``, ``naming``,
        ``bool-return``, ``compare-singleton``, ``return-in-loop``, ``unused-import``,
        ``pyflakes``.
    message : str
        What the problem is, naming the offending name.
    why : str
        Why it matters.
    hint : str
        What to try (never the corrected code).
    """

    line: int
    check: str
    message: str
    why: str
    hint: str


_PYFLAKES = {
    "UndefinedName": (
        "undefined-name",
        "Running this line raises NameError.",
        "Check the spelling, and that the cell defining it has run.",
    ),
    "UnusedImport": (
        "unused-import",
        "Unused imports make readers look for code that is not there.",
        "Remove the import if nothing needs it.",
    ),
    "UnusedVariable": (
        "unused-variable",
        "A value computed and never used is often a sign that a result was forgotten.",
        "Either use the value (return or print it?) or do not compute it.",
    ),
    "RedefinedWhileUnused": (
        "redefined",
        "The first definition is thrown away before anything uses it.",
        "Give the two things different names, or remove the first.",
    ),
}


def _pyflakes(tree: ast.Module, known: set[str]) -> Iterable[Finding]:
    for message in pyflakes_checker.Checker(tree, filename="<code>").messages:
        kind = type(message).__name__
        text = message.message % message.message_args
        if kind == "UndefinedName" and message.message_args[0] in known:
            continue
        check, why, hint = _PYFLAKES.get(kind, ("pyflakes", "pyflakes flags this.", "Look."))
        yield Finding(message.lineno, check, text, why, hint)


def _bound_names(tree: ast.AST) -> Iterable[tuple[int, str, str]]:
    """``(line, name, role)`` of every name the code binds (variable, argument, function...)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.lineno, node.id, "variable"
        elif isinstance(node, ast.arg):
            yield node.lineno, node.arg, "parameter"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.lineno, node.name, "function"
        elif isinstance(node, ast.ClassDef):
            yield node.lineno, node.name, "class"


def _names(tree: ast.AST) -> Iterable[Finding]:
    seen: set[tuple[str, str]] = set()
    for line, name, role in _bound_names(tree):
        if (name, role) in seen:
            continue
        seen.add((name, role))
        if name in SHADOWABLE_BUILTINS:
            yield Finding(
                line,
                "shadowed-builtin",
                f"The {role} `{name}` hides Python's built-in `{name}()`.",
                f"After this line, calling `{name}(...)` uses your value instead of the "
                "built-in, which fails later with a confusing TypeError.",
                "Choose a more specific name that says what the value holds.",
            )
        elif name in AMBIGUOUS_NAMES:
            yield Finding(
                line,
                "naming",
                f"The {role} name `{name}` is easily confused with 1 or 0.",
                "PEP 8 advises against `l`, `O` and `I` as names.",
                "Use a descriptive name.",
            )
        elif role == "class" and not _CAPWORDS.match(name):
            yield Finding(
                line,
                "naming",
                f"The class `{name}` is not in CapWords.",
                "PEP 8 names classes in CapWords so readers tell classes from functions.",
                "Rename it in CapWords style.",
            )
        elif role != "class" and not _SNAKE.match(name) and not name.isupper():
            yield Finding(
                line,
                "naming",
                f"The {role} `{name}` is not in lower_case_with_underscores.",
                "PEP 8 style makes code read like the rest of Python.",
                "Rename it in snake_case.",
            )


def _mutable_defaults(tree: ast.AST) -> Iterable[Finding]:
    mutable = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for default in [*node.args.defaults, *filter(None, node.args.kw_defaults)]:
            is_call = isinstance(default, ast.Call) and ast.unparse(default.func) in {
                "list",
                "dict",
                "set",
            }
            if isinstance(default, mutable) or is_call:
                yield Finding(
                    default.lineno,
                    "mutable-default",
                    f"`{node.name}` has the mutable default `{ast.unparse(default)}`.",
                    "The default is created once, when the function is defined, and shared by "
                    "every call: changes made in one call show up in the next.",
                    "Use `None` as the default and create the new object inside the function.",
                )


def _excepts(tree: ast.AST) -> Iterable[Finding]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.ExceptHandler):
            continue
        if node.type is None:
            yield Finding(
                node.lineno,
                "bare-except",
                "A bare `except:` catches every exception.",
                "It also catches typos (NameError), Ctrl+C and bugs you want to see, and "
                "hides them.",
                "Catch only the exception you expect, e.g. `except ValueError:`.",
            )
        elif all(isinstance(s, ast.Pass) for s in node.body):
            yield Finding(
                node.lineno,
                "silenced-exception",
                f"`except {ast.unparse(node.type)}: pass` silently ignores the error.",
                "When something goes wrong you will get a wrong result and no clue why.",
                "Handle the error (a message, a default value) or let it propagate.",
            )


def _depth(node: ast.AST, level: int = 0) -> int:
    inner = level + 1 if isinstance(node, _BLOCKS) else level
    return max([inner, *(_depth(child, inner) for child in ast.iter_child_nodes(node))])


def _complexity(tree: ast.AST) -> Iterable[Finding]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decisions = sum(isinstance(n, _DECISIONS) for n in ast.walk(node))
        decisions += sum(len(n.values) - 1 for n in ast.walk(node) if isinstance(n, ast.BoolOp))
        if decisions + 1 > COMPLEXITY_LIMIT:
            yield Finding(
                node.lineno,
                "complexity",
                f"`{node.name}` has {decisions + 1} paths through it (limit {COMPLEXITY_LIMIT}).",
                "Each branch is a case to test and to keep in your head while reading.",
                "Split it into smaller functions, or replace chains of `if` by a lookup.",
            )
        depth = _depth(node)
        if depth > NESTING_LIMIT:
            yield Finding(
                node.lineno,
                "nesting",
                f"`{node.name}` nests blocks {depth} levels deep (limit {NESTING_LIMIT}).",
                "Deeply nested code is hard to follow and hides which case you are in.",
                "Return early for the special cases, or move the inner loop into a function.",
            )


def _idioms(tree: ast.AST) -> Iterable[Finding]:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and len(node.body) == 1 and len(node.orelse) == 1:
            returns = [node.body[0], node.orelse[0]]
            values = [r.value for r in returns if isinstance(r, ast.Return)]
            if len(values) == 2 and all(
                isinstance(v, ast.Constant) and isinstance(v.value, bool) for v in values
            ):
                yield Finding(
                    node.lineno,
                    "bool-return",
                    "The `if` returns `True` in one branch and `False` in the other.",
                    "The condition already is `True` or `False`.",
                    "Think about what the condition itself evaluates to.",
                )
        if isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=True):
                singleton = isinstance(right, ast.Constant) and right.value in (None, True, False)
                if singleton and isinstance(op, ast.Eq | ast.NotEq):
                    yield Finding(
                        node.lineno,
                        "compare-singleton",
                        f"`{ast.unparse(node)}` compares with `==` to `{right.value}`.",
                        "`None` is compared by identity; comparing to True/False is redundant.",
                        "Use `is None` / `is not None`, or the value itself as the condition.",
                    )


def _loop_header(loop: ast.For | ast.AsyncFor | ast.While) -> str:
    """The loop's first line as written, e.g. ``for n in numbers:``."""
    if isinstance(loop, ast.While):
        return f"while {ast.unparse(loop.test)}:"
    keyword = "async for" if isinstance(loop, ast.AsyncFor) else "for"
    return f"{keyword} {ast.unparse(loop.target)} in {ast.unparse(loop.iter)}:"


def _continues(statements: list[ast.stmt]) -> bool:
    """Whether ``statements`` hold a ``continue`` of their own loop (not of a nested loop or
    function)."""
    pending: list[ast.AST] = list(statements)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Continue):
            return True
        if not isinstance(node, (*_LOOPS, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pending.extend(ast.iter_child_nodes(node))
        elif isinstance(node, _LOOPS):
            pending.extend(node.orelse)  # a loop's else belongs to the enclosing loop
    return False


def _returns_in_loops(tree: ast.AST) -> Iterable[Finding]:
    """A ``return`` straight in a loop's body, after other work, ends the function the first
    time the body runs (the accumulator's ``return`` indented into the loop).

    Not flagged: a ``return`` under an ``if`` (an early return: ``if x == target: return
    True``), one after a ``continue`` that lets later passes reach it (``if not x: continue``),
    and one opening the body (``for x in xs: return x`` deliberately takes the first item).
    """
    for loop in ast.walk(tree):
        if not isinstance(loop, _LOOPS):
            continue
        position, statement = next(
            ((i, s) for i, s in enumerate(loop.body) if isinstance(s, ast.Return)), (0, None)
        )
        if statement is None or position == 0 or _continues(loop.body[:position]):
            continue
        used = (
            "the loop never repeats"
            if isinstance(loop, ast.While)
            else f"only the first item of `{ast.unparse(loop.iter)}` is ever used"
        )
        yield Finding(
            statement.lineno,
            "return-in-loop",
            f"This `return` is inside the loop `{_loop_header(loop)}` (line {loop.lineno}), so "
            "the loop stops after running its body once.",
            f"`return` ends the whole function at once, and this one runs the first time the "
            f"loop body runs: {used}.",
            "Decide whether the function should return in the middle of the loop or once the "
            "loop has finished. The indentation of a line says which block it belongs to.",
        )


def review_code(code: str, known_names: Iterable[str] = ()) -> list[Finding]:
    """Review ``code``; findings sorted by line.

    Parameters
    ----------
    code : str
        Python source (a cell or a function).
    known_names : iterable of str
        Names defined elsewhere (e.g. the notebook's namespace): not reported as undefined.

    Raises
    ------
    SyntaxError
        If ``code`` does not parse (the error explainer handles it).
    RecursionError
        If ``code`` is nested too deeply to parse or analyse (Python's recursion limit).
    """
    tree = ast.parse(code)
    known = set(known_names)
    checks = (_pyflakes(tree, known), _names(tree), _mutable_defaults(tree), _excepts(tree))
    more = (_complexity(tree), _idioms(tree), _returns_in_loops(tree))
    found = [f for check in (*checks, *more) for f in check]
    return sorted(set(found), key=lambda f: (f.line, f.check, f.message))


def format_findings(findings: list[Finding]) -> str:
    """Findings as a markdown list (what, why, hint per line)."""
    if not findings:
        return (
            "I found nothing to flag: no undefined or unused names, shadowed built-ins, "
            "mutable defaults, bare excepts, loops that return on their first pass or "
            "needlessly complex functions."
        )
    lines = [f"I found {len(findings)} thing(s) worth a look:\n"]
    for finding in findings:
        lines.append(
            f"- **Line {finding.line}** ({finding.check}): {finding.message}\n"
            f"  *Why it matters:* {finding.why}\n  *Hint:* {finding.hint}"
        )
    return "\n".join(lines)
