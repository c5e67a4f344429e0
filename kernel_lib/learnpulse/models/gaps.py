"""Knowledge gaps: skills below mastery that block what comes next in the prerequisite graph.

A skill is a gap for a learner when it is not mastered and at least :data:`MIN_BLOCKED` skills
that (directly or through others) require it are not mastered either. Gaps are ranked per
learner by ``score = deficit * n_blocked``: how far below mastery the skill is (``deficit =
1 - P(known) / mastery_threshold``, 0..1) times how many not-yet-mastered skills downstream it
blocks, so an unmastered root of a long chain comes before the skills that depend on it.

:class:`SkillGraph` (the course's prerequisite DAG: topological order, ancestors, descendants)
is shared with :mod:`learnpulse.models.recommendations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

import polars as pl

from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.mastery import check_columns

#: A not-mastered skill is a gap when it blocks at least this many not-mastered skills.
MIN_BLOCKED = 1
#: Blocked skills named in a reason (the rest are counted).
NAMED_BLOCKED = 4
MODEL = sq.model_label("knowledge-gaps")
_MASTERY_COLUMNS = ("learner_id", "skill", "p_known", "mastered", "confidence")


@dataclass(frozen=True)
class SkillGraph:
    """A course's prerequisite graph.

    Attributes
    ----------
    order : tuple of str
        Every skill, prerequisites before the skills needing them (ties: the frame's order).
    names : dict of str to str
        Display name of each skill (its id when the frame has no ``name``).
    prerequisites : dict of str to tuple of str
        Direct prerequisites of each skill.
    """

    order: tuple[str, ...]
    names: dict[str, str]
    prerequisites: dict[str, tuple[str, ...]]

    def ancestors(self, skill: str) -> set[str]:
        """Every skill ``skill`` requires, directly or not."""
        found: set[str] = set()
        todo = list(self.prerequisites[skill])
        while todo:
            current = todo.pop()
            if current not in found:
                found.add(current)
                todo.extend(self.prerequisites[current])
        return found

    def descendant_pairs(self) -> pl.DataFrame:
        """``skill``, ``blocked`` (a skill requiring it), ``step`` (topological position of
        ``blocked``): one row per (skill, downstream skill) pair."""
        position = {skill: i for i, skill in enumerate(self.order)}
        rows = [
            (ancestor, skill, position[skill])
            for skill in self.order
            for ancestor in self.ancestors(skill)
        ]
        schema = {"skill": pl.String, "blocked": pl.String, "step": pl.Int64}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def path_to(self, goal: str, done: set[str]) -> list[str]:
        """Skills to learn, in order, to reach ``goal``: its not-done ancestors, then itself
        (empty if ``goal`` is done)."""
        if goal in done:
            return []
        needed = self.ancestors(goal) - done
        return [skill for skill in self.order if skill in needed] + [goal]


def prerequisite_graph(skills: pl.DataFrame) -> SkillGraph:
    """The prerequisite graph of a course's skill frame.

    Parameters
    ----------
    skills : polars.DataFrame, shape (n_skills, >= 1)
        ``skill_id``; optional ``name`` and ``prerequisites`` (list of skill ids, null = none).

    Returns
    -------
    SkillGraph

    Raises
    ------
    ValueError
        On a duplicate skill, a prerequisite that is not a skill of the frame, or a cycle.
    """
    check_columns(skills, ("skill_id",), "skill frame")
    ids = skills.get_column("skill_id").cast(pl.String).to_list()
    duplicated = sorted({s for s in ids if ids.count(s) > 1})
    if duplicated:
        raise ValueError(f"skill frame lists skill(s) {duplicated} more than once")
    prereqs = (
        skills.get_column("prerequisites").to_list()
        if "prerequisites" in skills.columns
        else [None] * len(ids)
    )
    edges = {s: tuple(p or ()) for s, p in zip(ids, prereqs, strict=True)}
    unknown = sorted({p for ps in edges.values() for p in ps} - set(ids))
    if unknown:
        raise ValueError(f"prerequisites {unknown} are not skills of the skill frame")
    sorter = TopologicalSorter(edges)
    try:
        sorter.prepare()
    except CycleError as error:
        raise ValueError(f"prerequisite cycle through skills {error.args[1]}") from error
    rank = {s: i for i, s in enumerate(ids)}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=rank.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    names = skills.get_column("name").to_list() if "name" in skills.columns else ids
    return SkillGraph(
        tuple(order), {s: str(n or s) for s, n in zip(ids, names, strict=True)}, edges
    )


def _blocked(candidates: pl.DataFrame, mastered: pl.DataFrame, graph: SkillGraph):
    """Per candidate (learner, skill): the not-mastered downstream skills, in course order."""
    return (
        candidates.select("learner_id", "skill")
        .join(graph.descendant_pairs(), on="skill")
        .join(
            mastered,
            left_on=["learner_id", "blocked"],
            right_on=["learner_id", "skill"],
            how="anti",
        )
        .sort("learner_id", "skill", "step")
        .group_by("learner_id", "skill", maintain_order=True)
        .agg(blocked=pl.col("blocked"))
    )


def _scores(threshold: float) -> dict[str, pl.Expr]:
    """``deficit`` and ``value`` (the gap score) from ``p_known`` and ``n_blocked``."""
    deficit = (1 - pl.col("p_known") / threshold).clip(0.0, 1.0)
    return {"deficit": deficit, "value": deficit * pl.col("n_blocked")}


def blocking_scores(
    mastery: pl.DataFrame, graph: SkillGraph, mastery_threshold: float = sq.MASTERY_THRESHOLD
) -> pl.DataFrame:
    """The gap score of every (learner, skill) not mastered, without lists or text (fast).

    Parameters
    ----------
    mastery : polars.DataFrame
        ``learner_id``, ``skill``, ``p_known``, ``mastered``.
    graph : SkillGraph
    mastery_threshold : float
        The P(known) ``mastered`` was decided by: the deficit is the share of it missing.

    Returns
    -------
    polars.DataFrame, one row per not-mastered (learner, skill) of the graph
        ``learner_id``, ``skill``, ``p_known``, ``n_blocked``, ``deficit``, ``value``.
    """
    mastery = mastery.filter(pl.col("skill").is_in(graph.order))
    mastered = mastery.filter(pl.col("mastered")).select("learner_id", "skill")
    candidates = mastery.filter(~pl.col("mastered")).select("learner_id", "skill", "p_known")
    pairs = graph.descendant_pairs().cast({"skill": mastery.schema["skill"]})
    counts = (
        candidates.join(pairs, on="skill")
        .join(
            mastered,
            left_on=["learner_id", "blocked"],
            right_on=["learner_id", "skill"],
            how="anti",
        )
        .group_by("learner_id", "skill")
        .agg(n_blocked=pl.len().cast(pl.Int64))
    )
    frame = candidates.join(counts, on=["learner_id", "skill"], how="left")
    scores = _scores(sq.check_mastery_threshold(mastery_threshold))
    return frame.with_columns(pl.col("n_blocked").fill_null(0)).with_columns(**scores)


def _reason(names: dict[str, str], threshold: float) -> pl.Expr:
    shown = pl.col("blocked").list.head(NAMED_BLOCKED)
    named = shown.list.eval(pl.element().replace_strict(names, return_dtype=pl.String)).list.join(
        ", "
    )
    more = pl.col("n_blocked") - NAMED_BLOCKED
    rest = pl.when(more > 0).then(pl.format(" and {} more", more)).otherwise(pl.lit(""))
    attempts = (
        pl.when(pl.col("n_attempts") == 0)
        .then(pl.lit(", not attempted yet"))
        .otherwise(pl.format(" after {} attempts", "n_attempts"))
    )
    return pl.format(
        "{} ({}: P(known) {} < {}{}) blocks {} skill(s) not yet mastered: {}{}",
        "name",
        "label",
        pl.col("p_known").round(2),
        pl.lit(threshold),
        attempts,
        "n_blocked",
        named,
        rest,
    )


def knowledge_gaps(
    mastery: pl.DataFrame,
    skills: pl.DataFrame,
    *,
    learner: str | None = None,
    min_blocked: int = MIN_BLOCKED,
    mastery_threshold: float = sq.MASTERY_THRESHOLD,
) -> pl.DataFrame:
    """Ranked skills below mastery that block not-yet-mastered skills downstream.

    Parameters
    ----------
    mastery : polars.DataFrame
        :func:`~learnpulse.models.mastery.course_mastery` output (a (learner, skill) without a
        row counts as not mastered; it is a gap candidate only with a row).
    skills : polars.DataFrame
        The course's skill frame (``skill_id``, ``name``, ``prerequisites``).
    learner : str, optional
        Only this learner (default: everybody in ``mastery``).
    min_blocked : int
        Least number of blocked skills for a gap; 0 lists every skill below mastery.
    mastery_threshold : float
        The P(known) the mastery frame's ``mastered`` was decided by, in (0, 1].

    Returns
    -------
    polars.DataFrame, one row per gap, sorted by learner then rank
        ``learner_id``, ``rank`` (1 = most blocking), ``skill``, ``name``, ``value`` (= score),
        ``p_known``, ``label``, ``deficit``, ``n_blocked``, ``blocked`` (list of skill ids, in
        course order), ``confidence`` (the mastery row's), ``model``, ``reason``.
    """
    check_columns(mastery, _MASTERY_COLUMNS, "mastery frame")
    threshold = sq.check_mastery_threshold(mastery_threshold)
    graph = prerequisite_graph(skills)
    if learner is not None:
        mastery = mastery.filter(pl.col("learner_id") == learner)
    mastery = mastery.filter(pl.col("skill").is_in(graph.order))
    if "label" not in mastery.columns:
        labels = sq.mastery_label(mastery["p_known"], threshold)
        mastery = mastery.with_columns(label=pl.Series(labels, dtype=pl.String))
    if "n_attempts" not in mastery.columns:
        mastery = mastery.with_columns(n_attempts=pl.lit(None, pl.Int64))
    mastery = mastery.select(*_MASTERY_COLUMNS, "label", "n_attempts")
    mastered = mastery.filter(pl.col("mastered")).select("learner_id", "skill")
    candidates = mastery.filter(~pl.col("mastered"))
    blocked = _blocked(candidates, mastered, graph)
    frame = (
        candidates.join(blocked, on=["learner_id", "skill"], how="left")
        .with_columns(pl.col("blocked").fill_null(pl.lit([], pl.List(pl.String))))
        .with_columns(
            n_blocked=pl.col("blocked").list.len().cast(pl.Int64),
            name=pl.col("skill").replace_strict(graph.names, return_dtype=pl.String),
        )
        .filter(pl.col("n_blocked") >= min_blocked)
        .with_columns(**_scores(threshold))
        .sort(["learner_id", "value", "n_blocked", "skill"], descending=[False, True, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("learner_id"))
    )
    return frame.select(
        "learner_id",
        "rank",
        "skill",
        "name",
        "value",
        "p_known",
        "label",
        "deficit",
        "n_blocked",
        "blocked",
        "confidence",
        model=pl.lit(MODEL),
        reason=_reason(graph.names, threshold),
    )
