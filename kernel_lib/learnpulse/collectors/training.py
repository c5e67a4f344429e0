"""Training runs: log a (torch or plain Python) training loop as a time series in the store.

>>> with learnpulse.track_training("mnist-mlp") as run:
...     for epoch in range(10):
...         run.log(epoch=epoch, step=step, loss=loss, lr=lr, val_loss=val, accuracy=acc)

Logged rows are buffered and written every :attr:`TrainingConfig.flush_every` calls and when the
run ends; after a failed write, the loop's flushes wait (:data:`RETRY_AFTER_S`).
:func:`detect_overfitting` flags validation loss rising while training loss falls;
:func:`summarise_run` gives the per-run summary the server and dashboards show.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from learnpulse.collectors import context

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported when a run starts, not with learnpulse
    from learnpulse.collectors.server_store import ServerStore
    from learnpulse.store import EventStore

log = logging.getLogger(__name__)

#: Name of the overfitting detector in its results (``model`` column).
OVERFITTING_MODEL = "loss-trend"
_NAMED_METRICS = ("loss", "val_loss", "lr", "accuracy", "val_accuracy")
#: Key of a logged point's ``extra`` listing its metrics that were not finite.
NON_FINITE_KEY = "non_finite"
#: Largest epoch and step (in size): the store's integer columns (32 and 64 bits).
MAX_POSITION = {"epoch": 2**31 - 1, "step": 2**63 - 1}
#: Seconds after a failed write before the training loop's own flushes try the store again,
#: doubling up to the second value. Before, every ``log()`` after a failed flush tried again
#: (152 requests for 200 points): a server that hangs held the loop for its timeout (10 s) at
#: each. ``run.flush()`` and the end of the run always try.
RETRY_AFTER_S = (30.0, 300.0)


@dataclass(frozen=True)
class OverfittingConfig:
    """When validation loss rising while training loss falls counts as overfitting.

    Attributes
    ----------
    window : int
        Most recent logged points having both ``loss`` and ``val_loss`` that are examined.
    min_relative_rise : float
        Least rise of validation loss over the window, relative to its minimum in the window
        (0.01 = 1 %), so noise on a plateau is not flagged.
    """

    window: int = 5
    min_relative_rise: float = 0.01


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of a :class:`TrainingRun`.

    Attributes
    ----------
    flush_every : int
        Logged rows buffered before they are written to the store.
    overfitting : OverfittingConfig
        The overfitting detector's settings.
    """

    flush_every: int = 50
    overfitting: OverfittingConfig = field(default_factory=OverfittingConfig)


def _number(value: Any, name: str) -> float | None:
    """A logged value as a float: accepts Python and numpy numbers and 0-d torch tensors."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"run.log: '{name}' must be a number, not {type(value).__name__}")
    return float(value)


def _position(value: Any, name: str) -> int | None:
    """A logged epoch or step as an int that the store can hold (:data:`MAX_POSITION`)."""
    if value is None:
        return None
    position = int(value.item() if hasattr(value, "item") else value)
    if abs(position) > MAX_POSITION[name]:
        raise ValueError(
            f"run.log: '{name}' must be at most {MAX_POSITION[name]} in size, not {value}"
        )
    return position


class TrainingRun:
    """One training run; use as a context manager (see :func:`track_training`).

    Parameters
    ----------
    name : str
        A human-readable name; several runs may share it (each gets its own ``run_id``).
    store : EventStore, ServerStore, str or None
        The store (or its URL); default the kernel's store for its learner
        (:func:`~learnpulse.collectors.server_store.learner_store`): the server of
        ``$LEARNPULSE_SERVER_URL`` when set (a server whose store is PostgreSQL tells its
        kernels so), else the default store (``$LEARNPULSE_DB_URL``).
    params : dict, optional
        Hyper-parameters to keep with the run (JSON-serialisable).
    config : TrainingConfig
        Flush and overfitting settings.
    """

    def __init__(
        self,
        name: str,
        *,
        store: EventStore | ServerStore | str | os.PathLike[str] | None = None,
        params: dict[str, Any] | None = None,
        config: TrainingConfig = TrainingConfig(),
    ):
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a training run needs a non-empty name")
        self.name, self.params, self.config = name, dict(params or {}), config
        self.run_id = str(uuid.uuid4())
        self.learner_id, self.course_id = context.learner_id(), context.course_id()
        self._store_url = store
        self.store: EventStore | ServerStore | None = None
        self._run_saved = False
        self._failing = False  # an outage is being reported (warned once while it lasts)
        self._retry_at, self._retry_after = 0.0, RETRY_AFTER_S[0]  # monotonic seconds
        self.started = datetime.now(timezone.utc)
        self.ended: datetime | None = None
        self.status = "running"
        self._rows: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._save_run()

    def log(
        self,
        *,
        epoch: int | None = None,
        step: int | None = None,
        loss: float | None = None,
        lr: float | None = None,
        val_loss: float | None = None,
        accuracy: float | None = None,
        val_accuracy: float | None = None,
        **extra: float,
    ) -> None:
        """Record one point of the run; any other keyword is kept as an extra number.

        Values may be Python/numpy numbers or 0-d torch tensors. A non-finite value (a loss
        that diverged to NaN) is stored as missing and named in ``extra["non_finite"]``
        (:data:`NON_FINITE_KEY`: no metric may take that name).
        """
        if NON_FINITE_KEY in extra:  # it would be overwritten by, or overwrite, that list
            raise ValueError(f"{NON_FINITE_KEY!r} is reserved: name the metric otherwise")
        values = {"loss": loss, "val_loss": val_loss, "lr": lr, "accuracy": accuracy}
        values["val_accuracy"] = val_accuracy
        numbers = {k: _number(v, k) for k, v in {**values, **extra}.items() if v is not None}
        non_finite = sorted(k for k, v in numbers.items() if not math.isfinite(v))
        row: dict[str, Any] = {
            "seq": len(self._rows),
            "ts": datetime.now(timezone.utc),
            "epoch": _position(epoch, "epoch"),
            "step": len(self._rows) if step is None else _position(step, "step"),
        }
        for name in _NAMED_METRICS:
            row[name] = None if name in non_finite else numbers.get(name)
        row["extra"] = {k: v for k, v in numbers.items() if k in extra and k not in non_finite}
        if non_finite:
            row["extra"][NON_FINITE_KEY] = non_finite
        self._rows.append(row)
        self._pending.append(row)
        if len(self._pending) >= self.config.flush_every and time.monotonic() >= self._retry_at:
            self.flush()

    def flush(self) -> bool:
        """Write what is not stored yet (the run, buffered rows); on a store error keep it for
        the next flush (False)."""
        if not self._pending and self._run_saved:
            return True
        store = self._connected()
        if store is None or not (self._run_saved or self._save_run()):
            return False
        if not self._pending:
            return True
        try:
            store.append_training_metrics(self.run_id, self._pending)
        except Exception as error:  # an outage must not stop the training loop
            self._not_stored(error)
            return False
        self._pending = []
        self._stored_again()
        return True

    def _connected(self) -> EventStore | ServerStore | None:
        """The store, opened on first use (a URL or None: :func:`~learnpulse.collectors.
        server_store.learner_store`); None (and a warning) while it cannot be opened."""
        if self.store is None:
            url = self._store_url
            try:
                if url is None or isinstance(url, (str, os.PathLike)):
                    from learnpulse.collectors.server_store import learner_store

                    self.store = learner_store(url)
                else:
                    self.store = url
            except Exception as error:
                self._not_stored(error, "the store cannot be opened: ")
        return self.store

    def _not_stored(self, error: Exception, why: str = "") -> None:
        """Warn (once while the outage lasts) that the run is not stored yet, why, and where
        its points are meanwhile; the loop's flushes wait before trying again."""
        self._retry_at = time.monotonic() + self._retry_after
        self._retry_after = min(2 * self._retry_after, RETRY_AFTER_S[1])
        if self._failing:
            log.debug("learnpulse: training run %s still not stored (%s)", self.run_id, error)
            return
        self._failing = True
        log.warning(
            "learnpulse: training run %r (%s) is not stored yet: %s%s. Training goes on: its "
            "logged points are kept in this process (run.metrics()) and written at the next "
            "flush or when the run ends.",
            self.name,
            self.run_id,
            why,
            error,
        )

    def _stored_again(self) -> None:
        self._retry_at, self._retry_after = 0.0, RETRY_AFTER_S[0]
        if self._failing:
            self._failing = False
            log.warning(
                "learnpulse: training run %r (%s) is stored again: nothing logged was lost",
                self.name,
                self.run_id,
            )

    def metrics(self) -> pl.DataFrame:
        """Everything logged so far (also what is not flushed yet), in logging order."""
        return _metrics_frame(self._rows)

    def overfitting(self) -> dict[str, Any]:
        """:func:`detect_overfitting` on what has been logged so far."""
        return detect_overfitting(self.metrics(), self.config.overfitting)

    def summary(self) -> dict[str, Any]:
        """:func:`summarise_run` of this run."""
        return summarise_run(self._run_record(), self.metrics(), self.config.overfitting)

    def close(self, status: str = "finished") -> None:
        self.ended, self.status = datetime.now(timezone.utc), status
        flushed = self.flush()
        if not (self._save_run() and flushed):
            log.warning(
                "learnpulse: training run %r (%s) ended %s, not stored yet with %d of its "
                "logged points: they are kept in this process only; run.flush() tries again "
                "(run.metrics() has every point)",
                self.name,
                self.run_id,
                status,
                len(self._pending),
            )
        if self.store is not None and self.store is not self._store_url:
            self.store.close()  # opened here from a URL
            self.store = None

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, exc_type: type | None, *_: object) -> None:
        self.close("finished" if exc_type is None else "failed")

    def _run_record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "learner_id": self.learner_id,
            "course_id": self.course_id,
            "started": self.started,
            "ended": self.ended,
            "status": self.status,
            "params": self.params,
        }

    def _save_run(self) -> bool:
        store = self._connected()
        if store is None:
            return False
        try:
            store.save_training_run(self._run_record())
        except Exception as error:
            self._run_saved = False  # its end, say: the next flush stores it again
            self._not_stored(error)
            return False
        self._run_saved = True
        if not self._pending:
            self._stored_again()
        return True


def track_training(name: str, **kwargs: Any) -> TrainingRun:
    """Start a training run: ``with learnpulse.track_training("name") as run: run.log(...)``.

    Keyword arguments are those of :class:`TrainingRun` (``store``, ``params``, ``config``).
    """
    return TrainingRun(name, **kwargs)


_METRICS_SCHEMA = {
    "seq": pl.Int64,
    "epoch": pl.Int64,
    "step": pl.Int64,
    **{name: pl.Float64 for name in _NAMED_METRICS},
}


def _metrics_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{k: row[k] for k in _METRICS_SCHEMA} for row in rows], schema=_METRICS_SCHEMA
    )


def _slope(values: np.ndarray) -> float:
    return float(np.polyfit(np.arange(values.size), values, 1)[0])


def logged_per_epoch(metrics: pl.DataFrame) -> bool:
    """Whether a run logged once per epoch (every row names an epoch, each a different one):
    its curves are then drawn over epochs and its verdict names epochs, else logged steps."""
    epochs = metrics["epoch"]
    return metrics.height > 0 and not epochs.null_count() and epochs.n_unique() == metrics.height


def detect_overfitting(
    metrics: pl.DataFrame, config: OverfittingConfig = OverfittingConfig()
) -> dict[str, Any]:
    """Is validation loss rising while training loss falls over the last ``window`` points?

    Parameters
    ----------
    metrics : polars.DataFrame, shape (n_logs, >= 3)
        Logged rows in order, with ``step``, ``loss`` and ``val_loss`` columns.

    Returns
    -------
    dict
        ``overfitting`` (bool), ``since_step`` (step of the lowest validation loss, where a
        checkpoint should be kept, or None), ``model``, ``confidence`` (0-1: how consistently
        the two losses moved apart step by step) and a human-readable ``reason`` (naming that
        point by its epoch for a run logged once per epoch, as the charts draw it; else by
        its step).
    """
    points = metrics.drop_nulls(["loss", "val_loss"]).tail(config.window)
    result: dict[str, Any] = {"overfitting": False, "since_step": None, "model": OVERFITTING_MODEL}
    if points.height < max(config.window, 2):
        return {
            **result,
            "confidence": 0.0,
            "reason": f"{points.height} point(s) with both training and validation loss; "
            f"{config.window} needed",
        }
    train, val = points["loss"].to_numpy(), points["val_loss"].to_numpy()
    train_slope, val_slope = _slope(train), _slope(val)
    rise = (val[-1] - val.min()) / max(abs(val.min()), 1e-12)
    together = float(np.mean((np.diff(val) > 0) & (np.diff(train) < 0)))
    overfitting = val_slope > 0 > train_slope and rise >= config.min_relative_rise
    if overfitting:
        best = metrics.drop_nulls("val_loss").sort("val_loss").row(0, named=True)
        unit = "epoch" if logged_per_epoch(metrics) else "step"
        reason = (
            f"over the last {points.height} points validation loss rose "
            f"{rise:.1%} ({val_slope:+.4g}/point) while training loss fell "
            f"({train_slope:+.4g}/point); best validation loss at {unit} {best[unit]}"
        )
        return {
            **result,
            "overfitting": True,
            "since_step": best["step"],
            "confidence": together,
            "reason": reason,
        }
    reason = (
        f"validation loss trend {val_slope:+.4g}/point, training loss trend "
        f"{train_slope:+.4g}/point over the last {points.height} points: not diverging"
    )
    return {**result, "confidence": 1.0 - together, "reason": reason}


def _best(frame: pl.DataFrame, column: str, lowest: bool) -> dict[str, Any] | None:
    rows = frame.drop_nulls(column).sort(column, descending=not lowest).head(1)
    if rows.is_empty():
        return None
    row = rows.row(0, named=True)
    return {"value": row[column], "step": row["step"], "epoch": row["epoch"]}


def summarise_run(
    run: dict[str, Any], metrics: pl.DataFrame, config: OverfittingConfig = OverfittingConfig()
) -> dict[str, Any]:
    """One run's summary: identity, status, duration, last and best values, overfitting.

    Parameters
    ----------
    run : dict
        A row of :meth:`EventStore.training_runs` (or :meth:`TrainingRun._run_record`).
    metrics : polars.DataFrame, shape (n_logs, >= 8)
        The run's logged rows in order (``seq``, ``epoch``, ``step`` and the metric columns).
    """
    last = metrics.tail(1).row(0, named=True) if metrics.height else {}
    ended = run.get("ended")
    duration = ((ended or datetime.now(timezone.utc)) - run["started"]).total_seconds()
    return {
        "run_id": run["run_id"],
        "name": run["name"],
        "learner_id": run["learner_id"],
        "course_id": run["course_id"],
        "status": run["status"],
        "started": run["started"].isoformat(),
        "ended": None if ended is None else ended.isoformat(),
        "duration_s": round(duration, 3),
        "n_logs": metrics.height,
        "epochs": metrics["epoch"].drop_nulls().n_unique(),
        "last": {k: last.get(k) for k in ("epoch", "step", *_NAMED_METRICS)},
        "best_loss": _best(metrics, "loss", lowest=True),
        "best_val_loss": _best(metrics, "val_loss", lowest=True),
        "best_accuracy": _best(metrics, "accuracy", lowest=False),
        "overfitting": detect_overfitting(metrics, config),
    }


def run_summaries(
    store: EventStore,
    *,
    learners: list[str] | None = None,
    config: OverfittingConfig = OverfittingConfig(),
) -> list[dict[str, Any]]:
    """Summaries of every stored run (of ``learners`` if given), newest first."""
    runs = store.training_runs(learners=learners)
    if runs.is_empty():
        return []
    metrics = store.training_metrics(runs["run_id"].to_list())
    return [
        summarise_run(run, metrics.filter(pl.col("run_id") == run["run_id"]), config)
        for run in runs.iter_rows(named=True)
    ]


def run_detail(
    store: EventStore,
    run_id: str,
    *,
    learners: list[str] | None = None,
    config: OverfittingConfig = OverfittingConfig(),
) -> dict[str, Any] | None:
    """One run's summary, parameters and logged series; None if unknown (or not visible)."""
    runs = store.training_runs(run_ids=[run_id], learners=learners)
    if runs.is_empty():
        return None
    run = runs.row(0, named=True)
    metrics = store.training_metrics(run_id)
    series = metrics.select("seq", "epoch", "step", *_NAMED_METRICS, "extra", "ts")
    return {
        **summarise_run(run, metrics, config),
        "params": json.loads(run["params"] or "{}"),
        "metrics": series.with_columns(
            pl.col("ts").dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ")
        ).to_dicts(),
    }
