"""Training runs: a real torch loop stored as a time series, overfitting detection, summaries."""

from __future__ import annotations

import polars as pl
import pytest

import learnpulse
from learnpulse.collectors.training import (
    OverfittingConfig,
    detect_overfitting,
    run_detail,
    run_summaries,
)
from learnpulse.store import EventStore


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'runs.db'}"


def _overfitting_torch_run(url: str) -> tuple[str, list[dict]]:
    """A wide MLP memorising 12 noisy points: validation loss turns up while training falls."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x_train = torch.linspace(-1, 1, 12).unsqueeze(1)
    x_val = torch.linspace(-1, 1, 200).unsqueeze(1)
    y_train = torch.sin(3 * x_train) + 0.4 * torch.randn_like(x_train)
    y_val = torch.sin(3 * x_val)
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 128),
        torch.nn.Tanh(),
        torch.nn.Linear(128, 128),
        torch.nn.Tanh(),
        torch.nn.Linear(128, 1),
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    logged = []
    with learnpulse.track_training("sine-mlp", store=url, params={"width": 128}) as run:
        for epoch in range(200):
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x_train), y_train)
            loss.backward()
            optimiser.step()
            if epoch % 10 == 9:
                with torch.no_grad():
                    val_loss = torch.nn.functional.mse_loss(model(x_val), y_val)
                point = {
                    "epoch": epoch,
                    "step": epoch + 1,
                    "loss": loss.detach(),
                    "val_loss": val_loss,
                    "lr": optimiser.param_groups[0]["lr"],
                }
                run.log(**point)
                logged.append({k: float(v) for k, v in point.items()})
    return run.run_id, logged


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: extra torch threads only spin on a shared machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_a_torch_training_loop_is_stored_and_its_overfitting_detected(url, one_torch_thread):
    run_id, logged = _overfitting_torch_run(url)
    with EventStore(url) as store:
        metrics = store.training_metrics(run_id)
        runs = store.training_runs()
        detail = run_detail(store, run_id)
    assert metrics["loss"].to_list() == pytest.approx([p["loss"] for p in logged])
    assert metrics["val_loss"].to_list() == pytest.approx([p["val_loss"] for p in logged])
    assert metrics["step"].to_list() == [int(p["step"]) for p in logged]
    assert runs.row(0, named=True)["status"] == "finished"
    best = min(logged, key=lambda p: p["val_loss"])
    assert detail["best_val_loss"]["step"] == int(best["step"])
    assert detail["params"] == {"width": 128}
    assert len(detail["metrics"]) == len(logged)
    verdict = detail["overfitting"]
    assert verdict["overfitting"], verdict["reason"]
    assert verdict["since_step"] == int(best["step"])
    assert 0 < verdict["confidence"] <= 1 and verdict["model"] == "loss-trend"


def _frame(loss: list[float], val_loss: list[float]) -> pl.DataFrame:
    n = len(loss)
    return pl.DataFrame(
        {"seq": range(n), "epoch": range(n), "step": range(n), "loss": loss, "val_loss": val_loss}
    )


def test_overfitting_needs_validation_rising_while_training_falls():
    falling = [1.0, 0.8, 0.6, 0.5, 0.45, 0.4]
    both_fall = detect_overfitting(_frame(falling, [1.1, 0.9, 0.7, 0.6, 0.55, 0.5]))
    diverge = detect_overfitting(_frame(falling, [0.9, 0.7, 0.72, 0.75, 0.8, 0.86]))
    both_rise = detect_overfitting(_frame(falling[::-1], [0.9, 0.7, 0.72, 0.75, 0.8, 0.86]))
    too_short = detect_overfitting(_frame(falling[:3], [0.5, 0.6, 0.7]))
    assert not both_fall["overfitting"] and not both_rise["overfitting"]
    assert diverge["overfitting"] and diverge["since_step"] == 1
    assert "rose" in diverge["reason"]
    assert not too_short["overfitting"] and "needed" in too_short["reason"]
    wide = detect_overfitting(
        _frame(falling, [0.9, 0.7, 0.72, 0.75, 0.8, 0.86]), OverfittingConfig(window=10)
    )
    assert not wide["overfitting"]


def test_the_overfitting_reason_names_the_point_in_the_charts_unit():
    """The training dashboard draws a run logged once per epoch over epochs ("Epoch" axis),
    while its reason said "best validation loss at step 200": no such point on the chart."""
    val_loss = [0.9, 0.7, 0.72, 0.75, 0.8, 0.86]
    per_epoch = _frame([1.0, 0.8, 0.6, 0.5, 0.45, 0.4], val_loss).with_columns(
        pl.col("step") * 100 + 100  # steps 100, 200, ...: epochs 0, 1, ...
    )
    verdict = detect_overfitting(per_epoch)
    assert verdict["reason"].endswith("best validation loss at epoch 1")
    assert verdict["since_step"] == 200  # still the step: where the checkpoint is
    per_batch = per_epoch.with_columns(pl.col("epoch") // 3)  # three logs per epoch
    assert detect_overfitting(per_batch)["reason"].endswith("best validation loss at step 200")
    no_epoch = per_epoch.with_columns(pl.lit(None, pl.Int64).alias("epoch"))
    assert detect_overfitting(no_epoch)["reason"].endswith("at step 200")


def test_a_failing_loop_marks_the_run_failed_and_keeps_its_points(url, monkeypatch):
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", "ada")
    with pytest.raises(RuntimeError), learnpulse.track_training("crash", store=url) as run:
        run.log(step=1, loss=1.0)
        run.log(step=2, loss=float("nan"), grad_norm=3.5)
        raise RuntimeError("boom")
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", "bob")
    with learnpulse.track_training("other", store=url) as other:
        other.log(step=1, loss=0.5, accuracy=0.7)
    with EventStore(url) as store:
        ada = run_summaries(store, learners=["ada"])
        everyone = run_summaries(store)
        metrics = store.training_metrics(run.run_id)
    assert [s["run_id"] for s in ada] == [run.run_id]
    assert ada[0]["status"] == "failed" and ada[0]["n_logs"] == 2
    assert {s["learner_id"] for s in everyone} == {"ada", "bob"}
    assert metrics["loss"].to_list() == [1.0, None]
    assert '"non_finite": ["loss"]' in metrics["extra"][1] and "grad_norm" in metrics["extra"][1]


def test_log_rejects_non_numbers_naming_the_field(url):
    with learnpulse.track_training("typo", store=url) as run, pytest.raises(TypeError, match="lr"):
        run.log(lr="0.1")


def test_the_non_finite_key_is_not_a_metric_name(url):
    # run.log(non_finite=1.0) was stored, then replaced by the list of non-finite metrics
    with learnpulse.track_training("clash", store=url) as run:
        with pytest.raises(ValueError, match="'non_finite' is reserved"):
            run.log(step=0, non_finite=1.0)
        run.log(step=1, loss=0.5)  # the run goes on


def test_an_epoch_or_step_beyond_64_bits_is_refused_when_logged(url):
    """A step of 2**70 was accepted, then every flush failed (the store's integers are 64-bit):
    no later point of the run was stored and its summary raised. Steps near 2**63 overflowed
    too, passed through a float on their way to the store."""
    config = learnpulse.collectors.training.TrainingConfig(flush_every=2)
    with learnpulse.track_training("huge", store=url, config=config) as run:
        for name in ("step", "epoch"):
            with pytest.raises(ValueError, match=name):
                run.log(**{name: 2**70}, loss=1.0)
        for step in range(4):
            run.log(epoch=2**31 - 1, step=2**63 - 1 - step, loss=1.0 / (step + 1))
        assert run.summary()["n_logs"] == 4
    with EventStore(url) as store:
        stored = store.training_metrics(run.run_id)
    assert stored["step"].to_list() == [2**63 - 1 - step for step in range(4)]
    assert stored["epoch"].unique().to_list() == [2**31 - 1]


def test_a_learners_runs_can_be_erased(url, monkeypatch):
    for learner in ("ada", "bob"):
        monkeypatch.setenv("LEARNPULSE_LEARNER_ID", learner)
        with learnpulse.track_training("run", store=url) as run:
            run.log(step=1, loss=1.0)
            run.log(step=2, loss=0.5)
    with EventStore(url) as store:
        assert store.forget_training_runs("ada") == {"training_runs": 1, "training_metrics": 2}
        assert store.training_runs()["learner_id"].to_list() == ["bob"]
        assert store.training_metrics(run.run_id).height == 2
        assert store.forget_training_runs("ada") == {"training_runs": 0, "training_metrics": 0}


def test_an_unreachable_store_never_stops_training(switchable_store):
    switchable_store.block()
    with learnpulse.track_training("offline", store=switchable_store.url) as run:
        for step in range(3):
            run.log(step=step, loss=1.0 / (step + 1))
    assert run.summary()["n_logs"] == 3 and run.status == "finished"
    assert run.flush() is False
    switchable_store.unblock()
    assert run.flush() is True
    with EventStore(switchable_store.url) as store:
        assert store.training_metrics(run.run_id)["loss"].to_list() == [1.0, 0.5, 1 / 3]
        assert store.training_runs()["status"].to_list() == ["finished"]


def test_a_failing_server_is_not_asked_again_at_every_flush():
    """The loop's flushes wait after a failed write (a hanging server held the loop for its
    timeout at each one); ``run.flush()`` and the run's end still try."""
    import http.server
    import threading

    from learnpulse.collectors.server_store import ServerStore

    requests: list[str] = []

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            requests.append(self.path)
            self.send_error(503, "down for maintenance")

        do_PUT = do_POST = do_GET = _refuse

        def log_message(self, *args) -> None:  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = ServerStore(f"http://127.0.0.1:{server.server_port}/", "token", timeout_s=5)
        run = learnpulse.track_training("down", store=store)
        opened = len(requests)  # the run's own record, refused
        for step in range(200):  # 4 flushes' worth (flush_every 50)
            run.log(step=step, loss=1.0)
        assert len(requests) == opened  # within the wait: not asked again
        assert run.flush() is False and len(requests) > opened  # asked for: tried
        tried = len(requests)
        run.close()
        assert len(requests) > tried  # the end of the run tries too
        assert run.summary()["n_logs"] == 200
    finally:
        server.shutdown()
