"""The agents: the five built in, plus any registered in the ``learnpulse.agents`` entry points.

A package adds an agent (any object following :class:`learnpulse.agents.base.Agent`) in its
``pyproject.toml``::

    [project.entry-points."learnpulse.agents"]
    socratic = "my_pkg.tutor:SocraticAgent"

A plugin that cannot be used (its import fails, its entry point names nothing, its object is
not an agent, a keyword is not a regular expression) or that takes a name already in use is
left out with a warning naming it: the tutor keeps working with the other agents.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

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

    An entry point that does not give a usable agent, or whose agent's name is taken, is left
    out with a warning naming it (see the module's docstring).
    """
    agents: dict[str, Agent] = {cls.name: cls() for cls in BUILTIN_AGENTS}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            agent = _load(point)
        except Exception as error:  # a broken plugin must not take the tutor down with it
            _skip(point, f"{type(error).__name__}: {error}")
            continue
        if type(agent) in BUILTIN_AGENTS:  # learnpulse's own entry points
            continue
        if agent.name in agents:
            taken = type(agents[agent.name])
            _skip(point, f"its name {agent.name!r} is taken by {taken.__module__}.{taken.__name__}")
            continue
        agents[agent.name] = agent
    return agents


def _load(point: EntryPoint) -> Agent:
    """The agent an entry point names (an instance, or a class instantiated with no argument).

    Raises
    ------
    TypeError
        If it does not follow the :class:`Agent` protocol or its keywords are not regular
        expressions.
    """
    loaded = point.load()
    agent = loaded() if isinstance(loaded, type) else loaded
    if not isinstance(agent, Agent) or not isinstance(agent.name, str) or not agent.name:
        raise TypeError(
            "not a tutor agent: it needs a name, title, description, keywords and draft()"
        )
    if isinstance(agent.keywords, str) or not all(isinstance(k, str) for k in agent.keywords):
        raise TypeError("keywords must be a tuple of regular expressions (strings)")
    for keyword in agent.keywords:
        try:
            re.compile(rf"\b{keyword}")
        except re.error as error:
            raise TypeError(f"keyword {keyword!r} is not a regular expression: {error}") from None
    return agent


def _skip(point: EntryPoint, why: str) -> None:
    warnings.warn(
        f"learnpulse: tutor agent {point.name!r} of {ENTRY_POINT_GROUP!r} ({point.value}) "
        f"left out: {why}",
        stacklevel=3,
    )


def describe_agents() -> list[dict[str, str]]:
    """``[{"name", "title", "description"}]`` of every agent (for ``GET tutor/agents``)."""
    return [
        {"name": a.name, "title": a.title, "description": a.description}
        for a in available_agents().values()
    ]
