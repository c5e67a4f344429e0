"""Real training runs to look at: small torch models predicting withdrawal on a simulated course.

The training analytics dashboard needs runs; these are genuine ones (not synthetic curves):
a multilayer perceptron learns, from the learner features of the first weeks, who withdraws.
A small, regularised network generalises; a wide one trained long on few learners overfits,
so the overfitting detector has something to find. Used by the demo, tests and notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from learnpulse.collectors.training import track_training
from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.features import FEATURE_COLUMNS, learner_features


@dataclass(frozen=True)
class ExampleRun:
    """One example run's settings: width of the hidden layer, epochs, weight decay, learning
    rate, and the share of learners used for training (the rest validate)."""

    name: str
    hidden: int
    epochs: int
    weight_decay: float
    lr: float
    train_share: float


#: The runs :func:`log_example_runs` trains by default.
EXAMPLE_RUNS = (
    ExampleRun(
        "mlp-small-regularised", hidden=8, epochs=30, weight_decay=1e-2, lr=0.01, train_share=0.7
    ),
    ExampleRun(
        "mlp-wide-overfitting", hidden=512, epochs=25, weight_decay=0.0, lr=0.02, train_share=0.1
    ),
)
#: Learning rate multiplier per epoch (exponential decay).
LR_DECAY = 0.98
#: Learners and weeks of the simulated course the runs learn from.
EXAMPLE_LEARNERS, EXAMPLE_WEEKS = 400, 12
#: Weeks of activity the features cover (the prediction is made after them).
FEATURE_WEEKS = 4


def withdrawal_dataset(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardised learner features after :data:`FEATURE_WEEKS` weeks, shape (n, n_features),
    and whether each learner later withdrew, shape (n,)."""
    course = simulate_course(
        SimulationConfig(n_learners=EXAMPLE_LEARNERS, weeks=EXAMPLE_WEEKS, seed=seed)
    )
    cutoff = course.events["ts"].min() + timedelta(weeks=FEATURE_WEEKS)
    features = learner_features(course.events, at=cutoff)
    outcome = course.learners.select(
        "learner_id",
        pl.col("attributes").str.json_path_match("$.final_result").alias("result"),
    )
    frame = features.join(outcome, on="learner_id")
    X = frame.select(FEATURE_COLUMNS).cast(pl.Float64).fill_null(0.0).fill_nan(0.0).to_numpy()
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    y = (frame["result"] == "Withdrawn").to_numpy().astype(np.float32)
    return X.astype(np.float32), y


def _train(run: ExampleRun, X: np.ndarray, y: np.ndarray, store: Any, seed: int) -> str:
    import torch

    torch.manual_seed(seed)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(len(y) * run.train_share)
    train, val = order[:cut], order[cut:]
    Xt, yt = torch.from_numpy(X[train]), torch.from_numpy(y[train])
    Xv, yv = torch.from_numpy(X[val]), torch.from_numpy(y[val])
    model = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], run.hidden), torch.nn.ReLU(), torch.nn.Linear(run.hidden, 1)
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=LR_DECAY)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    params = {"hidden": run.hidden, "weight_decay": run.weight_decay, "train": len(train)}
    with track_training(run.name, store=store, params=params) as tracked:
        for epoch in range(run.epochs):
            model.train()
            optimiser.zero_grad()
            loss = loss_fn(model(Xt).squeeze(1), yt)
            loss.backward()
            optimiser.step()
            model.eval()
            with torch.no_grad():
                logits = model(Xv).squeeze(1)
                val_loss = loss_fn(logits, yv)
                accuracy = ((logits > 0).float() == yv).float().mean()
            tracked.log(
                epoch=epoch,
                step=epoch,
                loss=loss.item(),
                val_loss=val_loss.item(),
                lr=schedule.get_last_lr()[0],
                val_accuracy=accuracy.item(),
            )
            schedule.step()
    return tracked.run_id


def log_example_runs(
    store: Any, runs: tuple[ExampleRun, ...] = EXAMPLE_RUNS, seed: int = 0
) -> list[str]:
    """Train each run on the withdrawal dataset, logging it to ``store``; return the run ids."""
    X, y = withdrawal_dataset(seed)
    return [_train(run, X, y, store, seed) for run in runs]
