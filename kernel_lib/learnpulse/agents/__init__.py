"""The in-notebook tutor: five agents, a router, retrieval, engines and guardrails.

>>> from learnpulse.agents import ask
>>> reply = ask("what does range(5) give?", learner_id="ada")  # doctest: +SKIP
>>> reply.agent, [s.id for s in reply.sources]  # doctest: +SKIP
('assistant', ['course:loops#range', ...])

Agents: ``assistant`` (learning assistant), ``reviewer`` (code review and error explainer),
``generator`` (new practice exercises), ``explorer`` (paths, prerequisites, concept map,
revision), ``coach`` (study plan, streaks, motivation). Third-party agents register in the
``learnpulse.agents`` entry-point group (:mod:`learnpulse.agents.registry`).
"""

from learnpulse.agents.base import Agent, Draft, Source, TutorContext, TutorReply
from learnpulse.agents.engines import (
    EngineError,
    LocalChatEngine,
    OfflineEngine,
    OpenAIChatEngine,
    engine_from_env,
)
from learnpulse.agents.errors import explain_error
from learnpulse.agents.generator import generate_exercise, generated_exercise
from learnpulse.agents.registry import ENTRY_POINT_GROUP, available_agents, describe_agents
from learnpulse.agents.review import review_code
from learnpulse.agents.tutor import TutorStream, ask, ask_stream

__all__ = [
    "ENTRY_POINT_GROUP",
    "Agent",
    "Draft",
    "EngineError",
    "LocalChatEngine",
    "OfflineEngine",
    "OpenAIChatEngine",
    "Source",
    "TutorContext",
    "TutorReply",
    "TutorStream",
    "ask",
    "ask_stream",
    "available_agents",
    "describe_agents",
    "engine_from_env",
    "explain_error",
    "generate_exercise",
    "generated_exercise",
    "review_code",
]
