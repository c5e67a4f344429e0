"""Analytics routes through a real Jupyter server (pytest-jupyter) on a real SQLite store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading

import polars as pl
import pytest
from tornado.httpclient import HTTPClientError

from learnpulse.analytics import course_overview, course_trends, to_json
from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.store import EventStore
from learnpulse_server.handlers.analytics import SERVICE_SETTING
from tests.extension.conftest import (
    ANONYMOUS,
    as_user,
    eventually,
    learnpulse_app,
    running_tasks,
)
from tests.kernel_lib.test_analytics import HAND_BUILT, attempt

HAND_AT = "2024-09-09T00:00:00Z"
#: The simulated learners who are the test users.
RENAMED = {"learner-00000": "ada", "learner-00001": "bob"}


def simulated_class(n_learners: int = 30, names: dict[str, str] | None = None):
    """A small simulated course whose first two learners are the users ada and bob (and
    other learners renamed by ``names``)."""
    data = simulate_course(SimulationConfig(n_learners=n_learners, weeks=4, seed=3))
    rename = pl.col("learner_id").replace({**RENAMED, **(names or {})})
    data.events = data.events.with_columns(rename)
    data.learners = data.learners.with_columns(rename)
    return data


@pytest.fixture
def hand_built(lp_db_url):
    with EventStore(lp_db_url) as store:
        store.append(HAND_BUILT)


@pytest.fixture
def simulated(lp_db_url):
    data = simulated_class()
    with EventStore(lp_db_url) as store:
        store.append_course(data)
    return data


async def get(jp_fetch, route: str, user: str = "teacher", **params) -> dict:
    response = await jp_fetch(
        "learnpulse", "api", "analytics", route, params=params, headers=as_user(user)
    )
    assert response.code == 200
    return json.loads(response.body)


async def refused(jp_fetch, route: str, user: str | None, **params) -> tuple[int, str]:
    headers = ANONYMOUS if user is None else as_user(user)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("learnpulse", "api", "analytics", route, params=params, headers=headers)
    return info.value.code, json.loads(info.value.response.body)["message"]


async def test_dashboard_known_answers(jp_fetch, hand_built):
    body = await get(jp_fetch, "dashboard", range="week", at=HAND_AT)
    assert body["course"] == "course-a"
    assert body["period"]["first_day"] == "2024-09-02"
    kpis = {row["kpi"]: row for row in body["kpis"]}
    assert (kpis["active_learners"]["value"], kpis["active_learners"]["previous"]) == (3, 1)
    assert kpis["avg_session_minutes"]["value"] == pytest.approx(8.0)
    assert kpis["accuracy"]["change"] == pytest.approx(-1 / 3)
    assert [row["date"] for row in body["daily"]][:2] == ["2024-09-02", "2024-09-03"]
    assert body["popular_skills"][0]["skill"] == "lists"
    assert body["tutor"]["agents"][0] == {
        "agent": "mentor",
        "messages": 2,
        "learner_messages": 1,
        "learners": 1,
    }


@pytest.mark.parametrize("range_", ["week", "month", "quarter", "course"])
async def test_dashboard_matches_the_library_on_a_simulated_course(
    jp_fetch, simulated, lp_db_url, range_
):
    body = await get(jp_fetch, "dashboard", range=range_)  # course: the only one
    with EventStore(lp_db_url) as store:
        stored, skills = store.query(course="demo-python-101"), store.skills("demo-python-101")
    expected = to_json(course_overview(stored, range=range_, skills=skills))
    assert body["course"] == "demo-python-101"
    assert body["daily"] and body["popular_skills"] and body["tutor"]["agents"]
    keys = ("range", "period", "kpis", "daily", "popular_skills", "popular_items", "skill_names")
    for key in (*keys, "tutor"):
        assert body[key] == expected[key], key


async def test_dashboard_names_topics_as_the_course_names_them(jp_fetch, simulated):
    body = await get(jp_fetch, "dashboard", range="course")
    names = dict(zip(simulated.skills["skill_id"], simulated.skills["name"], strict=True))
    assert body["skill_names"] == names
    topics = [(row["skill"], row["name"]) for row in body["popular_skills"]]
    assert topics and all(name == names[skill] != skill for skill, name in topics), topics


async def test_dashboard_follows_new_events(jp_fetch, hand_built, lp_db_url):
    first = await get(jp_fetch, "dashboard", range="week")
    with EventStore(lp_db_url) as store:
        store.append([attempt("2024-09-12T10:00:00", "d", "ex-9", ["loops"], True, "s8")])
    fresh = await get(jp_fetch, "dashboard", range="week", wait="true")
    assert fresh["seq"] > first["seq"]
    assert fresh["period"]["last_day"] == "2024-09-12"
    assert fresh["daily"][-1]["attempts"] == 1


async def test_stopping_the_server_stops_the_analytics_service(jp_fetch, hand_built, jp_serverapp):
    """The service made by the first request lives in the web app's settings; the stop
    looked for it in the extension's own copy, so its workers and watcher outlived the stop."""
    await get(jp_fetch, "dashboard", range="week")
    service = jp_serverapp.web_app.settings[SERVICE_SETTING]
    assert not service._closed.is_set()
    await learnpulse_app(jp_serverapp).stop_extension()
    assert service._closed.is_set()


async def test_trends_are_weekly_with_directions(jp_fetch, simulated, lp_db_url):
    body = await get(jp_fetch, "trends", weeks=3)
    with EventStore(lp_db_url) as store:
        expected = to_json(course_trends(store.query(course="demo-python-101"), weeks=3))
    assert len(body["weekly"]) == 3
    assert body["weekly"] == expected["weekly"]
    assert {d["measure"] for d in body["directions"]} >= {"active_learners", "accuracy"}


@pytest.mark.parametrize("route", ["dashboard", "trends"])
async def test_course_wide_routes_are_for_instructors(jp_fetch, hand_built, route):
    for user in ("ada", "bob"):
        code, message = await refused(jp_fetch, route, user)
        assert (code, message) == (403, "only instructors may do this")
    code, _ = await refused(jp_fetch, route, None)
    assert code == 403


@pytest.mark.parametrize(
    ("route", "params", "code", "named"),
    [
        ("dashboard", {"range": "year"}, 400, "'range'"),
        ("dashboard", {"at": "yesterday"}, 400, "'at'"),
        ("dashboard", {"at": "0001-01-01T00:00:00Z"}, 400, "from 1970-01-01 to before"),
        ("trends", {"at": "9999-12-31T23:59:59-01:00"}, 400, "from 1970-01-01 to before"),
        ("dashboard", {"wait": "maybe"}, 400, "'wait'"),
        ("dashboard", {"course": "nope"}, 404, "'nope'"),
        ("trends", {"weeks": "0"}, 400, "'weeks'"),
        ("trends", {"weeks": "many"}, 400, "'weeks'"),
        ("predictive", {"limit": "0"}, 400, "'limit'"),
        ("predictive", {"course": "nope"}, 404, "'nope'"),
    ],
)
async def test_bad_parameters_are_named(jp_fetch, hand_built, route, params, code, named):
    status, message = await refused(jp_fetch, route, "teacher", **params)
    assert status == code
    assert named in message


@pytest.fixture
def server_course(request, jp_environ, monkeypatch):
    """``$LEARNPULSE_COURSE_ID`` (``course-b``, or the test's parameter) in the server's
    environment from its start, as a hub's spawner sets it."""
    course = getattr(request, "param", "course-b")
    monkeypatch.setenv("LEARNPULSE_COURSE_ID", course)
    return course


async def test_without_a_course_the_routes_answer_for_the_servers_course(
    server_course, jp_fetch, hand_built, lp_db_url
):
    """Without ?course=, the routes answered for the store's first course by id (course-a),
    while the dashboards open on $LEARNPULSE_COURSE_ID's."""
    with EventStore(lp_db_url) as store:
        store.append([{**event, "course_id": server_course} for event in HAND_BUILT[-4:]])
    for route in ("dashboard", "trends", "predictive", "alerts"):
        assert (await get(jp_fetch, route))["course"] == server_course, route
    assert (await get(jp_fetch, "dashboard", course="course-a"))["course"] == "course-a"


@pytest.mark.parametrize("server_course", ["course-z"], indirect=True)
async def test_a_servers_course_without_events_is_named(server_course, jp_fetch, hand_built):
    """Not the first course instead (another course than the dashboards'): a 404 saying
    which course was asked for, and why."""
    code, message = await refused(jp_fetch, "dashboard", "teacher")
    assert code == 404
    assert "no course 'course-z' in the store" in message
    assert "$LEARNPULSE_COURSE_ID" in message and "course-a" in message


@pytest.mark.parametrize("route", ["predictive", "alerts"])
async def test_a_student_may_not_ask_about_another(jp_fetch, simulated, route):
    status, message = await refused(jp_fetch, route, "ada", learner="bob")
    assert (status, message) == (403, "students may only see their own data")


# -- predictions (learnpulse.models.predict_all) --------------------------------------------


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """Course models fitted on another simulated presentation, saved as the server reads them."""
    from learnpulse.models import fit_course_models

    folder = tmp_path_factory.mktemp("models")
    earlier = simulate_course(SimulationConfig(n_learners=200, weeks=4, seed=5))
    fit_course_models(earlier).save(folder / "demo-python-101")
    return folder


@pytest.fixture
def jp_server_config(jp_server_config, models_dir):
    analytics = {
        "models_dir": str(models_dir),
        "analytics_refresh_interval": 0.1,
        "analytics_prediction_interval": 0.0,
    }
    return {**jp_server_config, "LearnPulseApp": {**jp_server_config["LearnPulseApp"], **analytics}}


def test_course_models_that_do_not_load_here_are_left_out(tmp_path, models_dir, caplog):
    """A folder the server cannot use (here: pickled by another scikit-learn release) is
    logged and predicted without, not an error for every request; a good one is read. The
    predictions are told why (UnusableModels), without the folder's path."""
    import shutil

    from learnpulse.models.course_fit import UnusableModels
    from learnpulse_server.handlers.analytics import _fitted_loader

    shutil.copytree(models_dir / "demo-python-101", tmp_path / "demo-python-101")
    assert _fitted_loader(str(tmp_path))("demo-python-101").success is not None
    assert _fitted_loader(str(tmp_path))("no-such-course") is None  # no models: nothing to say
    manifest_path = tmp_path / "demo-python-101" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "scikit-learn": "0.24.2"}))
    with caplog.at_level("WARNING"):
        unusable = _fitted_loader(str(tmp_path))("demo-python-101")
    assert "fitted with scikit-learn 0.24.2" in caplog.text
    assert isinstance(unusable, UnusableModels)
    assert unusable.reason.startswith(
        "course models do not load: demo-python-101: the models were fitted with scikit-learn "
        "0.24.2, this is "
    )
    assert str(tmp_path) not in unusable.reason
    manifest_path.write_text("[]")  # not an object: its AttributeError went past the loader
    with caplog.at_level("WARNING"):
        unusable = _fitted_loader(str(tmp_path))("demo-python-101")
    assert "manifest.json is not the manifest of saved course models" in caplog.text
    assert unusable == UnusableModels(
        "course models do not load: manifest.json is not the manifest of saved course models: "
        "FittedCourseModels.save writes a JSON object with the files' digests"
    )


async def test_predictions_say_the_course_models_do_not_load(
    jp_fetch, jp_serverapp, simulated, models_dir, tmp_path
):
    """Broken saved models: the predictions said "no fitted model: train one with
    fit_course_models()", as if there were none; now why they are not used, without the
    server's path to them."""
    import shutil

    folder = tmp_path / "models" / "demo-python-101"
    shutil.copytree(models_dir / "demo-python-101", folder)
    (folder / "models.joblib").write_bytes(b"not the saved file")
    learnpulse_app(jp_serverapp).models_dir = str(tmp_path / "models")
    body = await get(jp_fetch, "predictive", type="all")
    for name in ("success", "retention_risk", "performance_forecast"):
        predicted = [
            row
            for row in body["predictions"][name]
            if row["reason"] != "withdrew before the cut-off"
        ]
        assert predicted, name
        assert {row["model"] for row in predicted} == {f"{name}/unfitted"}
        assert {row["reason"] for row in predicted} == {
            "course models do not load: models.joblib is not the file manifest.json names "
            "(a save that did not finish, or a file changed since): save the models again"
        }
    assert str(tmp_path) not in json.dumps(body)


@pytest.mark.parametrize("allow_stale", [False, True])
async def test_stale_course_models_are_named_and_not_used_unless_allowed(
    jp_fetch, jp_serverapp, simulated, models_dir, tmp_path, caplog, allow_stale
):
    """Models fitted under an older model version (before accuracy, hints and mastery
    counted evidence attempts) were used without a word, their predictions drifting: the
    server now logs the folder and both versions and predicts as without fitted models,
    unless allow_stale_models says to use them (and the predictions name their version)."""
    import shutil

    from learnpulse.models.predictive import MODEL_VERSION

    folder = tmp_path / "models" / "demo-python-101"
    shutil.copytree(models_dir / "demo-python-101", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "model_version": "1.1"}))
    app = learnpulse_app(jp_serverapp)
    app.models_dir, app.allow_stale_models = str(tmp_path / "models"), allow_stale
    with caplog.at_level("WARNING"):
        body = await get(jp_fetch, "predictive", type="retention_risk")
    predicted = [
        row
        for row in body["predictions"]["retention_risk"]
        if row["reason"] != "withdrew before the cut-off"
    ]
    assert predicted
    if allow_stale:
        assert {row["model"] for row in predicted} == {"retention_risk/1.1"}
        assert all(row["value"] is not None for row in predicted)
    else:
        assert {row["model"] for row in predicted} == {"retention_risk/unfitted"}
        assert all(row["value"] is None for row in predicted)
        assert {row["reason"] for row in predicted} == {
            f"course models not used: fitted under model version 1.1, this learnpulse is "
            f"{MODEL_VERSION}; fit them again (`learnpulse models check` lists stale models)"
        }
    stale_warnings = [r.getMessage() for r in caplog.records if "stale course models" in r.msg]
    assert len(stale_warnings) == 1 and str(folder) in stale_warnings[0]
    assert f"model version 1.1, this learnpulse is {MODEL_VERSION}" in stale_warnings[0]
    assert "allow_stale_models" in stale_warnings[0]


def learners_in(body: dict) -> set[str]:
    rows = [row for frame in body["predictions"].values() for row in frame]
    return {row["learner_id"] for row in rows}


async def test_predictive_all_models_for_the_instructor(jp_fetch, simulated):
    from learnpulse.models import OUTPUT_KEYS

    body = await get(jp_fetch, "predictive", limit=10, offset=10)
    assert body["models"] == list(OUTPUT_KEYS)
    assert body["learners"]["total"] == 30
    assert body["learners"]["ids"] == sorted(simulated.learners["learner_id"])[10:20]
    assert learners_in(body) == set(body["learners"]["ids"])
    for model, rows in body["predictions"].items():
        for row in rows:
            assert row["model"] and row["reason"] and "confidence" in row, model
    risk = body["predictions"]["retention_risk"]
    assert all(not r["model"].endswith("unfitted") for r in risk)  # loaded from models_dir
    assert all(0 <= r["value"] <= 1 for r in risk)


async def test_predictive_one_model_for_named_learners(jp_fetch, simulated):
    body = await get(jp_fetch, "predictive", type="success", learner="bob,learner-00005")
    assert body["models"] == ["success"]
    assert sorted(r["learner_id"] for r in body["predictions"]["success"]) == [
        "bob",
        "learner-00005",
    ]


@pytest.fixture
def comma_named(lp_db_url):
    """The simulated class with learners "Doe, Jane", "Doe" and "Jane" (ids as an import of
    "last, first" names makes them)."""
    names = {"learner-00002": "Doe, Jane", "learner-00003": "Doe", "learner-00004": "Jane"}
    with EventStore(lp_db_url) as store:
        store.append_course(simulated_class(names=names))


async def test_predictive_names_a_learner_whose_id_has_a_comma(jp_fetch, comma_named):
    """``?learner=`` was split on every comma: "Doe, Jane" could not be asked for (asking
    gave the predictions of "Doe" and "Jane"). A repeated parameter now names one id per
    value; a single value is still a comma-separated list."""

    async def predicted(*learners: str) -> tuple[list[str], set[str]]:
        params = [("type", "success"), *(("learner", learner) for learner in learners)]
        route = ("learnpulse", "api", "analytics", "predictive")
        response = await jp_fetch(*route, params=params, headers=as_user("teacher"))
        body = json.loads(response.body)
        return body["learners"]["ids"], learners_in(body)

    both = ["Doe, Jane", "bob"]
    assert await predicted("Doe, Jane", "bob") == (both, set(both))
    assert await predicted("Doe, Jane", "Doe, Jane") == (["Doe, Jane"], {"Doe, Jane"})
    assert await predicted("Doe, Jane") == (["Doe", "Jane"], {"Doe", "Jane"})  # as before


async def test_a_student_gets_only_their_own_predictions(jp_fetch, simulated):
    for params in ({}, {"learner": "ada"}):
        body = await get(jp_fetch, "predictive", "ada", **params)
        assert body["learners"]["ids"] == ["ada"]
        assert learners_in(body) == {"ada"}
        assert "bob" not in json.dumps(body)


async def test_unknown_model_is_named(jp_fetch, simulated):
    status, message = await refused(jp_fetch, "predictive", "teacher", type="horoscope")
    assert status == 400
    assert "'type'" in message and "'horoscope'" in message and "retention_risk" in message


async def test_alerts_for_the_class_and_for_oneself(jp_fetch, simulated):
    everyone = (await get(jp_fetch, "alerts"))["alerts"]
    assert everyone, "the simulated class raises some alerts"
    assert all(a["model"] and a["reason"] and a["urgency"] for a in everyone)
    for student in ("ada", "bob"):
        own = (await get(jp_fetch, "alerts", student))["alerts"]
        assert own == [a for a in everyone if a["learner_id"] == student]


def enrolled_risks(predicted: dict) -> list[float]:
    """Retention risks of the learners who had not withdrawn (withdrawal is a fact: 1)."""
    rows = predicted["predictions"]["retention_risk"]
    return [r["value"] for r in rows if not r["reason"].startswith("withdrew")]


async def test_dashboard_counts_learners_at_risk_once_predicted(jp_fetch, simulated):
    predicted = await get(jp_fetch, "predictive", type="retention_risk", limit=100)
    risks = enrolled_risks(predicted)
    assert len(risks) < len(predicted["predictions"]["retention_risk"]), "some withdrew"
    body = await get(jp_fetch, "dashboard", range="month")
    kpis = {row["kpi"]: row for row in body["kpis"]}
    assert kpis["at_risk"]["value"] == sum(r >= 0.5 for r in risks)
    assert kpis["at_risk"]["previous"] is None


async def test_stream_pushes_a_students_own_updates(jp_ws_fetch, simulated, lp_db_url):
    ws = await jp_ws_fetch(
        "learnpulse", "api", "analytics", "stream", params={"type": "score"}, headers=as_user("ada")
    )
    snapshot = json.loads(await ws.read_message())
    assert (snapshot["type"], snapshot["models"]) == ("snapshot", ["score"])
    assert learners_in(snapshot) == {"ada"}
    assert {a["learner_id"] for a in snapshot["alerts"]} <= {"ada"}
    later = simulated.events["ts"].max().isoformat()
    with EventStore(lp_db_url) as store:
        new = [attempt(later[:19], who, "ex-1", ["loops"], True, "s-new") for who in ("bob", "ada")]
        # bob's event must not reach ada; hers must
        store.append([{**event, "course_id": "demo-python-101"} for event in new])
    update = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
    ws.close()
    assert update["type"] == "update"
    assert update["seq"] > snapshot["seq"]
    assert update["learners"]["ids"] == ["ada"]
    assert learners_in(update) == {"ada"}


async def test_stream_refuses_a_student_asking_about_another(jp_ws_fetch, simulated):
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch(
            "learnpulse",
            "api",
            "analytics",
            "stream",
            params={"learner": "bob"},
            headers=as_user("ada"),
        )
    assert info.value.code == 403


async def test_stream_refuses_an_unknown_model_before_the_upgrade(jp_ws_fetch, simulated):
    """A 400 naming it, as the contract says (it upgraded, then sent an error and closed)."""
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("learnpulse", "api", "analytics", "stream", params={"type": "horoscope"})
    assert info.value.code == 400


@pytest.mark.parametrize("course", ["../elsewhere", "/tmp/elsewhere", "a/../../elsewhere"])
def test_course_models_are_read_only_from_inside_models_dir(tmp_path, models_dir, course):
    """Course ids come with events (a student's too): one must not point the server at a
    folder of pickles elsewhere."""
    import shutil

    from learnpulse_server.handlers.analytics import _fitted_loader

    inside = tmp_path / "models"
    shutil.copytree(models_dir / "demo-python-101", inside / "demo-python-101")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(models_dir / "demo-python-101", elsewhere)
    loader = _fitted_loader(str(inside))
    assert loader("demo-python-101") is not None
    target = course.replace("/tmp/elsewhere", str(elsewhere))
    assert loader(target) is None


async def test_stream_updates_arrive_in_order(jp_ws_fetch, simulated, monkeypatch):
    """Each update was prepared off the loop on its own, so a newer one prepared faster went
    out first and the client was left with the older predictions (and every update waited in
    the server's memory for a client that did not read)."""
    from learnpulse_server.handlers import analytics as module

    streams, written, older_values = [], [], []
    opened, page_of = module.AnalyticsStreamHandler.open, module.prediction_page
    newer_written = threading.Event()

    async def open_and_keep(handler, *args, **kwargs):
        streams.append(handler)
        await opened(handler, *args, **kwargs)

    def slow_for_the_older(value, models, **kwargs):
        if any(value is older for older in older_values):
            newer_written.wait(2)  # the newer update overtakes it, if it may
        return page_of(value, models, **kwargs)

    monkeypatch.setattr(module.AnalyticsStreamHandler, "open", open_and_keep)
    monkeypatch.setattr(module, "prediction_page", slow_for_the_older)
    ws = await jp_ws_fetch("learnpulse", "api", "analytics", "stream", params={"type": "score"})
    snapshot = json.loads(await ws.read_message())
    (stream,) = streams
    sent = await asyncio.wrap_future(stream.service.predictions(snapshot["course"]))
    write = stream.write_message

    def recording_write(text, *args, **kwargs):
        written.append(json.loads(text)["seq"])
        if written[-1] == sent.seq + 2:
            newer_written.set()
        return write(text, *args, **kwargs)

    monkeypatch.setattr(stream, "write_message", recording_write)
    older_values.append(dict(sent.value))
    older = dataclasses.replace(
        sent, value=older_values[0], seq=sent.seq + 1, revision=sent.revision + 1
    )
    newer = dataclasses.replace(sent, seq=sent.seq + 2, revision=sent.revision + 2)
    await asyncio.gather(stream._update(older), stream._update(newer))
    ws.close()
    assert written[-1] == newer.seq
    assert written == sorted(written)


def stream_updates() -> list[asyncio.Task]:
    """The analytics streams' updates still pending on the server's event loop."""
    return running_tasks("AnalyticsStreamHandler.")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ImportError("No module named 'torch'"), "the predictive models are unavailable: "),
        (RuntimeError("the model broke"), "internal error (RuntimeError); see the server log"),
    ],
    ids=["models-unavailable", "unexpected"],
)
async def test_stream_whose_snapshot_fails_leaves_nothing_behind(
    jp_ws_fetch, jp_serverapp, hand_built, error, message
):
    """When the opening snapshot failed with a 503 (the models missing), an update delivered
    meanwhile waited for the snapshot forever (a task left on the loop for each); any other
    failure dropped the socket without a word and left its subscription: the course's
    predictions were recomputed every refresh interval for nobody."""
    from datetime import datetime, timezone

    from learnpulse.analytics.live import LiveAnalytics, Result
    from learnpulse_server.handlers.analytics import SERVICE_SETTING

    settings = jp_serverapp.web_app.settings
    started, fail = threading.Event(), threading.Event()

    def failing(events, **tables):
        started.set()
        fail.wait(30)
        raise error

    service = LiveAnalytics(settings["learnpulse_store"], predict=failing)
    settings[SERVICE_SETTING] = service
    subscribers = service._course("course-a").subscribers
    try:
        ws = await jp_ws_fetch("learnpulse", "api", "analytics", "stream")
        assert await asyncio.to_thread(started.wait, 30)  # the snapshot is being computed
        (deliver,) = subscribers
        newer = Result({}, "course-a", 99, 99, datetime.now(timezone.utc), 0.0, None)
        deliver(newer)  # as a worker does with predictions computed meanwhile
        assert await eventually(lambda: len(stream_updates()) == 1)  # it waits for the snapshot
        fail.set()
        reply = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
        assert reply["type"] == "error" and reply["message"].startswith(message)
        assert await asyncio.wait_for(ws.read_message(), timeout=30) is None  # closed
        assert ws.close_code == 1011  # the server could not go on
        assert await eventually(lambda: not subscribers and not stream_updates()), (
            f"left behind: {len(subscribers)} subscriber(s), {len(stream_updates())} update(s)"
        )
    finally:
        fail.set()
        service.close()
