"""Rules on how a code answer is written: constructs and names it must use or must not use.

A code exercise may list ``required`` and ``forbidden`` rules. Each rule is a construct of
:data:`CONSTRUCTS` (``"for"``, ``"while"``, ``"loop"``, ``"recursion"``...), an operator of
:data:`OPERATORS` (``"**"``...) or a Python name: a built-in (``"sum"``), a module
(``"math"``) or a method (``"sort"``). Rules are checked on the code's syntax tree
(:mod:`ast`), never by searching its text: ``sum`` in a comment, a string or a variable of the
student's own called ``sum`` breaks no rule. They check how an honest answer is written; they
are no sandbox (``getattr(builtins, "sum")`` is not caught).

A name rule matches the name used as a value or call (``sum(xs)``, ``f = sum``), as an
attribute or method (``xs.sort()``) and in imports (``import math``, ``from math import
sqrt``).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import inspect
import keyword
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from learnpulse.course.model import Exercise

#: Most functions and classes of the student's notebook read to follow the helpers an answer
#: calls (a helper may use what the exercise forbids).
MAX_HELPERS = 20
#: How close (difflib ratio) an unknown word must be to a construct to be called its misspelling.
CONSTRUCT_TYPO_RATIO = 0.75
#: Exception classes whose ``except`` catches (nearly) everything.
CATCH_ALL_NAMES = frozenset({"Exception", "BaseException"})

#: ``find(nodes)`` yields those of ``nodes`` (every node of a tree) using a construct.
Finder = Callable[[list[ast.AST]], Iterator[ast.AST]]


@dataclass(frozen=True)
class Construct:
    """A construct a rule can name.

    Parameters
    ----------
    description : str
        How feedback names it, e.g. "a for loop".
    find : callable
        ``find(nodes)`` yields the nodes (of every node of a tree) where the construct is used.
    """

    description: str
    find: Finder


@dataclass(frozen=True)
class Piece:
    """Part of a student's code: its syntax tree and where it came from.

    ``label`` is None for the code as submitted (its line numbers are the student's), else the
    name of the notebook function or class it is the source of.
    """

    tree: ast.Module
    label: str | None = None

    @functools.cached_property
    def nodes(self) -> list[ast.AST]:
        """Every node of the tree (walked once: each rule looks at them all)."""
        return list(ast.walk(self.tree))

    @functools.cached_property
    def called(self) -> set[int]:
        """``id`` of every node that is called (``f`` in ``f(x)``, ``xs.sort`` in ``xs.sort()``)."""
        return {id(node.func) for node in self.nodes if isinstance(node, ast.Call)}


@dataclass(frozen=True)
class BrokenRule:
    """A rule the code breaks.

    Attributes
    ----------
    rule : str
        The rule as the exercise lists it, e.g. ``"sum"``.
    kind : {"forbidden", "required"}
    phrase : str
        What the exercise asks, to follow "This exercise asks you ...", e.g. "not to use the
        built-in sum() (line 2)" or "to use a for loop".
    line : int or None
        Line of the first offending use (in the submitted code), None for a missing construct.
    """

    rule: str
    kind: str
    phrase: str
    line: int | None = None


def _of_types(*types: type[ast.AST]) -> Finder:
    return lambda nodes: (node for node in nodes if isinstance(node, types))


def _operator(operator: type[ast.operator]) -> Finder:
    def find(nodes: list[ast.AST]) -> Iterator[ast.AST]:
        for node in nodes:
            if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, operator):
                yield node

    return find


def _catch_all(nodes: list[ast.AST]) -> Iterator[ast.AST]:
    """``except:``, ``except Exception:``, ``except (ValueError, BaseException):``..."""
    for node in nodes:
        if not isinstance(node, ast.ExceptHandler):
            continue
        kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        if any(k is None or (isinstance(k, ast.Name) and k.id in CATCH_ALL_NAMES) for k in kinds):
            yield node


_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _own_calls(function: ast.AST) -> Iterator[tuple[str, ast.Call]]:
    """``(callee name, call)`` for calls in ``function``'s body, not in nested functions.

    ``f(...)`` calls ``f``; ``self.f(...)`` and ``cls.f(...)`` call the method ``f``.
    """
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (*_FUNCTION_NODES, ast.ClassDef)):
            continue  # its calls are its own
        if isinstance(node, ast.Call):
            called = node.func
            if isinstance(called, ast.Name):
                yield called.id, node
            elif (
                isinstance(called, ast.Attribute)
                and isinstance(called.value, ast.Name)
                and called.value.id in ("self", "cls")
            ):
                yield called.attr, node
        stack.extend(ast.iter_child_nodes(node))


def _functions(nodes: list[ast.AST]) -> Iterator[tuple[str, ast.AST]]:
    """``(name, node)`` of every function: defs, and lambdas assigned to one name."""
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value


def _recursion(nodes: list[ast.AST]) -> Iterator[ast.AST]:
    """Calls that close a cycle: a function calling itself, directly or through others."""
    calls: dict[str, list[tuple[str, ast.Call]]] = {}
    for name, function in _functions(nodes):
        calls.setdefault(name, []).extend(_own_calls(function))

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                stack.extend(callee for callee, _ in calls.get(current, ()) if callee in calls)
        return False

    for name, own in calls.items():
        for callee, call in own:
            if callee in calls and reaches(callee, name):
                yield call


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

#: The constructs a rule can name, and what each means.
CONSTRUCTS: dict[str, Construct] = {
    "for": Construct("a for loop", _of_types(ast.For, ast.AsyncFor)),
    "while": Construct("a while loop", _of_types(ast.While)),
    "loop": Construct(
        "a loop (for, while or a comprehension)",
        _of_types(ast.For, ast.AsyncFor, ast.While, *_COMPREHENSIONS),
    ),
    "recursion": Construct("recursion (a function that calls itself)", _recursion),
    "comprehension": Construct(
        "a comprehension (list, set, dict or generator)", _of_types(*_COMPREHENSIONS)
    ),
    "list_comprehension": Construct("a list comprehension", _of_types(ast.ListComp)),
    "dict_comprehension": Construct("a dict comprehension", _of_types(ast.DictComp)),
    "if": Construct("an if (statement, or `x if condition else y`)", _of_types(ast.If, ast.IfExp)),
    "try": Construct("try/except", _of_types(ast.Try, getattr(ast, "TryStar", ast.Try))),
    "lambda": Construct("a lambda", _of_types(ast.Lambda)),
    "import": Construct("an import", _of_types(ast.Import, ast.ImportFrom)),
    "catch_all": Construct(
        "an except that catches every exception (a bare `except:` or `except Exception:`)",
        _catch_all,
    ),
}
#: Arithmetic operators a rule can name (as ``a ** b`` or ``a **= b``).
OPERATORS: dict[str, type[ast.operator]] = {
    "+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div,
    "//": ast.FloorDiv, "%": ast.Mod, "**": ast.Pow,
}  # fmt: skip
for _symbol, _operator_type in OPERATORS.items():
    CONSTRUCTS[_symbol] = Construct(f"the {_symbol} operator", _operator(_operator_type))

_BUILTINS = frozenset(dir(builtins))
_MODULES = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


def rule_problem(rule: Any) -> str | None:
    """Why ``rule`` is no valid rule (for the course validation), or None if it is one."""
    if not isinstance(rule, str):
        return f"each rule must be a string (a construct or a name), got {rule!r}"
    if rule in CONSTRUCTS:
        return None
    constructs = ", ".join(repr(c) for c in CONSTRUCTS)
    if rule.endswith("()") and rule[:-2].isidentifier():
        return f"give the name without brackets: {rule[:-2]!r}, not {rule!r}"
    parts = rule.split(".")
    if len(parts) > 1 and all(p.isidentifier() for p in parts):
        return (
            f"give one name, not {rule!r}: {parts[-1]!r} (any use of .{parts[-1]}) or "
            f"{parts[0]!r} (the module)"
        )
    typo = difflib.get_close_matches(rule, CONSTRUCTS, n=1, cutoff=CONSTRUCT_TYPO_RATIO)
    known_name = rule in _BUILTINS or rule in _MODULES
    if keyword.iskeyword(rule) or not rule.isidentifier() or (typo and not known_name):
        hint = f" (did you mean {typo[0]!r}?)" if typo else ""
        return (
            f"unknown construct {rule!r}{hint}: a rule is one of {constructs}, or a Python name "
            "such as 'sum' or 'math'"
        )
    return None


def _describe_name(name: str) -> str:
    """How feedback names ``name`` when it is not seen in the code."""
    if name in _BUILTINS:
        return f"the built-in {name}()" if callable(getattr(builtins, name)) else name
    if name in _MODULES:
        return f"the {name} module"
    return f"`{name}`"


def _bound_names(pieces: list[Piece]) -> set[str]:
    """Names the student's code defines: its variables, parameters, functions and classes."""
    bound: set[str] = set()
    for piece in pieces:
        for node in piece.nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
    return bound


def _name_uses(piece: Piece, name: str, own: set[str]) -> Iterator[tuple[ast.AST, str]]:
    """``(node, description)`` of each use of ``name`` (not a name the student defined)."""
    for node in piece.nodes:
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == name for alias in node.names):
                yield node, f"the {name} module"
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] == name:
                yield node, f"the {name} module"
            elif any(alias.name == name for alias in node.names):
                yield node, _describe_name(name)
        elif name in own or not isinstance(getattr(node, "ctx", None), ast.Load):
            continue
        elif isinstance(node, ast.Name) and node.id == name:
            yield node, _describe_name(name)
        elif isinstance(node, ast.Attribute) and node.attr == name:
            yield node, f"the method .{name}()" if id(node) in piece.called else f"`.{name}`"


def _uses(pieces: list[Piece], rule: str, own: set[str]) -> Iterator[tuple[Piece, ast.AST, str]]:
    """``(piece, node, description)`` of each use of what ``rule`` names, in code order."""
    for piece in pieces:
        if rule in CONSTRUCTS:
            construct = CONSTRUCTS[rule]
            found = ((node, construct.description) for node in construct.find(piece.nodes))
        else:
            found = _name_uses(piece, rule, own)
        ordered = sorted(found, key=lambda pair: getattr(pair[0], "lineno", 0))
        yield from ((piece, node, description) for node, description in ordered)


def describe_rule(rule: str) -> str:
    """What ``rule`` names, for feedback: "a for loop", "the built-in sum()"."""
    return CONSTRUCTS[rule].description if rule in CONSTRUCTS else _describe_name(rule)


def _located(description: str, where: str) -> str:
    """``"the built-in sum() (line 2)"``; ``"a loop (for, while...; line 3)"``."""
    if not where:
        return description
    if description.endswith(")") and not description.endswith("()"):  # a parenthesis of its own
        return f"{description[:-1]}; {where})"
    return f"{description} ({where})"


def broken_rules(exercise: Exercise, pieces: list[Piece]) -> list[BrokenRule]:
    """The rules of ``exercise`` that the code ``pieces`` break, forbidden ones first.

    A forbidden rule is broken by its first use (named with its line, or the notebook function
    it is in); a required one when nothing in the code uses it.
    """
    own = _bound_names(pieces)
    broken: list[BrokenRule] = []
    for rule in exercise.forbidden:
        use = next(_uses(pieces, rule, own), None)
        if use is not None:
            piece, node, description = use
            line = getattr(node, "lineno", None) if piece.label is None else None
            where = f"line {line}" if line else f"in {piece.label}" if piece.label else ""
            broken.append(
                BrokenRule(rule, "forbidden", f"not to use {_located(description, where)}", line)
            )
    for rule in exercise.required:
        if next(_uses(pieces, rule, own), None) is None:
            broken.append(BrokenRule(rule, "required", f"to use {describe_rule(rule)}"))
    return broken


def asks_you(phrases: list[str]) -> str:
    """``"asks you not to use X (line 2) and to use Y"``: what :class:`BrokenRule` phrases say."""
    listed = phrases[-1] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"asks you {listed}"


def all_rules(exercise: Exercise) -> str:
    """``"asks you ..."`` with every rule of ``exercise`` (when the code could not be read)."""
    phrases = [f"not to use {describe_rule(r)}" for r in exercise.forbidden]
    return asks_you(phrases + [f"to use {describe_rule(r)}" for r in exercise.required])


# -- finding the code of an answer given as a namespace or a function ------------------------


def _piece_of(thing: Any, name: str) -> Piece | None:
    """The source of a function or class as a :class:`Piece`; None when it cannot be read."""
    try:
        return Piece(ast.parse(textwrap.dedent(inspect.getsource(thing))), name)
    except Exception:  # OSError, TypeError; IndexError when the file changed since; RecursionError
        return None


def _loaded_names(nodes: Iterable[ast.AST]) -> list[str]:
    return [n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]


def _root_names(exercise: Exercise) -> list[str]:
    """Names the tests use: the exercise's function, or the names in its expressions."""
    if exercise.function:
        return [exercise.function]
    names: list[str] = []
    for test in exercise.tests:
        text = test.get("expr", test.get("assert"))
        if isinstance(text, str):
            try:
                names += _loaded_names(ast.walk(ast.parse(text, mode="eval")))
            except SyntaxError:
                continue
    return list(dict.fromkeys(names))


def _add_helpers(pieces: list[Piece], names: Mapping[str, Any], module: str | None) -> None:
    """Add the source of the notebook functions and classes ``pieces`` use (transitively).

    Only those defined where the answer was (same ``__module__``): a library's function is not
    the student's code.
    """
    seen = _bound_names(pieces)
    pending = [name for piece in pieces for name in _loaded_names(piece.nodes)]
    helpers = 0
    while pending and helpers < MAX_HELPERS:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        thing = names.get(name)
        if not (inspect.isfunction(thing) or inspect.isclass(thing)):
            continue
        if module is None or getattr(thing, "__module__", None) != module:
            continue
        piece = _piece_of(thing, name)
        if piece is not None:
            helpers += 1
            pieces.append(piece)
            pending += _loaded_names(piece.nodes)


def answer_code(exercise: Exercise, submitted: Any, source: str | None = None) -> list[Piece] | str:
    """The code of an answer, to check the rules on.

    Parameters
    ----------
    exercise : Exercise
    submitted : str, mapping or callable
        What :func:`~learnpulse.course.check` got: source code, a namespace or the function.
    source : str, optional
        The code that defined the namespace's names (e.g. the ``%%check`` cell).

    Returns
    -------
    list of Piece or str
        The submitted code, plus the notebook helpers it calls; or, when the code the tests
        use cannot be read (a built-in, code built by ``exec``, only values...), what could not
        be read, for feedback: "the code of total" or "your code".
    """
    if isinstance(submitted, str):
        return [Piece(ast.parse(submitted))]
    names = dict(submitted) if isinstance(submitted, Mapping) else {}
    if callable(submitted) and not isinstance(submitted, Mapping) and exercise.function:
        names[exercise.function] = submitted
    roots = [(n, names[n]) for n in _root_names(exercise) if n in names]
    module = next((getattr(t, "__module__", None) for _, t in roots if callable(t)), None)
    for _, thing in roots:  # helpers from earlier cells are in the function's globals
        names = {**getattr(thing, "__globals__", {}), **names}
    pieces: list[Piece] = []
    if source is not None:
        try:
            pieces.append(Piece(ast.parse(source)))
        except SyntaxError:
            source = None
    if source is None:
        for name, thing in roots:
            if not callable(thing):
                continue  # a value, not code: the tests judge it
            piece = _piece_of(thing, name)
            if piece is None:
                return f"the code of {name}"
            pieces.append(piece)
    if not pieces:
        return "your code"
    _add_helpers(pieces, names, module)
    return pieces
