"""The student dashboard shows one learner's own numbers, trends and plan."""

from __future__ import annotations

import pytest

from learnpulse.viz import charts
from learnpulse.viz.student import StudentDashboard, percentiles, study_plan


@pytest.fixture(scope="module")
def learner(outputs):
    active = outputs["score"].sort("n_attempts", descending=True)
    return active["learner_id"][0]


def test_cards_charts_and_plan_are_the_learners_own(source, outputs, learner):
    dashboard = StudentDashboard(source, learner_id=learner)
    cards = dashboard.cards.kpis
    assert cards["value"].null_count() == 0
    score = outputs["score"].filter(outputs["score"]["learner_id"] == learner)["value"][0]
    assert cards["value"][0] == pytest.approx(score)
    for panel in (dashboard.accuracy, dashboard.speed, dashboard.topics, dashboard.difficulty,
                  dashboard.percentile):  # fmt: skip
        assert not charts.is_empty(panel.element), panel.title
    plan = dashboard.plan.table
    mine = outputs["recommendations"].filter(outputs["recommendations"]["learner_id"] == learner)
    assert plan.height == mine.height > 0


def test_percentiles_and_plan_of_someone_else_are_not_mixed_in(outputs, learner):
    other = outputs["peers"].filter(outputs["peers"]["learner_id"] != learner)["learner_id"][0]
    assert percentiles(outputs, learner).height == 4
    theirs = study_plan(outputs, other)
    assert theirs.height == (outputs["recommendations"]["learner_id"] == other).sum()


def test_a_student_dashboard_needs_a_learner(source):
    with pytest.raises(ValueError, match="learner_id"):
        StudentDashboard(source)


def test_a_learner_id_that_is_markup_is_shown_as_text(source, markup_id, rendered):
    header = StudentDashboard(source, learner_id=markup_id)._layout[0]
    shown = rendered(header)
    assert "img" not in shown.tags and markup_id in shown.text
