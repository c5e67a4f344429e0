"""The agents: the five built in, plus any registered in the ``learnpulse.agents`` entry points.

A package adds an agent (any object following :class:`learnpulse.agents.base.Agent`) in its
``pyproject.toml``::

    [project.entry-points."learnpulse.agents"]
    socratic = "my_pkg.tutor:SocraticAgent"
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from learnpulse.agents.assistant import LearningAssistant
from learnpulse.agents.base import Agent
from learnpulse.agents.coach import MentorCoach
from learnpulse.agents.explorer import KnowledgeExplorer
from learnpulse.agents.generator import ContentGenerator
from learnpulse.agents.reviewer import CodeReviewer

ENTRY_POINT_GROUP = "learnpulse.agents"
BUILTIN_AGENTS: tuple[type, ...] = (
    LearningAssistant,
    CodeReviewer,
    ContentGenerator,
    KnowledgeExplorer,
    MentorCoach,
)


@lru_cache(maxsize=1)
def available_agents() -> dict[str, Agent]:
    """Agent name -> agent instance: the built-in five, then entry-point agents by name.

    Raises
    ------
    TypeError
        If an entry point's object does not follow the :class:`Agent` protocol (named).
    """
    agents: dict[str, Agent] = {cls.name: cls() for cls in BUILTIN_AGENTS}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = point.load()
        agent = loaded() if isinstance(loaded, type) else loaded
        if not isinstance(agent, Agent):
            raise TypeError(
                f"entry point {point.name!r} in {ENTRY_POINT_GROUP!r} ({point.value}) is not "
                "a tutor agent: it needs name, title, description, keywords and draft()"
            )
        agents.setdefault(agent.name, agent)
    return agents


def describe_agents() -> list[dict[str, str]]:
    """``[{"name", "title", "description"}]`` of every agent (for ``GET tutor/agents``)."""
    return [
        {"name": a.name, "title": a.title, "description": a.description}
        for a in available_agents().values()
    ]
