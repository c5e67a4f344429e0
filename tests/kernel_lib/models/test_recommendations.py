"""Recommendations: next exercises, revision, learning path and difficulty with known answers."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.models import recommendations
from learnpulse.models.gaps import prerequisite_graph
from learnpulse.models.mastery import course_mastery
from learnpulse.models.recommendations import (
    COLUMNS,
    DEFAULT_DIFFICULTY,
    DIFFICULTY_STEP,
    READY_P,
    recommend,
)
from tests.kernel_lib.models.test_mastery import (
    START,
    ann_masters_a,
    attempt,
    chain_items,
    chain_model,
    chain_skills,
    event,
    frame,
    masters_a,
)


def _recommend(events, items=None, **kwargs) -> pl.DataFrame:
    mastery = course_mastery(events, skills=chain_skills(), model=chain_model())
    items = chain_items() if items is None else items
    return recommend(mastery, items, chain_skills(), events, **kwargs)


def _of(frame: pl.DataFrame, who: str, kind: str) -> pl.DataFrame:
    return frame.filter(learner_id=who, kind=kind).sort("rank")


def test_chain_known_answer():
    rows = _recommend(ann_masters_a(), goal="C")
    assert rows.columns == list(COLUMNS)
    ann_next = _of(rows, "ann", "next_exercise")
    # A mastered -> B is next; C waits for B. Recent accuracy 100% -> harder: target
    # P(known of B) 0.3 + step, nearer the 0.2 item than the 0.8 one.
    assert ann_next["skill"].to_list() == ["B", "B"]
    assert ann_next["item_id"].to_list() == ["ex-B-1", "ex-B-2"]
    assert "Beta" in ann_next["reason"][0]
    path = _of(rows, "ann", "learning_path")
    assert path["skill"].to_list() == ["B", "C"] and path["rank"].to_list() == [1, 2]
    assert "step 1 of 2 toward Gamma" in path["reason"][0]
    level = _of(rows, "ann", "difficulty").row(0, named=True)
    assert level["action"] == "harder" and level["value"] == 1.0
    assert level["difficulty"] == pytest.approx(0.2 + DIFFICULTY_STEP)  # ex-A-1 is 0.2
    assert "6 of the last 6 counted attempts correct" in level["reason"]
    bob = rows.filter(learner_id="bob")  # only registered: start at the root
    assert _of(rows, "bob", "next_exercise")["item_id"][0] == "ex-A-1"
    assert _of(rows, "bob", "learning_path")["skill"].to_list() == ["A", "B", "C"]
    assert _of(rows, "bob", "difficulty")["action"][0] == "keep"
    assert bob["model"][0].startswith("recommender")
    assert rows["reason"].is_not_null().all() and rows["confidence"].is_between(0, 1).all()


def test_solved_items_and_unready_multi_skill_items_are_skipped():
    raw = masters_a("ann")
    raw += [attempt("ann", 10, "B", True, item="ex-B-1")]  # solved: not recommended again
    items = pl.concat(
        [
            chain_items(),
            pl.DataFrame(
                {
                    "course_id": ["c"],
                    "item_id": ["ex-BC"],
                    "skills": [["B", "C"]],
                    "difficulty": [0.3],
                    "attributes": ['{"type":"exercise"}'],
                }
            ),
        ]
    )
    rows = _of(_recommend(frame(raw), items=items), "ann", "next_exercise")
    assert rows["item_id"].to_list() == ["ex-B-2"]  # ex-BC needs C, not ready yet


def test_revision_of_poor_recent_items_and_fading_skills():
    raw = masters_a("ann")
    raw += [attempt("ann", 20 * 24 * 60 + i, "B", i == 1, item="ex-B-2") for i in range(3)]
    at = START + timedelta(days=21)
    revision = _of(_recommend(frame(raw), at=at), "ann", "revision")
    assert revision["item_id"].to_list() == ["ex-B-2", "ex-A-1"]
    poor, fading = revision.row(0, named=True), revision.row(1, named=True)
    assert poor["value"] == pytest.approx(2 / 3) and "1 of 3 attempts correct" in poor["reason"]
    assert fading["skill"] == "A" and "last practised 21 days ago" in fading["reason"]
    fresh = _of(_recommend(frame(raw[:6])), "ann", "revision")
    assert fresh.is_empty()  # practised just now, nothing answered poorly


def test_a_multi_skill_item_is_revised_for_its_most_faded_skill():
    # ex-AB and 5 problems like it practise A and B; A is practised again 10 days later, so
    # B has faded more.
    both = [
        event("attempt", "ann", i, item_id=f"ex-AB{i or ''}", skills=["A", "B"], correct=True)
        for i in range(6)
    ]
    raw = [*both, attempt("ann", 10 * 24 * 60, "A", True)]
    at = START + timedelta(days=40)
    for _ in range(5):  # the choice must not depend on a parallel group-by's row order
        revision = _of(_recommend(frame(raw), at=at), "ann", "revision")
        shared = revision.filter(item_id="ex-AB")
        assert shared["skill"].to_list() == ["B"], revision
        assert "B is" in shared["reason"][0] and "40 days ago" in shared["reason"][0]


def test_easier_after_failures():
    raw = [attempt("cat", i, "A", False, item="ex-A-2") for i in range(5)]
    level = _of(_recommend(frame(raw)), "cat", "difficulty").row(0, named=True)
    assert level["action"] == "easier" and level["value"] == 0.0
    assert level["difficulty"] == pytest.approx(0.8 - DIFFICULTY_STEP)


def test_learner_goal_and_degenerate_inputs():
    rows = _recommend(ann_masters_a(), learner="ann", goal="A")
    assert set(rows["learner_id"]) == {"ann"}
    reached = _of(rows, "ann", "learning_path")
    assert reached["action"].to_list() == ["reached"]
    with pytest.raises(ValueError, match="Z"):
        _recommend(ann_masters_a(), goal="Z")
    empty = _recommend(frame([]), goal="C")
    assert empty.is_empty() and empty.columns == list(COLUMNS)
    no_items = chain_items().head(0)
    rows = _recommend(frame([event("registration", "bob", 0)]), items=no_items)
    assert _of(rows, "bob", "difficulty")["difficulty"][0] == DEFAULT_DIFFICULTY
    assert _of(rows, "bob", "next_exercise").is_empty()


def test_simulated_course_respects_prerequisites():
    course = simulate_course(SimulationConfig(n_learners=80, weeks=6, seed=5))
    mastery = course_mastery(course.events, skills=course.skills)
    rows = recommend(mastery, course.items, course.skills, course.events, goal="classes")
    assert set(rows["kind"]) == {"next_exercise", "revision", "learning_path", "difficulty"}
    graph = prerequisite_graph(course.skills)
    p = {(r[0], r[1]): r[2] for r in mastery.select("learner_id", "skill", "p_known").iter_rows()}
    solved = set(
        course.events.filter(kind="attempt", correct=True).select("learner_id", "item_id").rows()
    )
    nxt = rows.filter(kind="next_exercise")
    assert nxt.height > 0
    for who, skill, item in nxt.select("learner_id", "skill", "item_id").iter_rows():
        assert all(p[(who, pre)] >= READY_P for pre in graph.prerequisites[skill])
        assert (who, item) not in solved
    assert (rows.filter(kind="difficulty").group_by("learner_id").len()["len"] == 1).all()


def test_best_exercises_survive_the_skill_pruning(monkeypatch):
    """Only the best skills' items are ranked; ranking every candidate agrees."""
    course = simulate_course(SimulationConfig(n_learners=60, weeks=6, seed=6))
    mastery = course_mastery(course.events, skills=course.skills)
    args = (mastery, course.items, course.skills, course.events)
    pruned = recommend(*args).filter(kind="next_exercise")
    monkeypatch.setattr(recommendations, "N_NEXT_EXERCISES", 10_000)
    everything = recommend(*args).filter(kind="next_exercise").filter(pl.col("rank") <= 3)
    assert pruned.height > 0
    assert pruned.select("learner_id", "rank", "item_id").equals(
        everything.select("learner_id", "rank", "item_id")
    )


def test_attempts_without_items_or_with_nan_difficulty_give_whole_rows():
    """Every row has a reason and a number: an attempt without an item is not a revision
    item (its row had no item and no reason), a NaN difficulty counts as unknown (it put NaN
    in the values and the reasons)."""
    course = simulate_course(SimulationConfig(n_learners=60, weeks=4, seed=9))
    mastery = course_mastery(course.events, skills=course.skills)
    for events in (
        course.events.with_columns(item_id=pl.lit(None, pl.String)),
        course.events.with_columns(difficulty=pl.lit(float("nan"))),
    ):
        rows = recommendations.recommend(mastery, course.items, course.skills, events)
        assert rows.height and rows["reason"].null_count() == 0
        assert not rows["value"].is_nan().any()
        assert rows.filter(pl.col("kind") == "revision")["item_id"].null_count() == 0
        assert "NaN" not in " ".join(rows["reason"].to_list())
