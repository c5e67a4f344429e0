"""Invalid course content is refused with an error naming the exercise (or skill) and field."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from learnpulse.course import Course, CourseError, CourseWarning, load_course

BASE: dict[str, Any] = {
    "id": "tiny",
    "title": "A tiny course",
    "skills": [
        {"id": "lists", "name": "Lists", "material": "## Lists\nIndexes start at 0."},
        {"id": "loops", "name": "Loops", "prerequisites": ["lists"], "material": "## for"},
    ],
    "exercises": [
        {
            "id": "n1",
            "prompt": "Index of the last of 4 elements?",
            "skills": ["lists"],
            "difficulty": 0.2,
            "type": "numeric",
            "answer": 3,
            "hints": ["Indexes start at 0."],
        },
        {
            "id": "c1",
            "prompt": "Write total(xs).",
            "skills": ["loops", "lists"],
            "difficulty": 0.4,
            "type": "code",
            "function": "total",
            "tests": [{"args": [[1, 2]], "expected": 3}],
            "hints": ["Accumulate."],
            "solution": "def total(xs):\n    return sum(xs)\n",
            "policy": {"max_hint_level": 1, "show_code": False},
        },
    ],
}


def variant(path: str, value: Any) -> dict[str, Any]:
    """BASE with the field at ``path`` (e.g. ``"exercises.1.tests"``) set to ``value``."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


DELETE = object()


def test_valid_course_builds() -> None:
    course = Course.from_dict(BASE)
    assert set(course.exercises) == {"n1", "c1"}
    assert course.exercise("c1").policy.max_hint_level == 1
    assert course.exercise("c1").hint_limit == 1
    assert course.skills["loops"].prerequisites == ("lists",)


@pytest.mark.parametrize(
    ("path", "value", "where", "field", "words"),
    [
        ("exercises.0.skills", ["lsts"], "exercise 'n1'", "skills", "did you mean 'lists'"),
        ("exercises.0.answer", "three", "exercise 'n1'", "answer", "needs a number"),
        ("exercises.0.answer", True, "exercise 'n1'", "answer", "needs a number"),
        ("exercises.0.hints", [], "exercise 'n1'", "hints", "hint ladder is empty"),
        ("exercises.0.hints", DELETE, "exercise 'n1'", "hints", "hint ladder is empty"),
        ("exercises.0.difficulty", 1.5, "exercise 'n1'", "difficulty", "0..1"),
        ("exercises.0.type", "essay", "exercise 'n1'", "type", "must be one of"),
        ("exercises.0.hint", ["x"], "exercise 'n1'", "hint", "did you mean 'hints'"),
        ("exercises.1.tests", [], "exercise 'c1'", "tests", "checker"),
        ("exercises.1.tests", DELETE, "exercise 'c1'", "tests", "checker"),
        ("exercises.1.function", DELETE, "exercise 'c1'", "function", "is required"),
        ("exercises.1.solution", DELETE, "exercise 'c1'", "solution", "reference solution"),
        (
            "exercises.1.solution",
            "def total(xs):\n    return 0\n",
            "exercise 'c1'",
            "solution",
            # it said "0 of 1 tests pass. ...", or "Running your code raised ...", as to a
            # student
            "the reference solution fails its own check: 0 of 1 tests pass. total([1, 2]) "
            "returned 0, expected 3.",
        ),
        (
            "exercises.1.solution",
            "import numpyx\n",
            "exercise 'c1'",
            "solution",
            "the reference solution fails its own check: Running your code raised "
            "ModuleNotFoundError: No module named 'numpyx' (line 1: `import numpyx`).",
        ),
        ("exercises.1.tests.0", {"assert": "total(["}, "exercise 'c1'", "tests[0]", "valid"),
        # a test that is no mapping crashed validation (ValueError); a bad kwargs crashed the
        # solution's check, telling the instructor "Please tell your instructor"; the rest
        # was silently ignored (a misspelt message never shown, an assert's expected unused)
        ("exercises.1.tests.0", "total([1]) == 1", "exercise 'c1'", "tests[0]", "a mapping such"),
        (
            "exercises.1.tests.0",
            {"args": [[1, 2]], "kwargs": [1], "expected": 3},
            "exercise 'c1'",
            "tests[0].kwargs",
            "must map argument names to values, got [1]",
        ),
        (
            "exercises.1.tests.0",
            {"args": [[1, 2]], "expected": 3, "mesage": "Add them all."},
            "exercise 'c1'",
            "tests[0].mesage",
            "unknown field (did you mean 'message'?)",
        ),
        (
            "exercises.1.tests.0",
            {"assert": "total([1, 2]) == 3", "expected": True},
            "exercise 'c1'",
            "tests[0].expected",
            "an assert test has no 'expected': its expression must be true",
        ),
        ("exercises.1.tests.0", {"assert": True}, "exercise 'c1'", "tests[0].assert", "as text"),
        (
            "exercises.1.tests.0",
            {"args": [[1, 2]], "expected": 3, "message": 5},
            "exercise 'c1'",
            "tests[0].message",
            "must be text, got 5",
        ),
        ("exercises.1.policy", {"max_hint_level": -1}, "exercise 'c1'", "policy.max", ">= 0"),
        ("exercises.1.id", "n1", "exercise 'n1'", "id", "duplicate"),
        ("skills.1.prerequisites", ["lists", "loop"], "skill 'loops'", "prerequisites", "'loop'"),
        ("skills.1.id", "lists", "skill 'lists'", "id", "duplicate"),
        # silently: material_file's text replaced material; a skill listed twice counted each
        # attempt twice in its mastery
        ("skills.0.material_file", "lists.md", "skill 'lists'", "material", "not both"),
        ("exercises.0.skills", ["lists", "lists"], "exercise 'n1'", "skills", "'lists' twice"),
        ("skills.1.prerequisites", ["lists"] * 2, "skill 'loops'", "prerequisites", "twice"),
        ("title", "", "course", "title", "missing"),
    ],
)
def test_invalid_content_names_exercise_and_field(
    path: str, value: Any, where: str, field: str, words: str
) -> None:
    with pytest.raises(CourseError) as raised:
        Course.from_dict(variant(path, value))
    message = str(raised.value)
    assert f"{where}: field '{field}" in message
    assert words in message
    assert any(p[0] == where for p in raised.value.problems)


@pytest.mark.parametrize("name", [None, "", "  "])
def test_a_skill_left_without_a_name_is_named_by_its_id(name: Any) -> None:
    """``name:`` left empty in the YAML named the skill "None" in every widget and chart."""
    assert Course.from_dict(variant("skills.0.name", name)).skills["lists"].name == "lists"


def test_choice_answer_must_be_a_choice() -> None:
    choice = {
        "id": "q1",
        "prompt": "Pick",
        "skills": ["lists"],
        "difficulty": 0.1,
        "type": "choice",
        "choices": ["a", "b"],
        "answer": "c",
        "hints": ["h"],
    }
    with pytest.raises(CourseError, match="exercise 'q1': field 'answer': 'c' is not one of"):
        Course.from_dict({**BASE, "exercises": [choice]})
    built = Course.from_dict({**BASE, "exercises": [{**choice, "answer": 1}]})
    assert built.exercise("q1").answer == "b"  # an index is stored as the choice's text


def test_prerequisite_cycle_is_refused_naming_the_cycle() -> None:
    """The error listed every skill behind the cycle too ("cycle among [...]" of all four
    skills of a course whose first skill needed its last), and a skill listing itself as a
    prerequisite the same way."""
    data = variant("skills.0.prerequisites", ["loops"])
    data["skills"] += [
        {"id": "dicts", "prerequisites": ["loops"]},  # behind the cycle, not on it
        {"id": "sets", "prerequisites": ["sets"]},
    ]
    with pytest.raises(CourseError) as raised:
        Course.from_dict(data)
    assert raised.value.problems == [
        (
            "skill 'lists'",
            "prerequisites",
            "prerequisite cycle: lists needs loops, which needs lists; a skill cannot need "
            "itself, even through others: remove one of these prerequisites",
        ),
        (
            "skill 'sets'",
            "prerequisites",
            "prerequisite cycle: sets needs sets; a skill cannot need itself, even through "
            "others: remove one of these prerequisites",
        ),
    ]


CHOICE = {
    "id": "q1",
    "prompt": "What does 17 // 5 give?",
    "skills": ["lists"],
    "difficulty": 0.1,
    "type": "choice",
    "choices": ["3", "3.4", "2"],
    "answer": "3",
    "hints": ["// rounds down."],
}


@pytest.mark.parametrize(
    ("exercise", "feedback", "words"),
    [
        # each was accepted and never shown: the checker looks feedback up by choice text or
        # index, by the normalised number, and only after a wrong answer
        (CHOICE, {"3,4": "That is /."}, "'3,4' is not one of the choices (did you mean '3.4'?)"),
        (CHOICE, {"c": "That is %."}, "'c' is not one of the choices: give one's text or index"),
        (CHOICE, {"0": "Right!"}, "'0' is the correct choice, so this feedback is never shown"),
        (BASE["exercises"][0], {"three": "No."}, "'three' is not a number: feedback here is"),
        (BASE["exercises"][0], {"3.0": "Yes."}, "'3.0' is the answer (checked correct), so"),
        (
            {**CHOICE, "type": "text", "answer": ["floor division", "floor"], "choices": None},
            {"Floor division!": "Yes."},
            "'Floor division!' is an accepted answer (checked correct), so this feedback is",
        ),
        (
            BASE["exercises"][1],
            {"return 0": "Add them."},
            "'return 0': a code exercise shows no feedback for anticipated answers (only numeric",
        ),
    ],
)
def test_feedback_that_could_never_be_shown_is_refused(exercise, feedback, words) -> None:
    data = {**BASE, "exercises": [{**exercise, "feedback": feedback}]}
    with pytest.raises(CourseError) as raised:
        Course.from_dict(data)
    assert f"exercise '{exercise['id']}': field 'feedback': {words}" in str(raised.value)


@pytest.mark.parametrize(
    ("exercise", "field"),
    [
        ({**CHOICE, "choices": [True, False], "answer": False}, "choices"),  # [yes, no]
        ({**CHOICE, "choices": [3, 3.4], "answer": 3}, "choices"),
        ({**CHOICE, "type": "text", "choices": None, "answer": False}, "answer"),  # answer: off
    ],
)
def test_a_value_yaml_read_as_a_boolean_or_number_says_to_quote_it(exercise, field) -> None:
    """``choices: [yes, no]`` gave "must be a string or a list of strings, got [True,
    False]", then two more problems that followed from it (">= 2 distinct choices", "False
    is not one of the choices")."""
    with pytest.raises(CourseError) as raised:
        Course.from_dict({**BASE, "exercises": [exercise]})
    (problem,) = raised.value.problems
    assert problem[:2] == ("exercise 'q1'", field)
    assert problem[2].endswith(
        ": YAML reads an unquoted yes, no, on, off, true or false as a boolean and 3.4 as a "
        "number; put such a value in quotes ('yes', '3.4')"
    )


def test_feedback_keys_are_kept_as_the_checker_looks_them_up() -> None:
    from learnpulse.course import check

    numeric = {**BASE["exercises"][0], "feedback": {"4.0": "Indexes start at 0.", 2: "Close."}}
    choice = {**CHOICE, "feedback": {"3.4": "That is /.", 2: "That is %."}}
    course = Course.from_dict({**BASE, "exercises": [numeric, choice]})
    assert course.exercise("n1").feedback == {"4": "Indexes start at 0.", "2": "Close."}
    assert check(course.exercise("n1"), 4).feedback == "Indexes start at 0."
    assert check(course.exercise("q1"), "c").feedback == "That is %."


def test_every_problem_is_reported_at_once() -> None:
    data = variant("exercises.0.answer", "x")
    data["exercises"][1]["skills"] = ["nope"]
    with pytest.raises(CourseError) as raised:
        Course.from_dict(data)
    places = {(where, field) for where, field, _ in raised.value.problems}
    assert {("exercise 'n1'", "answer"), ("exercise 'c1'", "skills")} <= places


def test_load_course_from_yaml_with_material_files(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "lists.md").write_text("## Lists\nA list holds values.\n")
    data = copy.deepcopy(BASE)
    data["skills"][0] = {"id": "lists", "name": "Lists", "material_file": "notes/lists.md"}
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(data))
    course = load_course(path)
    assert course.skills["lists"].material.startswith("## Lists")
    data["skills"][0]["material_file"] = "notes/missing.md"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CourseError, match="skill 'lists': field 'material_file': cannot read"):
        load_course(path)


def test_load_course_reports_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nskills: [unclosed\n")
    with pytest.raises(CourseError, match="not valid YAML"):
        load_course(path)
    with pytest.raises(FileNotFoundError):
        load_course(tmp_path / "absent.yaml")


def test_load_course_errors_name_the_file(tmp_path: Path) -> None:
    """An instructor may keep several courses: the error said "in course content" only."""
    path = tmp_path / "my-course.yaml"
    path.write_text(yaml.safe_dump(variant("skills.1.prerequisites", ["list"])))
    with pytest.raises(CourseError) as raised:
        load_course(path)
    assert raised.value.source == str(path)
    assert str(raised.value).startswith(f"1 problem(s) in course file {path}: skill 'loops': ")
    assert "unknown 'list' (did you mean 'lists'?)" in str(raised.value)
    with pytest.raises(CourseError, match=r"problem\(s\) in course content: ") as built:
        Course.from_dict(variant("skills.1.prerequisites", ["list"]))
    assert built.value.source is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # PyYAML placed these in "<unicode string>" and said nothing of tabs
        (
            "id: x\nskills:\n  - id: a\n\tname: A\n",
            "line 4, column 1: found a tab character that violates indentation (while "
            "scanning a plain scalar from line 3): YAML indents with spaces only, replace the "
            "tab on line 4 with spaces",
        ),
        (
            "id: x\nskills:\n  - id: a\n    name: A\n  \tprerequisites: []\n",
            "replace the tab on line 5 with spaces",
        ),
        (
            "id: x\ntitle: Sets: a summary\n",
            "line 2, column 12: mapping values are not allowed in this context: check this "
            "line's indentation, and put quotes around a text value that holds ': '",
        ),
        ("id: x\nskills: [unclosed\n", "line 3, column 1: did not find expected ',' or ']'"),
        # YAML kept the last without a word: a second hints: pasted in dropped the first ladder
        (
            "id: x\nexercises:\n  - id: e\n    hints: [a]\n    type: text\n    hints: [b]\n",
            "line 6, column 5: the key 'hints' is given twice (first on line 4): YAML keeps "
            "only the last one, so remove or merge one",
        ),
    ],
)
def test_bad_yaml_names_the_file_line_and_the_fix(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "course.yaml"
    path.write_text(text)
    with pytest.raises(CourseError) as raised:
        load_course(path)
    message = str(raised.value)
    assert message.startswith(f"1 problem(s) in course file {path}: course: field '-': ")
    assert "not valid YAML: line " in message and words in message, message
    assert "<unicode string>" not in message


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    """An editor saving Latin-1 ("Grüße") raised UnicodeDecodeError from inside load_course,
    for the course file and for a material file alike."""
    (tmp_path / "notes.md").write_bytes("## Listen\n\nGr\u00fc\u00dfe\n".encode("latin-1"))
    data = copy.deepcopy(BASE)
    data["skills"][0] = {"id": "lists", "name": "Lists", "material_file": "notes.md"}
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CourseError) as raised:
        load_course(path)
    assert (
        "skill 'lists': field 'material_file': cannot read "
        f"{tmp_path / 'notes.md'}: it is not UTF-8 text (byte 0xfc on line 3): save it as UTF-8"
    ) in str(raised.value)
    path.write_bytes(b"id: tiny\ntitle: \xc4pfel\n")  # Latin-1 too
    with pytest.raises(CourseError) as raised:
        load_course(path)
    assert str(raised.value) == (
        f"1 problem(s) in course file {path}: course: field '-': it is not UTF-8 text "
        "(byte 0xc4 on line 2): save it as UTF-8"
    )


def test_a_course_says_what_mastered_means() -> None:
    assert Course.from_dict(BASE).mastery_threshold == 0.95
    assert Course.from_dict(variant("mastery_threshold", 0.8)).mastery_threshold == 0.8
    for bad in (1.5, 0, "high", True):
        with pytest.raises(CourseError, match=r"mastery_threshold.*must be a number in"):
            Course.from_dict(variant("mastery_threshold", bad))


# -- rules on the code (required / forbidden) ------------------------------------------------

LOOP_SOLUTION = (
    "def total(xs):\n    result = 0\n    for x in xs:\n        result += x\n    return result\n"
)


def with_rules(**rules: Any) -> dict[str, Any]:
    """BASE with a loop solution for c1 and ``rules`` set on it."""
    data = variant("exercises.1.solution", LOOP_SOLUTION)
    data["exercises"][1].update(rules)
    return data


def test_rules_load_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(with_rules(required=["for"], forbidden=["sum", "**"])))
    exercise = load_course(path).exercise("c1")
    assert (exercise.required, exercise.forbidden) == (("for",), ("sum", "**"))
    assert exercise.rules == ("sum", "**", "for")
    single = Course.from_dict(with_rules(forbidden="sum")).exercise("c1")  # one rule, no list
    assert single.forbidden == ("sum",) and single.required == ()
    assert Course.from_dict(BASE).exercise("c1").rules == ()


@pytest.mark.parametrize(
    ("rules", "field", "words"),
    [
        (
            {"required": ["recursive"]},
            "required[0]",
            "unknown construct 'recursive' (did you mean 'recursion'?)",
        ),
        ({"required": ["for", "loops"]}, "required[1]", "did you mean 'loop'?"),
        ({"forbidden": ["def"]}, "forbidden[0]", "unknown construct 'def': a rule is one of 'for'"),
        ({"forbidden": ["no sum"]}, "forbidden[0]", "unknown construct 'no sum'"),
        ({"forbidden": ["sum()"]}, "forbidden[0]", "without brackets: 'sum', not 'sum()'"),
        ({"forbidden": ["math.sqrt"]}, "forbidden[0]", "give one name, not 'math.sqrt'"),
        ({"forbidden": ["sorted", 3]}, "forbidden[1]", "must be a string"),
        ({"forbidden": {"sum": True}}, "forbidden", "must be a list of constructs or names"),
        ({"required": 1}, "required", "must be a list of constructs or names"),
        ({"required": ["loop"], "forbidden": ["loop"]}, "forbidden", "['loop'] also required"),
        ({"forbidden": ["for"]}, "solution", "not to use a for loop (line 3)"),
        ({"required": ["recursion"]}, "solution", "asks you to use recursion"),
    ],
)
def test_invalid_rules_name_exercise_and_field(rules: dict, field: str, words: str) -> None:
    with pytest.raises(CourseError) as raised:
        Course.from_dict(with_rules(**rules))
    message = str(raised.value)
    assert f"exercise 'c1': field '{field}': " in message
    assert words in message, message


def test_the_reference_solution_must_keep_the_rules() -> None:
    with pytest.raises(CourseError, match=r"field 'solution': .*not to use the built-in sum\(\)"):
        Course.from_dict(variant("exercises.1.forbidden", ["sum"]))  # BASE's solution: sum(xs)


def test_rules_are_for_code_exercises_only() -> None:
    with pytest.raises(CourseError, match="exercise 'n1': field 'required': rules apply to code"):
        Course.from_dict(variant("exercises.0.required", ["for"]))


def test_a_builtin_or_module_close_to_a_construct_is_a_name_not_a_typo() -> None:
    names = ["sorted", "math", "sort", "importlib", "__import__"]  # the last two: near 'import'
    assert Course.from_dict(with_rules(forbidden=names)).exercise("c1").forbidden == tuple(names)


# -- warnings: valid content that is likely a mistake ----------------------------------------


def warned(data: dict[str, Any], path: Path) -> list[str]:
    """The CourseWarning messages of loading ``data`` from the YAML file ``path``."""
    path.write_text(yaml.safe_dump(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_course(path)
    assert all(issubclass(w.category, CourseWarning) for w in caught), caught
    return [str(w.message) for w in caught]


def test_valid_content_is_not_warned_about(tmp_path: Path) -> None:
    assert warned(with_rules(required=["for"]), tmp_path / "course.yaml") == []


@pytest.mark.parametrize(
    ("hints", "field", "share"),
    [
        (
            ["Accumulate.", "result = 0, then for x in xs: result += x, then return result"],
            "hints[1]",
            "100%",
        ),
        (
            [
                "Start with `result = 0`.",
                "In `for x in xs:` add each to it: `result += x`.",
                "End with `return result`.",
            ],
            "hints",
            "together the hints give away 76%",
        ),
    ],
)
def test_a_hint_ladder_giving_away_the_solution_is_warned(
    tmp_path: Path, hints: list[str], field: str, share: str
) -> None:
    """The Hint button shows hints as written: a ladder reproducing the solution handed it
    out, though the tutor withholds the same code from its replies."""
    path = tmp_path / "course.yaml"
    data = variant("exercises.1.solution", LOOP_SOLUTION)
    data["exercises"][1]["hints"] = hints
    (message,) = warned(data, path)
    assert message.startswith(f"course file {path}: exercise 'c1': field '{field}': ")
    assert share in message
    assert message.endswith(
        "of the reference solution (the tutor withholds code from 50%): say what to do, not "
        "the code"
    )


def test_a_max_hint_level_above_the_ladder_is_warned(tmp_path: Path) -> None:
    path = tmp_path / "course.yaml"
    assert warned(variant("exercises.1.policy", {"max_hint_level": 3}), path) == [
        f"course file {path}: exercise 'c1': field 'policy.max_hint_level': 3 is more than "
        "the 1 hint(s) of the ladder, so it limits nothing: lower it, add hints, or leave it "
        "out to allow every hint"
    ]
    assert warned(variant("exercises.1.policy", {"max_hint_level": 1}), path) == []
    with pytest.warns(CourseWarning, match=r"^course content: exercise 'c1': field 'policy"):
        Course.from_dict(variant("exercises.1.policy", {"max_hint_level": 3}))
