"""The knowledge explorer: what to do next, learning path to a goal, why a prerequisite matters,
the concept map, what to revise (with the recommendation model when the learner has attempts).

"What should I do next?" got "I could not find this in the course", and "what should I learn
next?" the whole concept map: :meth:`KnowledgeExplorer.next_steps` answers with the
recommender's next exercises (those the progress widget recommends), what to revise and the
pace, and a learner with no attempt yet is sent to the course's first topic.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import polars as pl

from learnpulse.agents.base import Draft, Source, TutorContext
from learnpulse.agents.learner import solved
from learnpulse.agents.retrieval import (
    GENERIC_SKILL_WORDS,
    markdown_sections,
    skills_in,
    tokenize,
)

if TYPE_CHECKING:
    from learnpulse.course import Course, Exercise

#: Sentences of a skill's material quoted to show how it uses a prerequisite.
USE_SENTENCES = 2
#: Skills listed as "to revise" (at most).
N_REVISE = 3
#: Recommended exercises listed by "what should I do next?", and revision items.
N_NEXT = 3
N_NEXT_REVISION = 2
_INTENTS = (
    # "what should I learn after functions?" asks what builds on it, not the way to it
    ("after", re.compile(r"\b(comes?|learn|study|do|next|go|take)\b[^?]{0,20}\bafter\b", re.I)),
    (
        "next",
        re.compile(
            r"\bwhat(?:'s| is)? (now|next)\b|\b(do|learn|study|practi[cs]e|work on|try) next\b"
            r"|\bwhere (do|should) i (start|begin)\b|\bwhat should i (do|learn|study|work on)\b",
            re.I,
        ),
    ),
    ("why", re.compile(r"\bwhy\b.*\b(need|before|prerequisite|first|matter)", re.I)),
    ("revise", re.compile(r"\b(revise|revision|review what|forget|forgot|weak|rusty)", re.I)),
    ("map", re.compile(r"\b(map|overview|all (the )?topics|course topics|structure)\b", re.I)),
    ("path", re.compile(r"\b(path|get to|goal|before|prerequisite|learn next|order)\b", re.I)),
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
#: A topic the learner says they are through with.
_DONE = re.compile(r"\b(finished|done with|completed|mastered|through with)\b", re.I)


def course_frames(course: Course) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The course as the models' ``(items, skills)`` frames (exercises as items)."""
    items = pl.DataFrame(
        {
            "course_id": [course.id] * len(course.exercises),
            "item_id": list(course.exercises),
            "skills": [list(e.skills) for e in course.exercises.values()],
            "difficulty": [float(e.difficulty) for e in course.exercises.values()],
            "attributes": [json.dumps({"type": "exercise"})] * len(course.exercises),
        },
        schema_overrides={"skills": pl.List(pl.String)},
    )
    skills = pl.DataFrame(
        {
            "course_id": [course.id] * len(course.skills),
            "skill_id": list(course.skills),
            "name": [s.name for s in course.skills.values()],
            "prerequisites": [list(s.prerequisites) for s in course.skills.values()],
        },
        schema_overrides={"prerequisites": pl.List(pl.String)},
    )
    return items, skills


def _label(context: TutorContext, skill: str) -> str:
    p_known = context.p_known(skill)
    if p_known is None:
        return "not practised yet"
    rows = context.mastery.filter(pl.col("skill") == skill)
    return f"{rows.get_column('label')[0]}, P(known) {p_known:.2f}"


def _mastered(context: TutorContext, skill: str) -> bool:
    rows = context.mastery.filter(pl.col("skill") == skill) if "skill" in context.mastery else None
    return bool(rows is not None and rows.height and rows.get_column("mastered")[0])


class KnowledgeExplorer:
    """Finds the way through the course: paths to a goal, prerequisites and why they matter,
    the concept map, and what to revise."""

    name = "explorer"
    title = "Knowledge explorer"
    description = "Shows the path to a topic, why prerequisites matter, and what to revise."
    keywords = (
        "path", "prerequisite", "before", "learn next", "concept map", "map", "revise",
        "what should i learn", "what should i study", "get to", "goal", "overview", "topics",
        r"what(?:'s| is)? (?:now|next)\b", r"(?:do|practi[cs]e|work on|try) next\b",
        r"where (?:do|should) i (?:start|begin)\b", r"what should i (?:do|work on)\b",
        r"need\b.*\bfirst", "why do i need", "need to know", "builds? on", "depends? on",
        r"(?:comes?|learn|study|next) after\b",
    )  # fmt: skip

    def draft(self, message: str, context: TutorContext) -> Draft:
        course = context.course
        if course is None:
            return Draft("I need the course to show you its map and paths.", (), 0.1)
        skills = skills_in(message, course)
        intent = next((name for name, pattern in _INTENTS if pattern.search(message)), None)
        if intent is None:
            intent = "path" if skills else "map"
        if intent == "next":
            if not skills or _DONE.search(message):  # "I finished loops, what next?"
                return self.next_steps(context)
            intent = "path"  # "what should I learn next on loops?"
        if intent == "after" and (skills or context.exercise):
            return self.after(skills[-1] if skills else context.exercise.skill, context)
        if intent == "after":
            return self.next_steps(context)
        if intent == "why" and skills:
            return self.why(skills, context)
        if intent == "revise":
            return self.revise(context)
        if intent == "path" and (skills or context.exercise):
            return self.path(skills[-1] if skills else context.exercise.skill, context)
        return self.concept_map(context)

    def next_steps(self, context: TutorContext) -> Draft:
        """The recommender's next exercises, what to revise and the pace; the course's first
        topic for a learner with no attempt yet. An unsolved exercise in context comes first."""
        from learnpulse.models.recommendations import NOTHING_READY

        course, current = context.course, context.exercise
        on = current if current is not None and not solved(context.events, current.id) else None
        rows = _recommendations(context)
        actions = ("What should I revise?", "Show me the concept map")
        if rows.is_empty():
            return Draft(_first_steps(course, on), (), 0.6, actions)
        lines = ["What to do next, from your answers so far:", ""]
        if on is not None:
            lines += [f"You are on {_named(on)}: finish it first (ask for a hint if you are "
                      "stuck). After it:", ""]  # fmt: skip
        elsewhere = pl.col("item_id").is_in(list(course.exercises)) & (
            pl.col("item_id") != (current.id if current else "")
        )
        nexts = rows.filter((pl.col("kind") == "next_exercise") & elsewhere).head(N_NEXT)
        lines += [
            f"{number}. {_named(course.exercises[row['item_id']])}: {row['reason']}."
            for number, row in enumerate(nexts.iter_rows(named=True), 1)
        ]
        if nexts.height:
            lines += ["", f"Open the first with `%exercise {nexts.get_column('item_id')[0]}`."]
        else:
            lines.append(NOTHING_READY)
        listed = pl.col("item_id").is_in(nexts.get_column("item_id").to_list())
        revision = rows.filter((pl.col("kind") == "revision") & elsewhere & ~listed)
        if revision.height:
            lines += ["", "Worth revising:"]
            lines += [f"- `{r['item_id']}`: {r['reason']}" for r in
                      revision.head(N_NEXT_REVISION).iter_rows(named=True)]  # fmt: skip
        pace = rows.filter((pl.col("kind") == "difficulty") & (pl.col("action") != "keep"))
        if pace.height:
            lines += ["", f"Pace: {pace.get_column('reason')[0]}."]
        return Draft("\n".join(lines), (_model_source(context),), 0.8, actions)

    def path(self, goal: str, context: TutorContext) -> Draft:
        """The goal's prerequisites, direct or not, not yet mastered, in course order."""
        course = context.course
        needed = course.ancestors(goal) | {goal}
        steps = [s for s in course.topological_order() if s in needed]
        todo = [s for s in steps if not _mastered(context, s)]
        done = [s for s in steps if s not in todo]
        lines = [f"To reach **{course.skills[goal].name}**, work through (in this order):", ""]
        for number, skill in enumerate(todo, 1):
            lines.append(f"{number}. {course.skills[skill].name} ({_label(context, skill)})"
                         f"{_start(course, skill)}")  # fmt: skip
        if done:
            names = ", ".join(course.skills[s].name for s in done)
            lines += ["", f"Already mastered on the way: {names}."]
        source = _graph_source(course)
        actions = (f"Why do I need {todo[0]} first?" if len(todo) > 1 else "Quiz me on it",)
        payload = {"path": todo}
        return Draft(
            "\n".join(lines), (source, _model_source(context)), 0.85, actions, payload=payload
        )

    def after(self, skill: str, context: TutorContext) -> Draft:
        """The topics that build directly on ``skill``, in course order, each with what else
        it needs that the learner has not mastered."""
        course = context.course
        name = course.skills[skill].name
        nexts = [s for s in course.topological_order() if skill in course.skills[s].prerequisites]
        sources = (_graph_source(course), _model_source(context))
        if not nexts:
            text = (f"Nothing in the course builds on **{name}**: it is one of its last topics. "
                    "*What should I do next?* picks your next exercises.")  # fmt: skip
            return Draft(text, sources, 0.8, ("What should I do next?",))
        lines = [f"After **{name}** come these topics, which build on it:", ""]
        for number, following in enumerate(nexts, 1):
            others = course.skills[following].prerequisites
            missing = [course.skills[p].name for p in others
                       if p != skill and not _mastered(context, p)]  # fmt: skip
            needs = f"; it also needs {', '.join(missing)}" if missing else ""
            label = f"{course.skills[following].name} ({_label(context, following)})"
            lines.append(f"{number}. {label}{needs}{_start(course, following)}")
        if not _mastered(context, skill):
            lines += ["", f"You have not mastered **{name}** yet: its exercises come first."]
        actions = (f"Path to {nexts[0]}", "What should I do next?")
        return Draft("\n".join(lines), sources, 0.85, actions, payload={"path": nexts})

    def why(self, skills: list[str], context: TutorContext) -> Draft:
        """Why the prerequisites of the (first named) skill matter, from its material."""
        course = context.course
        pairs = [(t, p) for t in skills for p in skills if p in course.ancestors(t)]
        if pairs:
            target, asked = pairs[0][0], [p for t, p in pairs if t == pairs[0][0]]
        else:
            target = next((s for s in skills if course.skills[s].prerequisites), skills[0])
            asked = list(course.skills[target].prerequisites)
        if not asked:
            text = f"**{course.skills[target].name}** has no prerequisites: you can start there."
            return Draft(text, (), 0.7, (f"Quiz me on {target}",))
        lines = []
        for prerequisite in asked:
            lines.append(self._uses(target, prerequisite, course))
        text = "\n\n".join(lines)
        sources = (Source(f"course:{target}", f"{course.skills[target].name} (course material)"),)
        return Draft(text, sources, 0.75, (f"Path to {target}", f"Quiz me on {asked[0]}"))

    def _uses(self, target: str, prerequisite: str, course: Course) -> str:
        name = f"{prerequisite.replace('_', ' ')} {course.skills[prerequisite].name}"
        words = set(tokenize(name)) - set(tokenize(GENERIC_SKILL_WORDS))
        body = " ".join(text for _, text in markdown_sections(course.skills[target].material))
        prose = " ".join(re.sub(r"```.*?```", " ", body, flags=re.S).split())
        sentences = [s for s in _SENTENCE.split(prose) if words & set(tokenize(s))]
        sentences = sentences[:USE_SENTENCES]
        both = [e.id for e in course.exercises.values() if {target, prerequisite} <= set(e.skills)]
        direct = prerequisite in course.skills[target].prerequisites
        how = "directly" if direct else "through the skills in between"
        text = (
            f"**{course.skills[target].name}** builds {how} on "
            f"**{course.skills[prerequisite].name}**."
        )
        if sentences:
            text += " The course material shows where:\n" + "\n".join(f"> {s}" for s in sentences)
        if both:
            text += f"\n\nExercises that need both: {', '.join(f'`{b}`' for b in both)}."
        return text

    def concept_map(self, context: TutorContext) -> Draft:
        """Every skill in course order with what it builds on and the learner's mastery."""
        course = context.course
        lines = [f"**Concept map of {course.title}** (each topic ← what it builds on):", ""]
        for skill_id in course.topological_order():
            skill = course.skills[skill_id]
            before = ", ".join(course.skills[p].name for p in skill.prerequisites) or "start here"
            lines.append(f"- **{skill.name}** ← {before} · {_label(context, skill_id)}")
        source = _graph_source(course)
        return Draft("\n".join(lines), (source,), 0.9, ("What should I revise?",))

    def revise(self, context: TutorContext) -> Draft:
        """What to revise: the recommendation model's revision rows, else the weakest skills."""
        course = context.course
        rows = _revision_rows(context)
        if rows:
            lines = ["Worth revising now:", ""]
            lines += [f"- {r['skill'] or ''} {r['item_id'] or ''}: {r['reason']}" for r in rows]
        elif "p_known" in context.mastery.columns and context.mastery.height:
            weakest = context.mastery.sort("p_known").head(N_REVISE)
            lines = ["Your weakest skills so far:", ""]
            lines += [
                f"- **{course.skills[r['skill']].name}**: {r['label']} "
                f"(P(known) {r['p_known']:.2f})"
                for r in weakest.iter_rows(named=True)
                if r["skill"] in course.skills
            ]
        else:
            text = "You have no graded attempts yet, so there is nothing to revise: start with "
            first = course.topological_order()[0]
            return Draft(text + f"**{course.skills[first].name}**.", (), 0.5, ("Quiz me",))
        return Draft("\n".join(lines), (_model_source(context),), 0.8, ("Quiz me on the first",))


def _graph_source(course: Course) -> Source:
    return Source(f"course:{course.id}/skills", f"{course.title}: prerequisite graph")


def _start(course: Course, skill: str) -> str:
    """ " — start with `<id>`": the first exercise of ``skill`` (one it is the main skill of,
    if any), or "" if none practises it."""
    practising = course.exercises_for(skill)
    first = next((e for e in practising if e.skill == skill), None) or next(iter(practising), None)
    return f" — start with `{first.id}`" if first else ""


def _named(exercise: Exercise) -> str:
    return f"**{exercise.title}** (`{exercise.id}`)"


def _first_steps(course: Course, current: Exercise | None) -> str:
    """What to do first, with no answer yet: the exercise at hand, else the course's first
    topic's easiest exercise."""
    if current is not None:
        return (
            f"You are on {_named(current)}: finish it first (ask for a hint if you are stuck). "
            "Then ask me again: I recommend what comes next from your answers."
        )
    first = course.topological_order()[0]
    start = min(course.exercises_for(first), key=lambda e: e.difficulty, default=None)
    opening = f": `%exercise {start.id}` (*{start.title}*)" if start else ""
    return (
        "You have not answered an exercise yet: start with the course's first topic, "
        f"**{course.skills[first].name}**{opening}."
    )


def _model_source(context: TutorContext) -> Source:
    model = (
        context.mastery.get_column("model")[0]
        if "model" in context.mastery.columns and context.mastery.height
        else "no attempts yet"
    )
    return Source("model:mastery", f"Mastery estimate ({model})")


def _recommendations(context: TutorContext) -> pl.DataFrame:
    """The recommendation model's rows for the learner (empty without evidence)."""
    from learnpulse.models.recommendations import COLUMNS, recommend

    if context.mastery.is_empty() or context.events.is_empty():
        return pl.DataFrame(schema=COLUMNS)

    items, skills = course_frames(context.course)
    return recommend(
        context.mastery,
        items,
        skills,
        context.events,
        learner=context.learner_id,
        mastery_threshold=context.course.mastery_threshold,
    )


def _revision_rows(context: TutorContext) -> list[dict]:
    """The recommendation model's ``revision`` rows for the learner (empty without evidence)."""
    revision = _recommendations(context).filter(pl.col("kind") == "revision").head(N_REVISE)
    return revision.select("skill", "item_id", "reason").to_dicts() if revision.height else []
