"""What every tutor agent shares: replies, sources, the conversation context, the agent contract.

An agent turns a learner's message and its :class:`TutorContext` into a :class:`Draft`: the
offline answer (text, sources, confidence, suggested actions) plus the notes an LLM engine may
rephrase. :mod:`learnpulse.agents.tutor` runs the engine and the guardrails over the draft and
returns a :class:`TutorReply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import polars as pl

if TYPE_CHECKING:
    from learnpulse.agents.errors import ErrorInfo
    from learnpulse.course import Course, Exercise


@dataclass(frozen=True)
class Source:
    """Where (part of) an answer came from.

    Parameters
    ----------
    id : str
        Stable reference, e.g. ``"course:loops#While loops"``, ``"pydoc:for"``,
        ``"exercise:ex-lists-01/explanation"``, ``"analysis:pyflakes"``, ``"model:mastery"``.
    title : str
        Human-readable name of the source.
    """

    id: str
    title: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title}


@dataclass(frozen=True)
class TutorReply:
    """One tutor answer.

    Parameters
    ----------
    text : str
        Markdown answer, after the guardrails.
    agent : str
        Name of the agent that answered (``"assistant"``, ``"reviewer"``, ...).
    sources : tuple of Source
    confidence : float
        0..1: how sure the agent is that the answer fits the question.
    actions : tuple of str
        Suggested follow-ups the learner can click or type.
    engine : str
        Which engine wrote the text (``"offline"``, ``"openai:<model>"``, or a fallback note).
    redactions : int
        How many code blocks the guardrails removed (solution leaks or policy).
    hint_level : int or None
        With an exercise in context and a hint asked for: the hints of its ladder opened so
        far, this reply's included (the exercise widget's Hint button goes on from there);
        None otherwise.
    """

    text: str
    agent: str
    sources: tuple[Source, ...] = ()
    confidence: float = 0.5
    actions: tuple[str, ...] = ()
    engine: str = "offline"
    redactions: int = 0
    hint_level: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of ``POST tutor/chat``."""
        return {
            "text": self.text,
            "agent": self.agent,
            "sources": [s.to_dict() for s in self.sources],
            "confidence": round(float(self.confidence), 3),
            "actions": list(self.actions),
            "engine": self.engine,
            "hint_level": self.hint_level,
        }


@dataclass(frozen=True)
class Draft:
    """An agent's offline answer, before engine and guardrails.

    ``notes`` are facts (retrieved passages, analysis findings) an LLM engine may use; they
    never contain a reference solution.
    """

    text: str
    sources: tuple[Source, ...] = ()
    confidence: float = 0.5
    actions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class TutorContext:
    """Everything an agent may use to answer one message.

    Parameters
    ----------
    learner_id : str
    course : Course or None
    exercise : Exercise or None
        The exercise the learner is working on.
    history : list of dict
        Earlier messages, oldest first: ``{"role": "learner"|"tutor", "text", "agent", ...}``
        (see :func:`learnpulse.agents.learner.history`; hints opened and answers checked are
        learner entries too).
    mastery : polars.DataFrame
        The learner's mastery rows (``skill``, ``p_known``, ``label``, ...); empty if unknown.
    events : polars.DataFrame
        The learner's events (event frame); empty if there is no store.
    code : str or None
        Code the learner asks about (a cell, a function), if any.
    error : BaseException, ErrorInfo or None
        The learner's last exception, if any (an ErrorInfo when it was read back from the
        conversation or a pasted traceback).
    hints_used : int
        Hints of ``exercise``'s ladder the learner has already opened.
    follows : dict or None
        The entry of ``history`` this message follows up ("why?" after ``%explain``, "I
        don't understand this hint" after a hint, "why?" after an answer was checked), as
        :func:`learnpulse.agents.conversation.followed_up` finds it; None for a question of
        its own.
    """

    learner_id: str
    course: Course | None = None
    exercise: Exercise | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    mastery: pl.DataFrame = field(default_factory=pl.DataFrame)
    events: pl.DataFrame = field(default_factory=pl.DataFrame)
    code: str | None = None
    error: BaseException | ErrorInfo | None = None
    hints_used: int = 0
    follows: dict[str, Any] | None = None

    def p_known(self, skill: str) -> float | None:
        """The learner's P(known) of ``skill``, or None without evidence."""
        if self.mastery.is_empty() or "skill" not in self.mastery.columns:
            return None
        rows = self.mastery.filter(pl.col("skill") == skill)
        return None if rows.is_empty() else float(rows.get_column("p_known")[0])


@runtime_checkable
class Agent(Protocol):
    """A tutor agent. Register third-party agents in the ``learnpulse.agents`` entry-point group.

    Attributes
    ----------
    name : str
        Short id used by the router and the API (``"assistant"``).
    title : str
        Shown to learners (``"Learning assistant"``).
    description : str
        One sentence: what to ask this agent.
    keywords : tuple of str
        Regular expressions (matched from a word start, on the lower-cased message) that make
        the router pick this agent.
    """

    name: str
    title: str
    description: str
    keywords: tuple[str, ...]

    def draft(self, message: str, context: TutorContext) -> Draft:
        """The offline answer to ``message`` in ``context``."""
        ...
