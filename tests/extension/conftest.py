"""Server fixtures: a real Jupyter server with learnpulse on a fresh store (pytest-jupyter).

Users: the server's own token is the instructor ``teacher`` (named in ``instructors``);
``STUDENT_TOKENS`` are two students. ``as_user(name)`` gives ``jp_fetch`` headers for one of
them, ``ANONYMOUS`` none at all.
"""

from __future__ import annotations

import pytest

STUDENT_TOKENS = {"token-ada": "ada", "token-bob": "bob"}
INSTRUCTOR_TOKENS = {"token-teacher": "teacher"}
ANONYMOUS = {"Authorization": ""}


def as_user(name: str) -> dict[str, str]:
    """Authorization header of one of the test users (``ada``, ``bob`` or ``teacher``)."""
    tokens = {user: token for token, user in {**STUDENT_TOKENS, **INSTRUCTOR_TOKENS}.items()}
    return {"Authorization": f"token {tokens[name]}"}


@pytest.fixture
def lp_db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def jp_server_config(lp_db_url):
    return {
        "ServerApp": {
            "jpserver_extensions": {"learnpulse_server": True},
            "identity_provider_class": "learnpulse_server.identity.ClassTokenIdentityProvider",
        },
        "ClassTokenIdentityProvider": {"user_tokens": {**STUDENT_TOKENS, **INSTRUCTOR_TOKENS}},
        "LearnPulseApp": {"db_url": lp_db_url, "instructors": ["teacher"]},
    }
