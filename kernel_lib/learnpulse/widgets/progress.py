"""The progress widget: mastery per skill, streak, accuracy and the recommended next exercise.

Mastery is the session's live BKT estimate (updated after every attempt that is evidence,
refreshed here automatically; the Correct column counts those attempts, not practice on
solved exercises). Accuracy and the run of right answers count the same attempts, as the
instructor's dashboards do; the days in a row count every day with an attempt. The next
exercise comes from the course recommender
(:func:`learnpulse.models.recommendations.recommend`): a skill not yet mastered whose
prerequisites are in place, the exercise nearest the learner's level; when no new exercise is
ready, the top revision item.
"""

from __future__ import annotations

import html
import weakref
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import polars as pl

from learnpulse.course import Exercise
from learnpulse.widgets.common import TextFallback, coloured, guarded
from learnpulse.widgets.session import LearnerSession, current_session

#: Width in characters of the text mastery bar.
TEXT_BAR_WIDTH = 20
#: Which answers the accuracy and the run of right answers count.
COUNTED_NOTE = "each exercise until solved; answering a solved one again is practice"
#: Recommendation kinds that name an exercise to do, in order of preference.
EXERCISE_KINDS = ("next_exercise", "revision")


@dataclass(frozen=True)
class Recommendation:
    """The next exercise to do and why (``exercise`` None when nothing is recommended)."""

    exercise: Exercise | None
    reason: str
    model: str
    confidence: float


def recommend_next(session: LearnerSession) -> Recommendation:
    """The recommender's first exercise for the session's learner (see module docstring)."""
    from learnpulse.models.recommendations import MODEL, NOTHING_READY, recommend

    course = session.course
    rows = recommend(
        session.mastery_frame(),
        course.items_frame(),
        course.skills_frame(),
        session.graded_frame(),
        learner=session.learner_id,
        mastery_threshold=course.mastery_threshold,
    )
    for kind in EXERCISE_KINDS:
        found = rows.filter((pl.col("kind") == kind) & pl.col("item_id").is_in(course.exercises))
        if found.height:
            top = found.row(0, named=True)
            return Recommendation(
                course.exercise(top["item_id"]), top["reason"], top["model"], top["confidence"]
            )
    return Recommendation(None, NOTHING_READY, MODEL, 1.0)


class ProgressWidget(TextFallback):
    """Mastery per skill, the study streak, accuracy and the recommended next exercise.

    Parameters
    ----------
    session : LearnerSession, optional
        Default: the kernel's current session.
    skills : list of str, optional
        Show only these skills' mastery, e.g. a lesson's ``["lists", "loops"]`` (the
        recommendation still follows the whole course's prerequisites).
    """

    def __init__(self, *, session: LearnerSession | None = None, skills: list[str] | None = None):
        super().__init__()
        self.session = session or current_session()
        self.skills = skills
        self.table = widgets.HTML()
        self.streak = widgets.HTML()
        self.next_html = widgets.HTML()
        self.start_button = widgets.Button(description="Start it", icon="play")
        self.start_button.on_click(lambda _: self.start_recommended())
        self.exercise_box = widgets.VBox()
        self.recommendation: Recommendation | None = None
        self.children = [
            self.table,
            self.streak,
            widgets.HBox([self.next_html, self.start_button]),
            self.exercise_box,
            self.status,
        ]
        self.refresh()
        self.session.listeners.append(weakref.WeakMethod(self.refresh))

    def _rows(self) -> list[dict[str, Any]]:
        frame = self.session.mastery_frame()
        if self.skills:
            frame = frame.filter(frame["skill"].is_in(self.skills))
        return frame.to_dicts()

    @guarded("update your progress")
    def refresh(self) -> None:
        """Recompute the mastery table, streak, accuracy and recommendation."""
        rows = self._rows()
        body = "".join(
            f"<tr><td>{html.escape(r['name'])}</td>"
            f'<td><progress value="{r["p_known"]:.3f}" max="1"></progress> {r["p_known"]:.0%}</td>'
            f"<td>{html.escape(r['label'])}</td><td>{r['n_correct']}/{r['n_attempts']}</td></tr>"
            for r in rows
        )
        head = "<tr><th>Skill</th><th>Mastery</th><th>Level</th><th>Correct</th></tr>"
        self.table.value = f"<table>{head}{body}</table>"
        self.streak.value = "<br>".join(
            coloured(text, "info") for text in (self._streak_text(), self._accuracy_text())
        )
        self.recommendation = recommend_next(self.session)
        rec = self.recommendation
        title = f"<b>Next:</b> {html.escape(rec.exercise.title)} — " if rec.exercise else ""
        self.next_html.value = title + html.escape(rec.reason)
        self.start_button.disabled = rec.exercise is None

    def _streak_text(self) -> str:
        session = self.session
        days, in_a_row = session.streak_days(), session.correct_in_a_row
        day_word = "day" if days == 1 else "days"
        answer_word = "answer" if in_a_row == 1 else "answers"
        return f"Streak: {days} {day_word} in a row · {in_a_row} correct {answer_word} in a row"

    def _accuracy_text(self) -> str:
        session = self.session
        if session.accuracy is None:
            return "Accuracy: no answer yet"
        return (
            f"Accuracy {session.accuracy:.0%}: {session.counted_right} of "
            f"{session.counted_answers} answers right ({COUNTED_NOTE})"
        )

    @guarded("open the exercise")
    def start_recommended(self) -> None:
        """Show the recommended exercise below the progress."""
        from learnpulse.widgets.exercise import ExerciseWidget

        if self.recommendation and self.recommendation.exercise:
            self.exercise_box.children = [
                ExerciseWidget(self.recommendation.exercise, session=self.session)
            ]

    def as_text(self) -> str:
        lines = ["Your progress"]
        for r in self._rows():
            filled = round(r["p_known"] * TEXT_BAR_WIDTH)
            bar = "█" * filled + "·" * (TEXT_BAR_WIDTH - filled)
            lines.append(f"  {r['name'][:34]:<34} {bar} {r['p_known']:4.0%}  {r['label']}")
        lines += [self._streak_text(), self._accuracy_text()]
        rec = self.recommendation or recommend_next(self.session)
        if rec.exercise:
            lines.append(f"Next: {rec.exercise.id} '{rec.exercise.title}' — {rec.reason}")
        else:
            lines.append(rec.reason)
        if self.problem:
            lines.append(self.problem)
        return "\n".join(lines)
