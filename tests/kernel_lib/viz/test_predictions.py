"""Model outputs reshaped for panels: the at-risk table, peer ranking, cluster points."""

from __future__ import annotations

import polars as pl

from learnpulse.analytics.predictions import DEFAULT_DROPOUT_RISK
from learnpulse.models import RuleSettings
from learnpulse.viz import predictions


def test_risk_table_lists_enrolled_learners_riskiest_first_with_reasons(outputs):
    table = predictions.risk_table(outputs)
    assert table.height == outputs["retention_risk"].height
    enrolled = table.filter(pl.col("status") == "enrolled")
    risks = enrolled["retention_risk"].drop_nulls().to_list()
    assert risks == sorted(risks, reverse=True) and len(risks) > 0
    assert table["status"].to_list() == sorted(table["status"])  # withdrawn ones last
    withdrawn = table.filter(pl.col("status") == "withdrawn")
    assert withdrawn.height > 0 and (withdrawn["retention_risk"] == 1.0).all()
    assert table["reason"].str.len_chars().min() > 0
    success = outputs["success"].select("learner_id", pl.col("value").alias("expected"))
    joined = table.join(success, on="learner_id")
    assert (joined["success_probability"] == joined["expected"]).all()


def test_at_risk_count_counts_enrolled_learners_at_or_over_the_threshold(outputs):
    table = predictions.risk_table(outputs).filter(pl.col("status") == "enrolled")
    expected = (table["retention_risk"] >= RuleSettings().dropout_risk).sum()
    assert predictions.at_risk_count(outputs) == expected
    assert predictions.at_risk_count({}) is None
    # rows from before predict_all marked at_risk: the default threshold, enrolled only
    unmarked = {**outputs, "retention_risk": outputs["retention_risk"].drop("at_risk")}
    assert predictions.at_risk_count(unmarked) == expected
    assert RuleSettings().dropout_risk == DEFAULT_DROPOUT_RISK


def test_peer_ranking_orders_learners_by_score(outputs):
    ranking = predictions.peer_ranking(outputs)
    assert ranking.height == outputs["peers"].height
    assert ranking["rank"].to_list() == sorted(ranking["rank"])
    scores = ranking["score"].to_list()
    assert scores[0] == max(scores) and scores[-1] == min(scores)
    assert predictions.peer_ranking({}) is None


def test_cluster_points_place_every_clustered_learner(outputs):
    points = predictions.cluster_points(outputs)
    assert points.height == outputs["clusters"].height
    assert set(points["cluster"]) == set(outputs["clusters"]["cluster"])
    assert points["accuracy"].drop_nulls().is_between(0, 100).all()


def test_withdrawn_rows_are_recognised_by_predict_alls_reason():
    """The at-risk counts skip learners who withdrew by the reason predict_all gives them."""
    from learnpulse.analytics.predictions import WITHDRAWN_REASON_PREFIX
    from learnpulse.models.course import _WITHDRAWN_REASON

    assert _WITHDRAWN_REASON.startswith(WITHDRAWN_REASON_PREFIX)


def test_risk_table_of_a_course_without_learners_is_empty_with_its_columns():
    from learnpulse.events import EVENT_FRAME_SCHEMA

    empty = predictions.course_predictions(pl.DataFrame(schema=EVENT_FRAME_SCHEMA))
    table = predictions.risk_table(empty)
    assert table.is_empty() and table.schema == predictions.RISK_TABLE_SCHEMA
    # through the API an empty model output has only learner_id
    from_api = {"retention_risk": pl.DataFrame(schema={"learner_id": pl.String})}
    assert predictions.risk_table(from_api).schema == predictions.RISK_TABLE_SCHEMA
