"""LearnPulseApp.course_settings through a real Jupyter server: the mastery threshold and the
dropout-risk threshold reach the predictions and the dashboard; a typo stops the server."""

from __future__ import annotations

import os

import pytest
from traitlets import TraitError

from learnpulse.course import DEMO_COURSE_FILE
from learnpulse_server.app import LearnPulseApp
from tests.extension.test_analytics import (  # noqa: F401 (fixtures)
    enrolled_risks,
    get,
    models_dir,
    simulated,
)

#: Below the default 0.95, so that more skills are mastered; the dropout threshold is low
#: enough that some learners of the simulated class are at risk and others not.
SETTINGS = {"mastery_threshold": 0.6, "rules": {"dropout_risk": 0.005}}


@pytest.fixture
def jp_server_config(jp_server_config, models_dir):  # noqa: F811
    app = {
        **jp_server_config["LearnPulseApp"],
        "models_dir": str(models_dir),
        "analytics_prediction_interval": 0.0,
        "course_settings": SETTINGS,
    }
    return {**jp_server_config, "LearnPulseApp": app}


async def test_the_mastery_threshold_reaches_the_predictions(jp_fetch, simulated):  # noqa: F811
    body = await get(jp_fetch, "predictive", type="mastery", limit=100)
    rows = body["predictions"]["mastery"]
    assert rows
    for row in rows:
        assert row["mastered"] == (row["p_known"] >= 0.6), row
        assert (row["label"] == "Mastered") == row["mastered"], row
    assert any(0.6 <= row["p_known"] < 0.95 for row in rows), "a default would differ"


async def test_the_dashboard_counts_at_risk_with_the_configured_threshold(
    jp_fetch,
    simulated,  # noqa: F811
):
    predicted = await get(jp_fetch, "predictive", type="retention_risk", limit=100)
    risks = enrolled_risks(predicted)
    body = await get(jp_fetch, "dashboard", range="month")
    at_risk = {row["kpi"]: row for row in body["kpis"]}["at_risk"]["value"]
    assert at_risk == sum(r >= 0.005 for r in risks)
    assert at_risk != sum(r >= 0.5 for r in risks), "the default threshold would count others"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"mastery_treshold": 0.9}, "unknown setting(s) ['mastery_treshold']"),
        ({"rules": {"dropout_risk": "high"}}, "rules.dropout_risk: expected a number"),
        ({"mastery_threshold": 0}, "mastery_threshold must be a number in (0, 1]"),
    ],
)
def test_a_bad_setting_stops_the_server_naming_it(settings, named):
    with pytest.raises(TraitError) as info:
        LearnPulseApp(course_settings=settings)
    assert "LearnPulseApp.course_settings" in str(info.value) and named in str(info.value)


def test_the_course_files_threshold_is_the_default_and_a_conflict_is_logged(tmp_path, caplog):
    """Students' widgets and the tutor read the course file: predictions follow it unless
    course_settings says otherwise, which is logged."""
    import shutil

    import yaml

    from learnpulse.course.loading import DEMO_COURSE_FILE
    from learnpulse_server.handlers.analytics import _prediction_settings

    folder = shutil.copytree(DEMO_COURSE_FILE.parent, tmp_path / "course")  # with material
    course = yaml.safe_load(DEMO_COURSE_FILE.read_text()) | {"mastery_threshold": 0.8}
    path = folder / "course.yaml"
    path.write_text(yaml.safe_dump(course))
    app = LearnPulseApp(tutor_course_file=str(path))
    assert _prediction_settings(app) == {"mastery_threshold": 0.8}
    app.course_settings = {"mastery_threshold": 0.9, "rules": {"dropout_risk": 0.4}}
    with caplog.at_level("WARNING"):
        settings = _prediction_settings(app)
    assert settings == {"mastery_threshold": 0.9, "rules": {"dropout_risk": 0.4}}
    assert "differs from 0.8" in caplog.text
    assert _prediction_settings(LearnPulseApp()) is None


def test_a_course_file_that_does_not_load_stops_the_server_naming_it(tmp_path):
    """The server started with it: every tutor chat was then a 400 blaming the student's
    request with the course's problems, and the dashboard's analytics a 500 "internal error
    (CourseError)"."""
    import shutil

    import yaml

    from learnpulse.course.loading import DEMO_COURSE_FILE

    folder = shutil.copytree(DEMO_COURSE_FILE.parent, tmp_path / "course")  # with material
    course = yaml.safe_load(DEMO_COURSE_FILE.read_text())
    course["skills"][1]["prerequisites"] = ["variable"]  # a typo of 'variables'
    path = folder / "course.yaml"
    path.write_text(yaml.safe_dump(course))
    with pytest.raises(TraitError) as info:
        LearnPulseApp(tutor_course_file=str(path))
    assert str(info.value) == (
        f"LearnPulseApp.tutor_course_file: 1 problem(s) in course file {path}: skill "
        "'expressions': field 'prerequisites': unknown 'variable' (did you mean 'variables'?)"
    )
    with pytest.raises(TraitError, match=r"tutor_course_file: cannot read .*: No such file"):
        LearnPulseApp(tutor_course_file=str(tmp_path / "absent.yaml"))


def test_a_course_files_warnings_are_logged_at_start(tmp_path, caplog):
    import logging

    import yaml

    from learnpulse.course.loading import DEMO_COURSE_FILE

    course = yaml.safe_load(DEMO_COURSE_FILE.read_text())
    for skill in course["skills"]:
        skill.pop("material_file")
    swap = next(e for e in course["exercises"] if e["id"] == "ex-variables-02")
    swap["hints"].append("`return b, a`")  # the solution itself
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(course))
    with caplog.at_level("WARNING"):
        LearnPulseApp(log=logging.getLogger("course-file-test"), tutor_course_file=str(path))
    assert (
        f"learnpulse: course file {path}: exercise 'ex-variables-02': field 'hints[2]': the "
        "hint gives away 100% of the reference solution"
    ) in caplog.text


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (
            'c.LearnPulseApp.tutor_course_file = "/no/such/course.yaml"',
            "tutor_course_file: cannot read /no/such/course.yaml: No such file or directory",
        ),
        # the kernels would record the notebooks in 'cs101' and the tutor in the file's course
        (
            f'c.LearnPulseApp.tutor_course_file = "{DEMO_COURSE_FILE}"\n'
            'import os; os.environ["LEARNPULSE_COURSE_ID"] = "cs101"',
            "holds course 'demo-python-101' but $LEARNPULSE_COURSE_ID is 'cs101'",
        ),
        (
            'c.LearnPulseApp.course_settings = {"rules": {"dropout_risk": "0.3"}}',
            "rules.dropout_risk: expected a number, got '0.3'",
        ),
        ("c.LearnPulseApp.analytics_workers = 0", "'analytics_workers' trait"),
        # every tutor chat was a 400 ("an LLM engine needs a model name")
        ('c.LearnPulseApp.tutor_llm_url = "http://127.0.0.1:9/v1"', "needs a model name"),
        ('c.LearnPulseApp.tutor_llm_url = "localhost:11434"', "must be an http(s) URL"),
    ],
)
def test_a_jupyter_server_with_a_bad_setting_stops(tmp_path, line, named):
    """jupyter_server only logs an extension that fails to link, then loads it: learnpulse
    served with the defaults (no instructors: every user was one). It must stop instead."""
    import subprocess
    import sys
    from pathlib import Path

    config = tmp_path / "jupyter_server_config.py"
    config.write_text(
        'c.ServerApp.jpserver_extensions = {"learnpulse_server": True}\n'
        f'c.LearnPulseApp.db_url = "sqlite:///{tmp_path / "s.db"}"\n'
        'c.LearnPulseApp.instructors = ["teacher"]\n'
        f"{line}\n"
    )
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run(
        [str(jupyter), "server", "--no-browser", "--port", "0", f"--config={config}"],
        env={
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp_path),
            "JUPYTER_RUNTIME_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "learnpulse: invalid configuration, stopping" in done.stderr and named in done.stderr
