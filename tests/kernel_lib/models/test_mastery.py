"""Course mastery: known answers on a hand-built 3-skill chain, agreement with BKT.mastery,
degenerate inputs, DKT frames, and the simulator's hidden ability.

The helpers here (a chain course A -> B -> C, a BKT with known parameters, event builders)
are shared by the other learner-model tests.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.events import EventValidationError, events_to_frame, validate_events
from learnpulse.models.knowledge_tracing import BKT, MASTERY_THRESHOLD
from learnpulse.models.knowledge_tracing.evidence import evidence_attempts
from learnpulse.models.mastery import (
    MASTERY_COLUMNS,
    course_mastery,
    fit_mastery_model,
    label_mastery,
    trace_mastery,
)

START = datetime(2024, 9, 2, 9, tzinfo=timezone.utc)
#: Known BKT parameters of the chain course: A, B, C, then the unseen-skill default.
CHAIN_PARAMS = {
    "p_init": [0.3, 0.3, 0.3, 0.3],
    "p_learn": [0.3, 0.3, 0.3, 0.3],
    "p_forget": [0.0, 0.0, 0.0, 0.0],
    "p_guess": [0.2, 0.2, 0.2, 0.2],
    "p_slip": [0.1, 0.1, 0.1, 0.1],
}


def chain_skills() -> pl.DataFrame:
    """Skill frame A -> B -> C."""
    return pl.DataFrame(
        {
            "course_id": ["c"] * 3,
            "skill_id": ["A", "B", "C"],
            "name": ["Alpha", "Beta", "Gamma"],
            "prerequisites": [[], ["A"], ["B"]],
        }
    )


def chain_items() -> pl.DataFrame:
    """Two exercises per skill, difficulties 0.2 and 0.8, plus a resource."""
    ids = [f"ex-{s}-{d}" for s in "ABC" for d in (1, 2)]
    rows = {
        "course_id": ["c"] * 7,
        "item_id": [*ids, "video-A"],
        "skills": [[i[3]] for i in ids] + [["A"]],
        "difficulty": [0.2, 0.8] * 3 + [None],
        "attributes": ['{"type":"exercise"}'] * 6 + ['{"type":"resource"}'],
    }
    return pl.DataFrame(rows)


def chain_model() -> BKT:
    """A BKT with :data:`CHAIN_PARAMS` (no fitting: the answers below are known)."""
    return BKT.from_dict(
        {
            "settings": BKT().get_params(),
            "skills": ["A", "B", "C"],
            "units": [],
            "params": {**CHAIN_PARAMS, "unit_guess": [], "unit_slip": []},
            "n_iter": 0,
            "log_likelihood": 0.0,
        }
    )


def event(kind: str, who: str, minutes: float, **fields) -> dict:
    """One raw event ``minutes`` after :data:`START`."""
    return {
        "id": str(uuid.uuid4()),
        "ts": START + timedelta(minutes=minutes),
        "learner_id": who,
        "course_id": "c",
        "kind": kind,
        **fields,
    }


def attempt(who: str, minutes: float, skill: str, correct: bool, item: str | None = None, **kw):
    item = item or f"ex-{skill}-1"
    return event("attempt", who, minutes, item_id=item, skills=[skill], correct=correct, **kw)


def problem(who: str, minutes: float, skill: str, correct: bool, **kw):
    """An attempt at a problem of ``skill`` never seen before (each call a new item), as a
    practice set deals them: every such answer is evidence, right or wrong. Answering one
    exercise again after solving it is practice, not evidence."""
    return attempt(who, minutes, skill, correct, item=f"ex-{skill}-new-{minutes:g}", **kw)


def frame(raw: list[dict]) -> pl.DataFrame:
    return events_to_frame(validate_events(raw))


def expected_p_known(model: BKT, outcomes: list[bool], skill: str = "A") -> float:
    """P(known) after ``outcomes`` by BKT's own online update (an independent path)."""
    state: dict[str, float] = {}
    for correct in outcomes:
        model.update(state, skill, correct)
    return state[skill]


def masters_a(who: str = "ann") -> list[dict]:
    """``who`` answers ex-A-1 then 5 new problems of A correctly (mastered), each of
    ex-A-1's difficulty 0.2."""
    first = attempt(who, 0, "A", True, session_id="s1", difficulty=0.2)
    more = [problem(who, i, "A", True, session_id="s1", difficulty=0.2) for i in range(1, 6)]
    return [first, *more]


def ann_masters_a() -> pl.DataFrame:
    """Ann answers 6 problems of A correctly (mastered) and never tries B or C; Bob only
    registers."""
    return frame([*masters_a(), event("registration", "bob", -60)])


def test_chain_known_answer():
    model = chain_model()
    mastery = course_mastery(ann_masters_a(), skills=chain_skills(), model=model)
    assert mastery.columns == list(MASTERY_COLUMNS)
    assert mastery.height == 6  # 2 learners x 3 skills, the unattempted ones included
    ann = {r["skill"]: r for r in mastery.filter(learner_id="ann").iter_rows(named=True)}
    assert ann["A"]["p_known"] == pytest.approx(expected_p_known(model, [True] * 6))
    assert ann["A"]["mastered"] and ann["A"]["label"] == "Mastered"
    assert ann["A"]["proficiency"] == 10 and (ann["A"]["n_attempts"], ann["A"]["n_correct"]) == (
        6,
        6,
    )
    assert "6 attempts on A, 6 correct, last 6 correct" in ann["A"]["reason"]
    for skill in "BC":
        row = ann[skill]
        assert row["p_known"] == pytest.approx(0.3) and row["n_attempts"] == 0
        assert row["confidence"] == 0.0 and row["label"] == "Needs Focus"
        assert "no attempts" in row["reason"]
    bob = mastery.filter(learner_id="bob")
    assert bob.height == 3 and (bob["n_attempts"] == 0).all()


def test_wrong_answers_lower_mastery_and_cut_off():
    model = chain_model()
    raw = [problem("ann", i, "A", i < 3) for i in range(6)]  # 3 right then 3 wrong
    events = frame(raw)
    full = course_mastery(events, model=model)
    assert full["p_known"][0] == pytest.approx(expected_p_known(model, [True] * 3 + [False] * 3))
    assert "last 3 wrong" in full["reason"][0] and not full["mastered"][0]
    early = course_mastery(events, model=model, at=START + timedelta(minutes=2.5))
    assert early["n_attempts"][0] == 3
    assert early["p_known"][0] == pytest.approx(expected_p_known(model, [True] * 3))


@pytest.mark.parametrize("forgetting", [False, True])
def test_same_as_bkt_mastery_on_simulated_course(forgetting):
    course = simulate_course(SimulationConfig(n_learners=150, weeks=6, seed=3))
    model = fit_mastery_model(course.events, forgetting=forgetting)
    assert model.forgetting == forgetting
    ours = course_mastery(course.events, model=model)
    theirs = model.mastery(evidence_attempts(course.events))
    joined = theirs.join(ours, on=["learner_id", "skill"], suffix="_ours")
    assert joined.height == theirs.height == ours.height
    assert np.allclose(joined["p_known"], joined["p_known_ours"], atol=1e-12)
    assert (joined["n_correct"] == joined["n_correct_ours"]).all()
    assert (joined["label"] == joined["label_ours"]).all()


def test_trace_gains_add_up_to_final_mastery():
    course = simulate_course(SimulationConfig(n_learners=40, weeks=3, seed=1))
    trace = trace_mastery(course.events)
    per_skill = trace.responses.group_by("learner_id", "skill").agg(pl.col("gain").sum())
    joined = trace.sequences.join(per_skill, on=["learner_id", "skill"])
    assert np.allclose(joined["gain"], joined["p_known"])


def test_degenerate_inputs():
    empty = frame([])
    skills = chain_skills()
    assert course_mastery(empty).columns == list(MASTERY_COLUMNS)
    assert course_mastery(empty, skills=skills).is_empty()
    one = frame([attempt("ann", 0, "A", True)])
    rows = course_mastery(one, skills=skills)  # BKT fitted on a single response
    assert rows.height == 3 and rows["p_known"].is_between(0, 1).all()
    all_right = frame([attempt(w, i, "A", True) for w in ("a", "b") for i in range(5)])
    fitted = course_mastery(all_right, skills=skills)
    assert fitted.filter(skill="A")["p_known"].min() > 0.9
    assert fitted.filter(skill="C")["n_attempts"].sum() == 0  # nobody tried C: prior rows
    assert fitted["p_known"].is_finite().all()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="skills"):
        course_mastery(pl.DataFrame({"learner_id": ["a"]}))
    with pytest.raises(ValueError, match="timezone-aware"):
        course_mastery(ann_masters_a(), at=datetime(2024, 9, 3))
    with pytest.raises(ValueError, match="skill_id"):
        course_mastery(ann_masters_a(), skills=pl.DataFrame({"id": ["A"]}), model=chain_model())
    with pytest.raises(TypeError, match="BKT or DKT"):
        course_mastery(ann_masters_a(), model=object())


def test_dkt_frame_gets_labels():
    dkt_like = pl.DataFrame(
        {
            "learner_id": ["a", "a"],
            "skill_id": ["A", "B"],
            "p_correct": [0.97, 0.6],
            "confidence": [0.7, 0.0],
            "n_attempts": [6, 0],
        }
    )
    labelled = label_mastery(dkt_like)
    assert labelled["skill"].to_list() == ["A", "B"]
    assert labelled["label"].to_list() == ["Mastered", "Developing"]
    assert labelled["mastered"].to_list() == [True, False]
    assert labelled["confidence"].to_list() == [0.7, 0.0]  # the model's own is kept


@pytest.mark.slow
def test_course_mastery_with_dkt():
    from learnpulse.models.knowledge_tracing import DKT

    course = simulate_course(SimulationConfig(n_learners=60, weeks=3, seed=2))
    dkt = DKT(hidden_size=8, max_epochs=1, progress=False).fit(course.events)
    extra = pl.DataFrame({"skill_id": ["never_taught"]})
    skills = pl.concat([course.skills.select("skill_id"), extra])
    mastery = course_mastery(course.events, skills=skills, model=dkt)
    assert mastery.columns == list(MASTERY_COLUMNS)
    n_learners = course.events["learner_id"].n_unique()
    assert mastery.height == n_learners * skills.height
    assert mastery["label"].is_not_null().all() and mastery["model"][0].startswith("dkt")
    untracked = mastery.filter(skill="never_taught")
    assert (untracked["n_attempts"] == 0).all() and (untracked["confidence"] == 0).all()
    assert mastery["n_attempts"].sum() == evidence_attempts(course.events).explode("skills").height


def test_higher_ability_means_higher_mastery():
    course = simulate_course(SimulationConfig(n_learners=600, weeks=8, seed=11))
    mastery = course_mastery(course.events, skills=course.skills)
    mean = mastery.group_by("learner_id").agg(pl.col("p_known").mean())
    ability = course.learners.select(
        "learner_id", ability=pl.col("attributes").str.json_path_match("$.ability").cast(float)
    )
    joined = mean.join(ability, on="learner_id")
    rho = joined.select(pl.corr("p_known", "ability", method="spearman")).item()
    assert rho > 0.3, f"rank correlation of ability and mean mastery only {rho:.2f}"
    assert mastery.filter(pl.col("mastered"))["p_known"].min() >= MASTERY_THRESHOLD


def test_per_item_bkt_goes_through_its_own_mastery():
    course = simulate_course(SimulationConfig(n_learners=40, weeks=3, seed=9))
    model = BKT(per_item_guess_slip=True, max_iter=5).fit(course.events)
    ours = course_mastery(course.events, skills=course.skills, model=model)
    theirs = model.mastery(evidence_attempts(course.events))
    joined = theirs.join(ours, on=["learner_id", "skill"], suffix="_ours")
    assert joined.height == theirs.height
    assert np.allclose(joined["p_known"], joined["p_known_ours"])
    assert (joined["n_attempts"] == joined["n_attempts_ours"]).all()
    assert ours.height == course.events["learner_id"].n_unique() * course.skills.height
    assert ours["model"].str.starts_with("bkt-item").all()


def test_an_event_column_of_the_wrong_type_is_named():
    events = ann_masters_a().with_columns(pl.col("correct").cast(pl.Int8))
    with pytest.raises(EventValidationError, match="'correct': must be Boolean, not Int8"):
        course_mastery(events, skills=chain_skills(), model=chain_model())


def test_ability_bins_are_traced_by_the_model_itself():
    """An ability-bin BKT's parameters are per (skill, bin): course mastery must not read
    them as per-skill rows (it did: P(known) 1.0 where the model says 0.002)."""
    course = simulate_course(SimulationConfig(n_learners=80, weeks=4, seed=4))
    model = BKT(ability_bins=(0.5, 0.8)).fit(course.events)
    ours = course_mastery(course.events, model=model, skills=course.skills)
    theirs = model.mastery(evidence_attempts(course.events))
    joined = theirs.join(ours, on=["learner_id", "skill"], suffix="_ours")
    assert joined.height == theirs.height > 0
    assert np.allclose(joined["p_known"], joined["p_known_ours"], atol=1e-12)
    with pytest.raises(TypeError, match="ability bins"):
        trace_mastery(course.events, model=model)
