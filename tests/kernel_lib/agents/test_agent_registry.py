"""Agent plugins: a broken one is left out with a warning naming it, the tutor keeps working."""

from __future__ import annotations

import pytest

from learnpulse.agents import ask, available_agents, describe_agents

AGENTS = """
from learnpulse.agents import Draft


class Echo:
    name = "echo"
    title = "Echo"
    description = "Repeats the question."
    keywords = ("echo",)

    def draft(self, message, context):
        return Draft(f"You said: {message}", (), 1.0)


class Impostor(Echo):
    name = "assistant"


class BadKeyword(Echo):
    name = "bad-keyword"
    keywords = ("(unclosed",)


class KeywordString(Echo):
    name = "keyword-string"
    keywords = "zz"


class NoDraft:
    name = "no-draft"
"""
BUILT_IN = {"assistant", "reviewer", "generator", "explorer", "coach"}


@pytest.mark.parametrize(
    ("point", "why"),
    [
        ("broken = lp_plugin_missing:Agent", "ModuleNotFoundError: No module named"),
        ("gone = lp_plugin:Gone", "AttributeError"),
        ("no-draft = lp_plugin:NoDraft", "not a tutor agent"),
        ("bad-keyword = lp_plugin:BadKeyword", "keyword '\\(unclosed' is not a regular"),
        ("keyword-string = lp_plugin:KeywordString", "keywords must be a tuple"),
        ("impostor = lp_plugin:Impostor", "name 'assistant' is taken by learnpulse.agents"),
    ],
)
def test_a_broken_plugin_is_named_and_left_out(agent_plugin, course, point, why):
    agent_plugin(AGENTS, f"{point}\necho = lp_plugin:Echo")
    name = point.split(" =")[0]
    with pytest.warns(UserWarning, match=rf"tutor agent '{name}' .* left out: .*{why}"):
        agents = available_agents()
    assert set(agents) == BUILT_IN | {"echo"}
    assert type(agents["assistant"]).__module__ == "learnpulse.agents.assistant"
    assert {a["name"] for a in describe_agents()} == BUILT_IN | {"echo"}
    assert ask("what is a list in python?", learner_id="ada", course=course).agent == "assistant"
    assert ask("echo this", learner_id="ada", course=course).agent == "echo"


def test_a_plugin_that_raises_on_import_is_left_out(agent_plugin, course):
    agent_plugin("raise RuntimeError('needs a GPU')\n", "gpu = lp_plugin:Agent")
    with pytest.warns(UserWarning, match="tutor agent 'gpu' .* RuntimeError: needs a GPU"):
        assert set(available_agents()) == BUILT_IN
    assert ask("what is a list in python?", learner_id="ada", course=course).agent == "assistant"
