"""The learning assistant: explains concepts step by step at the learner's level, from the
course material and the Python reference, citing its sources; walks an exercise's hint ladder;
restates an exercise the learner does not understand (:mod:`~learnpulse.agents.exercise_brief`)
and goes over what they got wrong (:mod:`~learnpulse.agents.mistakes`), never judging an answer
itself (the check does).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

from learnpulse.agents.base import Draft, Source, TutorContext
from learnpulse.agents.conversation import sections_asked_about, with_previous_question
from learnpulse.agents.exercise_brief import (
    asks_about_the_task,
    asks_if_right,
    checking_draft,
    refers_to_an_exercise,
    task_brief,
    which_exercise,
)
from learnpulse.agents.exercise_ladder import (
    exercise_follow_up,
    last_answer_difference,
    on_the_ladder,
)
from learnpulse.agents.follow_ups import (
    asks_for_concept,
    asks_for_concept_of_context,
    concept_query,
    hint_again,
    last_hint_shown,
    wants_next_hint,
)
from learnpulse.agents.guardrails import asks_for_solution, tell_me_more
from learnpulse.agents.ladder import CONCEPT
from learnpulse.agents.learner import level_of
from learnpulse.agents.mistakes import asks_about_mistakes, mistakes_draft
from learnpulse.agents.retrieval import Hit, course_index, skills_in
from learnpulse.agents.small_talk import without_greeting
from learnpulse.agents.tokenizing import query_tokens

if TYPE_CHECKING:
    from learnpulse.course import Course

#: Retrieval score (BM25, the passage's prior included) at which the assistant's confidence
#: is 0.5.
CONFIDENCE_HALF_SCORE = 8.0
#: Sentences shown as numbered steps, by learner level.
STEPS_BY_LEVEL = {"beginner": 5, "intermediate": 3, "advanced": 2}
#: Longest excerpt of a Python-reference passage quoted in a reply, in characters.
REFERENCE_EXCERPT_CHARS = 700
#: Course topics named in the reply to a question the course is not about.
TOPICS_NAMED = 5
#: Sources retrieved per question (the first answers, the others are cited as "see also").
SOURCES_PER_ANSWER = 3
_HINT_WORDS = re.compile(
    r"\b(hint|stuck|clue|next step|no idea|don'?t know how|help|nudge)\b"
    r"|\bany (ideas?|tips?|suggestions?)\b|\bright direction\b",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_FENCE = re.compile(r"```.*?```", re.S)


def asks_for_hint(message: str) -> bool:
    """Whether ``message`` asks for a hint or the solution: during an exercise, the hint
    ladder answers it."""
    return bool(asks_for_solution(message) or _HINT_WORDS.search(message))


def _steps(text: str, count: int) -> list[str]:
    """The first ``count`` prose sentences of ``text`` (code blocks left out)."""
    prose = " ".join(_FENCE.sub(" ", text).split())
    return [s.strip() for s in _SENTENCE.split(prose) if s.strip()][:count]


def _examples(text: str) -> list[str]:
    return _FENCE.findall(text)


class LearningAssistant:
    """Explains a concept from course material and the Python reference, at the learner's level.

    With an exercise in context, a request for help or a hint gets the next hint of the
    exercise's ladder (up to the instructor's limit), never the solution.
    """

    name = "assistant"
    title = "Learning assistant"
    description = "Explains concepts step by step from the course and the Python reference."
    keywords = (
        "what is", "what does", "explain", "how do", "how does", "how to", "difference",
        "mean", "why", "hint", "stuck", "solution", "answer", "understand",
    )  # fmt: skip

    def draft(self, message: str, context: TutorContext) -> Draft:
        exercise = context.exercise
        if asks_for_concept_of_context(message, context) and concept_query(context):
            # "Explain the concept behind this" after %explain or a hint, "explain the concept
            # behind this exercise"
            return self.concept(context)
        if exercise is not None and asks_about_the_task(message, exercise):
            # "I don't understand this exercise", "what am I supposed to do?": the task restated
            return task_brief(context)
        about_one = asks_about_the_task(message) or asks_for_concept(message)
        if exercise is None and about_one and refers_to_an_exercise(message):
            return which_exercise(context)
        if asks_if_right(message, exercise):
            return checking_draft(context)
        asks_on = asks_for_solution(message) or wants_next_hint(message)
        if on_the_ladder(context) and not asks_on:
            # "I don't understand this hint", "why?" after a hint or a wrong answer, again and
            # again: the same hint put another way, then another angle each time
            drafts = {
                "reworded": lambda: hint_again(context, self._reworded(context)),
                CONCEPT: lambda: self.concept(context),
            }
            return exercise_follow_up(message, context, drafts)
        if asks_about_mistakes(message):  # after a check, the ladder above answers it
            differs = last_answer_difference(context) if exercise is not None else None
            return differs or mistakes_draft(context)
        if exercise is not None and asks_for_hint(message):
            return self.hint(message, context)
        named = skills_in(message, context.course, by_passage=False)
        if exercise is None and asks_for_hint(message) and not named:
            # "give me a hint", "I'm stuck": of which exercise? ("stuck on loops" is a question)
            return which_exercise(context, "hint")
        return self.explain(message, context)

    def concept(self, context: TutorContext) -> Draft:
        """The concept behind the error, hint, check or exercise in ``context``, from the
        course (:func:`~learnpulse.agents.follow_ups.concept_query`; there must be one)."""
        concept = concept_query(context)
        assert concept is not None
        query, about = concept
        return self.explain(query, context, about=about)

    def _reworded(self, context: TutorContext) -> tuple[Source, str] | None:
        """The course passage that best explains the hint opened last, and its first
        sentences (the exercises' own explanations left out, as in :meth:`explain`)."""
        exercise = context.exercise
        assert exercise is not None
        skill = context.course.skills.get(exercise.skill) if context.course else None
        query = f"{exercise.hints[last_hint_shown(context) - 1]} {skill.name if skill else ''}"
        index = course_index(context.course)
        hits = index.search(query, 1, _closed_explanations(context))
        if not hits:
            return None
        passage = hits[0].passage
        return passage.source, " ".join(_steps(passage.text, STEPS_BY_LEVEL["intermediate"]))

    def hint(self, message: str, context: TutorContext) -> Draft:
        """The next hint of the current exercise's ladder, within the policy's limit."""
        exercise = context.exercise
        assert exercise is not None
        refusal = (
            "I won't give you the solution: working it out is what makes it stick, and your "
            "instructor asked me not to. "
            if asks_for_solution(message)
            else ""
        )
        level = context.hints_used + 1
        source = Source(f"exercise:{exercise.id}/hints", f"{exercise.title}: hint ladder")
        if level <= exercise.hint_limit:
            text = (
                f"{refusal}Here is hint {level} of {exercise.hint_limit} for "
                f"**{exercise.title}**:\n\n> {exercise.hints[level - 1]}\n\n"
                "What have you tried so far? Tell me where it goes wrong and I can help with "
                "that step."
            )
            actions = ("Another hint", "Explain the concept behind this hint")
            return Draft(text, (source,), 0.9, actions, payload={"hint_level": level})
        skill = context.course.skills.get(exercise.skill) if context.course else None
        topic = skill.name if skill else exercise.skill
        # "all 0 hints" when the instructor turned hints off said nothing true
        opened = (
            f"You have opened all {exercise.hint_limit} hint(s) your instructor allows"
            if exercise.hint_limit
            else "Your instructor turned hints off"
        )
        text = (
            f"{refusal}{opened} for **{exercise.title}**. Re-read the course section on "
            f"*{topic}*, try a small example in a cell, and check it; the explanation opens "
            "once you answer."
        )
        actions = (f"Explain {topic}", "Review my code")
        return Draft(text, (source,), 0.8, actions, payload={"hint_level": context.hints_used})

    def explain(self, message: str, context: TutorContext, about: str = "") -> Draft:
        """An explanation of ``message`` from the best-matching passages.

        Parameters
        ----------
        message : str
            The question, or, with ``about``, what to look up.
        context : TutorContext
        about : str, optional
            Markdown naming what ``message`` is the concept of (``"your **KeyError** (Line
            2...)"``): the reply says so first, and ``message`` is looked up as it is (not read
            with the questions before it, nor with the exercise's topic).
        """
        exclude = _closed_explanations(context)
        message = without_greeting(message)
        query = (
            message if about else with_previous_question(message, context.history, context.course)
        )
        if context.exercise is not None and context.course is not None and not about:
            # the topic of the exercise, unless the question names another one ("what is a
            # tuple?" during a loops exercise was answered with while loops)
            named = skills_in(message, context.course, by_passage=False)
            skill = context.course.skills.get(context.exercise.skill)
            if skill is not None and (not named or skill.id in named):
                query = f"{query} {skill.name}"
        if not about and not query_tokens(query):
            return tell_me_more()  # "can you give me an example?" of nothing asked before
        index = course_index(context.course)
        # the question alone: the topic added above would make "how do I cook pasta?" one
        covered = bool(about) or index.covers(message)
        named = sections_asked_about(message, context.course)
        hits = index.search(query, SOURCES_PER_ANSWER, exclude, named) if covered else []
        if not hits:
            return _not_covered(context.course)
        best = hits[0]
        level = level_of(context.p_known(best.passage.skill) if best.passage.skill else None)
        text = self._compose(best, hits[1:], level)
        if about:
            text = f"The concept behind {about}, from the course:\n\n{text}"
        confidence = best.score / (best.score + CONFIDENCE_HALF_SCORE)
        skill = best.passage.skill
        actions = (
            (f"Give me a practice exercise on {skill}", f"What should I know before {skill}?")
            if skill
            else ("Give me a practice exercise", "Show me the course topics")
        )
        notes = tuple(f"[{h.passage.source.title}]\n{h.passage.text}" for h in hits)
        sources = tuple(h.passage.source for h in hits)
        # an answer about the concept behind an error is part of its ladder (ladder.py)
        payload = {"level": level, **({"rung": CONCEPT} if about else {})}
        return Draft(text, sources, confidence, actions, notes, payload)

    def _compose(self, best: Hit, others: list[Hit], level: str) -> str:
        passage = best.passage
        steps = _steps(passage.text, STEPS_BY_LEVEL[level])
        intro = {
            "beginner": "Let's take it step by step.",
            "intermediate": "Here is the key idea, then the details.",
            "advanced": "In short:",
        }[level]
        lines = [f"**{passage.source.title}** — {intro}\n"]
        lines += [f"{n}. {step}" for n, step in enumerate(steps, 1)]
        examples = _examples(passage.text)
        if examples and level != "advanced":
            lines += ["", "For example:", "", examples[0]]
        if passage.skill is None and level == "beginner":
            excerpt = passage.text[:REFERENCE_EXCERPT_CHARS].rsplit(" ", 1)[0]
            quoted = excerpt.replace("\n", "\n> ")
            lines += ["", f"The Python reference says:\n\n> {quoted} …"]
        if others:
            see = "; ".join(f"*{h.passage.source.title}*" for h in others)
            lines += ["", f"See also: {see}."]
        lines += ["", f"(Source: *{passage.source.title}*.)"]
        return "\n".join(lines)


def _not_covered(course: Course | None) -> Draft:
    """The reply to a question that neither the course nor the Python reference is about."""
    names = [skill.name for skill in course.skills.values()] if course is not None else []
    topics = ", ".join(names[:TOPICS_NAMED]) + (", …" if len(names) > TOPICS_NAMED else "")
    return Draft(
        "I could not find this in the course or the Python reference. I can help with Python"
        + (f" and this course's topics ({topics})" if topics else "")
        + ", its exercises and the errors in your code. If your question is about one of "
        "them, tell me what you are trying to do and what you have tried so far: a line of "
        "code or the error message helps me help you.",
        (),
        0.1,
        ("Show me the course topics", "What should I do next?"),
    )


def _closed_explanations(context: TutorContext) -> list[str]:
    """Sources of the explanations the learner has not opened: the exercise at hand's, and
    those of exercises not yet answered correctly (the exercise widget shows one only then,
    and an explanation often works the answer out: "4 + 4 = 8")."""
    if context.course is None:
        return []
    events = context.events
    solved: set[str] = set()
    if {"kind", "item_id", "correct"} <= set(events.columns):
        right = events.filter((pl.col("kind") == "attempt") & pl.col("correct").fill_null(False))
        solved = set(right.get_column("item_id").drop_nulls())
    current = context.exercise.id if context.exercise else None
    return [
        f"exercise:{exercise_id}/explanation"
        for exercise_id in context.course.exercises
        if exercise_id == current or exercise_id not in solved
    ]
