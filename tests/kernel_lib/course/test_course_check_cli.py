"""``learnpulse course check FILE``: a course file checked as the server and the kernels load
it, every problem on its line, and a summary; run in-process through ``main`` on real files."""

from __future__ import annotations

import json

import pytest

from learnpulse.cli import main
from learnpulse.collectors.context import COURSE_ENV
from learnpulse.course import DEMO_COURSE_FILE
from tests.kernel_lib.course.files import MY_COURSE, write_course

#: Five mistakes: a misspelt prerequisite (line 9), a difficulty of 2 (14), a word for a
#: number (16), an exercise id given twice (18) and a misspelt test field (34).
BROKEN = (
    MY_COURSE.replace("prerequisites: [strings]", "prerequisites: [string]")
    .replace("difficulty: 0.2", "difficulty: 2")
    .replace("answer: 5", "answer: five")
    .replace("id: my-upper", "id: my-len")
    .replace("{args: [''], expected: ''}", "{args: [''], expectd: ''}")
)


def check(capsys, *args: str) -> tuple[int, str]:
    status = main(["course", "check", *args])
    return status, capsys.readouterr().out


def test_a_valid_course_passes_with_a_summary(tmp_path, capsys) -> None:
    path = write_course(tmp_path)
    status, out = check(capsys, str(path))
    assert status == 0
    assert out.splitlines() == [
        "course 'my-course' (Strings, my way), mastery threshold 0.95",
        "  2 skills, 1 prerequisite link; needing no other: strings",
        "  3 exercises: 1 choice, 1 code, 1 numeric",
        f"{path}: 0 errors, 0 warnings: OK",
    ]
    status, out = check(capsys, str(path), "--json", "--strict")
    report = json.loads(out)
    assert status == 0 and report["ok"] and report["errors"] == report["warnings"] == []
    assert report["summary"]["exercises_by_type"] == {"choice": 1, "code": 1, "numeric": 1}
    assert report["summary"]["prerequisite_links"] == 1


def test_the_demo_course_passes(capsys) -> None:
    status, out = check(capsys, str(DEMO_COURSE_FILE), "--strict")
    assert status == 0
    assert "16 skills" in out and "42 exercises: 9 choice, 20 code, 6 numeric, 7 text" in out


def test_every_error_is_named_on_its_line(tmp_path, capsys) -> None:
    path = write_course(tmp_path, BROKEN)
    status, out = check(capsys, str(path))
    assert status == 1
    assert out.splitlines() == [
        f"{path}:9: error: skill 'slicing': field 'prerequisites': unknown 'string' (did you "
        "mean 'strings', 'slicing'?)",
        f"{path}:14: error: exercise 'my-len': field 'difficulty': must be a number in 0..1, got 2",
        f"{path}:16: error: exercise 'my-len': field 'answer': a numeric exercise needs a "
        "number, got 'five'",
        f"{path}:18: error: exercise 'my-len': field 'id': duplicate id: another exercise has "
        "it already; give each exercise its own id",
        f"{path}:34: error: exercise 'my-reverse': field 'tests[1].expectd': unknown field "
        "(did you mean 'expected'?)",
        f"{path}:34: error: exercise 'my-reverse': field 'tests[1]': needs 'expected'",
        f"{path}: 6 errors, 0 warnings: NOT OK",
    ]
    status, out = check(capsys, str(path), "--json")
    report = json.loads(out)
    assert status == 1 and not report["ok"] and report["summary"] is None
    assert report["errors"][2] == {
        "severity": "error",
        "file": str(path),
        "line": 16,
        "where": "exercise 'my-len'",
        "field": "answer",
        "message": "a numeric exercise needs a number, got 'five'",
    }


def test_a_reference_solution_failing_its_tests_is_an_error(tmp_path, capsys) -> None:
    path = write_course(tmp_path, MY_COURSE.replace("[::-1]", "[::1]"))
    status, out = check(capsys, str(path))
    assert status == 1
    assert out.startswith(
        f"{path}:36: error: exercise 'my-reverse': field 'solution': the reference solution "
        "fails its own check: 1 of 2 tests pass. reverse('abc') returned 'abc', expected 'cba'."
    )


def test_warnings_pass_unless_strict(tmp_path, capsys) -> None:
    giveaway = MY_COURSE.replace(
        "hints: [A slice can step backwards.]",
        "hints: ['return text[::-1]']\n    policy: {max_hint_level: 3}",
    )
    path = write_course(tmp_path, giveaway)
    status, out = check(capsys, str(path))
    assert status == 0
    assert f"{path}:35: warning: exercise 'my-reverse': field 'hints[0]': the hint gives" in out
    assert f"{path}:36: warning: exercise 'my-reverse': field 'policy.max_hint_level'" in out
    assert out.splitlines()[-1] == f"{path}: 0 errors, 2 warnings: OK"
    status, out = check(capsys, str(path), "--strict")
    assert status == 1
    assert out.splitlines()[-1].endswith("NOT OK (--strict: warnings count as errors)")
    status, out = check(capsys, str(path), "--strict", "--json")
    assert status == 1 and json.loads(out)["ok"] is False


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (None, ": error: course: cannot read it: No such file or directory"),
        (
            MY_COURSE.replace("  - id: slicing", "\t- id: slicing"),
            ":7: error: course: not valid YAML: line 7, column 1: found character that cannot "
            "start any token",
        ),
        ("id: my-course\nid: again\n", ":2: error: course: not valid YAML: line 2, column 1"),
        (b"id: caf\xe9\n", ":1: error: course: it is not UTF-8 text (byte 0xe9 on line 1)"),
    ],
    ids=["missing", "tab", "key-twice", "latin-1"],
)
def test_a_file_that_does_not_read_as_a_course_is_an_error(tmp_path, capsys, text, said) -> None:
    path = tmp_path / "course.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        write_course(tmp_path, text)
    status, out = check(capsys, str(path))
    assert status == 1
    assert out.startswith(f"{path}{said}")


def test_a_course_id_variable_naming_another_course_is_an_error(
    tmp_path, capsys, monkeypatch
) -> None:
    """Kernels with this environment would refuse the course, and a server would stop."""
    monkeypatch.setenv(COURSE_ENV, "cs101")
    path = write_course(tmp_path)
    status, out = check(capsys, str(path))
    assert status == 1
    assert out.startswith(
        f"{path}:1: error: course: field 'id': the course is 'my-course' but "
        "$LEARNPULSE_COURSE_ID is 'cs101' here"
    )
