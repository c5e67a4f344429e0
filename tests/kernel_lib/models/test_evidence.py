"""Which attempts are evidence of mastery: practice on a solved exercise is not, a right answer
after the whole hint ladder counts as wrong, and the live rule (attempt by attempt) and the
models' rule (a whole event frame) agree.

Before, every attempt counted: answering one exercise right again and again raised P(known)
each time, and two repeats took a skill from the prior to "Mastered".
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from learnpulse.models.knowledge_tracing.evidence import (
    HINT_LADDER_KEY,
    bottom_out,
    counted_outcome,
    evidence_attempts,
    hint_ladder_of,
    tracks_repeats,
)
from learnpulse.models.mastery import course_mastery, fit_mastery_model
from tests.kernel_lib.models.test_mastery import (
    attempt,
    chain_model,
    chain_skills,
    expected_p_known,
    frame,
    problem,
)


def _outcomes(events: pl.DataFrame) -> list[tuple[str, bool]]:
    rows = evidence_attempts(events).sort("ts")
    return list(zip(rows["item_id"], rows["correct"], strict=True))


def test_answering_a_solved_exercise_again_raises_mastery_no_more():
    model = chain_model()
    repeats = frame([attempt("ann", i, "A", True) for i in range(20)])
    row = course_mastery(repeats, model=model).row(0, named=True)
    assert row["p_known"] == pytest.approx(expected_p_known(model, [True]))
    assert not row["mastered"] and (row["n_attempts"], row["n_correct"]) == (1, 1)
    # New problems are new evidence: three of them master A under these parameters.
    fresh = frame([problem("ann", i, "A", True) for i in range(3)])
    assert course_mastery(fresh, model=model)["mastered"][0]


def test_attempts_count_until_the_item_is_solved():
    raw = [
        attempt("ann", 0, "A", False),  # a wrong answer, then a retry after the feedback
        attempt("ann", 1, "A", True),  # solves it
        attempt("ann", 2, "A", False),  # practice on the solved exercise: neither way
        attempt("ann", 3, "A", True),
        attempt("ann", 4, "A", False, item="ex-A-2"),  # another exercise: counted
        attempt("bob", 5, "A", True),  # another learner's first answer
    ]
    counted = evidence_attempts(frame(raw))
    assert counted.height == 4 and counted.columns == frame(raw).columns
    ann = _outcomes(counted.filter(learner_id="ann"))
    assert ann == [("ex-A-1", False), ("ex-A-1", True), ("ex-A-2", False)]
    model = chain_model()
    row = course_mastery(frame(raw), model=model).filter(learner_id="ann").row(0, named=True)
    assert row["p_known"] == pytest.approx(expected_p_known(model, [False, True, False]))
    assert "3 attempts on A, 1 correct, last 1 wrong" in row["reason"]


def test_a_right_answer_after_the_whole_hint_ladder_counts_as_wrong():
    def answered(minutes: int, hints: int | None, ladder: int | None) -> dict:
        payload = {} if ladder is None else {HINT_LADDER_KEY: ladder}
        return problem("ann", minutes, "A", True, hints_used=hints, payload=payload)

    raw = [
        answered(0, 3, 3),  # every hint of a ladder of 3 opened
        answered(1, 2, 3),  # nudges: the last step was the learner's own
        answered(2, 0, 0),  # no ladder
        answered(3, 5, None),  # ladder unknown, e.g. an imported attempt
    ]
    outcomes = evidence_attempts(frame(raw)).sort("ts")["correct"].to_list()
    assert outcomes == [False, True, True, True]


def test_stand_in_items_and_itemless_attempts_are_never_repeats():
    """The DKT text format's items (``skill-<id>``, one per skill) stand for a new problem on
    each row: every response counts, as knowledge tracing on that data always read them."""
    raw = [attempt("as", i, "A", True, item="skill-7") for i in range(4)]
    assert evidence_attempts(frame(raw)).height == 4
    assert evidence_attempts(frame(raw).drop("item_id")).height == 4
    assert not tracks_repeats("skill-7") and not tracks_repeats(None)
    assert tracks_repeats("ex-A-1")


def test_the_live_rule_and_the_frame_rule_agree():
    """:func:`counted_outcome` attempt by attempt (the student's session) gives what
    :func:`evidence_attempts` gives for the whole frame (the instructor's models)."""
    rng = np.random.default_rng(7)
    raw = []
    for n in range(400):
        who, item = f"l{rng.integers(3)}", f"ex-{rng.integers(4)}"
        ladder = [None, 0, 2, 3][rng.integers(4)]
        payload = {"type": "numeric"} if ladder is None else {HINT_LADDER_KEY: ladder}
        raw.append(
            attempt(
                who, n, "A", bool(rng.random() < 0.5), item=item,
                hints_used=int(rng.integers(4)), payload=payload,
            )
        )  # fmt: skip
    events = frame(raw)
    solved: set[tuple[str, str]] = set()
    expected = []
    for row in events.sort("ts").iter_rows(named=True):
        key = (row["learner_id"], row["item_id"])
        outcome = counted_outcome(
            row["correct"],
            solved_before=key in solved,
            hints_used=row["hints_used"],
            hint_ladder=hint_ladder_of(row["payload"]),
        )
        solved.update([key] if row["correct"] else [])
        if outcome is not None:
            expected.append((row["id"], outcome))
    counted = evidence_attempts(events.sample(fraction=1.0, shuffle=True, seed=1))
    assert sorted(zip(counted["id"], counted["correct"], strict=True)) == sorted(expected)
    assert 0 < len(expected) < len(raw)


def test_hint_ladder_of_reads_a_payload():
    assert hint_ladder_of(json.dumps({HINT_LADDER_KEY: 3})) == 3
    assert hint_ladder_of({HINT_LADDER_KEY: 3}) == hint_ladder_of({HINT_LADDER_KEY: "3"}) == 3
    odd = [{HINT_LADDER_KEY: v} for v in (True, 2.0, "-1", " 3", None)]
    for payload in (None, "not json", "[]", *odd):
        assert hint_ladder_of(payload) is None
    # the frame rule reads the same values as the same ladders
    ladders = [{HINT_LADDER_KEY: 3}, {HINT_LADDER_KEY: "3"}, *odd]
    raw = [problem("ann", i, "A", True, hints_used=3, payload=p) for i, p in enumerate(ladders)]
    assert evidence_attempts(frame(raw)).sort("ts")["correct"].to_list() == [
        not bottom_out(3, hint_ladder_of(p)) for p in ladders
    ]


def test_the_mastery_model_is_fitted_on_the_evidence():
    """EM fits the observations the model will trace: repeats of solved exercises added to
    a course change nothing in the fit."""
    raw = [problem(w, i, s, (i + len(w)) % 3 > 0) for w in ("ann", "bob", "cy") for i, s in
           enumerate("AABBAB")]  # fmt: skip
    repeats = [attempt(r["learner_id"], 100 + i, "A", True, item=r["item_id"]) for i, r in
               enumerate(raw) if r["correct"]]  # fmt: skip
    plain = fit_mastery_model(frame(raw)).params_frame()
    padded = fit_mastery_model(frame(raw + repeats)).params_frame()
    assert padded.equals(plain)
    mastery = course_mastery(frame(raw + repeats), skills=chain_skills())
    assert mastery.filter(skill="A")["n_attempts"].to_list() == [3, 3, 3]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['correct'\]"):
        evidence_attempts(frame([attempt("ann", 0, "A", True)]).drop("correct"))
