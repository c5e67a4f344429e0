"""The exercise widget: prompt, answer box (or code check), feedback, hint ladder, mastery.

Every check is an ``attempt`` event (item, skills, correct, score, duration, attempt number,
hints used, the hint ladder's length) and every hint a ``hint`` event; the learner's mastery
of the exercise's skills is updated (online BKT) and shown after each attempt. Answering a
solved exercise again is practice: mastery stays as it was and the widget says why (see
:mod:`learnpulse.models.knowledge_tracing.evidence`).
"""

from __future__ import annotations

import ast
import html
import weakref
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import traitlets

from learnpulse.course import CheckResult, Course, Exercise, check
from learnpulse.widgets.common import TextFallback, coloured, guarded, markdown_html
from learnpulse.widgets.session import LearnerSession, MasteryChange, current_session

#: Rows of the code answer box.
CODE_BOX_ROWS = 8
#: Start of the ids of the tutor's generated practice exercises.
GENERATED_PREFIX = "gen-"


def parse_answer(exercise: Exercise, text: str) -> Any:
    """The typed text as the answer ``check`` expects: numbers parsed for numeric exercises.

    ``"3"`` becomes 3 and ``"2.5"`` 2.5; text that is not a Python literal stays text (so the
    checker can say it is not a number) and ``"'3'"`` stays the str ``'3'``.
    """
    if exercise.type != "numeric":
        return text
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def code_stub(exercise: Exercise) -> str:
    """A starting point for a code answer: the function's ``def`` line, or a comment."""
    if exercise.function:
        return f"def {exercise.function}(...):\n    ...\n"
    return "# your code here\n"


def resolve_exercise(exercise: Exercise | str, course: Course) -> Exercise:
    """``exercise`` itself, a practice exercise the tutor generated (``gen-...``, rebuilt from
    its id), or the course's exercise of that id (KeyError naming close ids)."""
    if isinstance(exercise, Exercise):
        return exercise
    if exercise.startswith(GENERATED_PREFIX):
        from learnpulse.agents.generator import generated_exercise

        return generated_exercise(exercise)
    return course.exercise(exercise)


class ExerciseWidget(TextFallback):
    """An exercise with immediate feedback, a hint ladder and live mastery.

    Parameters
    ----------
    exercise : Exercise or str
        The exercise, or its id in the session's course.
    session : LearnerSession, optional
        Default: the kernel's :func:`~learnpulse.widgets.session.current_session`.
    namespace : mapping, optional
        Where a code exercise looks for the student's function when the answer box is empty
        (default: the notebook's user namespace).

    Attributes
    ----------
    hint_level : int
        Hints opened so far (0 .. the policy's limit).
    attempts : int
    correct : bool
        Whether the latest attempt was correct.
    feedback : str
        The latest feedback text.
    """

    hint_level = traitlets.Int(0)
    attempts = traitlets.Int(0)
    correct = traitlets.Bool(False)
    feedback = traitlets.Unicode("")

    def __init__(
        self,
        exercise: Exercise | str,
        *,
        session: LearnerSession | None = None,
        namespace: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.session = session or current_session()
        self.exercise = resolve_exercise(exercise, self.session.course)
        self.namespace = namespace
        self.last_result: CheckResult | None = None
        self.last_change: MasteryChange | None = None
        self.session.load_history()  # hints opened before a kernel restart stay open
        self.hint_level = self.session.hints_opened.get(self.exercise.id, 0)
        self.session.begin(self.exercise)
        self._build()
        # the tutor's hints (and attempts) change the session: keep the ladder in step
        self.session.listeners.append(weakref.WeakMethod(self._sync_hints))

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        ex = self.exercise
        header = f"<h4>{html.escape(ex.title)}</h4>"
        self.prompt = widgets.HTML(header + markdown_html(ex.prompt))
        self.answer = self._answer_box()
        self.check_button = widgets.Button(description="Check", button_style="primary")
        self.hint_button = widgets.Button(description="Hint", icon="lightbulb-o")
        self.hints_html = widgets.HTML()
        self.feedback_html = widgets.HTML()
        self.mastery_html = widgets.HTML()
        self.explanation_html = widgets.HTML()
        self.check_button.on_click(lambda _: self.submit())
        self.hint_button.on_click(lambda _: self.hint())
        self._update_hint_button()
        self._render_hints()
        buttons = widgets.HBox([self.check_button, self.hint_button])
        self.children = [
            self.prompt,
            self.answer,
            buttons,
            self.feedback_html,
            self.hints_html,
            self.mastery_html,
            self.explanation_html,
            self.status,
        ]

    def _answer_box(self) -> widgets.Widget:
        ex = self.exercise
        if ex.type == "choice":
            labels = [(f"{chr(97 + i)}) {c}", i) for i, c in enumerate(ex.choices)]
            return widgets.RadioButtons(options=labels, value=None, description="")
        if ex.type == "code":
            layout = widgets.Layout(width="100%")
            return widgets.Textarea(
                value=code_stub(ex),
                rows=CODE_BOX_ROWS,
                layout=layout,
                placeholder=f"Write your code here, or in a cell with %%check {ex.id}",
            )
        return widgets.Text(placeholder="Your answer", continuous_update=False)

    def _update_hint_button(self) -> None:
        limit = self.exercise.hint_limit
        self.hint_button.disabled = self.hint_level >= limit
        if limit == 0:
            self.hint_button.tooltip = "Hints are turned off for this exercise"
        elif self.hint_level >= limit:
            self.hint_button.tooltip = "No more hints: ask the tutor or reread the material"
        else:
            self.hint_button.tooltip = f"Hint {self.hint_level + 1} of {limit}"

    # -- actions ----------------------------------------------------------------------------

    def _current_answer(self) -> Any:
        if self.exercise.type == "choice":
            return self.answer.value
        if self.exercise.type == "code":
            written = self.answer.value
            if written.strip() and written != code_stub(self.exercise):
                return written
            return self._notebook_namespace()
        return parse_answer(self.exercise, self.answer.value)

    def _notebook_namespace(self) -> Mapping[str, Any]:
        if self.namespace is not None:
            return self.namespace
        from IPython import get_ipython

        shell = get_ipython()
        return shell.user_ns if shell is not None else {}

    @guarded("check your answer")
    def submit(self, answer: Any = None) -> CheckResult:
        """Check ``answer`` (default: what is in the answer box), show and record the result."""
        given = self._current_answer() if answer is None else answer
        if given is None or (isinstance(given, str) and not given.strip()):
            self.show_feedback(coloured("Type (or choose) an answer first.", "info"), "")
            return CheckResult(False, 0.0, "No answer given.", {"diagnosis": "empty"})
        result = check(self.exercise, given)
        self.record(result, given)
        return result

    def record(self, result: CheckResult, answer: Any = None, source: str = "widget") -> None:
        """Show ``result`` at once, then record the attempt and show the mastery change."""
        self.attempts += 1
        self.last_result = result
        self.correct = result.correct
        tone = "good" if result.correct else "bad"
        mark = "✔ " if result.correct else "✘ "
        self.show_feedback(coloured(mark + result.feedback, tone), result.feedback)
        shown_answer = answer if isinstance(answer, str | int | float) else None
        self.last_change = self.session.record_attempt(
            self.exercise, result, answer=shown_answer, source=source
        )
        change = self.last_change.describe(self.session.course)
        self.mastery_html.value = coloured("Mastery — " + change.replace("\n", "; "), "info")
        if result.correct and self.exercise.explanation:
            self.show_explanation()

    def show_feedback(self, html_text: str, text: str) -> None:
        self.feedback_html.value = html_text
        self.feedback = text

    @guarded("show a hint")
    def hint(self) -> str | None:
        """Open the next hint of the ladder (up to the policy's limit); None when none is left."""
        text = self.session.open_hint(self.exercise)
        self.session.load_history()  # hints opened before a kernel restart stay open
        self.hint_level = self.session.hints_opened.get(self.exercise.id, 0)
        self._update_hint_button()
        if text is None:
            why = (
                "Hints are turned off here." if self.exercise.hint_limit == 0 else "No more hints."
            )
            self.status.value = coloured(why + " Try the tutor (%tutor ...) if stuck.", "info")
            return None
        self._render_hints()
        return text

    def _sync_hints(self) -> None:
        """Show the hints the tutor opened since (the session notifies its listeners)."""
        level = self.session.hints_opened.get(self.exercise.id, 0)
        if level != self.hint_level:
            self.hint_level = level
            self._update_hint_button()
            self._render_hints()

    def _render_hints(self) -> None:
        opened = self.exercise.hints[: self.hint_level]
        items = "".join(f"<li>{markdown_html(h)}</li>" for h in opened)
        self.hints_html.value = f"<b>Hints</b><ol>{items}</ol>" if opened else ""

    @guarded("show the explanation")
    def show_explanation(self) -> None:
        """Show the explanation (after a correct answer) and record that it was viewed."""
        self.explanation_html.value = "<b>Why</b>" + markdown_html(self.exercise.explanation)
        self.session.record_explanation(self.exercise)

    # -- text -------------------------------------------------------------------------------

    def as_text(self) -> str:
        ex = self.exercise
        lines = [f"Exercise {ex.id}: {ex.title}", "", ex.prompt.strip(), ""]
        lines += [f"  {chr(97 + i)}) {c}" for i, c in enumerate(ex.choices)]
        for number, hint in enumerate(ex.hints[: self.hint_level], start=1):
            lines.append(f"Hint {number}: {hint}")
        if self.feedback:
            lines.append(("✔ " if self.correct else "✘ ") + self.feedback)
        if self.last_change is not None:
            lines.append("Mastery — " + self.last_change.describe(self.session.course))
        if self.problem:
            lines.append(self.problem)
        if not self.feedback:
            lines.append(
                f"Answer in a cell starting with %%check {ex.id} (your answer or code below "
                f"it); %hint {ex.id} shows a hint."
            )
        return "\n".join(lines)
