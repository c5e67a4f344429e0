"""Who is asking, through a real server: the owner is one learner id, instructors are staff.

jupyter_server's own identity provider made a new random user of every request with the
server's token and no cookie (curl, ``requests``, ``jp_fetch``), and each one became one more
learner of the course; an instructor trying the tutor was one too.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest
from tornado.httpclient import HTTPClientError

from learnpulse.store import EventStore
from tests.extension.conftest import (
    INSTRUCTOR_TOKENS,
    STUDENT_TOKENS,
    as_user,
    learnpulse_app,
)

OWNER = "owner-olga"
COURSE = "demo-python-101"  # the tutor's course (the demo course): its chats are logged there
LEARNERS = ("ada", "bob", "carol")


@pytest.fixture(autouse=True)
def owner_env(monkeypatch):
    """The server's owner is ``OWNER``, on a server that is not a hub's."""
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", OWNER)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)


@pytest.fixture
def class_of_three(lp_db_url):
    """Four attempts of each of ``LEARNERS`` in the tutor's course."""
    from tests.conftest import make_event

    with EventStore(lp_db_url) as store:
        store.append(
            [
                make_event(offset_s=60 * i + k, learner_id=learner, course_id=COURSE)
                for k, learner in enumerate(LEARNERS)
                for i in range(4)
            ]
        )


def default_provider_config(lp_db_url, **learnpulse):
    """A server as ``make demo`` runs it: jupyter_server's identity provider (one token)."""
    return {
        "ServerApp": {"jpserver_extensions": {"learnpulse_server": True}},
        "LearnPulseApp": {"db_url": lp_db_url, **learnpulse},
    }


async def chat(jp_fetch, message, headers=None):
    response = await jp_fetch(
        "learnpulse", "api", "tutor", "chat", method="POST",
        body=json.dumps({"message": message}), headers=headers or {},
    )  # fmt: skip
    return response


async def get_json(jp_fetch, *route, headers=None, **params):
    response = await jp_fetch("learnpulse", "api", *route, params=params, headers=headers or {})
    return json.loads(response.body)


async def class_learners(jp_fetch, headers=None) -> tuple[list[str], float]:
    """The course's learners as the instructor's views count them: the predictions' learner
    ids, and the dashboard's active learners over the whole course."""
    predictive = await get_json(
        jp_fetch, "analytics", "predictive", headers=headers,
        course=COURSE, type="mastery", wait="true", limit="100",
    )  # fmt: skip
    dashboard = await get_json(
        jp_fetch, "analytics", "dashboard", headers=headers,
        course=COURSE, range="course", wait="true",
    )  # fmt: skip
    kpis = {row["kpi"]: row["value"] for row in dashboard["kpis"]}
    return predictive["learners"]["ids"], kpis["active_learners"]


def tutor_learners(lp_db_url) -> set[str]:
    with EventStore(lp_db_url) as store:
        return set(store.query(kinds="tutor_message")["learner_id"])


class TestDefaultIdentityProvider:
    @pytest.fixture
    def jp_server_config(self, lp_db_url):
        return default_provider_config(lp_db_url)

    async def test_the_owner_is_one_learner_id_with_or_without_a_cookie(
        self, jp_fetch, lp_db_url, class_of_three
    ):
        first = await chat(jp_fetch, "what does range(5) give?")
        await chat(jp_fetch, "and range(2, 5)?")
        assert tutor_learners(lp_db_url) == {OWNER}  # was two random "Anonymous" users
        cookie = first.headers["Set-Cookie"].split(";")[0]
        cookie_only = {"Authorization": "", "Cookie": cookie}
        history = await get_json(jp_fetch, "tutor", "history", headers=cookie_only)
        assert history["learner_id"] == OWNER
        assert len(history["messages"]) == 4  # both questions and both answers
        both = await get_json(jp_fetch, "tutor", "history", headers={"Cookie": cookie})
        assert both == history
        status = await get_json(jp_fetch, "status")  # what a dashboard asks: who am I?
        assert status["user"] == {"learner_id": OWNER, "instructor": True}

    async def test_the_owner_trying_the_tutor_is_not_a_learner_of_the_class(
        self, jp_fetch, lp_db_url, class_of_three
    ):
        for question in ("what is a loop?", "what does range(5) give?", "what is a list?"):
            await chat(jp_fetch, question)
        ids, active = await class_learners(jp_fetch)
        assert ids == list(LEARNERS)
        assert active == len(LEARNERS)
        with EventStore(lp_db_url) as store:
            assert store.staff()["user_id"].to_list() == [OWNER]
            assert store.courses()["learners"].to_list() == [len(LEARNERS)]

    async def test_the_owner_posting_their_own_events_is_not_a_learner(
        self, jp_fetch, class_of_three
    ):
        from tests.conftest import make_event

        mine = [make_event(learner_id=OWNER, course_id=COURSE, offset_s=i) for i in range(3)]
        await jp_fetch(
            "learnpulse", "api", "events", method="POST", body=json.dumps({"events": mine})
        )
        ids, _ = await class_learners(jp_fetch)
        assert OWNER not in ids


class TestOnJupyterHub:
    """A hub's single-user server belongs to one of the students: with no instructors
    named, its owner is not the instructor (nor recorded as staff in the shared store)."""

    @pytest.fixture
    def jp_server_config(self, lp_db_url, monkeypatch):
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token")
        return default_provider_config(lp_db_url)

    async def test_the_owner_is_a_student(self, jp_fetch, lp_db_url, class_of_three):
        with pytest.raises(HTTPClientError) as refused:
            await get_json(jp_fetch, "analytics", "dashboard", course=COURSE)
        assert refused.value.code == 403
        await chat(jp_fetch, "what is a loop?")
        with EventStore(lp_db_url) as store:
            assert store.staff().is_empty()
        mine = await get_json(
            jp_fetch, "analytics", "predictive", course=COURSE, type="mastery", wait="true"
        )
        assert mine["learners"]["ids"] == [OWNER]


class TestClassTokens:
    """The tests' usual server: class tokens for ada, bob and teacher (an instructor)."""

    async def test_the_server_token_is_the_owner_whatever_the_cookie(self, jp_fetch, lp_db_url):
        ada = await chat(jp_fetch, "what is a loop?", headers=as_user("ada"))
        ada_cookie = ada.headers["Set-Cookie"].split(";")[0]
        await chat(jp_fetch, "what is a list?")
        await chat(jp_fetch, "what is a list?", headers={"Cookie": ada_cookie})
        with EventStore(lp_db_url) as store:
            questions = store.query(kinds="tutor_message")
        assert questions.group_by("learner_id").len().sort("learner_id").rows() == [
            ("ada", 2),
            (OWNER, 4),
        ]

    @pytest.mark.parametrize(("typed", "user"), [("token-ada", "ada"), (None, OWNER)])
    async def test_a_token_typed_at_the_login_page_signs_its_user_in(
        self, jp_fetch, jp_serverapp, typed, user
    ):
        """The login page was a 500 (jupyter_server's form called a method the provider
        lacked); the server's own token is its owner there too."""
        typed = typed or jp_serverapp.identity_provider.token
        page = await jp_fetch("login", headers={"Authorization": ""})
        xsrf = page.headers["Set-Cookie"].split(";")[0]
        form = urllib.parse.urlencode({"password": typed, "_xsrf": xsrf.split("=", 1)[1]})
        with pytest.raises(HTTPClientError) as redirected:  # to the next page, signed in
            await jp_fetch(
                "login", method="POST", body=form, follow_redirects=False,
                headers={"Authorization": "", "Cookie": xsrf},
            )  # fmt: skip
        assert redirected.value.code == 302
        cookies = redirected.value.response.headers.get_list("Set-Cookie")
        login = next(c.split(";")[0] for c in cookies if not c.startswith("_xsrf"))
        cookie_only = {"Authorization": "", "Cookie": login}
        status = await get_json(jp_fetch, "status", headers=cookie_only)
        assert status["user"]["learner_id"] == user

    async def test_an_instructor_trying_the_tutor_keeps_a_history_but_is_no_learner(
        self, jp_fetch, class_of_three
    ):
        teacher = as_user("teacher")
        await chat(jp_fetch, "what does range(5) give?", headers=teacher)
        await chat(jp_fetch, "why?", headers=teacher)
        history = await get_json(jp_fetch, "tutor", "history", headers=teacher)
        assert history["learner_id"] == "teacher"
        assert len(history["messages"]) == 4
        ids, active = await class_learners(jp_fetch, teacher)
        assert ids == list(LEARNERS)
        assert active == len(LEARNERS)

    async def test_one_becoming_an_instructor_leaves_the_class(
        self, jp_fetch, jp_serverapp, class_of_three
    ):
        """As a hub group's member is known only when they ask: recorded on their first
        request, and out of the views already computed with them."""
        teacher = as_user("teacher")
        assert (await class_learners(jp_fetch, teacher))[0] == list(LEARNERS)
        learnpulse_app(jp_serverapp).instructors = ["teacher", "bob"]
        await get_json(jp_fetch, "status", headers=as_user("bob"))
        ids, active = await class_learners(jp_fetch, teacher)
        assert ids == ["ada", "carol"]
        assert active == 2


class TestClassTokensWithoutInstructors:
    @pytest.fixture
    def jp_server_config(self, lp_db_url):
        return {
            "ServerApp": {
                "jpserver_extensions": {"learnpulse_server": True},
                "identity_provider_class": "learnpulse_server.identity.ClassTokenIdentityProvider",
            },
            "ClassTokenIdentityProvider": {"user_tokens": {**STUDENT_TOKENS, **INSTRUCTOR_TOKENS}},
            "LearnPulseApp": {"db_url": lp_db_url},
        }

    async def test_only_the_owner_is_the_instructor(self, jp_fetch, class_of_three):
        """The owner rule named everyone the instructor when it could not tell the owner."""
        ids, _ = await class_learners(jp_fetch)
        assert ids == list(LEARNERS)
        for student in ("ada", "teacher"):
            with pytest.raises(HTTPClientError) as refused:
                await class_learners(jp_fetch, as_user(student))
            assert refused.value.code == 403
