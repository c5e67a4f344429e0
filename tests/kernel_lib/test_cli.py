"""The learnpulse command, run in-process through ``main``."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from learnpulse.cli import main
from learnpulse.store import EventStore

DKT = "3\n1,2,1\n1,0,1\n2\n2,2\n0,1\n"


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_import_assistments_is_idempotent(tmp_path, db, capsys):
    source = tmp_path / "tiny.csv"
    source.write_text(DKT)
    assert main(["import", "assistments", str(source), "--db", db, "--json", "--quiet"]) == 0
    first = _json_out(capsys)
    assert (first["events"], first["inserted"], first["learners"]) == (5, 5, 2)
    assert main(["import", "assistments", str(source), "--db", db, "--json", "--quiet"]) == 0
    again = _json_out(capsys)
    assert (again["inserted"], again["duplicates"]) == (0, 5)


def test_a_truncated_import_names_the_line_and_writes_nothing(tmp_path, db, capsys):
    source = tmp_path / "truncated.csv"
    source.write_text(DKT + "4\n1,2,3,4\n")
    assert main(["import", "assistments", str(source), "--db", db, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "truncated.csv" in err and "line 9" in err
    with EventStore(db) as store:
        assert store.counts()["events"] == 0


def test_import_of_a_missing_path_is_a_clear_error(tmp_path, db, capsys):
    assert main(["import", "oulad", str(tmp_path / "nowhere"), "--db", db]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_export_then_import_xapi_round_trips(tmp_path, db, capsys):
    source = tmp_path / "tiny.csv"
    source.write_text(DKT)
    main(["import", "assistments", str(source), "--db", db, "--quiet"])
    out = tmp_path / "statements.jsonl"
    assert main(["export", "xapi", str(out), "--db", db, "--json"]) == 0
    assert _json_out(capsys)["events"] == 5
    assert len(out.read_text().splitlines()) == 5
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert main(["import", "xapi", str(out), "--db", other, "--json", "--quiet"]) == 0
    assert _json_out(capsys)["inserted"] == 5
    with EventStore(db) as first, EventStore(other) as second:
        assert first.query().equals(second.query())


def test_an_xapi_import_keeps_the_course_recorded_in_the_store(tmp_path, db, capsys):
    """Importing a course's statements replaced the skills, items and learners recorded for
    it (by its course file, the simulator...) with ones derived from the events: skills
    without prerequisites, named by their ids, so its knowledge gaps vanished."""
    from learnpulse.course import Course
    from learnpulse.datasets.base import CourseData
    from tests.conftest import make_event

    skills = [{"id": "lists", "name": "Listen"}, {"id": "loops", "prerequisites": ["lists"]}]
    exercise = {
        "id": "ex-1", "title": "Count", "prompt": "How many?", "skills": ["loops"],
        "difficulty": 0.3, "type": "numeric", "answer": 4, "hints": ["Count them."],
    }  # fmt: skip
    course = Course.from_dict({"id": "c1", "title": "C", "skills": skills, "exercises": [exercise]})
    with EventStore(db) as store:
        store.append_course(CourseData(skills=course.skills_frame(), items=course.items_frame()))
    events = [
        make_event(course_id="c1", item_id=item, skills=tags, offset_s=n)
        for n, (item, tags) in enumerate((("ex-1", ["loops"]), ("ex-2", ["lists", "sets"])))
    ]
    statements = tmp_path / "c1.jsonl"
    with EventStore(f"sqlite:///{tmp_path / 'lms.db'}") as lms:
        lms.append(events)
        lms.export_xapi(statements)
    assert main(["import", "xapi", str(statements), "--db", db, "--quiet"]) == 0
    with EventStore(db) as store:
        stored = store.skills("c1").sort("skill_id")
        items = store.items("c1").sort("item_id")
    assert stored.select("skill_id", "name", "prerequisites").rows() == [
        ("lists", "Listen", []),
        ("loops", "loops", ["lists"]),
        ("sets", "sets", []),  # new: added
    ]
    assert json.loads(items.row(0, named=True)["attributes"])["title"] == "Count"
    assert items.get_column("item_id").to_list() == ["ex-1", "ex-2"]


def test_export_parquet_with_filters(tmp_path, db, capsys):
    source = tmp_path / "tiny.csv"
    source.write_text(DKT)
    main(["import", "assistments", str(source), "--db", db, "--quiet"])
    out = tmp_path / "one.parquet"
    learner = pl.read_parquet(out) if out.exists() else None
    assert learner is None
    with EventStore(db) as store:
        learner = store.learners()["learner_id"][0]
    assert main(["export", "parquet", str(out), "--learner", learner, "--db", db]) == 0
    frame = pl.read_parquet(out)
    assert frame["learner_id"].unique().to_list() == [learner]
    assert frame.height == 3


def test_status_and_forget(tmp_path, db, capsys):
    source = tmp_path / "tiny.csv"
    source.write_text(DKT)
    main(["import", "assistments", str(source), "--db", db, "--quiet"])
    capsys.readouterr()
    assert main(["status", "--db", db, "--json"]) == 0
    status = _json_out(capsys)
    assert status["counts"]["events"] == 5
    assert status["courses"][0]["course_id"] == "assistments2009"
    learner = EventStore(db).learners()["learner_id"][1]
    assert main(["forget", learner, "--db", db, "--json"]) == 0
    assert _json_out(capsys)["deleted_events"] == 2
    main(["status", "--db", db, "--json"])
    assert _json_out(capsys)["counts"]["learners"] == 1


def test_status_counts_the_staff_apart(tmp_path, db, capsys):
    source = tmp_path / "tiny.csv"
    source.write_text(DKT)
    main(["import", "assistments", str(source), "--db", db, "--quiet"])
    with EventStore(db) as store:
        learners = store.learners()["learner_id"].to_list()
        store.add_staff(learners[:1])
    capsys.readouterr()
    assert main(["status", "--db", db, "--json"]) == 0
    counts = _json_out(capsys)["counts"]
    assert (counts["learners"], counts["staff"]) == (len(learners) - 1, 1)
    assert main(["status", "--db", db]) == 0
    assert f"'learners': {len(learners) - 1}," in capsys.readouterr().out


def test_simulate_into_the_store_and_to_parquet(tmp_path, db, capsys):
    args = ["simulate", "--learners", "30", "--weeks", "2", "--seed", "7", "--quiet", "--json"]
    assert main([*args, "--course", "sim-a", "--db", db]) == 0
    stored = _json_out(capsys)
    assert stored["learners"] == 30 and stored["inserted"] == stored["events"] > 0
    out = tmp_path / "sim.parquet"
    assert main([*args, "--course", "sim-a", "--parquet", str(out)]) == 0
    assert pl.read_parquet(out).height == stored["events"]


def test_a_failed_parquet_write_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    """Written whole or not at all: a write that fails half-way (here, as on a full disk)
    leaves the earlier file, no temporary file, and one line of error."""
    out = tmp_path / "sim.parquet"
    args = ["simulate", "--learners", "5", "--weeks", "1", "--quiet", "--parquet", str(out)]
    assert main(args) == 0
    before = out.read_bytes()

    def full_disk(self, file, **kwargs):
        Path(file).write_bytes(b"PAR1 half")
        raise pl.exceptions.ComputeError("parquet: No space left on device (os error 28)")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    capsys.readouterr()
    assert main([*args, "--learners", "9"]) == 2
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sim.parquet"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.mkdir(), "unable to open database file"),
        (lambda p: p.write_text("not a database"), "file is not a database"),
    ],
)
def test_a_store_that_cannot_be_used_is_one_line(tmp_path, capsys, make, problem):
    path = tmp_path / "store"
    make(path)
    assert main(["status", "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"learnpulse status: error: cannot use {path}: {problem}\n"


def test_oulad_import_refuses_a_course_id(shared_data, db, capsys):
    assert main(["import", "oulad", str(shared_data / "oulad"), "--course", "c", "--db", db]) == 2
    assert "--course is for assistments and xapi" in capsys.readouterr().err
    with EventStore(db) as store:
        assert store.counts()["events"] == 0


def test_benchmark_help_lists_the_benchmarks_and_their_options(capsys):
    assert main(["benchmark", "--help"]) == 0
    assert "NAME is one of: " in capsys.readouterr().out
    assert main(["benchmark"]) == 2
    assert "name a benchmark" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["benchmark", "kt", "--help"])
    assert info.value.code == 0
    assert "--train TRAIN" in capsys.readouterr().out


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        main(["import", "moodle", "x"])
    assert info.value.code == 2
    assert "invalid choice: 'moodle'" in capsys.readouterr().err


def test_export_of_an_unknown_kind_is_refused(tmp_path, db, capsys):
    # it wrote an empty file and said "events: 0", as if the kind had no events
    out = tmp_path / "hints.parquet"
    with pytest.raises(SystemExit) as info:
        main(["export", "parquet", str(out), "--kind", "hints", "--db", db])
    assert info.value.code == 2
    assert "invalid choice: 'hints'" in capsys.readouterr().err
    assert not out.exists()


def test_benchmark_runs_a_named_benchmark(capsys):
    assert (
        main(
            [
                "benchmark",
                "store",
                "--batches",
                "2",
                "--batch-size",
                "100",
                "--query-events",
                "500",
                "--json",
            ]
        )
        == 0
    )
    result = _json_out(capsys)
    assert result["append"]["learnpulse_events_per_s"] > 0
    assert result["query"]["rows"] == 500
    assert main(["benchmark", "nonesuch"]) == 2
    assert "no benchmark named 'nonesuch'" in capsys.readouterr().err


def test_benchmark_kt_with_a_test_file(shared_data, tmp_path, capsys):
    """Train and test files in the DKT format (real learners, split here); every BKT variant
    and PFA score held-out responses."""
    lines = (shared_data / "assistments2009" / "builder_train.csv").read_text().splitlines()
    learners = ["\n".join(lines[i : i + 3]) for i in range(0, 3 * 500, 3)]
    (tmp_path / "train.csv").write_text("\n".join(learners[:400]) + "\n")
    (tmp_path / "test.csv").write_text("\n".join(learners[400:]) + "\n")
    files = ["--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv")]
    for model in ("bkt-forget", "bkt-forget-ability", "pfa"):
        assert main(["benchmark", "kt", *files, "--model", model, "--json"]) == 0
        result = _json_out(capsys)
        assert result["model"] == model and result["protocol"] == "test file"
        assert 0.7 < result["auc"] < 1 and 0 < result["rmse"] < 0.5
        assert result["n_test"] > 1000 and result["n_train"] > 4 * 1000


@pytest.mark.parametrize("folds", ["0", "1", "401"])
def test_benchmark_kt_refuses_folds_that_leave_a_side_empty(shared_data, tmp_path, capsys, folds):
    lines = (shared_data / "assistments2009" / "builder_train.csv").read_text().splitlines()
    (tmp_path / "train.csv").write_text("\n".join(lines[: 3 * 400]) + "\n")
    args = ["benchmark", "kt", "--train", str(tmp_path / "train.csv"), "--folds", folds]
    assert main(args) == 2
    assert f"folds must be between 2 and the number of learners (400), not {folds}" in (
        capsys.readouterr().err
    )


def test_benchmark_oulad_averages_seeds_and_refuses_none(shared_data, capsys):
    data = str(shared_data / "oulad")
    assert main(["benchmark", "oulad", "--train-dir", data, "--seeds", "0"]) == 2
    assert "--seeds must be at least 1, not 0" in capsys.readouterr().err
    args = ["benchmark", "oulad", "--train-dir", data, "--target", "withdrawn", "--seeds", "2"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["seeds"] == 2 and result["auc_min"] <= result["auc"] <= result["auc_max"]
    assert result["auc"] > result["baseline_auc"] + 0.05


def test_benchmark_forecast_averages_learner_splits(shared_data, capsys):
    data = str(shared_data / "oulad")
    assert main(["benchmark", "forecast", "--train-dir", data, "--splits", "0"]) == 2
    assert "--splits must be at least 1, not 0" in capsys.readouterr().err
    assert main(["benchmark", "forecast", "--train-dir", data, "--splits", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    low, high = result["improvement_min"], result["improvement_max"]
    assert result["splits"] == 2 and low < result["improvement"] < high  # two different splits
    assert low > 0.05 and result["mae"] < result["baseline_mae"]
    assert 0.75 < result["interval_coverage"] < 0.85


def test_benchmark_completion_compares_the_two_paces(capsys):
    assert main(["benchmark", "completion", "--goal-size", "0"]) == 2
    assert "--goal-size must be at least 1, not 0" in capsys.readouterr().err
    # after the 12-week course's end every learner was "no progress", the measures empty
    assert main(["benchmark", "completion", "--learners", "20", "--weeks", "4", "20"]) == 2
    err = capsys.readouterr().err
    assert "--weeks 20 is not before the end of the simulated course (its last event is 14." in err
    args = ["benchmark", "completion", "--learners", "300", "--weeks", "4", "8", "--json"]
    assert main(args) == 0
    result = _json_out(capsys)
    goal, every = (
        {k.removesuffix(f"_{pace}"): v for k, v in result.items() if k.endswith(pace)}
        for pace in ("goal_skills", "every_skill")
    )
    for side in (goal, every):
        assert 0 < side["reached"] < side["in_progress"]
        assert 0 <= side["coverage"] <= 1 and side["median_abs_error_days"] > 0
    # Gains on other skills no longer count toward a goal: goals nobody has started are "no
    # progress" instead of "in progress", and fewer learners are told they will finish in
    # the course's time when they never do.
    assert goal["in_progress"] < every["in_progress"]
    assert goal["in_progress"] + goal["no_progress"] == every["in_progress"] + every["no_progress"]
    assert goal["optimistic"] < every["optimistic"]


@pytest.mark.parametrize(
    ("benchmark", "option"),
    [
        ("store", "--repeat"),  # UnboundLocalError
        ("store", "--batches"),  # ZeroDivisionError
        ("store", "--batch-size"),  # "0 events/s"
        ("simulator", "--repeat"),  # 0 events in an infinite time, exit status 0
        ("simulator", "--learners"),
        ("learner_models", "--repeat"),  # TypeError
        ("ingest", "--clients"),
        ("metrics", "--requests"),
        ("tutor", "--repeat"),
        ("widgets", "--repeats"),
        ("analytics", "--repeat"),
        ("dashboard", "--repeats"),
        ("oulad", "--threads"),
        ("forecast", "--threads"),
    ],
)
def test_benchmark_counts_below_one_are_refused(tmp_path, capsys, benchmark, option):
    data = ["--train-dir", str(tmp_path)] if benchmark in ("oulad", "forecast") else []
    assert main(["benchmark", benchmark, *data, option, "0"]) == 2
    assert f"{option} must be at least 1, not 0" in capsys.readouterr().err


def test_benchmark_json_is_strict_with_undefined_measures_as_null(capsys):
    """An AUC on a test set of one class is undefined: null, not NaN (not JSON)."""
    from learnpulse.benchmarking import print_report

    result = {"auc": float("nan"), "ratio": float("inf"), "folds": [0.8, float("nan")], "n": 3}
    print_report(pl.DataFrame({"auc": [None]}), result, as_json=True)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    strict = json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert strict == {"auc": None, "ratio": None, "folds": [0.8, None], "n": 3}


def test_benchmark_predict_all_refuses_what_it_cannot_measure(capsys):
    assert main(["benchmark", "predict_all", "--learners", "50", "--repeat", "0"]) == 2
    assert "--repeat must be at least 1, not 0" in capsys.readouterr().err


@pytest.mark.parametrize("benchmark", [["kt", "--model", "bkt"], ["kt", "--model", "dkt"], ["dkt"]])
def test_benchmark_kt_names_a_side_without_responses(tmp_path, capsys, benchmark):
    """Two learners leave the seeded 80/20 split no test learner: say so (it was sklearn's
    "Found array with 0 sample(s)" or numpy's "need at least one array to concatenate", which
    `benchmark dkt` still said)."""
    source = tmp_path / "two.csv"
    source.write_text(DKT)
    assert main(["benchmark", *benchmark, "--train", str(source)]) == 2
    err = capsys.readouterr().err
    assert f"the 80% learner split of {source}: no test responses (2 learner(s) in it)" in err
    # a test file without responses: the count was the training file's (2 learners)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["benchmark", *benchmark, "--train", str(source), "--test", str(empty)]) == 2
    assert f"{empty}: no test responses (0 learner(s) in it)" in capsys.readouterr().err


def test_benchmark_forecast_names_a_folder_without_targets(tmp_path, capsys):
    from tests.kernel_lib.datasets.test_oulad import TINY

    for name, text in TINY.items():  # one scored TMA: nothing comes after it
        (tmp_path / f"{name}.csv").write_text(text)
    assert main(["benchmark", "forecast", "--train-dir", str(tmp_path), "--splits", "1"]) == 2
    assert f"{tmp_path}: no scored TMA submission after an earlier" in capsys.readouterr().err


@pytest.mark.parametrize("benchmark", ["kt", "dkt"])
def test_benchmark_kt_refuses_folds_with_a_test_file(tmp_path, capsys, benchmark):
    """`benchmark dkt` cross-validated --train and said nothing of --test."""
    source, test = tmp_path / "two.csv", tmp_path / "test.csv"
    source.write_text(DKT)
    test.write_text(DKT)
    args = ["benchmark", benchmark, "--train", str(source), "--test", str(test), "--folds", "2"]
    assert main(args) == 2
    assert "with --test there is nothing to split" in capsys.readouterr().err


@pytest.mark.parametrize("benchmark", ["kt", "dkt"])
def test_benchmark_kt_refuses_the_training_file_as_test_file(tmp_path, capsys, benchmark):
    """It scored the models on the learners they were fitted on: BKT 0.81 instead of 0.66."""
    source, link = tmp_path / "two.csv", tmp_path / "link.csv"
    source.write_text(DKT)
    link.symlink_to(source)
    for test in (source, link):
        assert main(["benchmark", benchmark, "--train", str(source), "--test", str(test)]) == 2
        assert f"--test {test} is the --train file" in capsys.readouterr().err


#: TINY with a second scored TMA of learner 1: one forecast target.
TINY_FORECAST = {
    "assessments": "AAA,2013J,9,TMA,40,50\n",
    "studentAssessment": "9,1,39,0\n",
    "studentAssessment_scored_subset": "9,1,39,0,70\n",
}


@pytest.mark.parametrize("benchmark", ["oulad", "forecast"])
def test_benchmark_oulad_refuses_test_learners_it_trains_on(tmp_path, capsys, benchmark):
    """--test-dir the --train-dir (or a copy of it) scored the model on the learners it was
    fitted on, and at-risk 'reached' its target: AUC 0.793 (0.768 on 2014B)."""
    from tests.kernel_lib.datasets.test_oulad import TINY

    train, copy = tmp_path / "train", tmp_path / "copy"
    for folder in (train, copy):
        folder.mkdir()
        for name, text in TINY.items():
            (folder / f"{name}.csv").write_text(text + TINY_FORECAST.get(name, ""))
    for test in (train, copy):
        args = ["benchmark", benchmark, "--train-dir", str(train), "--test-dir", str(test)]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"1 of the 1 test learners in {test} are also in {train}" in err
        assert "(e.g. oulad-1 of AAA-2013J)" in err


@pytest.mark.parametrize("benchmark", [["kt", "--model", "dkt"], ["dkt", "--quiet"]])
def test_benchmark_dkt_says_what_it_leaves_out(tmp_path, capsys, benchmark):
    """DKT drops test responses on skills no training learner practised: it said nothing,
    and with none left scored an AUC of null with exit status 0."""
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text(DKT)  # skills 1 and 2, 5 responses of 2 learners
    test.write_text("2\n5,6\n1,0\n2\n7,1\n1,1\n")
    args = ["benchmark", *benchmark, "--train", str(train), "--test", str(test), "--json"]
    assert main(args) == 2
    assert (
        "DKT can predict none of the 4 test responses: 3 are on skills no training learner "
        "practised, and the others are each the first"
    ) in capsys.readouterr().err
    test.write_text("4\n1,5,1,2\n1,0,1,1\n")  # one unseen; 1 -> 1 -> 2 gives 2 predictions
    assert main(args) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n_unseen"] == 1 and result["n_predictions"] == 2
    if benchmark[0] == "kt":  # the table counts responses, as for BKT (it said 2 learners)
        assert result["n_train"] == 5 and result["n_test"] == 2
        assert "1 test response(s) on skills no training learner practised are left out" in out


@pytest.mark.parametrize("folds", [[], ["--folds", "2"]])
def test_benchmark_kt_json_has_the_same_keys_for_every_model(tmp_path, capsys, folds):
    """DKT's lacked protocol and target_fit_seconds, and named fold_auc auc_folds."""
    train = tmp_path / "train.csv"
    train.write_text(DKT * 3)
    keys = {}
    for model in ("bkt", "pfa", "dkt"):
        assert (
            main(["benchmark", "kt", "--train", str(train), "--model", model, *folds, "--json"])
            == 0
        )
        keys[model] = set(_json_out(capsys))
    assert keys["bkt"] == keys["pfa"] and keys["bkt"] <= keys["dkt"]
    assert ("fold_auc" in keys["dkt"]) == bool(folds)


def test_benchmark_oulad_refuses_a_day_after_the_presentations_end(tmp_path, capsys):
    """--day 300, after every presentation's end, 'predicted' at-risk with AUC 0.92 (0.77 at
    day 60), and --day 1e9 was an OverflowError traceback."""
    from tests.kernel_lib.datasets.test_oulad import TINY

    for name, text in TINY.items():
        (tmp_path / f"{name}.csv").write_text(text)
    (tmp_path / "courses.csv").write_text(
        "code_module,code_presentation,module_presentation_length\nAAA,2013J,268\n"
    )
    args = ["benchmark", "oulad", "--train-dir", str(tmp_path), "--day"]
    for day, shown in (("268", "268"), ("1e9", "1e+09")):
        assert main([*args, day]) == 2
        assert (
            f"--day {shown} is not before the end of 1 presentation(s) in {tmp_path} "
            "(AAA-2013J lasts 268 days, courses.csv): by then the outcomes are known; "
            "predict on a day before 268"
        ) in capsys.readouterr().err
    (tmp_path / "courses.csv").unlink()  # optional: no lengths to check against
    assert main([*args, "1e9"]) == 2
    assert "day 1000000000.0 is beyond the calendar's range" in capsys.readouterr().err


def test_simulate_to_an_empty_file_name_is_refused(db, capsys):
    """It wrote to the default store instead."""
    assert main(["simulate", "--learners", "3", "--quiet", "--parquet", "", "--db", db]) == 2
    assert "--parquet needs a file name" in capsys.readouterr().err
    with EventStore(db) as store:
        assert store.counts()["events"] == 0


@pytest.mark.parametrize(
    "command", [["status"], ["export", "parquet", "out.parquet"], ["forget", "x"]]
)
@pytest.mark.parametrize("existing", ["missing", "empty file"])
def test_reading_commands_refuse_a_store_that_is_not_there(tmp_path, capsys, command, existing):
    folder = tmp_path / "typo"
    path = folder / "store.db"
    if existing == "empty file":
        folder.mkdir()
        path.touch()
    assert main([*command, "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"no store at {path}" in err and err.count("\n") == 1
    # nothing was made: no folder, no store in the empty file
    assert path.stat().st_size == 0 if existing == "empty file" else not folder.exists()
    assert not (tmp_path / "out.parquet").exists()


def test_models_check_names_the_stale_course_models(tmp_path, capsys):
    """`learnpulse models check` says which courses' saved models the server would not use
    (exit 1), e.g. fitted before a feature they read changed meaning."""
    from learnpulse.events import empty_event_frame
    from learnpulse.models.course_fit import FittedCourseModels
    from learnpulse.models.knowledge_tracing import BKT
    from learnpulse.models.predictive import MODEL_VERSION

    unlabelled = {"success": None, "retention_risk": None, "performance_forecast": None}
    models = FittedCourseModels(
        mastery=BKT(max_iter=1).fit(empty_event_frame()), clusters=None, **unlabelled
    )
    for course in ("course-a", "course-b"):
        models.save(tmp_path / course)
    assert main(["models", "check", "--models-dir", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert f"model version {MODEL_VERSION}" in said and "course-b: current" in said
    manifest_path = tmp_path / "course-b" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "model_version": "1.1"}))
    assert main(["models", "check", "--models-dir", str(tmp_path), "--json"]) == 1
    report = _json_out(capsys)
    assert report["model_version"] == MODEL_VERSION
    assert [(c["course"], c["state"], c["model_version"]) for c in report["courses"]] == [
        ("course-a", "current", MODEL_VERSION),
        ("course-b", "stale", "1.1"),
    ]
    assert main(["models", "check", "--models-dir", str(tmp_path)]) == 1
    assert "course-b: stale" in capsys.readouterr().out
    assert main(["models", "check", "--models-dir", str(tmp_path / "nowhere")]) == 2
    assert "no course models folder at" in capsys.readouterr().err
