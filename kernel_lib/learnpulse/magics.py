"""The student's magics, loaded by ``%load_ext learnpulse``.

- ``%%check <exercise>``: run the cell, then check it: a code exercise's tests run against the
  function (or names) the cell defined; for the other types the cell's value is the answer.
- ``%exercise <exercise>``: show the exercise widget. ``%hint <exercise>``: the next hint.
- ``%tutor <question>``: ask the tutor (no question: open the chat widget).
- ``%review [function]``: review the previous cell's code, or a function, with the code reviewer.
- ``%explain``: explain the last error.
- ``%progress [skill ...]``: mastery per skill, streak, accuracy and what to do next.

Each magic imports the widgets on first use (``%load_ext`` stays fast) and never raises into
the notebook: a problem is shown as one friendly line and logged.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import html
import inspect
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.display import display

from learnpulse.course.configured import (
    CourseUnavailable,
    configured_course_file,
    default_course,
)
from learnpulse.kernel_logs import log_to_kernel_console

log = logging.getLogger("learnpulse.magics")
log_to_kernel_console()  # magics run in kernels: records must not land in the cells

#: Agent answering ``%review`` and ``%explain`` (the code reviewer includes the error explainer).
REVIEW_AGENT = "reviewer"
#: What ``%review`` and ``%explain`` ask the tutor.
REVIEW_REQUEST = "Please review my code."
EXPLAIN_REQUEST = "Explain my last error."
#: Shown when a magic fails inside learnpulse.
MAGIC_FAILED = "learnpulse could not {what} just now; your notebook is fine. ({error})"


def _friendly(what: str) -> Callable:
    """Decorate a magic: errors are logged and shown in one line, never raised."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self: LearnPulseMagics, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except KeyError as error:  # unknown exercise: the message names close matches
                self._say(str(error.args[0]) if error.args else str(error))
            except CourseUnavailable as error:  # the instructor's file: named, with the fix
                self._say(str(error))
            except Exception as error:
                log.exception("learnpulse magic failed to %s", what)
                self._say(MAGIC_FAILED.format(what=what, error=type(error).__name__))
            return None

        return wrapper

    return decorate


@dataclass
class Notice:
    """A short message shown as HTML in a notebook and as text in a terminal."""

    text: str
    tone: str = "info"

    def _repr_html_(self) -> str:
        from learnpulse.widgets.common import coloured

        return f"<p>{coloured(self.text, self.tone)}</p>"

    def __repr__(self) -> str:
        return self.text


@dataclass
class CheckReport:
    """The outcome of ``%%check``: feedback and the mastery change."""

    exercise_id: str
    correct: bool
    feedback: str
    mastery: str

    def _repr_html_(self) -> str:
        from learnpulse.widgets.common import coloured

        mark = "✔ " if self.correct else "✘ "
        tone = "good" if self.correct else "bad"
        mastery = self.mastery.replace("\n", "; ")
        return (
            f"<p><b>{html.escape(self.exercise_id)}</b>: {coloured(mark + self.feedback, tone)}"
            + (f"<br>{coloured('Mastery — ' + mastery, 'info')}" if mastery else "")
            + "</p>"
        )

    def __repr__(self) -> str:
        mark = "✔" if self.correct else "✘"
        text = f"{self.exercise_id}: {mark} {self.feedback}"
        return f"{text}\nMastery — {self.mastery}" if self.mastery else text


@dataclass
class TutorAnswer:
    """A tutor reply shown by ``%tutor``/``%review``/``%explain``."""

    entry: dict[str, Any]

    def _repr_markdown_(self) -> str:
        entry = self.entry
        lines = [f"**Tutor** *({entry['agent']}, confidence {entry['confidence']:.0%})*", ""]
        lines += [entry["text"], ""]
        if entry["sources"]:
            lines.append("Sources: " + "; ".join(entry["sources"]))
        if entry["actions"]:
            lines.append("\nYou could ask: " + " · ".join(f"*{a}*" for a in entry["actions"]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        from learnpulse.widgets.chat import format_reply_text

        return format_reply_text(self.entry)


#: What %%check says to a cell that gave no answer (it records no attempt).
NO_ANSWER = (
    "No answer in this cell: end it with the answer (e.g. `3`) or assign it to `answer` here."
)
#: What %%check says to a cell the student interrupted (it records no attempt).
STOPPED = "You stopped the cell, so nothing was checked: run it again when it is ready."


class _BoundNames(ast.NodeVisitor):
    """Names a cell binds at its top level (not inside functions, classes, comprehensions)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.names.add(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.names.add(node.name)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef  # their bodies are local

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.names.update((a.asname or a.name).split(".")[0] for a in node.names)

    visit_ImportFrom = visit_Import

    def _local(self, node: ast.AST) -> None:
        pass

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = _local
    visit_GeneratorExp = _local


def _names_bound(source: str) -> set[str] | None:
    """:class:`_BoundNames` of ``source``, or None if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    visitor = _BoundNames()
    visitor.visit(tree)
    return visitor.names


@magics_class
class LearnPulseMagics(Magics):
    """The learnpulse student magics (see the module docstring)."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.last_result: Any = None  # the latest CheckResult of %%check
        self.last_reply: Any = None  # the latest tutor reply
        self.last_widget: Any = None  # the latest widget shown (%exercise, %progress, %tutor)

    def _say(self, text: str, tone: str = "bad") -> None:
        display(Notice(text, tone))

    def _show(self, widget: Any) -> None:
        self.last_widget = widget
        display(widget)

    @staticmethod
    def _session() -> Any:
        from learnpulse.widgets.session import current_session

        return current_session()

    def _exercise(self, line: str, magic: str) -> Any:
        """The exercise a magic's line names (KeyError saying how to name one, or naming close
        matches: ``%exercise`` alone said "no exercise ''")."""
        from learnpulse.widgets.exercise import resolve_exercise

        exercise_id = line.strip()
        if not exercise_id:
            raise KeyError(f"Which exercise? Give its id, e.g. {magic} ex-lists-01.")
        return resolve_exercise(exercise_id, self._session().course)

    # -- exercises ----------------------------------------------------------------------------

    @cell_magic
    @_friendly("check this cell")
    def check(self, line: str, cell: str) -> None:
        """``%%check <exercise_id>``: run the cell, then check it against the exercise."""
        from learnpulse.course import CheckResult, check
        from learnpulse.course.running import describe_error

        session = self._session()
        exercise = self._exercise(line, "%%check")
        session.begin(exercise)
        outcome = self.shell.run_cell(cell, store_history=False)
        if not outcome.success:
            error = outcome.error_in_exec or outcome.error_before_exec
            if isinstance(error, KeyboardInterrupt):  # the student stopped it: no attempt
                display(CheckReport(exercise.id, False, STOPPED, ""))
                return
            feedback = (
                f"Your cell raised {describe_error(error)}. Fix it and run again; "
                "%explain explains the error."
            )
            result = CheckResult(False, 0.0, feedback, {"diagnosis": "exception"})
        else:
            # only what this cell defined counts: a name left by an earlier cell (an old
            # `answer`, a function of another exercise) graded a cell that gave none
            code = self.shell.transform_cell(cell)
            bound = _names_bound(code)
            user_ns = self.shell.user_ns
            defined = user_ns if bound is None else {k: user_ns[k] for k in bound if k in user_ns}
            if exercise.type == "code":
                result = check(exercise, defined, source=code)  # the rules read the cell
            else:
                answer = outcome.result if outcome.result is not None else defined.get("answer")
                if answer is None:
                    display(CheckReport(exercise.id, False, NO_ANSWER, ""))
                    return
                result = check(exercise, answer)
        change = session.record_attempt(exercise, result, answer=cell, source="magic")
        self.last_result = result
        display(
            CheckReport(
                exercise.id, result.correct, result.feedback, change.describe(session.course)
            )
        )

    @line_magic
    @_friendly("show the exercise")
    def exercise(self, line: str) -> None:
        """``%exercise <exercise_id>``: show the exercise widget."""
        from learnpulse.widgets.exercise import ExerciseWidget

        self._show(ExerciseWidget(self._exercise(line, "%exercise"), session=self._session()))

    @line_magic
    @_friendly("show a hint")
    def hint(self, line: str) -> None:
        """``%hint <exercise_id>``: the next hint of the exercise's ladder."""
        session = self._session()
        exercise = self._exercise(line, "%hint")
        session.begin(exercise)
        text = session.open_hint(exercise)
        if text is None:
            self._say("No more hints for this exercise: try %tutor with your question.", "info")
            return
        level = session.hints_opened[exercise.id]
        self._say(f"Hint {level} of {exercise.hint_limit}: {text}", "info")

    @line_magic
    @_friendly("show your progress")
    def progress(self, line: str) -> None:
        """``%progress [skill ...]``: mastery per skill, streak, accuracy, next exercise."""
        from learnpulse.widgets.progress import ProgressWidget

        skills = line.split() or None
        if skills:
            for skill in skills:
                self._session().course.skill(skill)  # KeyError naming close matches
        self._show(ProgressWidget(session=self._session(), skills=skills))

    # -- tutor ---------------------------------------------------------------------------------

    def _ask(self, message: str, **context: Any) -> None:
        from learnpulse.widgets.chat import ask_tutor, reply_record

        session = self._session()
        exercise = session.current_exercise
        if exercise is not None and not exercise.policy.tutor_enabled:
            self._say("The tutor is turned off for this exercise by your instructor.", "info")
            return
        try:
            reply = ask_tutor(message, session, exercise=exercise, **context)
        except ValueError as error:  # the tutor refuses the message itself, e.g. too long
            self._say(f"The tutor could not take that message: {error}.", "bad")
            return
        self.last_reply = reply
        display(TutorAnswer(reply_record(reply)))

    @line_cell_magic
    @_friendly("reach the tutor")
    def tutor(self, line: str, cell: str | None = None) -> None:
        """``%tutor <question>`` (or ``%%tutor`` with the question below): ask the tutor;
        without a question, open the chat widget."""
        question = " ".join(part.strip() for part in (line, cell or "") if part.strip())
        if question:
            self._ask(question)
            return
        from learnpulse.widgets.chat import TutorChatWidget

        session = self._session()
        self._show(TutorChatWidget(session=session, exercise=session.current_exercise))

    def _previous_cell(self) -> str:
        """Source of the cell before the one running this magic; of a cell magic's cell
        (``%%check``), the code below the magic line, not the call IPython turned it into."""
        inputs = self.shell.user_ns.get("In", [])
        if len(inputs) < 2:
            return ""
        history = getattr(self.shell, "history_manager", None)
        raw = history.input_hist_raw if history is not None else []
        typed = raw[-2] if len(raw) == len(inputs) else ""
        magic_line, _, body = typed.lstrip().partition("\n")
        return body if magic_line.startswith("%%") else inputs[-2]

    @line_magic
    @_friendly("review your code")
    def review(self, line: str) -> None:
        """``%review [function_name]``: review a function, or the previous cell."""
        name = line.strip()
        if name:
            target = self.shell.user_ns.get(name)
            if target is None:
                self._say(f"There is no {name!r} in your notebook: run the cell defining it.")
                return
            try:
                code = inspect.getsource(target)
            except (TypeError, OSError):
                self._say(f"I cannot find the source of {name!r}: is it a function you wrote?")
                return
        else:
            code = self._previous_cell()
        if not code.strip():
            self._say("There is no code to review yet: run a cell first.", "info")
            return
        self._ask(REVIEW_REQUEST, agent=REVIEW_AGENT, code=code)

    @line_magic
    @_friendly("explain the error")
    def explain(self, line: str) -> None:
        """``%explain``: explain the last error raised in this notebook."""
        error = getattr(sys, "last_value", None)
        if error is None:
            self._say("No error so far: %explain explains the last exception.", "info")
            return
        self._ask(EXPLAIN_REQUEST, agent=REVIEW_AGENT, error=error, code=self._previous_cell())


_TUTOR_LINE = re.compile(r"^(\s*)%tutor\b(.*)$")


def question_mark_guard(lines: list[str]) -> list[str]:
    """Input transformer: ``%tutor why does range stop at 4?`` asks the tutor.

    IPython reads a line ending in ``?`` as a help request for the last word; students end
    questions with ``?``, so a ``%tutor`` line becomes the explicit magic call first.
    """
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("%%"):
        return lines  # a cell magic's body is its own business
    changed = []
    for line in lines:
        match = _TUTOR_LINE.match(line)
        if match:
            indent, question = match.groups()
            line = f"{indent}get_ipython().run_line_magic('tutor', {question.strip()!r})\n"
        changed.append(line)
    return changed


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (called by ``%load_ext learnpulse``).

    A course file configured for the kernel (``$LEARNPULSE_COURSE_FILE``) is read now, so that
    one that cannot be used is warned about under ``%load_ext``, not at the first exercise.
    """
    ipython.register_magics(LearnPulseMagics(ipython))
    if question_mark_guard not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(question_mark_guard)
    if configured_course_file():
        with contextlib.suppress(CourseUnavailable):  # warned; each magic says it again
            default_course()


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics this module registered."""
    magics = ipython.magics_manager.magics
    for kind, names in LearnPulseMagics.magics.items():
        for name in names:
            magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop(LearnPulseMagics.__name__, None)
    if question_mark_guard in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(question_mark_guard)
