"""Static code review: each check fires on the code it is about, and stays quiet otherwise."""

from __future__ import annotations

import nbformat
import pytest

from learnpulse.agents import ask
from learnpulse.agents.review import COMPLEXITY_LIMIT, NESTING_LIMIT, format_findings, review_code
from tests.conftest import REPO

BRANCHY = "def grade(s):\n" + "".join(
    f"    {'if' if i == 0 else 'elif'} s > {100 - i}:\n        return {i}\n"
    for i in range(COMPLEXITY_LIMIT + 1)
)
NESTED = (
    "def f(xs):\n"
    + "".join("    " * (d + 1) + f"for x{d} in xs:\n" for d in range(NESTING_LIMIT + 1))
    + "    " * (NESTING_LIMIT + 2)
    + "print(x0)\n"
)


@pytest.mark.parametrize(
    ("code", "check", "line", "name"),
    [
        ("def f():\n    return totl\n", "undefined-name", 2, "totl"),
        ("def f():\n    unused = 3\n    return 1\n", "unused-variable", 2, "unused"),
        ("import os\n", "unused-import", 1, "os"),
        ("list = [1, 2]\n", "shadowed-builtin", 1, "list"),
        ("def f(sum):\n    return sum\n", "shadowed-builtin", 1, "sum"),
        ("def add(x, items=[]):\n    items.append(x)\n    return items\n",
         "mutable-default", 1, "add"),
        ("def add(x, seen={}):\n    return seen\n", "mutable-default", 1, "add"),
        ("try:\n    x = 1\nexcept:\n    x = 2\n", "bare-except", 3, "except"),
        ("try:\n    x = 1\nexcept ValueError:\n    pass\n", "silenced-exception", 3, "ValueError"),
        (BRANCHY, "complexity", 1, "grade"),
        (NESTED, "nesting", 1, "f"),
        ("def Total(xs):\n    return 0\n", "naming", 1, "Total"),
        ("class point:\n    pass\n", "naming", 1, "point"),
        ("l = 3\nprint(l)\n", "naming", 1, "`l`"),
        ("def f(x):\n    if x > 3:\n        return True\n    else:\n        return False\n",
         "bool-return", 2, "True"),
        ("def f(x):\n    return x == None\n", "compare-singleton", 2, "None"),
        ("def total(xs):\n    t = 0\n    for x in xs:\n        t += x\n        return t\n",
         "return-in-loop", 5, "for x in xs:"),
        ("def total(xs):\n    t = 0\n    for x in xs: t += x; return t\n",
         "return-in-loop", 3, "for x in xs:"),
        ("def count(n):\n    i = 0\n    while i < n:\n        i += 1\n        return i\n",
         "return-in-loop", 5, "while i < n:"),
    ],
)  # fmt: skip
def test_each_check_names_the_problem_line_and_name(code, check, line, name):
    findings = [f for f in review_code(code) if f.check == check]
    assert findings, f"{check} not reported for:\n{code}"
    assert findings[0].line == line
    assert name in findings[0].message
    assert findings[0].why and findings[0].hint


def test_clean_code_has_no_findings():
    code = (
        "def mean(values):\n"
        '    """Average of a non-empty list."""\n'
        "    total = 0\n"
        "    for value in values:\n"
        "        total += value\n"
        "    return total / len(values)\n"
    )
    assert review_code(code) == []
    assert "nothing to flag" in format_findings([])


@pytest.mark.parametrize(
    "code",
    [
        # an early return under an if: the loop goes on while it does not fire
        "def has(xs, target):\n    for x in xs:\n        if x == target:\n"
        "            return True\n    return False\n",
        # a continue lets later passes reach the return
        "def first_truthy(xs):\n    for x in xs:\n        if not x:\n            continue\n"
        "        return x\n",
        "def first_int(xs):\n    for x in xs:\n        try:\n            value = int(x)\n"
        "        except ValueError:\n            continue\n        return value\n",
        # the first item, on purpose
        "def first(xs):\n    for x in xs:\n        return x\n    return None\n",
        # the return of a function defined in the loop ends that function, not the loop
        "def makers(xs):\n    for x in xs:\n        def make():\n            y = x\n"
        "            return y\n        print(make)\n",
    ],
)
def test_returns_that_do_not_end_a_loop_early_are_not_flagged(code):
    assert [f for f in review_code(code) if f.check == "return-in-loop"] == []


def test_the_tutorial_bug_of_a_return_inside_the_loop_is_flagged():
    # the tutorial shows this bug ("look at the indentation of return") and %review said
    # "nothing to flag"
    tutorial = nbformat.read(REPO / "notebooks" / "student-tutorial.ipynb", as_version=4)
    (cell,) = [c for c in tutorial.cells if c.source.startswith("%%check ex-loops-04")]
    code = cell.source.split("\n", 1)[1]
    (finding,) = review_code(code)
    returns = [n for n, line in enumerate(code.splitlines(), 1) if line.strip() == "return result"]
    assert finding.check == "return-in-loop" and [finding.line] == returns
    assert "`for n in numbers:`" in finding.message and "first item of `numbers`" in finding.why
    text = format_findings([finding])
    assert f"**Line {finding.line}**" in text and "indentation" in text
    assert "```" not in text and "    return result" not in text  # a hint, not the fix


def test_names_defined_elsewhere_are_not_undefined():
    assert review_code("print(df.head())\n", known_names=["df"]) == []


def test_review_gives_hints_never_rewritten_code():
    code = "def f(list=[]):\n    try:\n        return list[0]\n    except:\n        return None\n"
    text = format_findings(review_code(code))
    assert "```" not in text
    assert "def f(" not in text
    assert "Line 1" in text and "Line 4" in text


def test_syntax_errors_are_raised_for_the_explainer():
    with pytest.raises(SyntaxError):
        review_code("def f(:\n")


@pytest.mark.parametrize("expression", ["-" * 600 + "1", "a+" * 4000 + "a", "-" * 5000 + "1"])
def test_code_nested_too_deeply_gets_an_answer_not_a_crash(expression):
    # pyflakes and ast hit Python's recursion limit: a RecursionError (HTTP 500) before
    with pytest.raises(RecursionError):
        review_code(f"x = {expression}\n")
    reply = ask(f"```python\nx = {expression}\n```", learner_id="ada", agent="reviewer")
    assert "nested too deeply" in reply.text
