"""Saved course models the server will not use are logged when it starts, not at the first
prediction an instructor asks for."""

from __future__ import annotations

import json
import shutil

import pytest

from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from tests.extension.conftest import learnpulse_app

#: Seconds the tests wait for the start's check (a thread: it loads the models).
WAIT_S = 60


@pytest.fixture(scope="module")
def fitted_folder(tmp_path_factory):
    """Current course models, as FittedCourseModels.save writes them."""
    from learnpulse.models import fit_course_models

    folder = tmp_path_factory.mktemp("fitted") / "current"
    fit_course_models(simulate_course(SimulationConfig(n_learners=200, weeks=4, seed=5))).save(
        folder
    )
    return folder


@pytest.fixture
def models_dir(tmp_path, fitted_folder):
    """Three courses: current models, stale ones (model version 1.1), and a broken file."""
    root = tmp_path / "models"
    for course in ("course-current", "course-stale", "course-broken"):
        shutil.copytree(fitted_folder, root / course)
    manifest = root / "course-stale" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "model_version": "1.1"}))
    (root / "course-broken" / "models.joblib").write_bytes(b"not the saved file")
    return root


@pytest.fixture
def allow_stale():
    return False


@pytest.fixture
def jp_server_config(jp_server_config, models_dir, allow_stale):
    options = {"models_dir": str(models_dir), "allow_stale_models": allow_stale}
    return {**jp_server_config, "LearnPulseApp": {**jp_server_config["LearnPulseApp"], **options}}


def _warnings_at_start(serverapp, caplog) -> list[str]:
    """The start's warnings about course models, once its check has ended."""
    learnpulse_app(serverapp).models_check.join(WAIT_S)
    records = caplog.get_records("setup") + caplog.records
    return [r.getMessage() for r in records if "learnpulse: course models of" in r.msg]


async def test_unusable_course_models_are_logged_at_start(jp_serverapp, models_dir, caplog):
    found = _warnings_at_start(jp_serverapp, caplog)
    assert len(found) == 2, found  # the current course says nothing
    stale = next(m for m in found if "course-stale" in m)
    assert "stale: fitted under model version 1.1" in stale and "allow_stale_models" in stale
    assert f"learnpulse models check --models-dir {models_dir}" in stale
    broken = next(m for m in found if "course-broken" in m)
    assert "course-broken: unusable:" in broken
    assert "models.joblib is not the file manifest.json names" in broken


@pytest.mark.parametrize("allow_stale", [True])
async def test_stale_models_allowed_are_not_warned_of(jp_serverapp, caplog, allow_stale):
    found = _warnings_at_start(jp_serverapp, caplog)
    assert [m for m in found if "course-stale" in m] == []
    assert len([m for m in found if "course-broken" in m]) == 1
