"""Deep Knowledge Tracing: learning, live updates, persistence, degenerate inputs, real data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

torch = pytest.importorskip("torch")

from learnpulse.datasets import read_dkt_sequences  # noqa: E402
from learnpulse.models.knowledge_tracing.dkt import DKT, as_sequences, roc_auc  # noqa: E402

FAST = {"hidden_size": 32, "learning_rate": 0.02, "progress": False, "random_state": 3}


def mastery_pattern(n_learners: int, length: int, seed: int) -> list:
    """Per skill: 30% correct until the first correct answer, always correct afterwards."""
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(n_learners):
        skills = rng.integers(0, 4, size=length)
        mastered = np.zeros(4, dtype=bool)
        correct = np.zeros(length, dtype=np.int8)
        for t, skill in enumerate(skills):
            correct[t] = mastered[skill] or rng.random() < 0.3
            mastered[skill] |= bool(correct[t])
        sequences.append((skills, correct))
    return sequences


@pytest.fixture(scope="module")
def synthetic():
    train = mastery_pattern(300, 30, seed=1)
    test = mastery_pattern(100, 30, seed=2)
    model = DKT(max_epochs=15, patience=3, **FAST).fit(train)
    return model, train, test


def test_learns_the_mastery_pattern(synthetic):
    model, _, test = synthetic
    auc = roc_auc(model.next_step_outcomes(test), model.predict_proba(test))
    assert auc > 0.9
    assert model.n_epochs_ >= model.best_epoch_ >= 1
    assert model.history_[model.best_epoch_ - 1]["val_auc"] > 0.85


def test_beats_constant_and_per_skill_baselines_on_real_data(shared_data):
    sequences = read_dkt_sequences(shared_data / "assistments2009" / "builder_train.csv")
    train, test = sequences[:300], sequences[300:400]
    seen = np.unique(np.concatenate([s for s, _ in train]))
    test = [(s[np.isin(s, seen)], c[np.isin(s, seen)]) for s, c in test]
    model = DKT(max_epochs=3, learning_rate=0.02, hidden_size=64, progress=False).fit(train)
    proba, observed = model.predict_proba(test), model.next_step_outcomes(test)
    rate = np.concatenate([c for _, c in train]).mean()
    skills = np.concatenate([s for s, _ in train])
    per_skill = np.bincount(skills, np.concatenate([c for _, c in train]), minlength=124)
    per_skill /= np.maximum(np.bincount(skills, minlength=124), 1)
    baseline = per_skill[np.concatenate([s[1:] for s, _ in test])]
    assert len(proba) == len(observed) == sum(len(s) - 1 for s, _ in test)
    assert np.sqrt(np.mean((proba - observed) ** 2)) < np.sqrt(np.mean((rate - observed) ** 2))
    assert roc_auc(observed, proba) > max(0.72, roc_auc(observed, baseline) + 0.1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_incremental_updates_equal_the_batch_pass(cell):
    train = mastery_pattern(40, 20, seed=4)
    model = DKT(max_epochs=1, cell=cell, **FAST).fit(train)
    skills, correct = train[0]
    batch = model.predict_proba([train[0]])
    state, online = model.init_state(), []
    for skill, right in zip(skills.tolist(), correct.tolist(), strict=True):
        state, probs = model.update(state, skill, bool(right))
        online.append(probs)
    assert state.n_responses == len(skills)
    ahead = [online[t][skills[t + 1]] for t in range(len(skills) - 1)]
    np.testing.assert_allclose(ahead, batch, atol=1e-5)
    final = model.mastery([train[0]]).get_column("p_correct").to_numpy()
    np.testing.assert_allclose(final, online[-1], atol=1e-5)
    with pytest.raises(KeyError, match="not seen"):
        model.update(state, 99, True)
    with pytest.raises(ValueError, match="correct must be True or False"):  # it was True
        model.update(state, int(skills[0]), "0")
    other = DKT(max_epochs=1, cell="gru" if cell == "lstm" else "lstm", **FAST).fit(train)
    for wrong in ({}, None, other.init_state()):  # BKT's state; another cell's
        with pytest.raises(
            TypeError, match=f"state must be a DKTState of this model \\({cell.upper()}"
        ):
            model.update(wrong, int(skills[0]), True)


def test_updates_after_a_second_fit_use_its_skills():
    """update() kept the first fit's skill index while the number of skills stayed the same:
    after fitting skills 11-14 on top of 0-3, skill 11 was 'not seen in training' and skill
    0 was updated as if it were 11."""
    first = mastery_pattern(20, 10, seed=1)
    second = [(skills + 11, correct) for skills, correct in mastery_pattern(20, 10, seed=2)]
    model = DKT(max_epochs=1, **FAST).fit(first)
    model.update(model.init_state(), 0, True)
    model.fit(second)
    fresh = DKT(max_epochs=1, **FAST).fit(second)
    _, probs = model.update(model.init_state(), 11, True)
    np.testing.assert_allclose(probs, fresh.update(fresh.init_state(), 11, True)[1])
    with pytest.raises(KeyError, match="skill 0 was not seen"):
        model.update(model.init_state(), 0, True)


def test_save_load_round_trip(synthetic, tmp_path):
    model, _, test = synthetic
    model.save(tmp_path / "dkt.pt")
    loaded = DKT.load(tmp_path / "dkt.pt")
    assert loaded.get_params() == model.get_params()
    assert loaded.skills_ == model.skills_ and loaded.best_epoch_ == model.best_epoch_
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    assert loaded.mastery(test[:2]).equals(model.mastery(test[:2]))


def test_unfitted_model_raises():
    model = DKT()
    for call in (lambda: model.predict_proba([]), lambda: model.mastery([]), model.init_state):
        with pytest.raises(RuntimeError, match="not fitted"):
            call()


def test_fit_is_reproducible():
    train = mastery_pattern(30, 15, seed=5)
    first = DKT(max_epochs=2, **FAST).fit(train).predict_proba(train)
    second = DKT(max_epochs=2, **FAST).fit(train).predict_proba(train)
    np.testing.assert_array_equal(first, second)


def test_degenerate_inputs():
    one = [(np.array([7]), np.array([1], dtype=np.int8))]
    model = DKT(**FAST).fit(one)
    assert model.n_epochs_ == 0 and model.skills_ == [7]
    assert model.predict_proba(one).shape == (0,)
    rows = model.mastery(one)
    assert rows.height == 1 and 0.5 < rows.item(0, "p_correct") < 1
    assert rows.item(0, "model").startswith("dkt") and rows.item(0, "confidence") == 0.25
    empty = DKT(**FAST).fit([])
    assert empty.predict_proba([]).shape == (0,)
    assert empty.mastery([]).height == 0
    assert model.predict_proba([(np.array([3, 4]), np.array([1, 0]))]).shape == (0,)


def events_frame(sequences: list) -> pl.DataFrame:
    start = datetime(2024, 9, 2, tzinfo=timezone.utc)
    rows = [
        {
            "learner_id": f"L{i}",
            "ts": start + timedelta(minutes=t),
            "skills": [str(skill)],
            "correct": bool(right),
        }
        for i, (skills, correct) in enumerate(sequences)
        for t, (skill, right) in enumerate(zip(skills.tolist(), correct.tolist(), strict=True))
    ]
    noise = {"learner_id": "L0", "ts": start, "skills": ["0"], "correct": None}
    return pl.DataFrame([*rows[::-1], noise])


def test_event_frames_match_sequences():
    sequences = mastery_pattern(20, 12, seed=6)
    frame = events_frame(sequences)
    converted = as_sequences(frame)
    assert converted.learner_ids == sorted(f"L{i}" for i in range(20))
    assert converted.skills == ["0", "1", "2", "3"]
    sequences = [sequences[int(learner[1:])] for learner in converted.learner_ids]
    for (s, c), (s2, c2) in zip(sequences, converted.sequences, strict=True):
        np.testing.assert_array_equal(s, s2)
        np.testing.assert_array_equal(c, c2)
    from_frame = DKT(max_epochs=1, **FAST).fit(frame)
    from_pairs = DKT(max_epochs=1, **FAST).fit(sequences)
    np.testing.assert_allclose(
        from_frame.predict_proba(frame), from_pairs.predict_proba(sequences), atol=1e-6
    )
    rows = from_frame.mastery(frame)
    assert rows.height == 20 * 4
    assert set(rows.columns) >= {"learner_id", "skill_id", "p_correct", "confidence", "reason"}


def test_only_attempts_are_responses():
    """Other events may carry ``correct`` (a submitted assessment): DKT, like BKT, reads
    attempts only when the frame says the kind."""
    frame = events_frame(mastery_pattern(8, 6, seed=2)).with_columns(kind=pl.lit("attempt"))
    extra = frame.head(5).with_columns(kind=pl.lit("assessment_submitted"), correct=False)
    model = DKT(max_epochs=1, **FAST).fit(frame)
    both = pl.concat([frame, extra])
    np.testing.assert_allclose(model.predict_proba(both), model.predict_proba(frame))


def test_mastery_keeps_learners_without_a_usable_response():
    """As documented: they get the model's prior (they were left out)."""
    frame = events_frame(mastery_pattern(6, 5, seed=4))
    model = DKT(max_epochs=1, **FAST).fit(frame)
    stranger = frame.head(3).with_columns(learner_id=pl.lit("new"), skills=pl.lit(["zzz"]))
    rows = model.mastery(pl.concat([frame, stranger])).filter(pl.col("learner_id") == "new")
    assert rows.height == len(model.skills_)
    np.testing.assert_allclose(rows["p_correct"], model._prior(), rtol=1e-6)
    assert (rows["n_attempts"] == 0).all()


def test_loading_a_file_that_is_not_a_dkt_model_is_named(tmp_path):
    """Each says what the file is. torch's own words for a JSON file or a whole pickled
    model advised re-running torch.load with weights_only=False (running the file's code)
    and filing an issue with PyTorch; a text file raised KeyError: '101'."""
    from learnpulse.models.knowledge_tracing import BKT

    sequences = mastery_pattern(10, 6, seed=7)
    model = DKT(max_epochs=1, **FAST).fit(sequences)
    model.save(tmp_path / "dkt.pt")
    saved = (tmp_path / "dkt.pt").read_bytes()
    BKT().fit(sequences).save(tmp_path / "bkt.json")
    torch.save(model, tmp_path / "whole.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    (tmp_path / "cut.pt").write_bytes(saved[: len(saved) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello\n")
    expected = {
        "bkt.json": "it is JSON (BKT.save and PFA.save write JSON: read it with BKT.load",
        "whole.pt": "it holds pickled Python objects (e.g. torch.save of a whole model), which "
        "DKT.load never runs: save the model with DKT.save",
        "other.pt": "a torch file that DKT.save did not write",
        "cut.pt": "a torch file cut short or damaged",
        "empty.pt": "the file is empty",
        "notes.txt": "not a torch file",
    }
    for name, problem in expected.items():
        with pytest.raises(ValueError) as info:
            DKT.load(tmp_path / name)
        assert str(info.value).startswith(f"{tmp_path / name} is not a saved DKT model: {problem}")
        assert "weights_only" not in str(info.value)
