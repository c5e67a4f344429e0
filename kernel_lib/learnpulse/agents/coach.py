"""The mentor coach: how the learner is doing, a study plan for the weeks left, streaks, best
study times, motivation and strategy, from the engagement model, mastery, readiness and the
adaptive feedback rules.

"How am I doing?" was taken for a follow-up of the last answer checked (or "I could not find
this"), and "am I ready for the exam?" got a four-week study plan: :meth:`MentorCoach.progress`
answers them with the learner's topics by mastery level, accuracy and readiness.
"""

from __future__ import annotations

import math
import re

import polars as pl

from learnpulse.agents.base import Draft, Source, TutorContext
from learnpulse.agents.exercise_ladder import hint_action
from learnpulse.agents.learner import solved
from learnpulse.features import COUNTED_CORRECT, with_evidence

#: Weeks a study plan covers when the learner does not say.
DEFAULT_PLAN_WEEKS = 4
#: Shortest and longest plan, in weeks (a learner asking for "0 weeks" gets the shortest).
MIN_PLAN_WEEKS = 1
MAX_PLAN_WEEKS = 16
#: Study sessions suggested per week.
SESSIONS_PER_WEEK = 3
#: Exercises named per skill in a plan.
EXERCISES_PER_SKILL = 2
#: Current streak (days) from which the coach celebrates it.
STREAK_PRAISE_DAYS = 3
_WEEKS = re.compile(r"\b(\d{1,2})\s*(weeks?|wks?)\b", re.I)
#: Mastery labels in the order the progress lists them (learnpulse.models.mastery's labels).
PROGRESS_LABELS = ("Mastered", "Proficient", "Developing", "Needs Focus")
_PROGRESS = re.compile(
    r"\bhow (am i|'?m i) doing\b|\bmy progress\b|\bprogress so far\b|\bhow far (am i|have i)"
    r"|\b(am i|how) (ready|on track)\b|\bready for the (exam|test|final)"
    r"|\b(have|did) i (done|solved|solve|finished|finish|completed|complete)\b",
    re.I,
)
_TOPICS = {
    "progress": _PROGRESS,
    "plan": re.compile(r"\b(plan|schedule|weeks?|exam|deadline|organi[sz]e)\b", re.I),
    "times": re.compile(r"\b(when|best time|time of day|hour|morning|evening)\b", re.I),
    "streak": re.compile(r"\bstreak", re.I),
    "motivation": re.compile(
        r"\b(motivat|give up|tired|bored|hard|difficult|can'?t|frustrat|overwhelm)", re.I
    ),
}
STRATEGIES = (
    "Spread practice over several short sessions: spacing beats one long cram.",
    "Test yourself before re-reading: recalling an answer strengthens memory more.",
    "Mix topics in one session (interleaving) once each is familiar.",
)


def _engagement(context: TutorContext) -> dict | None:
    from learnpulse.models.engagement import engagement_patterns

    if context.events.is_empty():
        return None
    rows = engagement_patterns(context.events).filter(pl.col("learner_id") == context.learner_id)
    return rows.row(0, named=True) if rows.height else None


def _feedback(context: TutorContext) -> list[str]:
    """Messages of the adaptive feedback rules that fire for the learner now."""
    from learnpulse.models.rules import FEEDBACK_RULES, evaluate_rules, learner_signals
    from learnpulse.models.scoring import cutoff_of, graded_attempts, learner_scores

    events = context.events
    if events.filter(pl.col("kind") == "attempt").is_empty():
        return []
    at = cutoff_of(events, None)
    attempts = graded_attempts(events, at)
    scores = learner_scores(events, at=at, attempts=attempts)
    mastery = context.mastery if "p_known" in context.mastery.columns else None
    n_skills = len(context.course.skills) if context.course else 0
    signals = learner_signals(
        events, attempts, at=at, scores=scores, mastery=mastery, n_skills=n_skills
    )
    fired = evaluate_rules(signals, FEEDBACK_RULES)
    return fired.filter(pl.col("learner_id") == context.learner_id).get_column("message").to_list()


def _last_topics(context: TutorContext) -> set[str]:
    """The topics of the coach's answer that ``context`` follows up, if it does."""
    newest = context.history[-1] if context.history else {}
    if newest.get("role") != "tutor" or newest.get("agent") != MentorCoach.name:
        return set()
    return set(newest.get("topics") or ()) & set(_TOPICS)


def _readiness(context: TutorContext) -> dict | None:
    """The learner's readiness row (``value``, ``probability``, ``reason``), or None."""
    from learnpulse.models.standing import readiness

    course = context.course
    rows = readiness(context.events, context.mastery, items=course.items_frame(),
                     skills=course.skills_frame())  # fmt: skip
    mine = rows.filter(pl.col("learner_id") == context.learner_id)
    return mine.row(0, named=True) if mine.height else None


def study_plan(context: TutorContext, weeks: int) -> list[str]:
    """Markdown lines: the skills not yet mastered, in course order, spread over ``weeks``."""
    course = context.course
    if course is None:
        return []
    mastered = set()
    if "mastered" in context.mastery.columns:
        mastered = set(context.mastery.filter(pl.col("mastered")).get_column("skill"))
    todo = [s for s in course.topological_order() if s not in mastered]
    if not todo:
        return ["You have mastered every skill of the course: plan mixed revision sessions."]
    per_week = math.ceil(len(todo) / weeks)
    lines = []
    for week in range(weeks):
        chunk = todo[week * per_week : (week + 1) * per_week]
        if not chunk:
            break
        parts = []
        for skill in chunk:
            exercises = [e.id for e in course.exercises_for(skill)][:EXERCISES_PER_SKILL]
            listed = f" ({', '.join(exercises)})" if exercises else ""
            parts.append(f"{course.skills[skill].name}{listed}")
        lines.append(f"- **Week {week + 1}:** {'; '.join(parts)}")
    return lines


class MentorCoach:
    """Plans study time, tracks streaks and habits, and keeps the learner going."""

    name = "coach"
    title = "Mentor coach"
    description = "Study plans, streaks, best study times, motivation and strategy."
    keywords = (
        "plan", "schedule", "streak", "motivat", "study time", "when should i study", "weeks",
        r"exams?\b", "give up", "tired", "procrastinat", "habit", "progress",
        r"how (?:am i|'?m i) doing", r"(?:am i|how) (?:ready|on track)\b",
        r"too (?:hard|difficult)", "frustrat", "overwhelm",
        r"(?:have|did) i (?:done|solved?|finish(?:ed)?|complete[d]?)\b",
    )  # fmt: skip

    def draft(self, message: str, context: TutorContext) -> Draft:
        topics = {name for name, pattern in _TOPICS.items() if pattern.search(message)}
        if "progress" in topics and not re.search(r"\b(plan|schedule)\b", message, re.I):
            topics -= {"plan"}  # "am I ready for the exam?" asks where they stand, not for a plan
        # a follow-up naming no topic ("why?" after the progress) stays on the last answer's
        topics = topics or _last_topics(context) or set(_TOPICS) - {"progress"}
        engagement = _engagement(context)
        sections: list[str] = []
        if "progress" in topics:
            sections.append(self.progress(context))
        if "plan" in topics:
            sections.append(self._plan(message, context, engagement))
        if topics & {"times", "streak"}:
            sections.append(self._habits(engagement))
        if "motivation" in topics or len(topics) == len(_TOPICS) - 1:
            sections.append(self._motivation(context, engagement))
        sources = [Source("model:engagement", "Engagement patterns (your activity)")]
        if context.course is not None:
            sources.append(Source(f"course:{context.course.id}/skills", context.course.title))
        confidence = 0.8 if engagement else 0.5
        actions = ("What should I revise?", "Give me a practice exercise")
        if "progress" in topics:
            sources.append(Source("model:readiness", "Readiness (mastery and recent accuracy)"))
            actions = ("What should I do next?", "What should I revise?")
        payload = {"topics": sorted(topics)}
        return Draft("\n\n".join(sections), tuple(sources), confidence, actions, payload=payload)

    def progress(self, context: TutorContext) -> str:
        """The learner's topics by mastery level, accuracy of the counted attempts, and
        readiness for the course's end (:func:`learnpulse.models.standing.readiness`)."""
        course, mastery = context.course, context.mastery
        if course is None or "label" not in mastery.columns or mastery.is_empty():
            return (
                "You have not answered an exercise yet, so there is no progress to show: answer "
                "one and ask me again (*What should I do next?* says where to start)."
            )
        known = mastery.filter(pl.col("skill").is_in(list(course.skills)))
        lines = [f"**Your progress in {course.title}**, from your answers so far:", ""]
        for label in PROGRESS_LABELS:
            skills = known.filter(pl.col("label") == label).sort("p_known", descending=True)
            names = ", ".join(course.skills[s].name for s in skills.get_column("skill"))
            lines += [f"- **{label}** ({skills.height}): {names}"] if skills.height else []
        lines.append(
            f"- **Not started** ({len(course.skills) - known.height} of "
            f"{len(course.skills)} topics)"
        )
        # each answer once, as the progress widget counts (per skill, an answer to an
        # exercise of two skills counted twice)
        marks = with_evidence(context.events).get_column(COUNTED_CORRECT).drop_nulls()
        right, counted = int(marks.sum()), marks.len()
        if counted:
            lines += [
                "",
                f"**Accuracy:** {right} of {counted} counted answers right "
                f"({right / counted:.0%}; each exercise counts until you solve it).",
            ]
        ready = _readiness(context)
        if ready is not None:
            lines.append(
                f"**Ready for the end of the course:** {ready['value']} "
                f"(probability {ready['probability']:.0%}: {ready['reason']})."
            )
        return "\n".join(lines)

    def _plan(self, message: str, context: TutorContext, engagement: dict | None) -> str:
        asked = _WEEKS.search(message)
        weeks = int(asked.group(1)) if asked else DEFAULT_PLAN_WEEKS
        weeks = min(max(weeks, MIN_PLAN_WEEKS), MAX_PLAN_WEEKS)
        when = (
            f" on {engagement['preferred_day']}s around {engagement['peak_hour']}:00 UTC, "
            "when you usually work"
            if engagement
            else ""
        )
        lines = [f"**Study plan for {weeks} week(s)** — {SESSIONS_PER_WEEK} sessions a week{when}:"]
        return "\n".join([*lines, *study_plan(context, weeks)])

    def _habits(self, engagement: dict | None) -> str:
        if engagement is None:
            return (
                "I have no activity from you yet, so no streak or study times to show. Do one "
                "exercise today to start a streak."
            )
        return (
            f"**Your habits:** current streak {engagement['current_streak_days']} day(s) "
            f"(longest {engagement['longest_streak_days']}); {engagement['sessions']} "
            f"sessions over {engagement['active_days']} active days; you work best on "
            f"{engagement['preferred_day']}s around {engagement['peak_hour']}:00 UTC. "
            f"Activity trend: {engagement['value']} ({engagement['reason']})."
        )

    def _motivation(self, context: TutorContext, engagement: dict | None) -> str:
        lines = []
        if engagement and engagement["current_streak_days"] >= STREAK_PRAISE_DAYS:
            days = engagement["current_streak_days"]
            lines.append(f"A {days}-day streak: keep it alive with one short session today.")
        elif engagement and engagement["value"] == "declining":
            lines.append(
                "Your activity has dropped lately. That happens; pick one small exercise now "
                "— a 15-minute session counts."
            )
        elif engagement and engagement["value"] == "improving":
            lines.append("You are working more than a few weeks ago: it shows, keep going.")
        else:
            lines.append("Small, regular sessions get you further than rare long ones.")
        exercise = context.exercise
        if exercise is not None and not solved(context.events, exercise.id):
            hint = (
                f"take the next hint (`%hint {exercise.id}`): it leads you on without the answer"
                if hint_action(context)
                else "go back to the course section on its topic"
            )
            lines.append(
                f"Hard is where the learning happens. For **{exercise.title}**, {hint}; or ask "
                "for *an easier one*, a practice question on the same idea, first."
            )
        lines += [f"- {message}" for message in _feedback(context)]
        lines += ["", "**Strategy:**", *(f"- {tip}" for tip in STRATEGIES)]
        return "\n".join(lines)
