"""Training analytics over real (small) torch runs logged to a store."""

from __future__ import annotations

import holoviews as hv
import panel as pn
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


def _x_labels(element) -> set[str]:
    return {part.kdims[0].label for part in element}


def test_curves_of_runs_logged_per_epoch_are_drawn_over_epochs(store, tmp_path):
    """The example runs log once per epoch: their x axis said "Step"."""
    dashboard = TrainingDashboard(DirectSource(store=store))
    for panel in (dashboard.loss, dashboard.lr, dashboard.accuracy):
        assert _x_labels(panel.element) == {"Epoch"}, panel.title
    (marker,) = [part for part in dashboard.loss.element if isinstance(part, hv.Scatter)]
    assert marker.kdims[0].name == "epoch"
    from learnpulse.collectors.training import TrainingRun
    from learnpulse.store import EventStore

    with EventStore(f"sqlite:///{tmp_path / 'batches.db'}") as batches:
        with TrainingRun("per-batch", store=batches) as run:
            for step in range(6):  # three logs per epoch: drawn over the steps
                run.log(epoch=step // 3, step=step, loss=1 / (step + 1))
        per_batch = TrainingDashboard(DirectSource(store=batches))
    assert _x_labels(per_batch.loss.element) == {"Step"}


def test_comparing_one_run_redraws_the_curves(store):
    dashboard = TrainingDashboard(DirectSource(store=store))
    small = dashboard.runs.table.filter(dashboard.runs.table["overfitting"].not_())["run_id"][0]
    dashboard.compared = [small]
    curves = [p for p in dashboard.loss.element if isinstance(p, hv.Curve)]
    assert len(curves) == 2
    assert not any(isinstance(p, hv.Scatter) for p in dashboard.loss.element)


def test_runs_sharing_a_name_are_drawn_and_picked_apart(tmp_path):
    """Running a notebook twice logs two runs of one name: their points were joined into
    one zigzag curve per metric, and the picker listed bare run ids."""
    from learnpulse.collectors.training import TrainingRun
    from learnpulse.store import EventStore

    with EventStore(f"sqlite:///{tmp_path / 'runs.db'}") as store:
        for offset in (0.0, 1.0):
            with TrainingRun("dkt", store=store) as run:
                for step in range(4):
                    run.log(step=step, loss=offset + 1 / (step + 1))
        dashboard = TrainingDashboard(DirectSource(store=store))
    curves = [part for part in dashboard.loss.element if isinstance(part, hv.Curve)]
    assert sorted(len(curve) for curve in curves) == [4, 4]
    labels = {curve.label for curve in curves}
    assert len(labels) == 2 and all(label.startswith("dkt (") for label in labels)
    assert sorted(dashboard.param.compared.objects) == sorted(dashboard.compared)
    picker = pn.widgets.MultiChoice.from_param(dashboard.param.compared)
    assert all(name.startswith("dkt (") for name in picker.options)


def test_a_run_deleted_since_the_list_was_read_is_named_not_fatal(store, monkeypatch):
    dashboard = TrainingDashboard(DirectSource(store=store))
    table = dashboard.runs.table
    kept, deleted = table["run_id"].to_list()
    real = dashboard.source.training_run

    def training_run(run_id):
        if run_id == deleted:
            raise KeyError(f"no training run {run_id!r}")  # as DirectSource after a delete
        return real(run_id)

    monkeypatch.setattr(dashboard.source, "training_run", training_run)
    dashboard.compared = [deleted, kept]  # raised in the watcher: the charts kept old runs
    curves = [p for p in dashboard.loss.element if isinstance(p, hv.Curve)]
    assert len(curves) == 2  # the kept run's loss and val_loss
    name = table.filter(table["run_id"] == deleted)["name"][0]
    assert "No longer stored" in dashboard._status.object
    assert name.replace("-", "\\-") in dashboard._status.object
    dashboard.compared = [kept]
    assert dashboard._status.object == ""
