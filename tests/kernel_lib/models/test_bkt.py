"""Bayesian Knowledge Tracing: known answers, degenerate inputs, online updates, real data.

scikit-learn's ``check_estimator`` does not apply: BKT takes response sequences (an event
frame or DKT sequences), not a 2-D feature array with a target, so its generated inputs mean
nothing to it. ``clone``, ``get_params`` and ``set_params`` are tested instead.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from learnpulse.datasets import load_assistments_dkt, read_dkt_sequences
from learnpulse.events import EVENT_FRAME_SCHEMA
from learnpulse.models.knowledge_tracing import BKT, AbilityHistory, response_frame
from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.knowledge_tracing.ability import ABILITY_EDGES, ability_bin

TRUE = {
    "a": {"p_init": 0.3, "p_learn": 0.15, "p_guess": 0.2, "p_slip": 0.1, "p_forget": 0.0},
    "b": {"p_init": 0.6, "p_learn": 0.05, "p_guess": 0.25, "p_slip": 0.05, "p_forget": 0.0},
}
START = datetime(2024, 9, 2, tzinfo=timezone.utc)


def simulate(params: dict, n_learners: int, length: int, seed: int = 0) -> list:
    """DKT-style sequences: each learner answers ``length`` items of every skill in turn."""
    rng = np.random.default_rng(seed)
    out = []
    for skill, p in enumerate(params.values()):
        known = rng.random(n_learners) < p["p_init"]
        correct = np.empty((n_learners, length), dtype=np.int8)
        for t in range(length):
            chance = np.where(known, 1 - p["p_slip"], p["p_guess"])
            correct[:, t] = rng.random(n_learners) < chance
            stay = rng.random(n_learners) >= p["p_forget"]
            known = np.where(known, stay, rng.random(n_learners) < p["p_learn"])
        out.append((np.full((n_learners, length), skill), correct))
    skills = np.concatenate([s for s, _ in out], axis=1)
    correct = np.concatenate([c for _, c in out], axis=1)
    return [(skills[i], correct[i]) for i in range(n_learners)]


def events(rows: list[tuple[str, list[str], bool]], item: str = "ex") -> pl.DataFrame:
    """An event frame of attempts (learner, skills, correct), one minute apart."""
    return pl.DataFrame(
        {
            "learner_id": [r[0] for r in rows],
            "ts": [START + timedelta(minutes=i) for i in range(len(rows))],
            "kind": ["attempt"] * len(rows),
            "item_id": [item] * len(rows),
            "skills": [r[1] for r in rows],
            "correct": [r[2] for r in rows],
        },
        schema={k: EVENT_FRAME_SCHEMA[k] for k in ("learner_id", "ts", "kind", "item_id")}
        | {"skills": EVENT_FRAME_SCHEMA["skills"], "correct": EVENT_FRAME_SCHEMA["correct"]},
    )


@pytest.fixture(scope="module")
def assistments(shared_data):
    sequences = read_dkt_sequences(shared_data / "assistments2009" / "builder_train.csv")
    order = np.random.default_rng(1).permutation(len(sequences))[:1200]
    return [sequences[i] for i in order[:960]], [sequences[i] for i in order[960:]]


def test_recovers_known_parameters():
    model = BKT().fit(simulate(TRUE, n_learners=3000, length=12))
    fitted = model.params_frame()
    for skill, truth in zip(["0", "1"], TRUE.values(), strict=True):
        row = fitted.filter(pl.col("skill") == skill).row(0, named=True)
        for key in ("p_init", "p_learn", "p_guess", "p_slip"):
            assert row[key] == pytest.approx(truth[key], abs=0.05), (skill, key)


def test_recovers_forgetting():
    truth = {"a": {**TRUE["a"], "p_forget": 0.1, "p_learn": 0.3}}
    model = BKT(forgetting=True).fit(simulate(truth, n_learners=4000, length=15, seed=3))
    row = model.params_frame().row(0, named=True)
    assert row["p_forget"] == pytest.approx(0.1, abs=0.05)
    assert row["p_learn"] == pytest.approx(0.3, abs=0.08)


def test_bounds_hold():
    sequences = simulate(TRUE, n_learners=300, length=8, seed=2)
    model = BKT(max_guess=0.1, max_slip=0.05).fit(sequences)
    assert model.params_frame().get_column("p_guess").max() <= 0.1
    assert model.params_frame().get_column("p_slip").max() <= 0.05
    assert (model.params_frame().get_column("p_forget") == 0).all()


def test_fit_returns_self_and_unfitted_raises():
    model = BKT()
    with pytest.raises(NotFittedError):
        model.predict_proba(simulate(TRUE, 2, 3))
    with pytest.raises(NotFittedError):
        model.update({}, "0", True)
    assert model.fit(simulate(TRUE, 20, 3)) is model


def test_sklearn_params_and_clone():
    model = BKT(forgetting=True, max_iter=7)
    assert model.get_params()["max_iter"] == 7
    copy = clone(model).set_params(n_init=1)
    assert copy.n_init == 1 and copy.forgetting and not hasattr(copy, "params_")
    # scikit-learn's contract without its base class (whose import took seconds in a kernel)
    assert repr(copy) == "BKT(forgetting=True, max_iter=7, n_init=1)" and repr(BKT()) == "BKT()"
    with pytest.raises(ValueError, match="Invalid parameter 'n_inits' for estimator BKT"):
        model.set_params(n_inits=1)


@pytest.mark.parametrize(
    "rows",
    [
        [("only", ["s"], True)],  # one learner, one response
        [("only", ["s"], True), ("only", ["s"], True), ("only", ["t"], True)],  # all correct
        [("x", ["s"], False), ("y", ["s"], False)],  # all wrong
    ],
)
def test_degenerate_inputs_give_probabilities(rows):
    frame = events(rows)
    model = BKT(forgetting=True).fit(frame)
    p = model.predict_proba(frame)
    assert p.shape == (len(rows),) and np.all((p > 0) & (p < 1))
    mastery = model.mastery(frame)
    assert mastery.height == len({(r[0], r[1][0]) for r in rows})
    assert mastery.get_column("p_known").is_between(0, 1).all()


def test_bad_event_frames_are_named():
    frame = events([("x", ["s"], True), ("x", ["s"], False)])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['correct'\]"):
        BKT().fit(frame.drop("correct"))
    as_text = frame.with_columns(pl.col("correct").cast(pl.String))
    with pytest.raises(ValueError, match=r"'correct' must be Boolean .*not String"):
        BKT().fit(as_text)
    as_numbers = frame.with_columns(pl.col("correct").cast(pl.Int64))
    assert response_frame(as_numbers)["correct"].to_list() == [1, 0]


def test_empty_frame():
    empty = pl.DataFrame(schema=EVENT_FRAME_SCHEMA)
    model = BKT().fit(empty)
    assert model.skills_ == []
    assert model.predict_proba(empty).shape == (0,)
    assert model.mastery(empty).height == 0
    assert 0 < model.update({}, "anything", True) < 1


def test_unseen_skill_gets_the_defaults():
    model = BKT().fit(simulate(TRUE, 200, 5))
    frame = events([("new", ["never-seen"], True), ("new", ["never-seen"], False)])
    p = model.predict_proba(frame)
    defaults = {k: model.params_[k][-1] for k in ("p_init", "p_guess", "p_slip")}
    first = (
        defaults["p_init"] * (1 - defaults["p_slip"])
        + (1 - defaults["p_init"]) * defaults["p_guess"]
    )
    assert p[0] == pytest.approx(first)
    assert model.mastery(frame).get_column("skill").to_list() == ["never-seen"]


def test_online_update_matches_batch_and_is_fast():
    sequences = simulate(TRUE, 300, 10, seed=5)
    model = BKT(forgetting=True).fit(sequences)
    learner = sequences[7]
    state: dict[str, float] = {}
    started = time.perf_counter()
    for skill, correct in zip(*learner, strict=True):
        model.update(state, str(skill), bool(correct))
    per_update = (time.perf_counter() - started) / len(learner[0])
    batch = model.mastery([learner])
    assert dict(zip(batch["skill"], batch["p_known"], strict=True)) == pytest.approx(state)
    assert per_update < 1e-3


def test_online_update_refuses_a_correctness_that_is_not_one():
    """A "0" read from a CSV was a true value: counted as a correct answer."""
    model = BKT().fit(simulate(TRUE, 50, 5, seed=5))
    assert model.update({}, "0", np.int8(0)) == model.update({}, "0", False)
    assert model.update({}, "0", 1) == model.update({}, "0", True)
    for bad in ("0", "False", None, float("nan"), 2):
        state: dict[str, float] = {}
        with pytest.raises(ValueError, match=re.escape(f"not {bad!r}")):
            model.update(state, "0", bad)
        assert state == {}


def test_predictions_use_only_the_past():
    sequences = simulate(TRUE, 300, 10, seed=6)
    model = BKT().fit(sequences)
    skills, correct = sequences[0]
    flipped = correct.copy()
    flipped[5:] = 1 - flipped[5:]
    before = model.predict_proba([(skills, correct)])
    after = model.predict_proba([(skills, flipped)])
    np.testing.assert_allclose(before[:6], after[:6])
    assert not np.allclose(before[6:], after[6:])


def test_event_frame_and_sequences_agree(tmp_path):
    sequences = simulate(TRUE, 30, 4, seed=7)
    path = tmp_path / "dkt.csv"
    lines = [f"{len(s)}\n{','.join(map(str, s))}\n{','.join(map(str, c))}" for s, c in sequences]
    path.write_text("\n".join(lines) + "\n")
    frame = load_assistments_dkt(path).events
    model = BKT().fit(sequences)
    np.testing.assert_allclose(model.predict_proba(frame), model.predict_proba(sequences))


def test_multi_skill_and_skill_less_attempts():
    frame = events([("l", ["a", "b"], True), ("l", [], False), ("l", ["b"], False)])
    responses = response_frame(frame)
    assert responses.get_column("skill").to_list() == ["a", "b", "b"]
    assert responses.get_column("row").to_list() == [0, 0, 2]
    assert responses.get_column("position").to_list() == [0, 0, 2]


def test_mastery_rows_carry_model_confidence_and_reason():
    frame = events([("l", ["12"], c) for c in (False, False, True, True, True)])
    rows = BKT().fit(frame).mastery(frame)
    row = rows.row(0, named=True)
    assert row["reason"] == "5 attempts on skill 12, 3 correct, last 3 correct"
    assert row["model"].startswith("bkt@") and 0 < row["confidence"] < 1
    assert row["label"] in {"Mastered", "Proficient", "Developing", "Needs Focus"}
    assert 1 <= row["proficiency"] <= 10


def test_mastery_levels():
    p = np.array([0.0, 0.49, 0.5, 0.8, 0.949, 0.95, 1.0])
    labels = ["Needs Focus", "Needs Focus", "Developing", "Proficient", "Proficient"]
    assert sq.mastery_label(p).tolist() == [*labels, "Mastered", "Mastered"]
    assert sq.proficiency(p).tolist() == [1, 5, 5, 8, 10, 10, 10]


def test_save_load_round_trip(tmp_path):
    rows = [(f"l{i % 7}", [f"s{i % 3}"], bool((i * 5) % 3)) for i in range(60)]
    frame = events(rows).with_columns(item_id=pl.format("item-{}", pl.col("ts").dt.minute() % 4))
    model = BKT(forgetting=True, per_item_guess_slip=True).fit(frame)
    assert model.units_
    model.save(tmp_path / "bkt.json")
    loaded = BKT.load(tmp_path / "bkt.json")
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    assert loaded.get_params() == model.get_params()
    assert loaded.update({}, "s1", True, item="item-2") == model.update({}, "s1", True, "item-2")


def test_quality_on_assistments(assistments):
    train, test = assistments
    y = response_frame(test).get_column("correct").to_numpy()
    model = BKT().fit(train)
    assert roc_auc_score(y, model.predict_proba(test)) > 0.70
    forgetting = BKT(forgetting=True).fit(train)
    forgetting_auc = roc_auc_score(y, forgetting.predict_proba(test))
    assert forgetting_auc > 0.75
    ability = BKT(forgetting=True, ability_bins=ABILITY_EDGES).fit(train)
    assert roc_auc_score(y, ability.predict_proba(test)) > forgetting_auc


# -- ability bins ------------------------------------------------------------------------------


def test_ability_bin_edges_and_history():
    bins = ability_bin(np.array([0, 4, 4, 10, 10, 3]), np.array([0, 1, 2, 7, 10, 3]), (0.5, 0.8), 4)
    # no history / too little (3 < 4) -> 0; 0.25 -> 1; 0.5 and 0.7 -> 2; 1.0 -> 3
    assert bins.tolist() == [0, 1, 2, 2, 3, 0]
    history = AbilityHistory()
    for correct in (True, True, False, True):
        history.record(correct)
    assert (history.responses, history.correct) == (4, 3)
    with pytest.raises(ValueError, match="increasing accuracies"):
        BKT(ability_bins=(0.8, 0.5)).fit(two_ability_groups(20, seed=1))
    assert history.bin((0.5, 0.8), 4) == int(
        ability_bin(np.array([4]), np.array([3]), (0.5, 0.8), 4)[0]
    )


def two_ability_groups(n_learners: int, seed: int) -> list:
    """Each learner answers 6 items of skill 0, then 6 of skill 1; strong learners (even ids)
    know both skills far more often than weak ones (odd ids)."""
    strong = {k: {**v, "p_init": 0.9} for k, v in TRUE.items()}
    weak = {k: {**v, "p_init": 0.1} for k, v in TRUE.items()}
    good = simulate(strong, n_learners // 2, 6, seed=seed)
    poor = simulate(weak, n_learners // 2, 6, seed=seed + 1)
    return [learner for pair in zip(good, poor, strict=True) for learner in pair]


def test_ability_bins_separate_strong_and_weak_learners():
    sequences = two_ability_groups(2000, seed=11)
    model = BKT(ability_bins=(0.5, 0.75)).fit(sequences)
    assert model.name == "bkt-ability"
    params = model.params_frame()
    # skill 0 comes first: nobody has history yet, one bin
    assert params.filter(pl.col("skill") == "0").get_column("ability_bin").to_list() == [0]
    second = {
        r["ability_bin"]: r["p_init"]
        for r in params.filter(pl.col("skill") == "1").iter_rows(named=True)
    }
    assert second[3] > 0.6 and second[1] < 0.4 and second[3] - second[1] > 0.4
    # first response to skill 1: plain BKT predicts the same for all, the bins tell them apart
    test = two_ability_groups(400, seed=21)
    first = response_frame(test).get_column("position").to_numpy() == 6
    y = response_frame(test).get_column("correct").to_numpy()[first]
    assert np.ptp(BKT().fit(sequences).predict_proba(test)[first]) == 0
    assert roc_auc_score(y, model.predict_proba(test)[first]) > 0.65


def test_ability_bins_count_attempts_once_and_only_earlier_ones():
    # two right multi-skill attempts, one wrong, then skill c: accuracy 2/3 over 3 attempts
    rows = [
        ("l", ["a", "b"], True),
        ("l", ["a", "b"], True),
        ("l", ["a"], False),
        ("l", ["c"], True),
    ]
    frame = events(rows)
    model = BKT(ability_bins=(0.5, 0.7), ability_min_history=3).fit(frame)
    keys = dict(
        zip(model.params_frame()["skill"], model.params_frame()["ability_bin"], strict=True)
    )
    assert keys == {"a": 0, "b": 0, "c": 2}  # 3 attempts (not 5 rows), 2/3 in [0.5, 0.7)
    flipped = events([*rows[:3], ("l", ["c"], False)])
    np.testing.assert_allclose(model.predict_proba(frame)[:-1], model.predict_proba(flipped)[:-1])


def test_ability_online_update_matches_batch():
    sequences = two_ability_groups(600, seed=31)
    model = BKT(forgetting=True, ability_bins=(0.5, 0.75)).fit(sequences)
    for learner in sequences[:2]:  # one strong, one weak
        state: dict[str, float] = {}
        history = AbilityHistory()
        for skill, correct in zip(*learner, strict=True):
            model.update(state, str(skill), bool(correct), history=history)
            history.record(bool(correct))
        batch = model.mastery([learner])
        assert dict(zip(batch["skill"], batch["p_known"], strict=True)) == pytest.approx(state)
        assert history.bins["0"] == 0 and history.bins["1"] > 0


def test_ability_save_load_round_trip(tmp_path):
    sequences = two_ability_groups(200, seed=41)
    model = BKT(forgetting=True, per_item_guess_slip=True, ability_bins=(0.6,)).fit(sequences)
    model.save(tmp_path / "bkt.json")
    loaded = BKT.load(tmp_path / "bkt.json")
    assert loaded.get_params() == model.get_params() and loaded.keys_ == model.keys_
    np.testing.assert_array_equal(loaded.predict_proba(sequences), model.predict_proba(sequences))


def test_loading_another_file_says_what_it_is_not(tmp_path):
    """A PFA's file, a DKT's or any other file: "not a saved BKT model", not a KeyError."""
    from learnpulse.models.knowledge_tracing import PFA

    sequences = [(np.array([0, 0, 1]), np.array([0, 1, 1]))] * 3
    PFA().fit(sequences).save(tmp_path / "pfa.json")
    (tmp_path / "weights.pt").write_bytes(b"\x80\x02garbage")
    (tmp_path / "other.json").write_text('{"name": "something else"}')
    for name in ("pfa.json", "weights.pt", "other.json"):
        with pytest.raises(ValueError, match=re.escape(f"{name}: not a saved BKT model")):
            BKT.load(tmp_path / name)
    BKT().fit(sequences).save(tmp_path / "bkt.json")
    with pytest.raises(ValueError, match=r"bkt\.json: not a saved PFA model"):
        PFA.load(tmp_path / "bkt.json")
