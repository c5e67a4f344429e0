"""A server pointed at an instructor's own course file (``tutor_course_file``): the tutor
teaches from it and the analytics of its course use its skills and prerequisites."""

from __future__ import annotations

import json

import pytest
import yaml

from learnpulse.store import EventStore
from tests.conftest import make_event
from tests.extension.conftest import as_user
from tests.extension.test_analytics import get

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
