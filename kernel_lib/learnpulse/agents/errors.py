"""The error explainer: what went wrong, why, where (the actual name and line), how to investigate.

:func:`locate` finds the learner's line in an exception (the last traceback frame in the
learner's own code, or a SyntaxError's own line); :func:`explain_error` writes the
explanation. Both work from a live exception or from traceback text pasted into the chat
(:func:`parse_traceback`).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import re
import sysconfig
import traceback
from dataclasses import dataclass, field

from learnpulse.agents.base import Source
from learnpulse.course.running import cut_text, error_message

#: Folders whose frames are library code, not the learner's: the traceback is followed to the
#: last frame outside them.
LIBRARY_PATHS = tuple(
    path for path in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]} if path
)
#: How many close matches ("did you mean") a misspelt name lists.
SUGGESTIONS = 3
#: Similarity (difflib ratio) from which a defined name counts as a likely misspelling.
SUGGESTION_CUTOFF = 0.6
#: Longest exception message, name or source line explained and quoted; longer ones are cut
#: (a 5 MB message took minutes to match against the explainers' patterns, and was quoted).
MAX_QUOTED_CHARS = 500
#: What parsing a learner's line or cell may raise (RecursionError: nested too deeply).
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


@dataclass
class ErrorInfo:
    """An exception reduced to what the explainer needs.

    ``line`` is the learner's source line (stripped), ``lineno`` its number in ``filename``,
    ``function`` the enclosing function (``"<module>"`` at top level), ``defined`` the names
    the learner's code defines (for "did you mean").
    """

    type_name: str
    message: str
    lineno: int | None = None
    line: str = ""
    function: str = "<module>"
    filename: str = ""
    depth: int = 1
    defined: tuple[str, ...] = ()
    name: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _is_library(filename: str) -> bool:
    return any(filename.startswith(path) for path in LIBRARY_PATHS)


def _cut(text: str) -> str:
    return cut_text(text, MAX_QUOTED_CHARS)


def _defined_names(code: str | None) -> tuple[str, ...]:
    if not code:
        return ()
    try:
        tree = ast.parse(code)
    except _UNPARSABLE:
        return ()
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    names |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args}
    return tuple(sorted(names))


def locate(error: BaseException, code: str | None = None) -> ErrorInfo:
    """Reduce a live exception to an :class:`ErrorInfo` pointing at the learner's line.

    Parameters
    ----------
    error : BaseException
    code : str, optional
        The learner's source (a cell); used for the line text when the frame's file is not on
        disk (``<cell>``, ``<ipython-input-...>``) and for "did you mean" suggestions.
    """
    info = ErrorInfo(
        type(error).__name__, error_message(error, MAX_QUOTED_CHARS), defined=_defined_names(code)
    )
    if isinstance(error, NameError | ImportError):
        quoted = re.search(r"'([^']+)'", info.message)
        info.name = getattr(error, "name", None) or (quoted.group(1) if quoted else None)
    if isinstance(error, AttributeError):
        info.name = getattr(error, "name", None)
        info.extra["obj_type"] = type(getattr(error, "obj", None)).__name__
    if isinstance(error, SyntaxError):
        info.message = _cut(str(error.msg or ""))
        info.lineno, info.line = error.lineno, _cut(str(error.text or "").strip())
        info.filename = error.filename or ""
        return info
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if not _is_library(f.filename)] or frames
    if own:
        frame = own[-1]
        info.lineno, info.function, info.filename = frame.lineno, frame.name, frame.filename
        info.line = _cut((frame.line or "").strip())
        info.depth = sum(1 for f in frames if f.name == frame.name)
        if not info.line and code and frame.lineno:
            lines = code.splitlines()
            if 0 < frame.lineno <= len(lines):
                info.line = _cut(lines[frame.lineno - 1].strip())
    if isinstance(error, FileNotFoundError):
        info.name = error.filename
    if isinstance(error, KeyError) and error.args:
        try:
            info.name = _cut(repr(error.args[0]))
        except Exception:  # the key's own __repr__ failed
            info.name = None
    return info


#: Exceptions whose message quotes the name they are about (the file of a FileNotFoundError:
#: its explanation named "the file" when read from a traceback).
QUOTED_NAME_ERRORS = ("NameError", "UnboundLocalError", "ModuleNotFoundError", "FileNotFoundError")
_TRACEBACK_LAST = re.compile(r"^(\w+(?:Error|Exception|Iteration|Interrupt|Exit))(?::\s*(.*))?$")
_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in (\S+))?')


#: An error quoted inside a question: "what does SyntaxError: invalid syntax mean?".
_QUOTED_ERROR = re.compile(
    r"\b([A-Z]\w*(?:Error|Exception)): ([^?\n]+?)(?:\s+(?:means?|mean here))?\s*\??\s*$", re.M
)


def parse_traceback(text: str) -> ErrorInfo | None:
    """An :class:`ErrorInfo` from traceback text pasted by the learner, or from an error
    quoted with its type in a question ("what does SyntaxError: invalid syntax mean?"); None
    if none. A message alone ("what does list index out of range mean?") is a question
    about the concept, for the course's material."""
    info = _last_traceback_line(text)
    if info is None:
        info = _quoted_error(text)
    if info is not None:
        quoted = re.search(r"'([^']+)'", info.message)
        if quoted and info.type_name in QUOTED_NAME_ERRORS:
            info.name = quoted.group(1)
    return info


def _quoted_error(text: str) -> ErrorInfo | None:
    """An error quoted in a question (see :func:`parse_traceback`), or None."""
    found = _QUOTED_ERROR.search(text)
    return ErrorInfo(found.group(1), _cut(found.group(2).strip(" '\"`"))) if found else None


def _last_traceback_line(text: str) -> ErrorInfo | None:
    """The error of the last line of ``text`` that starts like a traceback's last line, with
    the frame above it, or None."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    for index in range(len(lines) - 1, -1, -1):
        match = _TRACEBACK_LAST.match(lines[index].strip())
        if not match:
            continue
        info = ErrorInfo(match.group(1), _cut(match.group(2) or ""))
        for position, line in enumerate(lines[:index]):
            frame = _FRAME.search(line)
            if frame:
                info.filename, info.lineno = frame.group(1), int(frame.group(2))
                info.function = frame.group(3) or "<module>"
                following = lines[position + 1].strip() if position + 1 < index else ""
                info.line = "" if _FRAME.search(following) else _cut(following.lstrip("^~ "))
        return info
    return None


def _suggest(name: str | None, options: tuple[str, ...] | list[str]) -> str:
    if not name:
        return ""
    matches = difflib.get_close_matches(name, list(options), SUGGESTIONS, SUGGESTION_CUTOFF)
    matches = [m for m in matches if m != name]
    return f" Did you mean {', '.join(f'`{m}`' for m in matches)}?" if matches else ""


def _line_nodes(line: str) -> list[ast.AST]:
    """The AST nodes of one source line, tolerating a line that opens a block."""
    text = line.strip()
    for candidate in (text, f"{text}\n    pass", text.rstrip(":"), f"({text})"):
        try:
            return list(ast.walk(ast.parse(candidate)))
        except _UNPARSABLE:
            continue
    return []


def _subscripts(line: str) -> list[tuple[str, str]]:
    """``(container, index)`` source pairs of the subscripts on a line, e.g. ``("xs", "i")``."""
    return [
        (ast.unparse(n.value), ast.unparse(n.slice))
        for n in _line_nodes(line)
        if isinstance(n, ast.Subscript)
    ]


def _divisors(line: str) -> list[str]:
    """Source of every divisor on a line (``a / b``, ``a // b``, ``a % b``, ``a /= b``)."""
    division = (ast.Div, ast.FloorDiv, ast.Mod)
    found = []
    for node in _line_nodes(line):
        if isinstance(node, ast.BinOp) and isinstance(node.op, division):
            found.append(ast.unparse(node.right))
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, division):
            found.append(ast.unparse(node.value))
    return found


def _calls(line: str) -> list[str]:
    return [ast.unparse(n.func) for n in _line_nodes(line) if isinstance(n, ast.Call)]


def _code(text: str) -> str:
    return f"`{text}`"


def _said(message: str) -> str:
    """``": <message>"``, or nothing for an exception raised without a message."""
    return f": {message}" if message else ""


# -- one explainer per exception type: (what, why, how to investigate) ---------------------------

Explanation = tuple[str, str, str]


def _name_error(info: ErrorInfo) -> Explanation:
    name = info.name or "that name"
    builtin_hint = _suggest(name, dir(builtins))
    return (
        f"Python does not know the name {_code(name)}.",
        f"{_code(name)} was never assigned (or defined) before this line ran: a typo, a "
        "variable created in a cell you have not run yet, or a name that only exists inside "
        f"another function.{_suggest(name, info.defined) or builtin_hint}",
        f"Search your code for where {_code(name)} should get its value and check the spelling "
        "and the order in which cells ran (Kernel → Restart & Run All shows the real order).",
    )


def _unbound_local(info: ErrorInfo) -> Explanation:
    name = info.name or "the variable"
    where = f"function {_code(info.function)}" if info.function != "<module>" else "the function"
    return (
        f"The local variable {_code(name)} was used before it got a value.",
        f"Because {where} assigns to {_code(name)} somewhere, Python treats {_code(name)} as "
        "local to the whole function, so the outer variable with that name is hidden, and "
        "this line runs before the assignment.",
        f"Give {_code(name)} a value at the top of the function, pass it in as a parameter, or "
        "return the new value instead of changing an outer variable.",
    )


_TYPE_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"unsupported operand type\(s\) for (\S+): '(\w+)' and '(\w+)'",
        "The operator `{0}` does not work between a `{1}` and a `{2}`.",
    ),
    (r'can only concatenate str \(not "(\w+)"\) to str', "You joined a `str` and a `{0}` with +."),
    (r"'(\w+)' object is not subscriptable", "A `{0}` value cannot be indexed with [...]."),
    (r"'(\w+)' object is not callable", "A `{0}` value was called like a function with (...)."),
    (r"'(\w+)' object is not iterable", "A `{0}` value was used where a sequence is needed."),
    (r"object of type '(\w+)' has no len\(\)", "`len()` was given a `{0}`, which has no length."),
    (
        r"(\w+)\(\) missing (\d+) required positional arguments?: (.+)",
        "`{0}()` was called without its argument(s) {2}.",
    ),
    (
        r"(\w+)\(\) takes (\d+) positional arguments? but (\d+) (?:was|were) given",
        "`{0}()` accepts {1} argument(s) but was called with {2}.",
    ),
)


def _type_error(info: ErrorInfo) -> Explanation:
    what = "A value of the wrong type was used in an operation."
    for pattern, template in _TYPE_PATTERNS:
        match = re.search(pattern, info.message)
        if match:
            what = template.format(*match.groups())
            break
    calls = _calls(info.line)
    if "callable" in info.message and calls:
        what += f" On this line you call {', '.join(_code(c) for c in calls)}."
    why = (
        "Every operation expects certain types: numbers add to numbers, strings join to "
        "strings, only functions can be called. A common cause is a number read as text "
        "(from `input()`), a function that returned `None`, or a variable that shadows a "
        "built-in function such as `list` or `sum`."
    )
    how = (
        "Print the values and their types just before this line, e.g. "
        "`print(repr(x), type(x))`, and convert where needed (`int(...)`, `str(...)`)."
    )
    return what, why, how


def _index_error(info: ErrorInfo) -> Explanation:
    pairs = _subscripts(info.line)
    kind = info.message.split(" index")[0] if " index" in info.message else "sequence"
    if pairs:
        container, index = pairs[-1]
        what = f"The index {_code(index)} is outside {_code(container)} ({kind})."
        how = (
            f"Print `len({container})` and `{index}` just before this line. Valid indices "
            f"run from 0 to `len({container}) - 1`."
        )
    else:
        what = f"An index is outside the {kind}."
        how = "Print the length of the sequence and the index just before this line."
    why = (
        "Indices start at 0, so a list of length n has its last item at n - 1. Loops that go "
        "one step too far (`range(len(xs) + 1)`, `<=` instead of `<`) or an empty list are "
        "the usual cause."
    )
    return what, why, how


def _key_error(info: ErrorInfo) -> Explanation:
    key = info.name or info.message or "?"
    pairs = _subscripts(info.line)
    where = _code(pairs[-1][0]) if pairs else "the dictionary"
    return (
        f"The key {_code(key)} is not in {where}.",
        "A dictionary only has the keys you put in it; spelling, capitals, spaces and the type "
        "of the key all matter (`1` and `'1'` are different keys).",
        f"Print the dictionary's keys (`print(list(d.keys()))`), or use `d.get({key}, default)` "
        f"or `if {key} in d:` when the key may be missing.",
    )


def _attribute_error(info: ErrorInfo) -> Explanation:
    match = re.search(r"'(\w+)' object has no attribute '(\w+)'", info.message)
    type_name, attribute = match.groups() if match else ("object", info.name or "?")
    options = dir(getattr(builtins, type_name, object))
    return (
        f"A `{type_name}` has no attribute or method {_code(attribute)}.",
        f"Each type has its own methods.{_suggest(attribute, options)} If the value is "
        "`NoneType`, a function or method returned `None` (e.g. `list.sort()` sorts in place "
        "and returns `None`).",
        f"Check the type with `type(value)` and list what it offers with `dir(value)` or "
        f"`help({type_name})`.",
    )


_VALUE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"invalid literal for (\w+)\(\) with base \d+: (.+)", "The text {1} is not a valid {0}."),
    (r"too many values to unpack \(expected (\d+)", "More values arrived than the {0} names."),
    (r"not enough values to unpack \(expected (\d+), got (\d+)", "{1} values for {0} names."),
    (r"could not convert string to float: (.+)", "The text {0} is not a number."),
    (r"math domain error", "A math function got a value outside its domain."),
    (r"(.+) not in list", "The value is not in the list."),
)


def _value_error(info: ErrorInfo) -> Explanation:
    what = "A value has the right type but an unusable content."
    for pattern, template in _VALUE_PATTERNS:
        match = re.search(pattern, info.message)
        if match:
            what = template.format(*match.groups())
            break
    calls = _calls(info.line)
    if calls:
        what += f" It happened in {_code(calls[-1] + '(...)')}."
    return (
        what,
        "The function accepts this type of value but not this particular value: e.g. "
        "`int('3.5')`, unpacking a pair into three names, or removing a missing item.",
        "Print the exact value (`print(repr(value))`: it shows spaces and quotes) and check "
        "it before converting, e.g. with `str.isdigit()` or a `try`/`except ValueError`.",
    )


def _zero_division(info: ErrorInfo) -> Explanation:
    divisors = _divisors(info.line)
    divisor = divisors[-1] if divisors else None
    what = f"The divisor {_code(divisor)} is zero." if divisor else "A number was divided by zero."
    return (
        what,
        "Division (`/`, `//`, `%`) by zero has no result. Averages of empty lists "
        "(`sum(xs) / len(xs)` with `xs == []`) are the usual cause.",
        f"Print {_code(divisor or 'the divisor')} before this line and decide what should "
        "happen when it is zero (skip, return a default, or check with `if`).",
    )


def _syntax_error(info: ErrorInfo) -> Explanation:
    return (
        f"Python could not read this code{_said(info.message)}.",
        "The code breaks Python's grammar, so nothing in the cell ran. Common causes: a "
        "missing `:` after `if`/`for`/`def`, an unclosed bracket or quote (the error then "
        "points at the next line), `=` instead of `==` in a condition.",
        "Look at the marked line and the line before it; check brackets and quotes pair up "
        "and that block lines end with `:`.",
    )


def _indentation_error(info: ErrorInfo) -> Explanation:
    return (
        f"The indentation is wrong{_said(info.message)}.",
        "Python uses indentation to know which lines belong to an `if`, a loop or a "
        "function: a block line needs an indented body, and lines of one block must line up "
        "exactly (mixing tabs and spaces breaks that).",
        "Indent the body of the block by 4 spaces and make every line of the same block start "
        "in the same column.",
    )


def _import_error(info: ErrorInfo) -> Explanation:
    name = info.name or "the module"
    if info.type_name == "ModuleNotFoundError":
        what = f"There is no module named {_code(name)}."
        why = (
            "Either the name is misspelt, or the package is not installed in the environment "
            "the kernel runs in (which may differ from your terminal's)."
        )
    else:
        what = f"The import failed{_said(info.message)}."
        why = "The module exists but does not define that name (spelling, or a different version)."
    return (
        what,
        why,
        f"Check the spelling of {_code(name)}; `import sys; print(sys.executable)` shows which "
        "Python the kernel uses; `%pip list` shows what is installed there.",
    )


def _recursion_error(info: ErrorInfo) -> Explanation:
    function = info.function if info.function != "<module>" else "the function"
    # a traceback read from text does not say how deep it went ("about 1 calls deep")
    depth = f" (about {info.depth} calls deep)" if info.depth > 1 else ""
    return (
        f"{_code(function)} called itself too many times{depth}.",
        f"Every call of {_code(function)} makes another call, so it never stops: the base case "
        "is missing, is never reached, or the recursive call does not move towards it.",
        f"Print the argument at the start of {_code(function)} and check that each call "
        "gets closer to the base case (a smaller number, a shorter list).",
    )


def _file_not_found(info: ErrorInfo) -> Explanation:
    name = info.name or "the file"
    return (
        f"The file {_code(str(name))} does not exist (where Python looked).",
        "A relative path is looked up from the notebook's working directory, not from where "
        "you think the file is; the name may also be misspelt or lack its extension.",
        "Print `os.getcwd()` and `os.listdir()` to see where Python looks and what is there; "
        "use `pathlib.Path(name).exists()` before opening.",
    )


def _stop_iteration(info: ErrorInfo) -> Explanation:
    calls = [c for c in _line_nodes(info.line) if isinstance(c, ast.Call)]
    target = next((ast.unparse(c.args[0]) for c in calls if ast.unparse(c.func) == "next"), None)
    return (
        f"The iterator {_code(target or 'used here')} has no items left.",
        "`next()` takes the following item of an iterator; once every item has been taken, "
        "the iterator is exhausted and stays empty (it does not restart).",
        "Use a `for` loop (it stops by itself), give `next(it, default)` a default, or "
        "create a fresh iterator.",
    )


def _generic(info: ErrorInfo) -> Explanation:
    return (
        f"A `{info.type_name}` was raised{_said(info.message)}",
        "The operation on this line could not complete.",
        "Print the values used on this line just before it runs, and read the exception "
        "message word by word: it usually names the value or operation.",
    )


EXPLAINERS = {
    "NameError": _name_error,
    "UnboundLocalError": _unbound_local,
    "TypeError": _type_error,
    "IndexError": _index_error,
    "KeyError": _key_error,
    "AttributeError": _attribute_error,
    "ValueError": _value_error,
    "ZeroDivisionError": _zero_division,
    "SyntaxError": _syntax_error,
    "IndentationError": _indentation_error,
    "TabError": _indentation_error,
    "ImportError": _import_error,
    "ModuleNotFoundError": _import_error,
    "RecursionError": _recursion_error,
    "FileNotFoundError": _file_not_found,
    "StopIteration": _stop_iteration,
}


def error_record(error: BaseException | ErrorInfo, code: str | None = None) -> str:
    """``error`` as the last lines of a traceback, which :func:`parse_traceback` reads back:
    the learner's line (``File "<cell>", line 2, in <module>`` and its source) and the
    exception (``KeyError: 'b'``), each part cut to :data:`MAX_QUOTED_CHARS` (so the record
    stays under :data:`MAX_RECORD_CHARS`). What the tutor stores with an explained error, so
    that a follow-up ("why?") is answered about it.

    Parameters
    ----------
    error : BaseException or ErrorInfo
    code : str, optional
        The learner's source (for the line's text when the traceback has none).

    Returns
    -------
    str
    """
    info = error if isinstance(error, ErrorInfo) else locate(error, code)
    message = _cut(" ".join(info.message.split()))  # one line: parse_traceback reads the last
    exception = f"{info.type_name}: {message}" if message else info.type_name
    if info.lineno is None:
        return exception
    function = _cut(info.function) if info.function.isidentifier() else "<module>"
    frame = f'  File "<cell>", line {info.lineno}, in {function}'
    line = " ".join(info.line.split())
    return "\n".join([frame, f"    {line}", exception] if line else [frame, exception])


#: Longest text :func:`error_record` gives: three parts of at most MAX_QUOTED_CHARS, and the
#: frame's words.
MAX_RECORD_CHARS = 3 * MAX_QUOTED_CHARS + 100


def read_error_record(text: str) -> ErrorInfo:
    """The :class:`ErrorInfo` of an :func:`error_record` (``"Oops: ..."`` too, an exception
    type :func:`parse_traceback` does not recognise by its name)."""
    info = parse_traceback(text)
    lines = text.strip().splitlines() or ["Exception"]
    type_name, _, message = lines[-1].partition(":")
    if info is not None and info.type_name == type_name.strip():
        return info
    info = ErrorInfo(type_name.strip() or "Exception", _cut(message.strip()))
    frame = _FRAME.search(lines[0]) if len(lines) > 1 else None
    if frame:
        info.lineno, info.function = int(frame.group(2)), frame.group(3) or "<module>"
        info.line = _cut(lines[1].strip()) if len(lines) == 3 else ""
    return info


def _where(info: ErrorInfo) -> str:
    if info.lineno is None:
        return (
            "I cannot see which line: paste the whole traceback, or run `%explain` right after "
            "the cell fails, and I will point to it."
        )
    inside = f" in function {_code(info.function)}" if info.function != "<module>" else ""
    line = f": {_code(info.line)}" if info.line else ""
    return f"Line {info.lineno}{inside}{line}"


def explanation_parts(info: ErrorInfo) -> tuple[str, str, str, str]:
    """What went wrong, why, where (``"Line 2: `scores['b']`"``) and how to investigate."""
    what, why, how = EXPLAINERS.get(info.type_name, _generic)(info)
    return what, why, _where(info), how


def explain_error(error: BaseException | ErrorInfo, code: str | None = None) -> tuple[str, Source]:
    """Plain-language what/why/where/how-to-investigate of an exception, as markdown.

    Parameters
    ----------
    error : BaseException or ErrorInfo
        A live exception (with its traceback) or one parsed by :func:`parse_traceback`.
    code : str, optional
        The learner's source, for the line text and "did you mean" suggestions.

    Returns
    -------
    (str, Source)
        The explanation and the source to cite (the Python exception's documentation).
    """
    info = error if isinstance(error, ErrorInfo) else locate(error, code)
    if code and not info.defined:
        info.defined = _defined_names(code)
    what, why, where, how = explanation_parts(info)
    text = (
        f"**{info.type_name}**: {what}\n\n"
        f"- **Where:** {where}\n"
        f"- **Why:** {why}\n"
        f"- **How to investigate:** {how}"
    )
    return text, Source(f"python:exceptions#{info.type_name}", f"Python exception {info.type_name}")
