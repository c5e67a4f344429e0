"""A server pointed at an instructor's own course file (``tutor_course_file``): the tutor
teaches from it and the analytics of its course use its skills and prerequisites."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from learnpulse.store import EventStore
from tests.conftest import make_event
from tests.extension.conftest import as_user, learnpulse_app
from tests.extension.kernel_channels import execute
from tests.extension.test_analytics import get, refused

COURSE_ID = "text-basics"
#: A small course of the instructor's own: 'slicing' needs 'strings', and names that are
#: not the ids, so that a view falling back to the ids shows it.
COURSE = {
    "id": COURSE_ID,
    "title": "Text basics",
    "skills": [
        {"id": "strings", "name": "Zeichenketten", "material_file": "strings.md"},
        {"id": "slicing", "name": "Slicing", "prerequisites": ["strings"]},
    ],
    "exercises": [
        {
            "id": "tb-len",
            "prompt": "What is `len('Grüße')`?",
            "skills": ["strings"],
            "difficulty": 0.2,
            "type": "numeric",
            "answer": 5,
            "hints": ["Count the characters, not the bytes."],
        },
        {
            "id": "tb-rev",
            "prompt": "Write `reverse(text)`.",
            "skills": ["slicing", "strings"],
            "difficulty": 0.5,
            "type": "code",
            "function": "reverse",
            "tests": [{"args": ["abc"], "expected": "cba"}],
            "hints": ["A slice can step backwards."],
            "solution": "def reverse(text):\n    return text[::-1]\n",
        },
    ],
}


@pytest.fixture
def jp_server_config(jp_server_config, tmp_path):
    (tmp_path / "strings.md").write_text(
        "## Unicode strings\n\nA str is a sequence of Unicode characters: len('Grüße') is 5.\n"
    )
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(COURSE, allow_unicode=True))
    app = {**jp_server_config["LearnPulseApp"], "tutor_course_file": str(path)}
    return {**jp_server_config, "LearnPulseApp": app}


async def test_the_course_files_prerequisites_reach_the_analytics(jp_fetch, lp_db_url):
    """Events name skills, not prerequisites: the store had none for an instructor's course,
    so its knowledge gaps were always empty (no skill blocks another without a prerequisite
    graph) and the views named skills by their ids."""
    attempts = [("tb-len", ["strings"], ok) for ok in (False, True, False, False)]
    attempts += [("tb-rev", ["slicing", "strings"], False)] * 2
    events = [
        make_event(
            offset_s=60 * n, learner_id="ada", course_id=COURSE_ID, item_id=item, skills=skills,
            correct=correct,
        )
        for n, (item, skills, correct) in enumerate(attempts)
    ]  # fmt: skip
    with EventStore(lp_db_url) as store:
        store.append(events)
    body = await get(jp_fetch, "predictive", type="knowledge_gaps", course=COURSE_ID)
    (gap,) = body["predictions"]["knowledge_gaps"]
    assert (gap["learner_id"], gap["skill"], gap["name"]) == ("ada", "strings", "Zeichenketten")
    assert gap["blocked"] == ["slicing"]
    assert gap["reason"].endswith("blocks 1 skill(s) not yet mastered: Slicing")
    with EventStore(lp_db_url) as store:
        stored = store.skills(COURSE_ID)
    assert dict(zip(stored["skill_id"], stored["prerequisites"].to_list(), strict=True)) == {
        "strings": [],
        "slicing": ["strings"],
    }


async def test_before_its_first_event_the_course_is_empty_not_unknown(jp_fetch, lp_db_url):
    """The server records its course file's skills at start, and hands the course id to the
    dashboards' kernels; yet before a student's first event every analytics route answered
    404 "no course 'text-basics' in the store": the instructor dashboard showed an error
    on the first day of class."""
    overview = await get(jp_fetch, "dashboard", course=COURSE_ID)
    active = {k["kpi"]: k["value"] for k in overview["kpis"]}["active_learners"]
    assert (overview["course"], active) == (COURSE_ID, 0)
    predictive = await get(jp_fetch, "predictive", course=COURSE_ID)
    assert predictive["learners"]["total"] == 0
    with EventStore(lp_db_url) as store:
        store.append([make_event(learner_id="ada", course_id=COURSE_ID, item_id="tb-len")])
    predictive = await get(jp_fetch, "predictive", course=COURSE_ID, wait="true")
    assert predictive["learners"]["ids"] == ["ada"]
    with pytest.raises(Exception, match="404"):  # a course nobody described is still unknown
        await get(jp_fetch, "dashboard", course="no-such-course")


async def test_the_course_list_names_the_courses_and_counts_their_learners(jp_fetch, lp_db_url):
    """The instructor dashboard showed one course; to switch it lists the store's courses:
    the course file's by its title (no event yet: 0 learners), the demo course by its title,
    any other by its id. Students get no list (the course overview is not theirs)."""
    with EventStore(lp_db_url) as store:
        store.append([
            make_event(offset_s=i, learner_id=learner, course_id=course)
            for i, (learner, course) in enumerate(
                [("ada", "demo-python-101"), ("bob", "demo-python-101"), ("ada", "stats-201")]
            )
        ])  # fmt: skip
    listed = (await get(jp_fetch, "courses"))["courses"]
    assert listed == [
        {"course_id": "demo-python-101", "name": "Introduction to Python", "learners": 2},
        {"course_id": "stats-201", "name": None, "learners": 1},
        {"course_id": COURSE_ID, "name": "Text basics", "learners": 0},
    ]
    code, message = await refused(jp_fetch, "courses", "ada")
    assert code == 403 and "instructors" in message
    # each course listed can be shown: the one with learners but no skills stored too
    assert (await get(jp_fetch, "dashboard", course="stats-201"))["course"] == "stats-201"


async def test_without_a_course_every_analytics_route_answers_for_the_course_file(
    jp_fetch, jp_ws_fetch, lp_db_url
):
    """Asked without ?course=, the analytics routes answered for the store's alphabetically
    first course ('algebra-1' here), while the dashboards open on the server's course: an
    API client saw another course than the instructor's dashboard."""
    with EventStore(lp_db_url) as store:
        store.append([
            make_event(offset_s=i, learner_id=learner, course_id=course, item_id=item)
            for i, (learner, course, item) in enumerate(
                [("ada", "algebra-1", "alg-1"), ("bob", "algebra-1", "alg-2"),
                 ("ada", COURSE_ID, "tb-len")]
            )
        ])  # fmt: skip
    for route in ("dashboard", "trends", "predictive", "alerts"):
        assert (await get(jp_fetch, route))["course"] == COURSE_ID, route
    assert (await get(jp_fetch, "predictive"))["learners"]["ids"] == ["ada"]
    ws = await jp_ws_fetch("learnpulse", "api", "analytics", "stream", headers=as_user("teacher"))
    snapshot = json.loads(await ws.read_message())
    ws.close()
    assert (snapshot["type"], snapshot["course"]) == ("snapshot", COURSE_ID)
    # naming a course still answers for it
    assert (await get(jp_fetch, "dashboard", course="algebra-1"))["course"] == "algebra-1"


async def test_the_tutor_teaches_from_the_course_file(jp_fetch):
    async def chat(body: dict) -> dict:
        response = await jp_fetch(
            "learnpulse", "api", "tutor", "chat", method="POST", body=json.dumps(body),
            headers=as_user("ada"),
        )  # fmt: skip
        return json.loads(response.body)

    reply = await chat({"message": "what is a unicode string?"})
    assert reply["sources"][0]["id"] == "course:strings#Unicode strings"
    hinted = await chat({"message": "a hint please", "exercise": "tb-rev"})
    assert "A slice can step backwards." in hinted["text"]
    assert "[::-1]" not in hinted["text"]


async def test_the_server_hands_its_course_to_kernels_and_takes_it_back(jp_serverapp, tmp_path):
    app = learnpulse_app(jp_serverapp)
    assert os.environ["LEARNPULSE_COURSE_FILE"] == str(tmp_path / "course.yaml")
    assert os.environ["LEARNPULSE_COURSE_ID"] == COURSE_ID
    await app.stop_extension()  # another server in this process must not inherit the course
    assert "LEARNPULSE_COURSE_FILE" not in os.environ
    assert "LEARNPULSE_COURSE_ID" not in os.environ


@pytest.fixture
def users_course_file(jp_environ, monkeypatch, tmp_path):
    """A course file the user gave the kernels before the server started."""
    monkeypatch.setenv("LEARNPULSE_COURSE_FILE", str(tmp_path / "mine.yaml"))


async def test_a_course_file_the_user_set_is_kept_and_the_difference_logged(
    capfd, users_course_file, jp_serverapp, tmp_path
):
    assert os.environ["LEARNPULSE_COURSE_FILE"] == str(tmp_path / "mine.yaml")
    # its course must be the server's: a kernel refuses another one, naming both
    assert os.environ["LEARNPULSE_COURSE_ID"] == COURSE_ID
    logged = capfd.readouterr().err  # capfd comes first: the server logs as it starts
    assert f"kernels use $LEARNPULSE_COURSE_FILE={tmp_path / 'mine.yaml'}" in logged
    await learnpulse_app(jp_serverapp).stop_extension()
    assert os.environ["LEARNPULSE_COURSE_FILE"] == str(tmp_path / "mine.yaml")


#: A student's first cell: the extension, an exercise of the instructor's course, an answer
#: checked, and the events delivered before the test reads the store.
STUDENT_CELL = """\
%load_ext learnpulse
%exercise tb-len
from learnpulse.collectors.tracking import default_sink
from learnpulse.widgets import current_session
print("course:", current_session().course.id, sorted(current_session().course.exercises))
"""
CHECK_CELL = "%%check tb-len\nlen('Grüße')\n"
FLUSH_CELL = "print('delivered:', default_sink().flush(30))"


async def test_a_kernel_started_by_the_server_works_on_its_course(
    jp_fetch, kernel_channels, lp_db_url, monkeypatch
):
    """The kernels never read tutor_course_file: %exercise tb-len was "no exercise 'tb-len'
    in course 'demo-python-101'" and the notebook's events named the demo course, while the
    tutor and the analytics taught and counted the instructor's. Its events reach the
    server's store, which is set only in the server's config (db_url)."""
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", "ada")
    started = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(started.body)["id"]
    try:
        async with kernel_channels(kernel_id) as channels:
            shown = await execute(channels, STUDENT_CELL)
            assert "What is `len('Grüße')`?" in shown  # the exercise widget, as text
            assert "course: text-basics ['tb-len', 'tb-rev']" in shown
            checked = await execute(channels, CHECK_CELL)
            assert "tb-len: ✔" in checked
            assert "delivered: True" in await execute(channels, FLUSH_CELL)
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    with EventStore(lp_db_url) as store:
        events = store.query(learners="ada")
    assert {"session_start", "cell_executed", "attempt"} <= set(events.get_column("kind"))
    assert set(events.get_column("course_id")) == {COURSE_ID}
