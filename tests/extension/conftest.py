"""Server fixtures: a real Jupyter server with learnpulse on a fresh store (pytest-jupyter)."""

from __future__ import annotations

import pytest


@pytest.fixture
def lp_db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def jp_server_config(lp_db_url):
    return {
        "ServerApp": {"jpserver_extensions": {"learnpulse_server": True}},
        "LearnPulseApp": {"db_url": lp_db_url},
    }
