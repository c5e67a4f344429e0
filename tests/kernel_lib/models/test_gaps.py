"""Knowledge gaps: known rankings on hand-built graphs, bad graphs, the simulated course."""

from __future__ import annotations

import polars as pl
import pytest

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.models.gaps import blocking_scores, knowledge_gaps, prerequisite_graph
from learnpulse.models.knowledge_tracing import MASTERY_THRESHOLD
from learnpulse.models.mastery import course_mastery
from tests.kernel_lib.models.test_mastery import ann_masters_a, chain_model, chain_skills, frame


def _mastery(rows: dict[str, dict[str, float]]) -> pl.DataFrame:
    """learner -> {skill: p_known}, three attempts each."""
    return pl.DataFrame(
        [
            {
                "learner_id": who,
                "skill": skill,
                "p_known": p,
                "mastered": p >= MASTERY_THRESHOLD,
                "n_attempts": 3,
                "confidence": 0.4,
            }
            for who, skills in rows.items()
            for skill, p in skills.items()
        ]
    )


def test_chain_known_answer():
    mastery = course_mastery(ann_masters_a(), skills=chain_skills(), model=chain_model())
    gaps = knowledge_gaps(mastery, chain_skills())
    ann = gaps.filter(learner_id="ann")
    assert ann["skill"].to_list() == ["B"]  # A is mastered, C blocks nothing
    assert ann["blocked"].to_list() == [["C"]] and ann["n_blocked"].to_list() == [1]
    assert "Beta" in ann["reason"][0] and "Gamma" in ann["reason"][0]
    assert "not attempted yet" in ann["reason"][0]
    bob = gaps.filter(learner_id="bob")  # nothing mastered: the root blocks the most
    assert bob["skill"].to_list() == ["A", "B"] and bob["rank"].to_list() == [1, 2]
    assert bob["blocked"].to_list() == [["B", "C"], ["C"]]
    assert bob["value"][0] == pytest.approx((1 - 0.3 / MASTERY_THRESHOLD) * 2)
    assert gaps["model"][0].startswith("knowledge-gaps")
    every = knowledge_gaps(mastery, chain_skills(), learner="ann", min_blocked=0)
    assert every["skill"].to_list() == ["B", "C"] and every["n_blocked"].to_list() == [1, 0]


def test_mastered_downstream_skills_are_not_blocked():
    mastery = _mastery({"odd": {"A": 0.5, "B": 0.97, "C": 0.5}})
    gaps = knowledge_gaps(mastery, chain_skills())
    assert gaps["skill"].to_list() == ["A"] and gaps["blocked"].to_list() == [["C"]]


def test_ranking_weighs_deficit_and_blocked_count():
    skills = pl.DataFrame(
        {
            "skill_id": ["X", "Y", "x1", "x2", "x3", "y1"],
            "prerequisites": [[], [], ["X"], ["X"], ["x1"], ["Y"]],
        }
    )
    # X nearly mastered but blocks 3; Y and x1 far below mastery and block 1 each.
    p = {"X": 0.9, "Y": 0.1, "x1": 0.2, "x2": 0.2, "x3": 0.2, "y1": 0.2}
    gaps = knowledge_gaps(_mastery({"l": p}), skills)
    assert gaps["skill"].to_list() == ["Y", "x1", "X"]
    assert gaps["n_blocked"].to_list() == [1, 1, 3]
    deficit = {s: 1 - p[s] / MASTERY_THRESHOLD for s in p}
    expected = [deficit["Y"], deficit["x1"], 3 * deficit["X"]]
    assert gaps["value"].to_list() == pytest.approx(expected)
    assert gaps["name"].to_list() == ["Y", "x1", "X"]  # no name column: ids are names
    # The same deficit with more blocked skills ranks higher.
    p["Y"] = p["X"]
    assert knowledge_gaps(_mastery({"l": p}), skills)["skill"][-1] == "Y"


def test_learner_filter_and_empty():
    mastery = _mastery({"a": {"A": 0.1, "B": 0.1, "C": 0.1}, "b": {"A": 0.1, "B": 0.1}})
    assert set(knowledge_gaps(mastery, chain_skills(), learner="b")["learner_id"]) == {"b"}
    empty = course_mastery(frame([]), skills=chain_skills())
    assert knowledge_gaps(empty, chain_skills()).is_empty()
    # b has no row for C: it still counts as blocked (not mastered), but is no candidate.
    b = knowledge_gaps(mastery, chain_skills(), learner="b")
    assert b["blocked"].to_list() == [["B", "C"], ["C"]]


def test_bad_graphs_are_named():
    cycle = pl.DataFrame({"skill_id": ["A", "B"], "prerequisites": [["B"], ["A"]]})
    with pytest.raises(ValueError, match="cycle"):
        prerequisite_graph(cycle)
    unknown = pl.DataFrame({"skill_id": ["A"], "prerequisites": [["Q"]]})
    with pytest.raises(ValueError, match="Q"):
        prerequisite_graph(unknown)
    twice = pl.DataFrame({"skill_id": ["A", "A"]})
    with pytest.raises(ValueError, match="more than once"):
        prerequisite_graph(twice)


def test_simulated_course_gaps_follow_the_graph():
    course = simulate_course(SimulationConfig(n_learners=80, weeks=6, seed=4))
    mastery = course_mastery(course.events, skills=course.skills)
    gaps = knowledge_gaps(mastery, course.skills)
    graph = prerequisite_graph(course.skills)
    mastered = set(mastery.filter("mastered").select("learner_id", "skill").iter_rows())
    assert gaps.height > 0
    for row in gaps.iter_rows(named=True):
        assert (row["learner_id"], row["skill"]) not in mastered
        assert row["blocked"] and all(row["skill"] in graph.ancestors(b) for b in row["blocked"])
        assert not any((row["learner_id"], b) in mastered for b in row["blocked"])
    firsts = gaps.filter(rank=1)
    best = gaps.group_by("learner_id").agg(pl.col("value").max())
    assert (
        firsts.join(best, on="learner_id")
        .select(pl.col("value") == pl.col("value_right"))
        .to_series()
        .all()
    )


def test_blocking_scores_agree_with_the_ranked_gaps():
    course = simulate_course(SimulationConfig(n_learners=40, weeks=6, seed=8))
    mastery = course_mastery(course.events, skills=course.skills)
    fast = blocking_scores(mastery, prerequisite_graph(course.skills))
    full = knowledge_gaps(mastery, course.skills, min_blocked=0)
    joined = full.join(fast, on=["learner_id", "skill"], suffix="_fast")
    assert joined.height == full.height == fast.height
    assert (joined["n_blocked"] == joined["n_blocked_fast"]).all()
    assert (joined["value"] - joined["value_fast"]).abs().max() < 1e-12


def test_empty_skill_frame_gives_no_gaps():
    """A course without skills has nothing to block: an empty frame, not a polars error."""
    mastery = _mastery({"a": {"A": 0.1, "B": 0.1}})
    gaps = knowledge_gaps(mastery, chain_skills().head(0))
    assert gaps.is_empty()
    assert gaps.schema["blocked"] == pl.List(pl.String)
    assert gaps.schema["reason"] == pl.String
