"""predict_all on small simulated courses: every output, consistent learners, honest gaps."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from datetime import timedelta

import joblib
import polars as pl
import pytest
import sklearn
from polars.testing import assert_frame_equal

import learnpulse.models as models
import learnpulse.models.course as course_module
from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.events import EventValidationError, empty_event_frame
from learnpulse.files import sha256
from learnpulse.models.course import LANES, OUTPUT_KEYS, UNFITTED_REASON, predict_all
from learnpulse.models.course_fit import (
    REASON_ERROR_CHARS,
    FittedCourseModels,
    StaleModelsError,
    UnusableModels,
    check_saved_models,
    fit_course_models,
    training_frame,
)
from learnpulse.models.knowledge_tracing import BKT
from learnpulse.models.predictive import MODEL_VERSION

NEEDED = ("learner_id", "model", "confidence", "reason")


@pytest.fixture(scope="module")
def course():
    return simulate_course(SimulationConfig(n_learners=150, seed=11))


@pytest.fixture(scope="module")
def fitted():
    return fit_course_models(simulate_course(SimulationConfig(n_learners=400, seed=12)))


@pytest.fixture(scope="module")
def mid_course(course):
    return course.events.get_column("ts").min() + timedelta(days=50)


@pytest.fixture(scope="module")
def outputs(course, fitted, mid_course):
    return predict_all(
        course.events,
        skills=course.skills,
        items=course.items,
        learners=course.learners,
        at=mid_course,
        fitted=fitted,
    )


def _check_frame(key: str, frame: pl.DataFrame, roster: set[str]) -> None:
    missing = [c for c in NEEDED if c not in frame.columns]
    assert not missing, f"{key} lacks {missing}"
    assert set(frame.get_column("learner_id")) <= roster, key
    conf = frame.get_column("confidence")
    assert conf.null_count() == 0 and conf.is_between(0, 1).all(), key
    assert (frame.get_column("reason").str.len_chars() > 0).all(), key


def test_every_output_with_fitted_models(course, outputs):
    assert list(outputs) == list(OUTPUT_KEYS)
    roster = set(course.learners.get_column("learner_id"))
    for key, frame in outputs.items():
        _check_frame(key, frame, roster)
        assert frame.height > 0, key
        # ids are computed on as categoricals inside, and given back as strings
        assert frame.schema["learner_id"] == pl.String, key
        assert pl.Categorical not in frame.schema.values(), key
    per_learner = ("score", "progress", "readiness", "peers", "success", "retention_risk")
    for key in per_learner:
        assert outputs[key].get_column("learner_id").is_unique().all(), key
    success = outputs["success"].get_column("value")
    assert success.null_count() == 0 and success.is_between(0, 1).all()
    assert set(outputs["progress"].get_column("value")) <= {
        "Rapid Improvement",
        "Steady Progress",
        "Stable",
        "Needs Attention",
    }


def test_the_lanes_change_no_result(course, fitted, mid_course, outputs, monkeypatch):
    """The outputs of LANES come from threads of their own unless timings are asked for; both
    ways give the same frames, for every output and for subsets."""
    threads = []
    real = course_module._in_order

    def watched(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(course_module, "_in_order", watched)
    tables = {"skills": course.skills, "items": course.items, "learners": course.learners}
    timings: dict[str, float] = {}
    in_order = predict_all(course.events, **tables, at=mid_course, fitted=fitted, timings=timings)
    assert list(timings) == list(OUTPUT_KEYS) and len(set(threads)) == 1
    threads.clear()
    overlapped = predict_all(course.events, **tables, at=mid_course, fitted=fitted)
    assert sum(name.startswith("learnpulse-lane") for name in threads) == len(LANES)
    assert list(overlapped) == list(OUTPUT_KEYS)
    for key in OUTPUT_KEYS:
        assert_frame_equal(overlapped[key], in_order[key])
        assert_frame_equal(outputs[key], in_order[key])
    subsets = (["alerts", "success"], ["clusters"], ["peers", "mastery"], ["knowledge_gaps"])
    for only in (*subsets, ["recommendations", "clusters"], ["score", "knowledge_gaps"]):
        part = predict_all(course.events, **tables, at=mid_course, fitted=fitted, only=only)
        assert list(part) == [k for k in OUTPUT_KEYS if k in only]
        for key in only:
            assert_frame_equal(part[key], in_order[key])


@pytest.mark.slow
def test_two_runs_on_a_large_course_agree_to_the_last_bit():
    """Group-by rows come out in a different order each run; nothing computed from them may
    (a float sum in another order differs in its last bits, and a rounded number in a reason
    can flip). Large enough for polars to split its group-bys across threads."""
    big = simulate_course(SimulationConfig(n_learners=3000, seed=5))
    tables = {"skills": big.skills, "items": big.items}
    first, second = (predict_all(big.events, **tables) for _ in range(2))
    for key in OUTPUT_KEYS:
        assert first[key].equals(second[key]), key


def test_withdrawn_learners_are_facts_not_predictions(course, outputs, mid_course):
    gone = (
        course.events.filter((pl.col("kind") == "withdrawal") & (pl.col("ts") < mid_course))
        .get_column("learner_id")
        .to_list()
    )
    assert gone, "the simulated course should have early withdrawals"
    risk = outputs["retention_risk"].filter(pl.col("learner_id").is_in(gone))
    assert risk.get_column("value").to_list() == [1.0] * len(gone)
    assert set(risk.get_column("reason")) == {"withdrew before the cut-off"}
    assert outputs["alerts"].filter(pl.col("learner_id").is_in(gone)).is_empty()


def test_without_fitted_models_labelled_outputs_are_empty_with_a_reason(course, mid_course):
    out = predict_all(
        course.events,
        skills=course.skills,
        at=mid_course,
        only=["success", "performance_forecast", "clusters", "mastery"],
    )
    assert list(out) == ["mastery", "success", "clusters", "performance_forecast"]
    for key in ("success", "performance_forecast"):
        active = out[key].filter(pl.col("reason") != "withdrew before the cut-off")
        assert active.height > 0
        assert active.get_column("value").null_count() == active.height
        assert set(active.get_column("reason")) == {UNFITTED_REASON}
        assert active.get_column("confidence").sum() == 0
    assert out["clusters"].get_column("value").null_count() == 0  # unsupervised: fitted here


def test_an_empty_skill_frame_is_the_skills_the_events_name(course, mid_course):
    """The store gives an empty skill frame for a course whose skills were never recorded
    (events sent to the server record none): it emptied every skill-based output, e.g. not
    one recommendation, where no frame at all gives the events' skills."""
    events = course.events.filter(pl.col("ts") < mid_course)
    empty = course.skills.clear()
    keys = ("recommendations", "time_to_completion", "alerts")
    given, built = (predict_all(events, skills=s, only=keys) for s in (empty, None))
    assert given["recommendations"].height > 0
    for key in keys:
        assert_frame_equal(given[key], built[key])


def test_at_cuts_off_later_events(course, mid_course):
    cut = predict_all(course.events, at=mid_course, only=["score", "engagement"])
    early = course.events.filter(pl.col("ts") < mid_course)
    same = predict_all(early, at=mid_course, only=["score", "engagement"])
    for key in cut:  # float sums may differ in the last bit (parallel group-by order)
        assert_frame_equal(cut[key], same[key], check_exact=False)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown output"):
        predict_all(empty_event_frame(), only=["mastery", "horoscope"])
    with pytest.raises(ValueError, match="lacks column"):
        predict_all(pl.DataFrame({"learner_id": ["a"]}))
    two = simulate_course(SimulationConfig(n_learners=3, seed=1)).events
    other = two.with_columns(course_id=pl.lit("other"))
    with pytest.raises(ValueError, match="one course"):
        predict_all(pl.concat([two, other]))
    with pytest.raises(TypeError, match="polars DataFrame"):
        predict_all([{"learner_id": "a"}])
    course = simulate_course(SimulationConfig(n_learners=3, seed=1))
    with pytest.raises(ValueError, match=r"item frame lacks column\(s\) \['skills'\]"):
        predict_all(course.events, items=course.items.drop("skills"))
    with pytest.raises(ValueError, match=r"skill frame lacks column\(s\) \['skill_id'\]"):
        predict_all(course.events, skills=course.skills.drop("skill_id"))
    with pytest.raises(ValueError, match=r"learner frame lacks column\(s\) \['learner_id'\]"):
        predict_all(course.events, learners=pl.DataFrame({"x": [1]}))
    with pytest.raises(TypeError, match="learner frame must be a polars DataFrame, not list"):
        predict_all(course.events, learners=["a"])
    with pytest.raises(TypeError, match="fitted must come from fit_course_models"):
        predict_all(course.events, fitted="models.joblib")
    joined = course.items.with_columns(pl.col("skills").list.join(","))
    with pytest.raises(TypeError, match="'skills' must be a list of skill ids, not String"):
        predict_all(course.events, items=joined)


def test_optional_event_columns_may_be_absent_and_one_output_named(course):
    """Columns other than the keys, ``ts`` and ``kind`` are optional: absent ones count as
    unknown (without ``session_id`` or ``duration_ms`` three outputs raised polars errors)."""
    bare = course.events.drop("session_id", "duration_ms", "payload", "confidence")
    out = predict_all(bare, skills=course.skills, items=course.items)
    for key, frame in out.items():
        _check_frame(key, frame, set(course.learners["learner_id"]))
    assert out["learning_velocity"].height == course.learners.height
    # a bare string is one output (it was split into its letters)
    assert list(predict_all(course.events, only="score")) == ["score"]


@pytest.mark.parametrize(
    ("column", "change", "message"),
    [
        ("ts", pl.col("ts").cast(pl.String), "'ts': must be a timezone-aware datetime, not String"),
        ("ts", pl.col("ts").dt.replace_time_zone(None), "field 'ts': timestamp has no timezone"),
        ("correct", pl.col("correct").cast(pl.Int64), "'correct': must be Boolean, not Int64"),
        ("skills", pl.col("skills").list.join(","), "'skills': must be List(String), not String"),
        (
            "learner_id",
            pl.when(pl.int_range(pl.len()) == 4).then(None).otherwise("learner_id"),
            "event 4: field 'learner_id': is required",
        ),
        (  # the dtype of an Enum of every learner would name them all: its kind is enough
            "learner_id",
            pl.col("learner_id").cast(pl.Enum([f"learner-{i:05d}" for i in range(1000)])),
            "'learner_id': must be String, not Enum (validate_frame() converts it)",
        ),
    ],
)
def test_event_columns_of_the_wrong_type_are_named(course, column, change, message):
    events = course.events.with_columns(change.alias(column))
    with pytest.raises(EventValidationError) as error:
        predict_all(events)
    assert message in str(error.value)
    # other event columns a caller adds are left alone
    extra = course.events.with_columns(cohort=pl.lit("A"))
    assert predict_all(extra, only=["score"])["score"].height == course.learners.height


def test_categorical_ids_give_the_same_outputs(course, fitted, mid_course, outputs):
    """Ids given as categoricals (as predict_all computes on them) are read as their strings."""
    ids = (pl.col("learner_id"), pl.col("session_id"))
    events = course.events.with_columns(c.cast(pl.Categorical) for c in ids)
    tables = {"skills": course.skills, "items": course.items, "learners": course.learners}
    same = predict_all(events, **tables, at=mid_course, fitted=fitted)
    for key in OUTPUT_KEYS:
        assert_frame_equal(same[key], outputs[key], check_exact=False)


def test_fit_course_models_names_a_wrong_input(course):
    with pytest.raises(TypeError, match=r"course must be a CourseData .* not DataFrame"):
        fit_course_models(course.events)


def test_degenerate_courses_do_not_raise(course, fitted):
    empty = predict_all(empty_event_frame(), fitted=fitted)
    assert list(empty) == list(OUTPUT_KEYS) and all(f.is_empty() for f in empty.values())
    learner = course.events.filter(pl.col("kind") == "attempt").get_column("learner_id")[0]
    one = predict_all(course.events.filter(pl.col("learner_id") == learner), skills=course.skills)
    for key, frame in one.items():
        _check_frame(key, frame, {learner})
    assert one["peers"].row(0, named=True)["n_peers"] == 1
    registrations_only = predict_all(course.events.filter(pl.col("kind") == "registration"))
    assert registrations_only["score"].is_empty()


def test_fitted_models_save_and_load(tmp_path, course, fitted, mid_course):
    folder = fitted.save(tmp_path / "models")
    loaded = FittedCourseModels.load(folder)
    assert loaded.trained_on == fitted.trained_on
    keys = ["success", "retention_risk", "performance_forecast", "mastery"]
    a = predict_all(course.events, at=mid_course, fitted=fitted, only=keys)
    b = predict_all(course.events, at=mid_course, fitted=loaded, only=keys)
    for key in keys:
        assert a[key].equals(b[key]), key
    (folder / "manifest.json").write_text('{"format": 99}')
    with pytest.raises(ValueError, match="format"):
        FittedCourseModels.load(folder)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"format": 1, "files": {"mastery.json": "ab', "not JSON (Unterminated string"),
        ("[1, 2]", "FittedCourseModels.save writes a JSON object"),
        ('{"format": 1, "files": null}', "FittedCourseModels.save writes a JSON object"),
    ],
)
def test_a_manifest_that_is_not_one_is_named(tmp_path, fitted, text, problem):
    """A manifest cut short raised a JSONDecodeError that named no file; one that is not a
    JSON object raised AttributeError, which the server and `learnpulse demo` (that catch
    ValueError and OSError to predict without the models, or fit them again) did not catch."""
    folder = fitted.save(tmp_path / "models")
    (folder / "manifest.json").write_text(text)
    with pytest.raises(ValueError) as info:
        FittedCourseModels.load(folder)
    message = f"{folder / 'manifest.json'} is not the manifest of saved course models: {problem}"
    assert str(info.value).startswith(message)


def test_a_file_given_for_the_folder_is_named(tmp_path, fitted):
    """The folder's BKT file, say: it was "Not a directory: .../mastery.json/manifest.json"."""
    mastery = fitted.save(tmp_path / "models") / "mastery.json"
    with pytest.raises(ValueError, match=re.escape(f"{mastery} is a file: give the folder")):
        FittedCourseModels.load(mastery)


def test_a_failed_save_leaves_the_earlier_one_and_mixed_files_are_refused(
    tmp_path, fitted, monkeypatch
):
    folder = fitted.save(tmp_path / "models")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    retrained = dataclasses.replace(fitted, mastery=BKT(max_iter=1).fit(empty_event_frame()))
    with monkeypatch.context() as patch:
        patch.setattr(joblib, "dump", full_disk)  # the models file cannot be written
        with pytest.raises(OSError, match="No space"):
            retrained.save(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing left over
    assert FittedCourseModels.load(folder).mastery.skills_ == fitted.mastery.skills_
    # A file of another save (e.g. copied over by hand) does not pass for this one.
    other = retrained.save(tmp_path / "other")
    (folder / "mastery.json").write_bytes((other / "mastery.json").read_bytes())
    with pytest.raises(ValueError, match=r"mastery\.json is not the file manifest\.json names"):
        FittedCourseModels.load(folder)
    assert FittedCourseModels.load(other).mastery.skills_ == []


def _another_release() -> str:
    """A scikit-learn version string of the same length as this one's, but another."""
    other = "".join("9" if c.isdigit() else c for c in sklearn.__version__)
    assert other != sklearn.__version__
    return other


def test_models_pickled_by_another_scikit_learn_release_are_refused(tmp_path, fitted):
    folder = fitted.save(tmp_path / "models")
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["scikit-learn"] == sklearn.__version__
    assert FittedCourseModels.load(folder).trained_on == fitted.trained_on  # not training info
    manifest_path.write_text(json.dumps({**manifest, "scikit-learn": "0.24.2"}))
    with pytest.raises(ValueError, match=r"fitted with scikit-learn 0\.24\.2, this is .* fit them"):
        FittedCourseModels.load(folder)
    # A save from before the manifest named the release: the pickles themselves say it (as
    # scikit-learn writes them), and scikit-learn's warning becomes this error.
    other = _another_release()
    pickled = (folder / "models.joblib").read_bytes()
    assert sklearn.__version__.encode() in pickled
    (folder / "models.joblib").write_bytes(
        pickled.replace(sklearn.__version__.encode(), other.encode())
    )
    del manifest["scikit-learn"]
    manifest["files"]["models.joblib"] = sha256(folder / "models.joblib")
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=rf"fitted with scikit-learn {other}, this is .* fit them"):
        FittedCourseModels.load(folder)


def _rewrite_manifest(folder, **entries) -> None:
    """Change (or, with None, remove) entries of a saved folder's manifest."""
    path = folder / "manifest.json"
    manifest = {**json.loads(path.read_text()), **entries}
    path.write_text(json.dumps({k: v for k, v in manifest.items() if v is not None}))


def test_models_fitted_under_another_model_version_are_stale(tmp_path, course, fitted, mid_course):
    """Accuracy, hints and mastery changed meaning in model version 1.2: models fitted before
    read today's features as the old ones and their predictions drift, so they are refused
    (a ValueError, as a broken save is) unless asked for, and then say where they came from."""
    folder = fitted.save(tmp_path / "models")
    current = FittedCourseModels.load(folder)  # saved by this code: loads as before
    assert json.loads((folder / "manifest.json").read_text())["model_version"] == MODEL_VERSION
    assert (current.model_version, current.stale) == (MODEL_VERSION, False)
    assert "model_version" not in current.trained_on
    _rewrite_manifest(folder, model_version="1.1")
    with pytest.raises(StaleModelsError) as info:
        FittedCourseModels.load(folder)
    assert isinstance(info.value, ValueError)
    assert (info.value.folder, info.value.saved_version) == (folder, "1.1")
    assert str(info.value).startswith(
        f"{folder}: course models of model version 1.1, this learnpulse is {MODEL_VERSION}"
    )
    stale = FittedCourseModels.load(folder, allow_stale=True)
    assert (stale.model_version, stale.stale) == ("1.1", True)
    out = predict_all(course.events, at=mid_course, fitted=stale, only=["success", "mastery"])
    predicted = out["success"].filter(pl.col("reason") != "withdrew before the cut-off")
    assert set(predicted["model"]) == {"success/1.1"}
    _rewrite_manifest(folder, model_version=None)  # a save from before versions were recorded
    with pytest.raises(StaleModelsError, match="model version unrecorded"):
        FittedCourseModels.load(folder)


def test_unusable_models_say_why_in_the_labelled_outputs(tmp_path, course, fitted, mid_course):
    """Stale or broken saved models were predicted as without fitted models with the reason
    "no fitted model: train one with fit_course_models() ...", wrong for an instructor whose
    models exist: the reason now names the cause, and no server path (students read their
    own rows); mastery and clusters are still fitted on the course."""
    folder = fitted.save(tmp_path / "models" / "c101")
    _rewrite_manifest(folder, model_version="1.1")
    with pytest.raises(StaleModelsError) as info:
        FittedCourseModels.load(folder)
    stale = UnusableModels.stale(info.value)
    assert stale.reason == (
        f"course models not used: fitted under model version 1.1, this learnpulse is "
        f"{MODEL_VERSION}; fit them again (`learnpulse models check` lists stale models)"
    )
    _rewrite_manifest(folder, model_version=MODEL_VERSION)
    (folder / "models.joblib").write_bytes(b"not the saved file")
    with pytest.raises(ValueError) as info:
        FittedCourseModels.load(folder)
    broken = UnusableModels.broken(info.value, folder)
    assert broken.reason == (
        "course models do not load: models.joblib is not the file manifest.json names "
        "(a save that did not finish, or a file changed since): save the models again"
    )
    (folder / "mastery.json").unlink()
    with pytest.raises(OSError) as info:
        FittedCourseModels.load(folder)
    missing = UnusableModels.broken(info.value, folder)
    assert missing.reason == "course models do not load: No such file or directory: mastery.json"
    long = UnusableModels.broken(ValueError(f"{folder}/x: {'y' * 500}\nmore"), folder)
    assert long.reason.startswith("course models do not load: x: yyy")
    assert long.reason.endswith("...") and "more" not in long.reason
    assert len(long.reason) == len("course models do not load: ") + REASON_ERROR_CHARS
    keys = ["success", "retention_risk", "performance_forecast", "clusters", "mastery"]
    for unusable in (stale, broken, missing):
        assert str(tmp_path) not in unusable.reason
        out = predict_all(course.events, at=mid_course, fitted=unusable, only=keys)
        for key in ("success", "retention_risk", "performance_forecast"):
            active = out[key].filter(pl.col("reason") != "withdrew before the cut-off")
            assert active.height > 0
            assert set(active.get_column("reason")) == {unusable.reason}, key
            assert set(active.get_column("model")) == {f"{key}/unfitted"}
            assert active.get_column("value").null_count() == active.height
            assert active.get_column("confidence").sum() == 0
        assert out["clusters"].get_column("value").null_count() == 0  # fitted on the course
        assert out["mastery"].height > 0


def test_saved_models_are_checked_course_by_course(tmp_path, fitted):
    for course_id in ("current", "stale", "broken"):
        fitted.save(tmp_path / course_id)
    _rewrite_manifest(tmp_path / "stale", model_version="1.1")
    (tmp_path / "broken" / "models.joblib").write_bytes(b"not the saved file")
    (tmp_path / "notes.txt").write_text("not a course folder")
    rows = {row["course"]: row for row in check_saved_models(tmp_path)}
    assert {name: row["state"] for name, row in rows.items()} == {
        "broken": "unusable",
        "current": "current",
        "stale": "stale",
    }
    assert rows["current"]["model_version"] == MODEL_VERSION and not rows["current"]["problem"]
    assert rows["stale"]["model_version"] == "1.1"
    assert "this learnpulse is" in rows["stale"]["problem"]
    assert "models.joblib is not the file" in rows["broken"]["problem"]
    with pytest.raises(FileNotFoundError, match="no course models folder at"):
        check_saved_models(tmp_path / "missing")


def test_training_frame_needs_outcomes(course):
    frame = training_frame(course)
    assert frame.get_column("cutoff_day").n_unique() > 1
    assert frame.filter(pl.col("withdrawn") == 1).is_empty()  # gone learners are not rows
    blank = course.learners.with_columns(attributes=pl.lit("{}"))
    with pytest.raises(ValueError, match="final_result"):
        training_frame(type(course)(course.events, blank, course.items, course.skills))


def test_package_exports_lazily():
    assert models.predict_all is predict_all
    assert models.predict_all is predict_all  # still the function after the module import
    assert set(models.OUTPUT_KEYS) == set(OUTPUT_KEYS)


def test_a_model_the_labels_cannot_train_is_skipped_with_a_reason(course):
    nobody_left = simulate_course(SimulationConfig(n_learners=150, withdrawn_rate=0.0, seed=13))
    fitted = fit_course_models(nobody_left)
    assert fitted.retention_risk is None and fitted.success is not None
    assert "y_withdrawn" in fitted.trained_on["skipped"]["retention_risk"]
    out = predict_all(course.events, fitted=fitted, only=["retention_risk", "success"])
    active = out["retention_risk"].filter(pl.col("model") == "retention_risk/unfitted")
    assert active.height > 0 and active.get_column("value").null_count() == active.height
    assert active.row(0, named=True)["reason"].startswith("not trained: y_withdrawn")
    assert out["success"].get_column("value").null_count() == 0
