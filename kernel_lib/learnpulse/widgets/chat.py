"""The tutor chat widget: a conversation with the tutor agents, in the notebook.

Each reply names the agent that answered, cites its sources and offers follow-up suggestions
(buttons that ask them). Answers come from :func:`learnpulse.agents.ask`, which routes the
message, applies the instructor's policy and guardrails, and logs the exchange as
``tutor_message`` events.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from learnpulse.course import Exercise
from learnpulse.widgets.common import TextFallback, coloured, guarded, log, markdown_html
from learnpulse.widgets.exercise import resolve_exercise
from learnpulse.widgets.session import LearnerSession, current_session

#: Messages kept on screen (older ones stay in the store's history).
SHOWN_MESSAGES = 40
#: Follow-up suggestion buttons shown under the latest reply, at most.
MAX_SUGGESTIONS = 4
#: CSS class of the row of suggested follow-ups.
SUGGESTIONS_CLASS = "lp-tutor-suggestions"
#: Longest suggestion text on a button (the whole text is its tooltip and what is asked).
SUGGESTION_CHARS = 60
#: Label of the router's automatic choice in the agent menu.
AUTO_AGENT = "auto"
#: Seconds the tutor waits for the hints and checks just tracked to reach the store.
DELIVERY_WAIT_S = 2.0


def ask_tutor(
    message: str,
    session: LearnerSession,
    *,
    agent: str | None = None,
    exercise: Exercise | None = None,
    **context: Any,
) -> Any:
    """:func:`learnpulse.agents.ask` for the session's learner, course, store and mastery model,
    with the engine the instructor configured (:func:`~learnpulse.agents.engine_from_env`).

    ``context`` passes ``code=`` / ``error=`` on to agents that review code or explain errors.
    Hints of ``exercise`` the tutor gives count in the session, like the Hint button's. The
    hints and checks tracked so far are delivered first (up to :data:`DELIVERY_WAIT_S`), so
    that "why?" right after one is about it.
    """
    from learnpulse.agents import OfflineEngine, ask, engine_from_env
    from learnpulse.agents.last_error import asks_about_last_error
    from learnpulse.collectors import tracking

    last = getattr(sys, "last_value", None)
    if last is not None and not context and asks_about_last_error(message):
        context = {"error": last}  # "explain my last error": the notebook's last exception

    if not tracking.flush(DELIVERY_WAIT_S):  # the tutor then answers without them
        log.warning("learnpulse: recent hints and checks not delivered before the tutor's answer")

    try:
        engine = engine_from_env()
    except ValueError:  # a misconfigured LLM must not silence the tutor
        log.warning("learnpulse: LLM engine misconfigured, answering offline", exc_info=True)
        engine = OfflineEngine()
    reply = ask(
        message,
        learner_id=session.learner_id,
        agent=agent,
        exercise=exercise,
        course=session.course,
        store=session.event_store(),
        engine=engine,
        mastery_model=session.model,
        **context,
    )
    if exercise is not None and reply.hint_level:
        session.note_tutor_hints(exercise, reply.hint_level)
    return reply


def agent_choices() -> list[tuple[str, str]]:
    """(title, name) of every tutor agent, the router's automatic choice first."""
    from learnpulse.agents import available_agents

    return [("Let the tutor choose", AUTO_AGENT)] + [
        (agent.title, agent.name) for agent in available_agents().values()
    ]


def source_label(source: Any) -> str:
    """A cited source as text: its title and id (``Source`` objects or plain strings)."""
    title, ident = getattr(source, "title", None), getattr(source, "id", None)
    if title and ident:
        return f"{title} ({ident})"
    return str(title or ident or source)


def reply_record(reply: Any) -> dict[str, Any]:
    """A tutor reply as a conversation entry."""
    return {
        "role": "tutor",
        "text": reply.text,
        "agent": reply.agent,
        "sources": [source_label(s) for s in reply.sources],
        "confidence": float(reply.confidence),
        "actions": list(reply.actions),
    }


def format_reply_text(entry: dict[str, Any]) -> str:
    """One tutor entry as plain text: agent, answer, sources, suggestions."""
    lines = [f"Tutor ({entry['agent']}, confidence {entry['confidence']:.0%}):", entry["text"]]
    if entry["sources"]:
        lines.append("Sources: " + "; ".join(entry["sources"]))
    if entry["actions"]:
        lines.append("You could ask: " + " | ".join(entry["actions"]))
    return "\n".join(lines)


class TutorChatWidget(TextFallback):
    """A conversation with the tutor about the course (and optionally one exercise).

    Parameters
    ----------
    session : LearnerSession, optional
        Default: the kernel's current session.
    exercise : Exercise or str, optional
        The exercise being worked on (the tutor follows its policy).
    agent : str, optional
        Start with this agent selected instead of the router's choice.

    Attributes
    ----------
    messages : list of dict
        The conversation: ``{"role": "learner", "text"}`` and tutor entries (see
        :func:`reply_record`).
    """

    def __init__(
        self,
        *,
        session: LearnerSession | None = None,
        exercise: Exercise | str | None = None,
        agent: str | None = None,
    ) -> None:
        super().__init__()
        self.session = session or current_session()
        self.exercise = (
            None if exercise is None else resolve_exercise(exercise, self.session.course)
        )
        self.messages: list[dict[str, Any]] = []
        self.conversation = widgets.HTML()
        self.question = widgets.Text(
            placeholder="Ask the tutor (e.g. why does range(5) stop at 4?)",
            layout=widgets.Layout(width="70%"),
            continuous_update=False,
        )
        self.agent_menu = widgets.Dropdown(options=self._agent_options(), value=agent or AUTO_AGENT)
        self.send_button = widgets.Button(description="Ask", button_style="primary")
        self.send_button.on_click(lambda _: self._send_typed())
        self.question.observe(lambda change: self._send_typed(), names="value")
        self.suggestions = widgets.HBox()
        self.suggestions.add_class(SUGGESTIONS_CLASS)  # what a page (or a test) finds them by
        self.children = [
            self.conversation,
            self.suggestions,
            widgets.HBox([self.question, self.agent_menu, self.send_button]),
            self.status,
        ]
        if self.exercise is not None and not self.exercise.policy.tutor_enabled:
            self._disable("The tutor is turned off for this exercise by your instructor.")

    def _agent_options(self) -> list[tuple[str, str]]:
        try:
            return agent_choices()
        except Exception:  # the tutor agents are optional for the rest of the widget
            return [("Let the tutor choose", AUTO_AGENT)]

    def _disable(self, why: str) -> None:
        self.question.disabled = self.send_button.disabled = True
        self.status.value = coloured(why, "info")

    def _send_typed(self) -> None:
        text = self.question.value.strip()
        if text:
            self.question.value = ""
            self.ask(text)

    @guarded("reach the tutor")
    def ask(self, message: str, **context: Any) -> Any:
        """Send ``message`` (with optional ``code=``/``error=`` context); show and return the
        reply."""
        message = message.strip()
        if not message:
            return None
        self.messages.append({"role": "learner", "text": message})
        self._render()
        choice = self.agent_menu.value
        try:
            reply = ask_tutor(
                message,
                self.session,
                agent=None if choice == AUTO_AGENT else choice,
                exercise=self.exercise,
                **context,
            )
        except ValueError as error:  # the tutor refuses the message itself, e.g. too long
            self.show_problem(f"The tutor could not take that message: {error}.")
            return None
        self.messages.append(reply_record(reply))
        self.status.value = ""
        self._render()
        return reply

    def _render(self) -> None:
        parts = []
        for entry in self.messages[-SHOWN_MESSAGES:]:
            if entry["role"] == "learner":
                parts.append(f"<p><b>You:</b> {html.escape(entry['text'])}</p>")
                continue
            sources = "".join(f"<li>{html.escape(s)}</li>" for s in entry["sources"])
            parts.append(
                f"<div><b>Tutor</b> <i>({html.escape(entry['agent'])}, confidence "
                f"{entry['confidence']:.0%})</i>{markdown_html(entry['text'])}"
                + (f"Sources:<ul>{sources}</ul>" if sources else "")
                + "</div>"
            )
        self.conversation.value = "".join(parts)
        self._render_suggestions()

    def _render_suggestions(self) -> None:
        last = self.messages[-1] if self.messages else None
        actions: Sequence[str] = last.get("actions", ()) if last else ()
        buttons = []
        for action in list(actions)[:MAX_SUGGESTIONS]:
            button = widgets.Button(
                description=action[:SUGGESTION_CHARS],
                tooltip=action,
                layout=widgets.Layout(width="auto"),
            )
            button.on_click(lambda _, text=action: self.ask(text))
            buttons.append(button)
        self.suggestions.children = buttons

    def as_text(self) -> str:
        lines = ["Tutor chat" + (f" — exercise {self.exercise.id}" if self.exercise else "")]
        for entry in self.messages[-SHOWN_MESSAGES:]:
            if entry["role"] == "learner":
                lines.append(f"You: {entry['text']}")
            else:
                lines.append(format_reply_text(entry))
        if not self.messages:
            lines.append("Ask with %tutor <your question>.")
        if self.problem:
            lines.append(self.problem)
        return "\n".join(lines)
