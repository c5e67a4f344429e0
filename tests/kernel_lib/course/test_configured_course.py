"""``$LEARNPULSE_COURSE_FILE``: the course a kernel's widgets, magics and tutor use, and the
course its events name; a file that cannot be used is refused, naming it, and the notebook
goes on. Real course files, a real IPython shell and a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from learnpulse.collectors import context
from learnpulse.course import COURSE_FILE_ENV, CourseUnavailable, default_course
from learnpulse.course.configured import _resolve
from learnpulse.widgets import current_session, set_session
from tests.kernel_lib.course.files import MY_COURSE, write_course
from tests.kernel_lib.test_magics import run
from tests.kernel_lib.widgets import helpers
from tests.kernel_lib.widgets.helpers import TrackedStore

tracked_store = helpers.tracked_store  # the fixture

REVERSE = "%%check my-reverse\ndef reverse(text):\n    return text[::-1]\n"


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No course configured, nothing read yet, no session: as in a new kernel."""
    monkeypatch.delenv(COURSE_FILE_ENV, raising=False)
    monkeypatch.delenv(context.COURSE_ENV, raising=False)
    _resolve.cache_clear()
    yield
    _resolve.cache_clear()
    set_session(None)


@pytest.fixture
def shell(tracked_store: TrackedStore) -> Iterator[InteractiveShell]:
    """A kernel started with the course variables the test set: a new session, then
    ``%load_ext learnpulse`` (undone afterwards)."""
    set_session(None)
    ip = InteractiveShell.instance()
    try:
        yield ip
    finally:
        ip.run_cell("%unload_ext learnpulse")
        ip.user_ns.pop("reverse", None)


def test_without_a_course_file_the_kernel_uses_the_demo_course() -> None:
    assert default_course().id == context.course_id() == "demo-python-101"


def test_the_course_file_is_the_kernels_course_and_its_events_name_it(
    tmp_path, monkeypatch, shell: InteractiveShell, tracked_store: TrackedStore
) -> None:
    """The widgets and magics always used the demo course, and the events named
    $LEARNPULSE_COURSE_ID or the demo's id, whatever course the exercises came from."""
    monkeypatch.setenv(COURSE_FILE_ENV, str(write_course(tmp_path)))
    shell.run_cell("%load_ext learnpulse")
    outputs, _ = run(shell, "%exercise my-len")
    assert "What is `len('hello')`?" in outputs[-1]["text/plain"]
    outputs, _ = run(shell, REVERSE)
    assert outputs[-1]["text/plain"].startswith("my-reverse: ✔ All 2 tests pass.")
    assert current_session().course.id == "my-course"
    outputs, _ = run(shell, "%exercise ex-lists-01")  # the demo's exercises are not there
    assert "no exercise 'ex-lists-01' in course 'my-course'" in outputs[-1]["text/plain"]
    events = tracked_store.events()
    assert {"attempt", "cell_executed", "session_start"} <= set(events.get_column("kind"))
    assert set(events.get_column("course_id")) == {"my-course"}


def test_the_course_id_variable_may_name_the_files_course(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(COURSE_FILE_ENV, str(write_course(tmp_path)))
    monkeypatch.setenv(context.COURSE_ENV, "my-course")
    assert default_course().id == context.course_id() == "my-course"


def test_a_course_id_naming_another_course_refuses_the_file_naming_both(
    tmp_path, monkeypatch
) -> None:
    """Attempts would name the file's course and the notebook's other events the variable's:
    one student's work split between two courses."""
    path = write_course(tmp_path)
    monkeypatch.setenv(COURSE_FILE_ENV, str(path))
    monkeypatch.setenv(context.COURSE_ENV, "cs101")
    mismatch = "holds course 'my-course' but \\$LEARNPULSE_COURSE_ID"
    with pytest.warns(UserWarning, match=mismatch), pytest.raises(CourseUnavailable) as refused:
        default_course()
    message = str(refused.value)
    assert str(path) in message and "'cs101'" in message
    assert "set LEARNPULSE_COURSE_ID=my-course, or unset it" in message
    assert context.course_id() == "cs101"  # what was asked for explicitly
    with pytest.raises(CourseUnavailable):  # warned once, refused every time
        default_course()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (None, "cannot read it: No such file or directory"),
        (MY_COURSE.replace("answer: 5", "answer: five"), "a numeric exercise needs a number"),
        (MY_COURSE.replace("  - id: slicing", "\t- id: slicing"), "line 7, column 1"),
        (
            MY_COURSE.replace("[::-1]", "[::1]"),
            "the reference solution fails its own check",
        ),
    ],
    ids=["missing", "invalid", "not-yaml", "wrong-solution"],
)
def test_a_course_file_that_cannot_be_used_is_refused_not_replaced_by_the_demo(
    tmp_path, monkeypatch, shell: InteractiveShell, tracked_store: TrackedStore, text, named
) -> None:
    """The student's notebook goes on; the course features say what is wrong with which
    file, instead of handing out the demo's exercises as the course's."""
    path = tmp_path / "course.yaml" if text is None else write_course(tmp_path, text)
    monkeypatch.setenv(COURSE_FILE_ENV, str(path))
    with pytest.warns(UserWarning, match=f"the course file {path} .* cannot be used"):
        shell.run_cell("%load_ext learnpulse")  # said at once
    for magic in ("%exercise my-len", REVERSE, "%hint my-len", "%progress", "%tutor what?"):
        outputs, _ = run(shell, magic)
        said = outputs[-1]["text/plain"]
        assert said.startswith(f"learnpulse: the course file {path} ($LEARNPULSE_COURSE_FILE)")
        assert named in said and f"learnpulse course check {path}" in said
    assert shell.run_cell("21 * 2").result == 42  # the notebook itself works
    events = tracked_store.events()
    assert "attempt" not in set(events.get_column("kind"))
    # a file naming its course keeps the notebook's events in it
    expected = "demo-python-101" if text is None or "\t" in text else "my-course"
    assert set(events.get_column("course_id")) == {expected}


def test_a_course_given_in_the_notebook_replaces_a_refused_one(
    tmp_path, monkeypatch, tracked_store: TrackedStore
) -> None:
    from learnpulse.course import load_course

    monkeypatch.setenv(COURSE_FILE_ENV, str(tmp_path / "gone.yaml"))
    set_session(None)
    with pytest.warns(UserWarning), pytest.raises(CourseUnavailable):
        current_session()
    good = load_course(write_course(tmp_path, name="mine.yaml"))
    assert current_session(good).course.id == "my-course"
    assert json.loads(json.dumps(current_session().mastery_frame()["skill"].to_list())) == [
        "strings",
        "slicing",
    ]
