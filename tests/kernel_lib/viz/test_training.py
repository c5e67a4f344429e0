"""Training analytics over real (small) torch runs logged to a store."""

from __future__ import annotations

import holoviews as hv
import pytest

from learnpulse.viz import charts
from learnpulse.viz.sources import DirectSource
from learnpulse.viz.training import TrainingDashboard

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from learnpulse.store import EventStore
    from learnpulse.viz.examples import log_example_runs

    path = tmp_path_factory.mktemp("training") / "runs.db"
    with EventStore(f"sqlite:///{path}") as store:
        log_example_runs(store)
        yield store


def test_runs_curves_and_overfitting_markers(store):
    dashboard = TrainingDashboard(DirectSource(store=store))
    runs = dashboard.runs.table
    assert runs.height == 2
    verdicts = dict(zip(runs["name"], runs["overfitting"], strict=True))
    assert verdicts == {"mlp-wide-overfitting": True, "mlp-small-regularised": False}
    loss = dashboard.loss.element
    assert sum(isinstance(part, hv.Curve) for part in loss) == 4  # loss and val_loss per run
    assert any(isinstance(part, hv.Scatter) for part in loss)  # the overfitting marker
    for panel in (dashboard.lr, dashboard.accuracy):
        assert not charts.is_empty(panel.element)


def test_comparing_one_run_redraws_the_curves(store):
    dashboard = TrainingDashboard(DirectSource(store=store))
    small = dashboard.runs.table.filter(dashboard.runs.table["overfitting"].not_())["run_id"][0]
    dashboard.compared = [small]
    curves = [p for p in dashboard.loss.element if isinstance(p, hv.Curve)]
    assert len(curves) == 2
    assert not any(isinstance(p, hv.Scatter) for p in dashboard.loss.element)
